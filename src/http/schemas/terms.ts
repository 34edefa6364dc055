import Type from 'typebox'
import { MAX_SCHEDULE_PERIODS } from '../../domain/agreement.js'
import { BASE_MODES, BASES, FUNDING_METHODS, SHORTFALL_POLICIES, TRANSFER_DIRECTIONS } from '../../domain/types.js'
import { FiscalYear, Growth, GrowthOut, MoneyOut, NonNegativeMoney, Rate, StringEnum, Words } from './common.js'

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

export const RATE_BANDS_DESCRIPTION = '分档比例 one to ten marginal bands; basis total takes one. Rates may rise or fall from one band to the next (超收分成), each at least the floor'

/** Growth ratios as printed (band limits, escalation, indexation): sign allowed, at least two decimals. */
export { MAX_SCHEDULE_PERIODS, MAX_TRANSFERS } from '../../domain/agreement.js'

/** 分段期限 a rate schedule as sent: periods by their first year, each with its bands. */
export const RateScheduleIn = <T extends Type.TSchema>(bandIn: T) => Type.Array(Type.Object({
  fromYear: FiscalYear('起始年度 the first fiscal year of the period; the period lasts until the next one starts'),
  rates: Type.Array(bandIn, { minItems: 1, maxItems: 10, description: RATE_BANDS_DESCRIPTION }),
}, { additionalProperties: false, description: '分段期限 one period of the schedule' }), {
  minItems: 1, maxItems: MAX_SCHEDULE_PERIODS,
  description: '分段期限 a rate schedule instead of rates: year Y uses the bands of the last period with fromYear ≤ Y (calculation-rules.md §2), ' +
    'e.g. 100% of the increment for 2020–2022, then 60%; fromYear strictly increasing',
})

/** 划转方向 to_district or to_zone. */
export const DirectionEnum = (description = '划转方向 to_district: the district now pays for the function (the base rises); to_zone: the zone does (the base falls)') =>
  StringEnum([...TRANSFER_DIRECTIONS], description)

/** 划转经费 the funding that follows a function (calculation-rules.md §4), as sent. */
export const FundingIn = Type.Object({
  method: StringEnum([...FUNDING_METHODS], '核定方式 fixed: F(Y) = amount; headcount: F(Y) = headcount × unitCost; indexed: F(Y) = amount × (1 + growthRate)^(Y − fromYear), rounded once'),
  amount: Type.Optional(NonNegativeMoney('经费 the yearly amount (fixed), or the amount of fromYear (indexed); more than 0')),
  headcount: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, format: 'int32', description: '编制人数 the staff moved with the function (headcount)', examples: [12] })),
  unitCost: Type.Optional(NonNegativeMoney('人均经费 the yearly cost of one staff (headcount); more than 0')),
  growthRate: Type.Optional(Growth('年增长率 the yearly growth of the funding (indexed), greater than −1')),
}, { additionalProperties: false, description: '划转经费 the funding that moves the base each year in force' })

/** 事权划转 the fields of a responsibility transfer as sent, in a calculation's base rule or on its own. */
export const TransferFields = {
  function: Words(200, '划转事项 the function moved, e.g. 教育 or 卫生健康'),
  direction: DirectionEnum(),
  fromYear: FiscalYear('起始年度 the first fiscal year the transfer moves the base'),
  toYear: Type.Optional(FiscalYear('终止年度 the last fiscal year it moves the base; open-ended when absent')),
  documentNo: Words(100, '文号 the document that moved the function'),
  funding: FundingIn,
}

/** 划转经费 as printed: the method and its fields. */
export const FundingOut = Type.Object({
  method: StringEnum([...FUNDING_METHODS], '核定方式 fixed, headcount or indexed'),
  amount: Type.Optional(MoneyOut('经费 the yearly amount (fixed), or the amount of fromYear (indexed)')),
  headcount: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, format: 'int32', description: '编制人数 staff moved (headcount)' })),
  unitCost: Type.Optional(MoneyOut('人均经费 yearly cost of one staff (headcount)')),
  growthRate: Type.Optional(GrowthOut('年增长率 yearly growth of the funding (indexed)')),
}, { additionalProperties: false, description: '划转经费 the funding' })

/** 分段期限 the period of a schedule that gives a year its bands. */
export const PeriodOut = Type.Object({
  fromYear: FiscalYear('起始年度 the period\'s first year'),
  toYear: Type.Union([FiscalYear('终止年度 the period\'s last year'), Type.Null()], { description: '终止年度 the period\'s last year; null for the last period' }),
  number: Type.Integer({ minimum: 1, maximum: 20, format: 'int32', description: '段次 the period\'s place in the schedule, from 1' }),
  of: Type.Integer({ minimum: 1, maximum: 20, format: 'int32', description: '段数 how many periods the schedule has' }),
}, { additionalProperties: false, description: '分段期限 the schedule period in force' })
