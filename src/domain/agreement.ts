import { bandBelowFloor, groupInput, parseGroupRates, type RateBandJson, type RatePeriodJson } from './calculation-request.js'
import { adjustmentsFor, baseForYear, computeAgreementYear, priorYearRevenueMissing, transferInForce } from './engine.js'
import { type InputIssue, IssueCollector } from './errors.js'
import { type Decimal, formatRate, money, ZERO } from './money.js'
import { type CarrySource, carryNotFinalized } from './ledger.js'
import { magnitudeIssues } from './magnitudes.js'
import type {
  AgreementYearInput, AgreementYearResult, BaseAdjustment, BaseDerivation, BaseMode, BaseRule, Basis, GroupInput, GroupRates, ResponsibilityTransfer,
  ShortfallPolicy,
} from './types.js'

/*
 * The agreement (分成办法) of calculation-rules.md §2, checked on the way in: the floor (§3),
 * band limits strictly increasing, rate schedules (分段期限) from effectiveFrom with periods in
 * order, a category in at most one group, baseYear < effectiveFrom.
 * Overlapping years of one zone–district pair and unknown codes need the database: the
 * agreements service checks those. And the agreement in year Y (§4–§6): the engine's input
 * from the agreement's terms and the year's facts.
 */

export interface AgreementGroupJson {
  name: string
  basis: Basis
  categories: readonly string[]
  base?: { amount?: string, mode: BaseMode, growthRate?: string }
  rates?: readonly RateBandJson[]
  schedule?: readonly RatePeriodJson[]
  shortfall?: ShortfallPolicy
}

export interface AgreementJson {
  zoneCode: string
  districtCode: string
  documentNo: string
  effectiveFrom: number
  effectiveTo?: number
  baseYear: number
  groups: readonly AgreementGroupJson[]
}

/**
 * Base adjustments a group may hold (基数调整): as many as a calculation takes, and what bounds the
 * length of the explanation line that lists them.
 */
export const MAX_BASE_ADJUSTMENTS = 100

/** Responsibility transfers (事权划转) a group may hold, and a calculation's base rule take. */
export const MAX_TRANSFERS = 100

/** Periods a rate schedule (分段期限) may have. */
export const MAX_SCHEDULE_PERIODS = 20

/** 基数规则: how an increment group's base moves (§4). */
export type BaseTerms =
  | { mode: 'fixed', amount: Decimal }
  | { mode: 'escalating', amount: Decimal, growthRate: Decimal }
  /** An amount may be recorded with a prior_year base; it takes no part in the computation. */
  | { mode: 'prior_year', amount?: Decimal }

/** The group's name, categories and bands (one set, or a schedule by period). */
type GroupTermsCommon = GroupRates & {
  name: string
  categories: string[]
}

/** 分成口径组: a netting group, sharing the whole amount (全额) or what exceeds its base (增量). */
export type AgreementGroupTerms =
  | GroupTermsCommon & { basis: 'total', shortfall: 'none' }
  | GroupTermsCommon & { basis: 'increment', base: BaseTerms, shortfall: ShortfallPolicy }

/** A responsibility transfer as recorded for a group (its id once stored). */
export type RecordedTransfer = ResponsibilityTransfer & { id?: number }

export interface AgreementTerms {
  zoneCode: string
  districtCode: string
  documentNo: string
  effectiveFrom: number
  effectiveTo: number | null
  baseYear: number
  groups: AgreementGroupTerms[]
}

function parseBaseTerms (issues: IssueCollector, at: string, base: NonNullable<AgreementGroupJson['base']>): BaseTerms | undefined {
  const { mode } = base
  if (mode !== 'prior_year' && base.amount === undefined) issues.malformedAt(`${at}/base/amount`, `the verified base amount is required for mode ${mode}`)
  if (mode === 'escalating' && base.growthRate === undefined) issues.malformedAt(`${at}/base/growthRate`, 'growthRate is required for mode escalating')
  if (mode !== 'escalating' && base.growthRate !== undefined) issues.malformedAt(`${at}/base/growthRate`, `growthRate applies to mode escalating only, not ${mode}`)
  if (base.growthRate !== undefined && !money(base.growthRate).greaterThan(-1)) issues.ruleAt(`${at}/base/growthRate`, 'growthRate must be greater than −1')
  const amount = base.amount === undefined ? undefined : money(base.amount)
  switch (mode) {
    case 'fixed': return amount === undefined ? undefined : { mode, amount }
    case 'escalating': return amount === undefined || base.growthRate === undefined ? undefined : { mode, amount, growthRate: money(base.growthRate) }
    case 'prior_year': return amount === undefined ? { mode } : { mode, amount }
  }
}

export function parseAgreement (json: AgreementJson, floor: Decimal): AgreementTerms {
  const issues = new IssueCollector()
  if (json.baseYear >= json.effectiveFrom) {
    issues.ruleAt('/baseYear', `baseYear ${json.baseYear} must be before effectiveFrom ${json.effectiveFrom} (calculation-rules.md §2)`)
  }
  if (json.effectiveTo !== undefined && json.effectiveTo < json.effectiveFrom) {
    issues.ruleAt('/effectiveTo', `effectiveTo ${json.effectiveTo} is before effectiveFrom ${json.effectiveFrom}`)
  }
  const names = new Map<string, number>()
  const categoryOwner = new Map<string, number>()
  const groups = json.groups.map((group, i): AgreementGroupTerms | undefined => {
    const at = `/groups/${i}`
    const earlier = names.get(group.name)
    if (earlier !== undefined) issues.ruleAt(`${at}/name`, `group name "${group.name}" is already used by /groups/${earlier}`)
    else names.set(group.name, i)
    group.categories.forEach((code, j) => {
      const owner = categoryOwner.get(code)
      if (owner !== undefined) {
        issues.ruleAt(`${at}/categories/${j}`, `category ${code} is already in group /groups/${owner}: a category belongs to at most one group (calculation-rules.md §2)`)
      } else {
        categoryOwner.set(code, i)
      }
    })
    const shortfall = group.shortfall ?? 'none'
    const rates = parseGroupRates(issues, at, group, floor, { firstYear: json.effectiveFrom, lastYear: json.effectiveTo ?? null })
    const common = { name: group.name, categories: [...group.categories], ...rates }
    if (group.basis === 'increment') {
      if (group.base === undefined) {
        issues.malformedAt(`${at}/base`, 'base is required for basis increment')
        return undefined
      }
      const base = parseBaseTerms(issues, at, group.base)
      return base === undefined ? undefined : { ...common, basis: 'increment', base, shortfall }
    }
    if (group.base !== undefined) issues.malformedAt(`${at}/base`, 'base is forbidden for basis total')
    if (shortfall !== 'none') issues.malformedAt(`${at}/shortfall`, 'a shortfall policy applies to basis increment only')
    return { ...common, basis: 'total', shortfall: 'none' }
  })
  issues.throwIfAny()
  return {
    zoneCode: json.zoneCode,
    districtCode: json.districtCode,
    documentNo: json.documentNo,
    effectiveFrom: json.effectiveFrom,
    effectiveTo: json.effectiveTo ?? null,
    baseYear: json.baseYear,
    groups: groups.filter((g) => g !== undefined),
  }
}

/** Whether the agreement is in force in fiscal year Y. */
export function inForce (terms: { effectiveFrom: number, effectiveTo: number | null }, year: number): boolean {
  return year >= terms.effectiveFrom && (terms.effectiveTo === null || year <= terms.effectiveTo)
}

/**
 * The rule that gives an increment group's base for any year, with the adjustments and the
 * responsibility transfers recorded for it (§4).
 */
export function baseRuleOf (
  base: BaseTerms, baseYear: number, adjustments: readonly BaseAdjustment[], transfers: readonly ResponsibilityTransfer[], priorYearActual?: Decimal,
): BaseRule {
  // Optional fields assigned, not spread into the literal (see groupInput).
  const rule: BaseRule = { baseYear, mode: base.mode, adjustments }
  if (transfers.length > 0) rule.transfers = transfers
  if (base.amount !== undefined) rule.amount = base.amount
  if (base.mode === 'escalating') rule.growthRate = base.growthRate
  if (priorYearActual !== undefined) rule.priorYearActual = priorYearActual
  return rule
}

/** A(Y) of a group as recorded: the sum and how many monthly records there are (none recorded is not zero). */
export interface RecordedActual {
  total: Decimal
  records: number
}

export const NOTHING_RECORDED: RecordedActual = { total: ZERO, records: 0 }

/** One revenue category's records of a zone–district pair in a year: their sum, their count and the sum of their revision numbers. */
export interface CategoryActual {
  zoneCode: string
  districtCode: string
  categoryCode: string
  year: number
  total: Decimal
  records: number
  revisions: number
}

/** A(y) of a group with what it was summed from: the number of records and the sum of their revisions (see recordsDigest). */
export interface GroupActual extends RecordedActual {
  revisions: number
}

/**
 * Which records make up A(y): their count and the sum of their revision numbers. A record is
 * never deleted and a revision only ever raises its number, so a month added or an amount revised
 * changes it; '' when none are recorded.
 */
export const recordsDigest = (actual: { records: number, revisions: number } | undefined): string =>
  actual === undefined || actual.records === 0 ? '' : `${actual.records}:${actual.revisions}`

/**
 * A(y) of every group of `agreements` (calculation-rules.md §5) from the per-category sums of
 * their zone–district pairs, keyed `agreementId|position|year`: the group's categories summed
 * (a category is in at most one group of an agreement). Rows of categories, pairs or agreements
 * not in `agreements` are left out.
 */
export function sumGroupActuals (
  agreements: ReadonlyArray<{ id: number, zoneCode: string, districtCode: string, groups: ReadonlyArray<{ categories: readonly string[] }> }>,
  rows: Iterable<CategoryActual>,
): Map<string, GroupActual> {
  const groupOf = new Map<string, Array<{ agreementId: number, position: number }>>()
  for (const a of agreements) {
    a.groups.forEach((g, position) => {
      for (const code of g.categories) {
        const key = categoryKey(a.zoneCode, a.districtCode, code)
        const owners = groupOf.get(key)
        if (owners === undefined) groupOf.set(key, [{ agreementId: a.id, position }])
        else owners.push({ agreementId: a.id, position })
      }
    })
  }
  const sums = new Map<string, GroupActual>()
  for (const r of rows) {
    for (const { agreementId, position } of groupOf.get(categoryKey(r.zoneCode, r.districtCode, r.categoryCode)) ?? []) {
      const key = groupActualKey(agreementId, position, r.year)
      const sum = sums.get(key)
      sums.set(key, sum === undefined
        ? { total: r.total, records: r.records, revisions: r.revisions }
        : { total: sum.total.plus(r.total), records: sum.records + r.records, revisions: sum.revisions + r.revisions })
    }
  }
  return sums
}

const categoryKey = (zoneCode: string, districtCode: string, categoryCode: string) => `${zoneCode}\u0000${districtCode}\u0000${categoryCode}`

export const groupActualKey = (agreementId: number, position: number, year: number): string => `${agreementId}|${position}|${year}`

/** B(Y) of an increment group, or why it cannot be computed (§2: a year not after the base year; §4: prior_year without revenue in Y−1). */
export type GroupBaseForYear = { ok: true, derivation: BaseDerivation } | { ok: false, reason: string }

export function groupBaseForYear (
  base: BaseTerms, baseYear: number, adjustments: readonly BaseAdjustment[], transfers: readonly ResponsibilityTransfer[], year: number, priorYear: RecordedActual,
): GroupBaseForYear {
  // A calculation refuses such a year (baseYear must be before fiscalYear); B(Y) would compound backwards.
  if (year <= baseYear) return { ok: false, reason: `${year} is not after the base year ${baseYear}: a base is verified in the base year and applies from the year after it (calculation-rules.md §2)` }
  if (base.mode === 'prior_year' && priorYear.records === 0) return { ok: false, reason: priorYearRevenueMissing(year) }
  const rule = baseRuleOf(base, baseYear, adjustments, transfers, base.mode === 'prior_year' ? priorYear.total : undefined)
  return { ok: true, derivation: baseForYear({ kind: 'rule', rule }, year) }
}

/** An agreement as the engine needs it: its terms, and each group's base adjustments and responsibility transfers. */
export interface AgreementForYear {
  id: number
  zoneCode: string
  districtCode: string
  effectiveFrom: number
  baseYear: number
  groups: ReadonlyArray<AgreementGroupTerms & { adjustments: readonly BaseAdjustment[], transfers: readonly ResponsibilityTransfer[] }>
}

/** What the year's records say of one agreement (§5–§6). */
export interface AgreementYearFacts {
  /** A(y) of the group at `position`, for y = Y and Y−1. */
  actual: (position: number, year: number) => RecordedActual
  /** Where shortfalls are carried in from (§6). */
  carry: CarrySource
  /** C_out by group name of the finalized Y−1 line the carry comes from; undefined when it is not finalized. */
  carriedIn: ReadonlyMap<string, Decimal> | undefined
  /** Σ advances (预拨) paid under the agreement for Y. */
  advancesPaid: Decimal
}

/**
 * The agreement settled for year Y (§4–§6), or why it cannot be:
 * `conflicts` — shortfalls to carry in from a Y−1 that is not finalized (§6, 409);
 * `problems` — a prior_year base without revenue recorded for Y−1 (§4), or a figure beyond
 * 18 integer digits (§1), each naming the input (422).
 */
export type AgreementYearSettlement =
  | { ok: true, input: AgreementYearInput, result: AgreementYearResult }
  | { ok: false, conflicts: InputIssue[], problems: InputIssue[] }

/**
 * An agreement's bands below the deployment floor `floor`, one issue for each group's first (§3):
 * terms registered before MIN_ZONE_RATE was raised, which a year's first (annual) settlement
 * refuses, as a calculation refuses them, until a version that meets the floor is registered. A
 * supplementary settlement (补充结算) re-settles a year finalized under its run's floor and is not
 * checked; nor are scenarios, which weigh the agreed terms under the floor they were agreed at.
 */
export function bandsBelowFloor (a: AgreementForYear, floor: Decimal): InputIssue[] {
  return a.groups.flatMap((g, position) => {
    const below = bandBelowFloor(g, floor)
    return below === undefined
      ? []
      : [{
          pointer: `/agreements/${a.id}/groups/${position}/${below.at}`,
          message: `agreement ${a.id} group "${g.name}": ${below.message}; its bands were agreed under a lower floor: register a version whose bands meet ${formatRate(floor)}`,
        }]
  })
}

export function settleAgreementYear (a: AgreementForYear, year: number, minimumRate: Decimal, facts: AgreementYearFacts): AgreementYearSettlement {
  const conflicts: InputIssue[] = []
  const problems: InputIssue[] = []
  if (facts.carry.kind !== 'none' && facts.carriedIn === undefined) {
    conflicts.push({ pointer: `/agreements/${a.id}`, message: carryNotFinalized(a, year, facts.carry) })
  }
  const groups = a.groups.map((g, position): GroupInput | undefined => {
    const actual = facts.actual(position, year).total
    if (g.basis === 'total') return groupInput(g.name, 'total', undefined, actual, g, 'none', ZERO)
    const priorYear = g.base.mode === 'prior_year' ? facts.actual(position, year - 1) : NOTHING_RECORDED
    if (g.base.mode === 'prior_year' && priorYear.records === 0) {
      problems.push({ pointer: `/agreements/${a.id}/groups/${position}`, message: `agreement ${a.id} group "${g.name}": ${priorYearRevenueMissing(year)}` })
      return undefined
    }
    const base = { kind: 'rule' as const, rule: baseRuleOf(g.base, a.baseYear, g.adjustments, g.transfers, g.base.mode === 'prior_year' ? priorYear.total : undefined) }
    return groupInput(g.name, 'increment', base, actual, g, g.shortfall, g.shortfall === 'carry_forward' ? facts.carriedIn?.get(g.name) ?? ZERO : ZERO)
  })
  if (conflicts.length > 0 || problems.length > 0) return { ok: false, conflicts, problems }
  const input: AgreementYearInput = { fiscalYear: year, minimumRate, groups: groups.filter((g) => g !== undefined), advancesPaid: facts.advancesPaid }
  const result = computeAgreementYear(input)
  const at = `/agreements/${a.id}/groups`
  const tooLarge = magnitudeIssues(result, (i) => ({ actual: `${at}/${i}/actual`, base: `${at}/${i}/base`, growth: `${at}/${i}/base/growthRate`, transfers: `${at}/${i}/transfers` }),
    { totals: `/agreements/${a.id}`, advances: `/agreements/${a.id}/advances` },
    (what, i) => `agreement ${a.id}${i === undefined ? '' : ` group "${a.groups[i]?.name ?? ''}"`}: ${year} gives ${what} (calculation-rules.md §1)`)
  if (tooLarge.length > 0) return { ok: false, conflicts, problems: tooLarge }
  return { ok: true, input, result }
}

const bandsText = (rates: GroupRates['rates'] & object) => rates.map((b) => [b.upToGrowth?.toString() ?? null, b.rate.toString()])

/** A transfer's terms as canonical text: every field that moves a base. */
function transferText (x: RecordedTransfer) {
  const f = x.funding
  return [x.id ?? null, x.function, x.direction, x.fromYear, x.toYear ?? null, x.documentNo, f.method,
    f.method === 'headcount' ? f.headcount : f.amount.toString(), f.method === 'headcount' ? f.unitCost.toString() : null,
    f.method === 'indexed' ? f.growthRate.toString() : null]
}

/**
 * The agreement's terms as settling `year` reads them, as one canonical text (calculation-rules.md
 * §9: "the agreement's terms or years", its base adjustments and its responsibility transfers): the
 * same terms always give the same text, any change that could move the year's line another. What
 * moves only later years is left out (an adjustment from a later year, a transfer not in force in
 * the year, an end after the year), so that registering it does not make the year's draft stale.
 * `year` undefined: every year's, the text a draft computed before 716a5e5 holds the digest of.
 * A group with one set of bands and no transfers reads as it did before schedules and transfers
 * existed, so a draft run computed then is not stale for that alone.
 */
export function agreementTermsText (a: Omit<AgreementTerms, 'groups'> & {
  id: number
  groups: ReadonlyArray<AgreementGroupTerms & { adjustments: ReadonlyArray<BaseAdjustment & { id?: number }>, transfers: readonly RecordedTransfer[] }>
}, year: number | undefined): string {
  return JSON.stringify({
    id: a.id, zoneCode: a.zoneCode, districtCode: a.districtCode, documentNo: a.documentNo,
    // Whether the year is the last (where a shortfall carried out goes, §6) or in force at all.
    effectiveFrom: a.effectiveFrom, effectiveTo: a.effectiveTo !== null && (year === undefined || a.effectiveTo <= year) ? a.effectiveTo : null, baseYear: a.baseYear,
    groups: a.groups.map((g) => {
      const transfers = year === undefined ? g.transfers : g.transfers.filter((x) => transferInForce(x, year))
      const adjustments = g.basis === 'increment' && year !== undefined ? adjustmentsFor({ mode: g.base.mode, adjustments: g.adjustments }, year) : g.adjustments
      return {
        name: g.name, basis: g.basis, categories: [...g.categories].sort(), shortfall: g.shortfall,
        base: g.basis === 'increment' ? { mode: g.base.mode, amount: g.base.amount?.toString() ?? null, growthRate: g.base.mode === 'escalating' ? g.base.growthRate.toString() : null } : null,
        rates: g.schedule === undefined ? bandsText(g.rates) : null,
        ...(g.schedule === undefined ? {} : { schedule: g.schedule.map((p) => [p.fromYear, bandsText(p.rates)]) }),
        adjustments: adjustments.map((x) => [x.id ?? null, x.fromYear, x.amount.toString()]),
        ...(transfers.length === 0 ? {} : { transfers: transfers.map(transferText) }),
      }
    }),
  })
}
