import { computeAgreementYear, computeGroup } from './engine.js'
import { deserializeGroupResult } from './explanation.js'
import { supplementaryFigures } from './ledger.js'
import { type Decimal, formatMoney, money, ZERO } from './money.js'
import { presentGroupFigures } from './presentation.js'
import type { Review } from './review.js'
import type { SettledGroupFigures, SettlementKind } from './settlement.js'
import type { BaseDerivation, BaseInput, BaseRule, GroupInput, GroupResult, ResponsibilityTransfer } from './types.js'

/*
 * What a finalized settlement run is, as one canonical text whose SHA-256 is its digest
 * (api-contract.md, Settlement runs: finalize, verification), and the check of a stored line
 * against the engine: every group is computed again from the inputs its stored result holds
 * (actual, base derivation, bands and rates, carried shortfall, policy) and the line's advances,
 * and every stored figure is compared with what today's engine makes of them.
 *
 * The canonical text (format settlement-run/v2) is one JSON document a line, "\n" after each:
 *   the format name; the run (id, year, floor, who computed and finalized it and when, the
 *   override reason); each line by agreement id, with every stored column and its groups by
 *   position (every column, the printed bands, the engine's result and the calculation request as
 *   stored, and the shortfall written off where the line recorded one); each review
 *   (the whole history, in the order recorded). Amounts are the database's own text of them.
 * The same rows always give the same text; any change to any of them, another.
 * settlement-run/v1, which runs finalized before sql/015 were digested over, is the same text
 * without the groups' calculation requests.
 */

export const DIGEST_FORMATS = { v1: 'settlement-run/v1', v2: 'settlement-run/v2' } as const
export type DigestFormat = typeof DIGEST_FORMATS[keyof typeof DIGEST_FORMATS]
/** The format a run finalized now is digested over. */
export const DIGEST_FORMAT: DigestFormat = DIGEST_FORMATS.v2

/** The format a finalized run's digest was taken over: as stored, v1 when none is (finalized before sql/015). */
export function digestFormatOf (stored: string | null | undefined): DigestFormat {
  if (stored === null || stored === undefined) return DIGEST_FORMATS.v1
  if (stored === DIGEST_FORMATS.v2) return stored
  throw new Error(`unknown digest format ${stored}`)
}

/** The run's header as finalized. */
export interface RunContent {
  id: number
  fiscalYear: number
  /** As stored (numeric text). */
  minimumRate: string
  createdAt: string
  createdBy: string
  finalizedAt: string
  finalizedBy: string
  overrideReason: string | null
}

/** A group's stored columns: its printed figures, where it stands, its bands and the engine's result. */
export interface GroupContent extends SettledGroupFigures {
  position: number
  /** The printed bands, as stored (JSON text). */
  bands: string
  /** The engine's result, as stored (serializeGroupResult). */
  result: string
  /** 核销: the shortfall the line wrote off, as recorded when it was finalized; null when none was recorded. */
  writtenOff?: string | null
  /** The calculation request the group's figures come from (JSON text), as stored; null on groups stored before it was. */
  input?: string | null
}

/** A line's stored columns and its groups. */
export interface LineContent {
  agreementId: number
  zoneCode: string
  districtCode: string
  kind: SettlementKind
  follows: number | null
  revenueTotal: string
  zoneShare: string
  districtShare: string
  advancesPaid: string
  balanceDue: string
  previousZoneShare: string | null
  adjustment: string | null
  balanceAdjustment: string | null
  /** What it was computed from (LineInputs as JSON text), as stored. */
  inputs: string
  groups: readonly GroupContent[]
}

export interface ReviewContent extends Review {
  id: number
  agreementId: number
}

const line = (value: unknown) => `${JSON.stringify(value)}\n`

export function canonicalHeader (run: RunContent, format: DigestFormat = DIGEST_FORMAT): string {
  return line(format) + line({
    run: run.id, fiscalYear: run.fiscalYear, minimumRate: run.minimumRate, createdAt: run.createdAt, createdBy: run.createdBy,
    finalizedAt: run.finalizedAt, finalizedBy: run.finalizedBy, overrideReason: run.overrideReason,
  })
}

export function canonicalLine (l: LineContent, format: DigestFormat = DIGEST_FORMAT): string {
  return line({
    line: l.agreementId, zoneCode: l.zoneCode, districtCode: l.districtCode, kind: l.kind, follows: l.follows,
    revenueTotal: l.revenueTotal, zoneShare: l.zoneShare, districtShare: l.districtShare, advancesPaid: l.advancesPaid, balanceDue: l.balanceDue,
    previousZoneShare: l.previousZoneShare, adjustment: l.adjustment, balanceAdjustment: l.balanceAdjustment, inputs: l.inputs,
    groups: l.groups.map((g) => ({
      position: g.position, name: g.name, basis: g.basis, base: g.base, actual: g.actual, increment: g.increment,
      carriedShortfallIn: g.carriedShortfallIn, shareable: g.shareable, zoneShare: g.zoneShare, districtShare: g.districtShare,
      carriedShortfallOut: g.carriedShortfallOut, bands: g.bands, result: g.result,
      // Only where a write-off was recorded (sql/013): the text of every other group, and of every run finalized before, is as it was.
      ...(g.writtenOff === undefined || g.writtenOff === null ? {} : { writtenOff: g.writtenOff }),
      ...(format === DIGEST_FORMATS.v1 ? {} : { input: g.input ?? null }),
    })),
  })
}

export function canonicalReview (r: ReviewContent): string {
  return line({
    review: r.id, line: r.agreementId, party: r.party, decision: r.decision, note: r.note, by: r.by, byRole: r.byRole, byLabel: r.byLabel, at: r.at,
  })
}

/** A stored figure that is not what its inputs give, or not what the digest was taken over. */
export interface Mismatch {
  agreementId?: number
  /** The group's name, for a group's figure. */
  group?: string
  /** The figure: a line's or group's field, `result/<field>` for a figure inside the stored engine result, or `digest`. */
  field: string
  stored: string | null
  recomputed: string | null
}

/**
 * The base rule a derivation was made by: its mode and terms, the adjustments and the
 * responsibility transfers (事权划转, §4) that applied in the year, each transfer as it was agreed.
 */
function baseRule (d: BaseDerivation): BaseInput {
  const transfers = (d.transfers ?? []).map(({ function: fn, direction, fromYear, toYear, documentNo, funding }): ResponsibilityTransfer =>
    ({ function: fn, direction, fromYear, ...(toYear === undefined ? {} : { toYear }), documentNo, funding }))
  const rule = (r: Omit<BaseRule, 'adjustments' | 'transfers'>): BaseInput =>
    ({ kind: 'rule', rule: { ...r, adjustments: d.adjustments, ...(transfers.length === 0 ? {} : { transfers }) } })
  switch (d.mode) {
    case 'given': return { kind: 'amount', amount: d.base }
    case 'fixed': return rule({ mode: 'fixed', baseYear: d.baseYear, amount: d.amount })
    case 'escalating': return rule({ mode: 'escalating', baseYear: d.baseYear, amount: d.amount, growthRate: d.growthRate })
    case 'prior_year': return rule({ mode: 'prior_year', baseYear: d.baseYear, priorYearActual: d.priorYearActual })
  }
}

/**
 * The engine's input of a group, rebuilt from its result: the actual, the base rule of its
 * derivation (transfers included), the bands' rates and limits, the shortfall carried in and the policy. Where the
 * shareable increment was negative the result holds only the rate a deducted shortfall used,
 * which is all the engine reads then.
 */
export function engineInputOf (g: GroupResult): GroupInput {
  const rates = g.bands.map((b) => b.upToGrowth === undefined ? { rate: b.rate } : { rate: b.rate, upToGrowth: b.upToGrowth })
  if (g.basis === 'total') return { name: g.name, basis: 'total', actual: g.actual, rates, shortfall: g.shortfall, carriedShortfall: ZERO }
  return {
    name: g.name, basis: 'increment', base: baseRule(g.baseDerivation), actual: g.actual, rates, shortfall: g.shortfall, carriedShortfall: g.carriedShortfallIn,
  }
}

const GROUP_FIGURES = ['base', 'actual', 'increment', 'carriedShortfallIn', 'shareable', 'zoneShare', 'districtShare', 'carriedShortfallOut'] as const

/**
 * Computes the line again from its stored inputs and lists every stored figure that differs:
 * each group's columns and the figures inside its stored result against the engine's, then the
 * line's totals, balance due and (for a supplementary line, against the stored figures of the
 * line it follows) its adjustments.
 */
export function verifyLine (fiscalYear: number, minimumRate: Decimal, l: LineContent, followed: { zoneShare: string, balanceDue: string } | undefined): Mismatch[] {
  const mismatches: Mismatch[] = []
  const compare = (field: string, stored: string | null, recomputed: string | null, group?: string) => {
    if (stored !== recomputed) mismatches.push({ agreementId: l.agreementId, ...(group === undefined ? {} : { group }), field, stored, recomputed })
  }
  const inputs: GroupInput[] = []
  for (const g of l.groups) {
    let stored: GroupResult
    try {
      stored = deserializeGroupResult(g.result)
    } catch (error) {
      compare('result', `unreadable: ${error instanceof Error ? error.message : String(error)}`, null, g.name)
      continue
    }
    const input = engineInputOf(stored)
    const again = presentGroupFigures(computeGroup(input, fiscalYear))
    const asStored = presentGroupFigures(stored)
    compare('name', g.name, again.name, g.name)
    compare('basis', g.basis, again.basis, g.name)
    for (const field of GROUP_FIGURES) {
      compare(field, g[field], again[field] ?? null, g.name)
      compare(`result/${field}`, asStored[field] ?? null, again[field] ?? null, g.name)
    }
    compare('bands', g.bands, JSON.stringify(again.bands), g.name)
    compare('result/bands', JSON.stringify(asStored.bands), JSON.stringify(again.bands), g.name)
    inputs.push(input)
  }
  if (inputs.length !== l.groups.length) return mismatches
  const year = computeAgreementYear({ fiscalYear, minimumRate, groups: inputs, advancesPaid: money(l.advancesPaid) })
  compare('revenueTotal', l.revenueTotal, formatMoney(year.revenueTotal))
  compare('zoneShare', l.zoneShare, formatMoney(year.zoneShare))
  compare('districtShare', l.districtShare, formatMoney(year.districtShare))
  compare('balanceDue', l.balanceDue, formatMoney(year.balanceDue))
  if (l.kind === 'supplementary' && followed !== undefined) {
    const s = supplementaryFigures(year, { zoneShare: money(followed.zoneShare), balanceDue: money(followed.balanceDue) })
    compare('previousZoneShare', l.previousZoneShare, formatMoney(s.previousZoneShare))
    compare('adjustment', l.adjustment, formatMoney(s.adjustment))
    compare('balanceAdjustment', l.balanceAdjustment, formatMoney(s.balanceAdjustment))
  }
  return mismatches
}
