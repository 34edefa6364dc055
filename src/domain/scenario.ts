import {
  type AgreementForYear, type AgreementGroupJson, type AgreementGroupTerms, type AgreementJson, type AgreementTerms, inForce, parseAgreement, type RecordedActual,
  settleAgreementYear,
} from './agreement.js'
import { parseTransfer, type RateBandJson, type RatePeriodJson, type TransferJson } from './calculation-request.js'
import { InputError, type InputIssue, IssueCollector, pointerSegment, Problems } from './errors.js'
import { type Language } from './explanation.js'
import { type CarrySource, carrySource, type CarryTerms, draftShortfallDisposition, type ShortfallDisposition } from './ledger.js'
import { fitsFigure, MAX_FIGURE_DIGITS } from './magnitudes.js'
import { Decimal, formatMoney, formatRate, money, roundToCent, sum, ZERO } from './money.js'
import { presentGroup, presentGroupFigures, type GroupResultJson } from './presentation.js'
import type { AgreementYearResult, BaseMode, Basis, RateBand, ResponsibilityTransfer, ShortfallPolicy } from './types.js'

/*
 * 测算 (api-contract.md, Scenarios): what an agreement would have paid, and will pay, under other
 * terms. The changes are applied to the agreement's terms and checked exactly as an agreement is
 * (parseAgreement); then each year of the range is settled twice with the settlement run's engine
 * (settleAgreementYear, calculation-rules.md §4–§6), once under the agreed terms and once under the
 * changed ones, each version running its own carry-forward chain (C_out of Y is C_in of Y+1).
 * Years up to the last year with revenue on record use the recorded revenue, A(Y) exactly as a run
 * reads it; later years project each group's A from that year:
 *   A(Y) = round(A(last) × (1 + g)^(Y − last)), g = growth.byGroup[name] ?? growth.default ?? 0.
 * Nothing is stored. Advances (预拨) are cash already paid whatever the terms: a scenario compares
 * shares, so advances and the balance due are left out of it (the engine is given no advances).
 */

/** Years a scenario may span. */
export const MAX_SCENARIO_YEARS = 30

/** The fields of a group a scenario may try instead of the agreed ones (api-contract.md, Scenarios). */
export interface ScenarioGroupChangeJson {
  name: string
  basis?: Basis
  base?: { amount?: string, mode: BaseMode, growthRate?: string }
  rates?: readonly RateBandJson[]
  schedule?: readonly RatePeriodJson[]
  shortfall?: ShortfallPolicy
  /** 事权划转: replace the group's recorded responsibility transfers ([] for none). */
  transfers?: readonly TransferJson[]
}

export interface ScenarioChangesJson {
  groups?: readonly ScenarioGroupChangeJson[]
  /** 分成比例下限: a higher floor for the changed terms (never below the deployment's). */
  minimumRate?: string
}

export interface ScenarioRequestJson {
  agreementId: number
  changes: ScenarioChangesJson
  fromYear: number
  toYear: number
  growth?: { default?: string, byGroup?: Readonly<Record<string, string>> }
}

/** A stored agreement as a scenario reads it: its terms, and each group's base adjustments and transfers. */
export type ScenarioAgreement = AgreementTerms & AgreementForYear

/** One version's terms, as the engine takes them, and its floor. */
interface Version {
  agreement: AgreementForYear
  carry: CarryTerms
  floor: Decimal
  /** Where each group's changed terms are in the request (/changes/groups/{i}) and which fields it changes; none for the agreed version. */
  changes: ReadonlyArray<{ at: string, fields: ReadonlySet<string> } | undefined>
}

/** A checked scenario: both versions, the years and the growth of each group. */
export interface ScenarioPlan {
  agreementId: number
  fromYear: number
  toYear: number
  /** The first year the chains are run from: effectiveFrom when either version carries shortfalls forward, else fromYear. */
  chainFrom: number
  agreed: Version
  scenario: Version
  /** g of the group at each position. */
  growth: Decimal[]
  /** Where the request gives the growth of the group at each position (/growth/byGroup/{name} or /growth/default), if it does. */
  growthAt: Array<string | undefined>
}

/** The agreement's terms as an agreement request writes them (what parseAgreement reads). */
function agreementJsonOf (a: AgreementTerms): AgreementJson {
  const bands = (rates: readonly RateBand[]): RateBandJson[] =>
    rates.map((b) => b.upToGrowth === undefined ? { rate: b.rate.toString() } : { upToGrowth: b.upToGrowth.toString(), rate: b.rate.toString() })
  const group = (g: AgreementGroupTerms): AgreementGroupJson => ({
    name: g.name, basis: g.basis, categories: g.categories, shortfall: g.shortfall,
    ...(g.schedule === undefined ? { rates: bands(g.rates) } : { schedule: g.schedule.map((p) => ({ fromYear: p.fromYear, rates: bands(p.rates) })) }),
    ...(g.basis === 'increment'
      ? {
          base: {
            mode: g.base.mode,
            ...(g.base.amount === undefined ? {} : { amount: g.base.amount.toString() }),
            ...(g.base.mode === 'escalating' ? { growthRate: g.base.growthRate.toString() } : {}),
          },
        }
      : {}),
  })
  return {
    zoneCode: a.zoneCode, districtCode: a.districtCode, documentNo: a.documentNo, effectiveFrom: a.effectiveFrom,
    ...(a.effectiveTo === null ? {} : { effectiveTo: a.effectiveTo }), baseYear: a.baseYear, groups: a.groups.map(group),
  }
}

/** The fields of a group change that replace agreed terms. */
const TERM_FIELDS = ['basis', 'base', 'rates', 'schedule', 'shortfall'] as const

/** A group's agreed terms with a change applied: given fields replace the agreed ones, rates and schedule replacing each other. */
function changedGroupJson (agreed: AgreementGroupJson, change: ScenarioGroupChangeJson): AgreementGroupJson {
  const { rates, schedule, ...rest } = agreed
  const bands = change.rates !== undefined || change.schedule !== undefined
    ? { ...(change.rates === undefined ? {} : { rates: change.rates }), ...(change.schedule === undefined ? {} : { schedule: change.schedule }) }
    : { ...(rates === undefined ? {} : { rates }), ...(schedule === undefined ? {} : { schedule }) }
  const basis = change.basis ?? agreed.basis
  const json: AgreementGroupJson = { ...rest, ...bands, basis }
  if (change.base !== undefined) json.base = change.base
  else if (basis === 'total' && agreed.basis === 'increment') delete json.base
  if (change.shortfall !== undefined) json.shortfall = change.shortfall
  else if (basis === 'total' && agreed.basis === 'increment') delete json.shortfall
  return json
}

/**
 * parseAgreement's pointers (/groups/{position}/…) in the request's terms: a changed field points into
 * the change (/changes/groups/{i}/…); an agreed term the change made invalid (a basis that no longer
 * fits the agreed bands) points at the group's change; an agreed term that a raised floor made invalid
 * at /changes/minimumRate. Each message names the group and, for agreed terms, what was agreed.
 */
function inRequestTerms (issue: InputIssue, groups: readonly AgreementGroupTerms[], changeIndex: ReadonlyMap<number, number>,
  changes: readonly ScenarioGroupChangeJson[]): InputIssue {
  const match = /^\/groups\/(\d+)(?:\/([^/]+)(.*))?$/.exec(issue.pointer)
  if (match === null) return { pointer: '/changes', message: issue.message }
  const position = Number.parseInt(match[1] ?? '', 10)
  const field = match[2]
  const name = groups[position]?.name ?? ''
  const i = changeIndex.get(position)
  const change = i === undefined ? undefined : changes[i]
  if (i !== undefined && change !== undefined && field !== undefined && (TERM_FIELDS as readonly string[]).includes(field) && change[field as typeof TERM_FIELDS[number]] !== undefined) {
    return { pointer: `/changes/groups/${i}/${field}${match[3] ?? ''}`, message: `group "${name}": ${issue.message}` }
  }
  // A field the changed basis needs that neither the change nor the agreement gives (a base for a group made increment): the change's to give.
  const agreedGroup = groups[position]
  if (i !== undefined && change?.basis !== undefined && field !== undefined && (TERM_FIELDS as readonly string[]).includes(field) && agreedGroup !== undefined && !(field in agreedGroup)) {
    return { pointer: `/changes/groups/${i}/${field}${match[3] ?? ''}`, message: `group "${name}", changed to basis ${change.basis}: ${issue.message}` }
  }
  const agreedTerm = `group "${name}", agreed ${field === undefined ? 'terms' : `${field}${match[3] ?? ''}`}: ${issue.message}`
  return i === undefined ? { pointer: '/changes/minimumRate', message: agreedTerm } : { pointer: `/changes/groups/${i}`, message: agreedTerm }
}

/**
 * Checks a scenario against its agreement (calculation-rules.md §2–§4): the groups named exist, the
 * changed terms pass the checks an agreement passes (under the floor the changes give, never below
 * the deployment's), the transfers are valid and in the agreement's years, the years lie in the
 * agreement's years (at most MAX_SCENARIO_YEARS), the growth rates are above −1 and name groups that
 * exist. Throws an InputError (422) naming each field that is wrong.
 */
export function planScenario (a: ScenarioAgreement, request: ScenarioRequestJson, deploymentFloor: Decimal): ScenarioPlan {
  const issues = new IssueCollector()
  const names = a.groups.map((g) => g.name)
  const { fromYear, toYear } = request
  const agreementYears = `${a.effectiveFrom}–${a.effectiveTo ?? 'open'}`
  if (toYear < fromYear) issues.ruleAt('/toYear', `toYear ${toYear} is before fromYear ${fromYear}`)
  else if (toYear - fromYear + 1 > MAX_SCENARIO_YEARS) issues.ruleAt('/toYear', `a scenario spans at most ${MAX_SCENARIO_YEARS} years; ${fromYear}–${toYear} is ${toYear - fromYear + 1}`)
  if (!inForce(a, fromYear)) issues.ruleAt('/fromYear', `agreement ${a.id} is not in force in ${fromYear} (${agreementYears}): a scenario settles the agreement's own years`)
  if (!inForce(a, toYear)) issues.ruleAt('/toYear', `agreement ${a.id} is not in force in ${toYear} (${agreementYears}): a scenario settles the agreement's own years`)

  let floor = deploymentFloor
  const { minimumRate } = request.changes
  if (minimumRate !== undefined) {
    if (money(minimumRate).lessThan(deploymentFloor)) {
      issues.ruleAt('/changes/minimumRate', `minimumRate ${minimumRate} is below the deployment floor of ${formatRate(deploymentFloor)}; ` +
        'a scenario may raise the floor, never lower it (calculation-rules.md §3)')
    } else {
      floor = money(minimumRate)
    }
  }

  const changes = request.changes.groups ?? []
  const changeIndex = new Map<number, number>()
  const transfers = new Map<number, ResponsibilityTransfer[]>()
  changes.forEach((change, i) => {
    const position = names.indexOf(change.name)
    if (position === -1) {
      issues.ruleAt(`/changes/groups/${i}/name`, `agreement ${a.id} has no group "${change.name}" (its groups: ${names.join(', ')})`)
      return
    }
    const earlier = changeIndex.get(position)
    if (earlier !== undefined) {
      issues.ruleAt(`/changes/groups/${i}/name`, `group "${change.name}" is already changed by /changes/groups/${earlier}`)
      return
    }
    changeIndex.set(position, i)
    if (change.transfers === undefined) return
    const basis = change.basis ?? a.groups[position]?.basis
    if (basis === 'total' && change.transfers.length > 0) {
      issues.ruleAt(`/changes/groups/${i}/transfers`, `group "${change.name}" shares the whole amount (basis total): it has no base for a transfer to move`)
    }
    transfers.set(position, change.transfers.map((x, k) => {
      const at = `/changes/groups/${i}/transfers/${k}`
      if (!inForce(a, x.fromYear)) {
        issues.ruleAt(`${at}/fromYear`, `agreement ${a.id} is in force ${agreementYears}: a transfer from ${x.fromYear} would move no base it settles`)
      }
      return parseTransfer(issues, at, x, a.baseYear)
    }))
  })

  const growth = a.groups.map(() => ZERO)
  const growthAt = a.groups.map((): string | undefined => undefined)
  const growthOf = (pointer: string, text: string) => {
    const g = money(text)
    if (!g.greaterThan(-1)) issues.ruleAt(pointer, `growth ${text} must be greater than −1`)
    return g
  }
  if (request.growth?.default !== undefined) {
    growth.fill(growthOf('/growth/default', request.growth.default))
    growthAt.fill('/growth/default')
  }
  for (const [name, text] of Object.entries(request.growth?.byGroup ?? {})) {
    const position = names.indexOf(name)
    const at = `/growth/byGroup/${pointerSegment(name)}`
    const g = growthOf(at, text)
    if (position === -1) issues.ruleAt(at, `agreement ${a.id} has no group "${name}" (its groups: ${names.join(', ')})`)
    else {
      growth[position] = g
      growthAt[position] = at
    }
  }
  issues.throwIfAny()

  const json = agreementJsonOf(a)
  const changedJson = { ...json, groups: json.groups.map((g, position) => {
    const i = changeIndex.get(position)
    const change = i === undefined ? undefined : changes[i]
    return change === undefined ? g : changedGroupJson(g, change)
  }) }
  let changed: AgreementTerms
  try {
    changed = parseAgreement(changedJson, floor)
  } catch (error) {
    if (!(error instanceof InputError)) throw error
    throw new InputError(error.kind, error.issues.map((issue) => inRequestTerms(issue, a.groups, changeIndex, changes)))
  }

  const versionOf = (groups: AgreementForYear['groups'], versionFloor: Decimal, versionChanges: Version['changes']): Version => ({
    agreement: { id: a.id, zoneCode: a.zoneCode, districtCode: a.districtCode, effectiveFrom: a.effectiveFrom, baseYear: a.baseYear, groups },
    carry: { id: a.id, effectiveFrom: a.effectiveFrom, effectiveTo: a.effectiveTo, groups: groups.map((g) => ({ name: g.name, shortfall: g.shortfall })) },
    floor: versionFloor,
    changes: versionChanges,
  })
  const agreed = versionOf(a.groups, deploymentFloor, [])
  const scenario = versionOf(changed.groups.map((g, position) => ({
    ...g, adjustments: a.groups[position]?.adjustments ?? [], transfers: transfers.get(position) ?? a.groups[position]?.transfers ?? [],
  })), floor, a.groups.map((_, position) => {
    const i = changeIndex.get(position)
    const change = i === undefined ? undefined : changes[i]
    return i === undefined || change === undefined ? undefined : { at: `/changes/groups/${i}`, fields: new Set(Object.entries(change).filter(([, value]) => value !== undefined).map(([field]) => field)) }
  }))
  const carries = [...agreed.carry.groups, ...scenario.carry.groups].some((g) => g.shortfall === 'carry_forward')
  return { agreementId: a.id, fromYear, toYear, chainFrom: carries ? a.effectiveFrom : fromYear, agreed, scenario, growth, growthAt }
}

/** What the records say, for a scenario's years. */
export interface ScenarioFacts {
  /** A(y) of the group at `position` as recorded (as a settlement run reads it). */
  recorded: (position: number, year: number) => RecordedActual
  /** The last year on record: with revenue in any of the agreement's groups, or a finalized settlement; later years are projected from it. */
  lastRecordedYear: number
  /** The previous version of the agreement (§6), if one ended the year before it started. */
  predecessor: CarryTerms | undefined
  /** C_out by group name of the previous version's finalized last year; undefined when it is not finalized. */
  predecessorCarriedOut: ReadonlyMap<string, Decimal> | undefined
  /**
   * C_out by group name of the agreement's finalized settlement of a year (the last line of its
   * chain); undefined when the year is not finalized. Absent: no year is.
   */
  finalizedCarriedOut?: (year: number) => ReadonlyMap<string, Decimal> | undefined
  /** The next version of the agreement (§6), if one starts the year after it ends: it may carry the last year's shortfalls. */
  successor?: CarryTerms
  /** Whether a finalized line of the agreement's last year wrote the group's shortfall off (written off stays written off). */
  writtenOff?: (group: string) => boolean
}

export interface ScenarioYear {
  fiscalYear: number
  /** Whether the revenue of the year is projected (after the last year on record). */
  projected: boolean
  agreed: AgreementYearResult
  scenario: AgreementYearResult
  /** In the agreement's last year, what becomes of each shortfall the changed version carries out, by group name (§6). */
  dispositions: ReadonlyMap<string, ShortfallDisposition>
}

/** A version's figures summed over the scenario's years. */
export interface ScenarioTotals {
  revenueTotal: Decimal
  zoneShare: Decimal
  districtShare: Decimal
}

export interface ScenarioResult {
  plan: ScenarioPlan
  lastRecordedYear: number
  years: ScenarioYear[]
  /** Σ over the years, of each version. */
  totals: { agreed: ScenarioTotals, scenario: ScenarioTotals }
}

/** A(Y) of a group: recorded up to the last year on record, projected after it at the group's growth, rounded once. */
function actualOf (plan: ScenarioPlan, facts: ScenarioFacts) {
  const last = facts.lastRecordedYear
  return (position: number, year: number): RecordedActual => {
    if (year <= last) return facts.recorded(position, year)
    const from = facts.recorded(position, last)
    const g = plan.growth[position] ?? ZERO
    return { total: roundToCent(from.total.times(new Decimal(1).plus(g).pow(year - last))), records: from.records }
  }
}

/**
 * A year's refusal by settleAgreementYear, whose pointers name the stored agreement
 * (/agreements/{id}/groups/{position}/…), in the request's terms: a projected actual points at the
 * growth that projected it; a changed base or changed transfers at the change; what the agreement's
 * own terms and records give at /agreementId.
 */
function refusalInRequestTerms (issue: InputIssue, plan: ScenarioPlan, version: Version, year: number, lastRecordedYear: number): InputIssue {
  const projected = year > lastRecordedYear
  const match = /^\/agreements\/\d+\/groups\/(\d+)(?:\/([^/]+)(.*))?$/.exec(issue.pointer)
  if (match === null) {
    const growth = projected ? plan.growthAt.find((at) => at !== undefined) : undefined
    return { ...issue, pointer: growth ?? '/agreementId' }
  }
  const position = Number.parseInt(match[1] ?? '', 10)
  const field = match[2]
  if (field === 'actual') return { ...issue, pointer: (projected ? plan.growthAt[position] : undefined) ?? '/agreementId' }
  // No field: a prior_year base without revenue for Y−1 (§4), which a changed base chose.
  const changed = field ?? 'base'
  const change = version.changes[position]
  return { ...issue, pointer: change?.fields.has(changed) === true ? `${change.at}/${changed}${match[3] ?? ''}` : '/agreementId' }
}

/** Each year's C_out of a version's chain as computed from today's records, by group name. */
type ChainCarries = ReadonlyMap<number, ReadonlyMap<string, Decimal>>

/**
 * One version settled year by year from plan.chainFrom, each year's C_out carried into the next (§5,
 * §6). Where the agreement's settlement of Y−1 is finalized, Y carries in what that settlement
 * carried out, as a settlement run does (§6: the C_out of the latest finalized settlement of Y−1),
 * though the revenue of Y−1 on record may have changed since: what has been settled is settled
 * (§9). Both versions do, so that a scenario without changes reads as the agreement does, and a
 * change is weighed against the carry the zone actually has. Within the scenario's years the changed
 * version's carry is that signed C_out moved by what its change does to C_out (`agreedChain`: the
 * agreed version's own C_out of the year, as computed beside it): a changed base or shortfall rule
 * carries what it gives, and a change that leaves C_out alone carries the signed one, however the
 * revenue of Y−1 was revised since it was signed.
 */
function settleChain (plan: ScenarioPlan, version: Version, facts: ScenarioFacts, agreedChain?: ChainCarries) {
  const actual = actualOf(plan, facts)
  const results: AgreementYearResult[] = []
  const conflicts: InputIssue[] = []
  const problems: InputIssue[] = []
  const chain = new Map<number, ReadonlyMap<string, Decimal>>()
  let carriedOut: ReadonlyMap<string, Decimal> | undefined
  for (let year = plan.chainFrom; year <= plan.toYear; year++) {
    // A year before the scenario's whose settlement is finalized carries into the next what was signed
    // (ownCarry): its figures are not needed, and one the version cannot compute (a prior_year base
    // without the revenue of the year before it) is no reason to refuse the years asked for.
    if (year < plan.fromYear && facts.finalizedCarriedOut?.(year) !== undefined) {
      carriedOut = undefined
      continue
    }
    const carry: CarrySource = carrySource(version.carry, year, facts.predecessor)
    const ownCarry = () => {
      const finalized = facts.finalizedCarriedOut?.(year - 1)
      const agreed = agreedChain?.get(year - 1)
      if (finalized === undefined || carriedOut === undefined || agreed === undefined || year - 1 < plan.fromYear) return finalized ?? carriedOut
      const changed = carriedOut
      return new Map(version.agreement.groups.map((g) => {
        const moved = (finalized.get(g.name) ?? ZERO).plus(changed.get(g.name) ?? ZERO).minus(agreed.get(g.name) ?? ZERO)
        return [g.name, Decimal.max(moved, ZERO)]
      }))
    }
    const carriedIn = carry.kind === 'none' ? new Map<string, Decimal>() : carry.kind === 'own' ? ownCarry() : facts.predecessorCarriedOut
    const settled = settleAgreementYear(version.agreement, year, version.floor, { actual, carry, carriedIn, advancesPaid: ZERO })
    if (!settled.ok) {
      conflicts.push(...settled.conflicts)
      problems.push(...settled.problems.map((issue) => refusalInRequestTerms(issue, plan, version, year, facts.lastRecordedYear)))
      break
    }
    carriedOut = new Map(settled.result.groups.map((g) => [g.name, g.carriedShortfallOut ?? ZERO]))
    chain.set(year, carriedOut)
    if (year >= plan.fromYear) results.push(settled.result)
  }
  return { results, conflicts, problems, chain }
}

/**
 * The zone shares' differences (as changed − as agreed) of a group or a year that have more than 18
 * integer digits (§1), each named at the group's change in the request (or /changes when the year's
 * total is what does not fit): opposite changes can move two groups' shares far apart.
 */
function differenceIssues (plan: ScenarioPlan, years: readonly ScenarioYear[]): InputIssue[] {
  const issues: InputIssue[] = []
  for (const y of years) {
    y.scenario.groups.forEach((changed, position) => {
      const agreed = y.agreed.groups[position]
      if (agreed === undefined || fitsFigure(changed.zoneShare.minus(agreed.zoneShare))) return
      issues.push({
        pointer: plan.scenario.changes[position]?.at ?? '/changes',
        message: `${y.fiscalYear}, group "${changed.name}": the zone share as changed differs from the agreed one by ${MAX_FIGURE_DIGITS_TEXT} (calculation-rules.md §1)`,
      })
    })
    if (!fitsFigure(y.scenario.zoneShare.minus(y.agreed.zoneShare))) {
      issues.push({ pointer: '/changes', message: `${y.fiscalYear}: the zone share as changed differs from the agreed one by ${MAX_FIGURE_DIGITS_TEXT} (calculation-rules.md §1)` })
    }
  }
  return issues
}

const MAX_FIGURE_DIGITS_TEXT = `more than ${MAX_FIGURE_DIGITS} integer digits`

const summed = (results: readonly AgreementYearResult[]): ScenarioTotals => ({
  revenueTotal: sum(results.map((r) => r.revenueTotal)), zoneShare: sum(results.map((r) => r.zoneShare)), districtShare: sum(results.map((r) => r.districtShare)),
})

/** What becomes of the shortfalls the changed version carries out of the agreement's last year, as a run's line would say (§6). */
function lastYearDispositions (plan: ScenarioPlan, facts: ScenarioFacts, result: AgreementYearResult): Map<string, ShortfallDisposition> {
  const dispositions = new Map<string, ShortfallDisposition>()
  // An earlier year carries its shortfall forward, whatever became of the last year's (facts.writtenOff is of the last year).
  if (result.fiscalYear !== plan.scenario.carry.effectiveTo) return dispositions
  for (const g of result.groups) {
    const carriedOut = g.carriedShortfallOut
    const disposition = carriedOut === undefined
      ? undefined
      : draftShortfallDisposition(plan.scenario.carry, result.fiscalYear, g.name, carriedOut, facts.successor, facts.writtenOff?.(g.name) === true)
    if (disposition !== undefined) dispositions.set(g.name, disposition)
  }
  return dispositions
}

/**
 * The scenario's years, settled under both versions with the settlement run's engine. A carry from a
 * previous version that is not finalized is a 409 (§6), as it is for a run; a prior_year base without
 * revenue for Y−1, or a figure beyond 18 integer digits (§1) in a year or in the sums over the years, a
 * 422 naming the year, the group and the input of the request that led there.
 */
export function runScenario (plan: ScenarioPlan, facts: ScenarioFacts): ScenarioResult {
  const agreed = settleChain(plan, plan.agreed, facts)
  const scenario = settleChain(plan, plan.scenario, facts, agreed.chain)
  const conflicts = [...agreed.conflicts, ...scenario.conflicts]
  // The conflict names the stored agreement whose year is not finalized; in the request's terms, the agreement asked about.
  if (conflicts.length > 0) throw Problems.priorYearNotFinalized(conflicts.slice(0, 1).map((c) => ({ ...c, pointer: '/agreementId' })))
  const problems = [...agreed.problems, ...scenario.problems.map((p) => ({ ...p, message: `as changed: ${p.message}` }))]
  if (problems.length > 0) throw Problems.cannotSettle(problems)
  const years = agreed.results.map((result, i): ScenarioYear => {
    const changed = scenario.results[i]
    if (changed === undefined) throw new Error(`scenario: no changed result for ${result.fiscalYear}`)
    return { fiscalYear: result.fiscalYear, projected: result.fiscalYear > facts.lastRecordedYear, agreed: result, scenario: changed, dispositions: lastYearDispositions(plan, facts, changed) }
  })
  // Each year's figures fit (§1); so must the differences the scenario prints, of each group and year.
  const tooLarge = differenceIssues(plan, years)
  if (tooLarge.length > 0) throw Problems.cannotSettle(tooLarge)
  const totals = { agreed: summed(agreed.results), scenario: summed(scenario.results) }
  // Each year fits (§1); their sums over the years, and the difference of the zone's, must fit as well.
  const figures = [totals.agreed, totals.scenario].flatMap((x) => [x.revenueTotal, x.zoneShare, x.districtShare])
  if (!figures.every(fitsFigure) || !fitsFigure(totals.scenario.zoneShare.minus(totals.agreed.zoneShare))) {
    throw Problems.cannotSettle([{ pointer: '/toYear', message: `the totals over ${plan.fromYear}–${plan.toYear} add up to more than ${MAX_FIGURE_DIGITS} integer digits ` +
      '(calculation-rules.md §1): each year fits, their sum could not be printed; a shorter range or a lower growth fits' }])
  }
  return { plan, lastRecordedYear: facts.lastRecordedYear, years, totals }
}

/*
 * The printed scenario: every amount a string with two decimals (§1).
 */

export interface ScenarioTotalsJson {
  revenueTotal: string
  zoneShare: string
  districtShare: string
}

export interface ScenarioGroupJson {
  name: string
  agreed: Omit<GroupResultJson, 'explanation'>
  scenario: GroupResultJson
  /** scenario zoneShare − agreed zoneShare. */
  difference: string
}

export interface ScenarioYearJson {
  fiscalYear: number
  projected: boolean
  groups: ScenarioGroupJson[]
  totals: { agreed: ScenarioTotalsJson, scenario: ScenarioTotalsJson, difference: string }
}

export interface ScenarioJson {
  agreementId: number
  fromYear: number
  toYear: number
  lastRecordedYear: number
  minimumRate: { agreed: string, scenario: string }
  years: ScenarioYearJson[]
  /** Σ over the years. */
  totals: { agreed: ScenarioTotalsJson, scenario: ScenarioTotalsJson, difference: string }
}

const totalsOf = (r: { revenueTotal: Decimal, zoneShare: Decimal, districtShare: Decimal }): ScenarioTotalsJson =>
  ({ revenueTotal: formatMoney(r.revenueTotal), zoneShare: formatMoney(r.zoneShare), districtShare: formatMoney(r.districtShare) })


export function presentScenario (result: ScenarioResult, lang: Language): ScenarioJson {
  const { plan } = result
  const years = result.years.map((y): ScenarioYearJson => ({
    fiscalYear: y.fiscalYear,
    projected: y.projected,
    groups: y.agreed.groups.map((agreed, i) => {
      const changed = y.scenario.groups[i] ?? agreed
      return { name: agreed.name, agreed: presentGroupFigures(agreed), scenario: presentGroup(changed, lang, y.dispositions.get(changed.name)), difference: formatMoney(changed.zoneShare.minus(agreed.zoneShare)) }
    }),
    totals: { agreed: totalsOf(y.agreed), scenario: totalsOf(y.scenario), difference: formatMoney(y.scenario.zoneShare.minus(y.agreed.zoneShare)) },
  }))
  const { agreed, scenario } = result.totals
  return {
    agreementId: plan.agreementId, fromYear: plan.fromYear, toYear: plan.toYear, lastRecordedYear: result.lastRecordedYear,
    minimumRate: { agreed: formatRate(plan.agreed.floor), scenario: formatRate(plan.scenario.floor) },
    years,
    totals: { agreed: totalsOf(agreed), scenario: totalsOf(scenario), difference: formatMoney(scenario.zoneShare.minus(agreed.zoneShare)) },
  }
}

/** The scenario table's columns (csv, xlsx), Chinese title first. */
export const SCENARIO_COLUMNS = [
  { key: 'row', title: '行类型 row', money: false },
  { key: 'fiscalYear', title: '年度 fiscal year', money: false, count: true },
  { key: 'revenue', title: '收入 revenue (实际 recorded / 预测 projected)', money: false },
  { key: 'group', title: '口径组 group', money: false },
  { key: 'actual', title: '实际收入 revenue', money: true },
  { key: 'agreedBase', title: '现行基数 agreed base', money: true },
  { key: 'agreedZoneShare', title: '现行功能区分成 agreed zone share', money: true },
  { key: 'agreedDistrictShare', title: '现行属地留成 agreed district share', money: true },
  { key: 'agreedCarriedOut', title: '现行结转短收 agreed shortfall carried out', money: true },
  { key: 'scenarioBase', title: '测算基数 scenario base', money: true },
  { key: 'scenarioZoneShare', title: '测算功能区分成 scenario zone share', money: true },
  { key: 'scenarioDistrictShare', title: '测算属地留成 scenario district share', money: true },
  { key: 'scenarioCarriedOut', title: '测算结转短收 scenario shortfall carried out', money: true },
  { key: 'difference', title: '差额 difference (scenario − agreed zone share)', money: true },
] as const

export type ScenarioColumn = typeof SCENARIO_COLUMNS[number]['key']
export type ScenarioRow = Partial<Record<ScenarioColumn, string>>

/** One row per year and group, a total row per year (小计) and one for the whole range (合计): every total the sum of the rows above it. */
export function scenarioRows (s: ScenarioJson): ScenarioRow[] {
  const rows: ScenarioRow[] = []
  const optional = (key: ScenarioColumn, value: string | undefined) => value === undefined ? {} : { [key]: value }
  for (const y of s.years) {
    const year = { fiscalYear: String(y.fiscalYear), revenue: y.projected ? '预测 projected' : '实际 recorded' }
    for (const g of y.groups) {
      rows.push({
        ...year, row: '口径组 group', group: g.name, actual: g.scenario.actual,
        ...optional('agreedBase', g.agreed.base), agreedZoneShare: g.agreed.zoneShare, agreedDistrictShare: g.agreed.districtShare,
        ...optional('agreedCarriedOut', g.agreed.carriedShortfallOut),
        ...optional('scenarioBase', g.scenario.base), scenarioZoneShare: g.scenario.zoneShare, scenarioDistrictShare: g.scenario.districtShare,
        ...optional('scenarioCarriedOut', g.scenario.carriedShortfallOut), difference: g.difference,
      })
    }
    rows.push({
      ...year, row: '小计 year total', actual: y.totals.scenario.revenueTotal,
      agreedZoneShare: y.totals.agreed.zoneShare, agreedDistrictShare: y.totals.agreed.districtShare,
      scenarioZoneShare: y.totals.scenario.zoneShare, scenarioDistrictShare: y.totals.scenario.districtShare, difference: y.totals.difference,
    })
  }
  rows.push({
    fiscalYear: `${s.fromYear}–${s.toYear}`, row: '合计 total', actual: s.totals.scenario.revenueTotal,
    agreedZoneShare: s.totals.agreed.zoneShare, agreedDistrictShare: s.totals.agreed.districtShare,
    scenarioZoneShare: s.totals.scenario.zoneShare, scenarioDistrictShare: s.totals.scenario.districtShare, difference: s.totals.difference,
  })
  return rows
}

/** The first line of a scenario table: the agreement, the years, where recorded revenue ends, and the floors. */
export function scenarioTitle (s: ScenarioJson): string {
  return `分成办法 agreement ${s.agreementId} 测算 scenario ${s.fromYear}–${s.toYear} — 实际收入至 ${s.lastRecordedYear} 年，其后预测 revenue recorded to ${s.lastRecordedYear}, projected after — ` +
    `下限 floor ${s.minimumRate.agreed} / ${s.minimumRate.scenario}`
}
