import Type from 'typebox'
import { BASE_MODES, BASES, SHORTFALL_POLICIES } from '../../domain/types.js'
import { Growth, Rate, StringEnum } from './common.js'

/*
 * The terms of an agreement as the contract writes them (calculation-rules.md §2): bases, base
 * modes, shortfall policies and marginal bands, built from the domain's own constants and shared
 * by the agreement and the calculation schemas.
 */

/** 分成口径 increment or total. */
export const BasisEnum = (description = '分成口径 increment: share what exceeds the base; total: share the whole amount') =>
  StringEnum([...BASES], description)

/** 基数口径 fixed, escalating or prior_year. */
export const BaseModeEnum = (description: string) => StringEnum([...BASE_MODES], description)

/** 短收处理 none, deduct or carry_forward. */
export const ShortfallEnum = (description: string) => StringEnum([...SHORTFALL_POLICIES], description)

/** 分档 a marginal band as sent: growth up to `upToGrowth` of the base shared at `rate`. */
export const RateBandIn = (upToGrowthDescription: string) => Type.Object({
  upToGrowth: Type.Optional(Growth(upToGrowthDescription)),
  rate: Rate('分成比例 the zone\'s marginal share in this band, at least the floor'),
}, { additionalProperties: false, description: '分档 a marginal band' })

export const RATE_BANDS_DESCRIPTION = '分档比例 one to ten marginal bands; basis total takes one'
