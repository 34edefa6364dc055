import { priorYearRevenueMissing, scheduleStartsLater } from './engine.js'
import { IssueCollector } from './errors.js'
import { type Decimal, formatMoney, formatRate, money, MONEY_PATTERN, ZERO } from './money.js'
import type {
  AgreementYearInput, BaseInput, BaseMode, BaseRule, Basis, FundingMethod, GroupInput, GroupRates, RateBand, RatePeriod, ResponsibilityTransfer, ShortfallPolicy,
  TransferDirection, TransferFunding,
} from './types.js'

/*
 * The calculation request as it arrives in JSON (api-contract.md, POST /v1/calculations):
 * amounts and rates are strings whose format the route schema has already checked.
 * `parseCalculationRequest` checks the rules no schema can express and turns the strings
 * into Decimals, or throws an InputError that points at every field that is wrong.
 */

/** 划转经费 as sent: the method and the fields it takes (calculation-rules.md §4). */
export interface TransferFundingJson {
  method: FundingMethod
  /** fixed: F(Y); indexed: F(fromYear). */
  amount?: string
  /** headcount: 编制人数. */
  headcount?: number
  /** headcount: 人均经费 per head and year. */
  unitCost?: string
  /** indexed: the yearly growth. */
  growthRate?: string
}

/** 事权划转 as sent (api-contract.md, Responsibility transfers), in a base rule or on its own. */
export interface TransferJson {
  function: string
  direction: TransferDirection
  fromYear: number
  toYear?: number
  documentNo: string
  funding: TransferFundingJson
}

export interface BaseRuleJson {
  amount?: string
  baseYear: number
  mode: BaseMode
  growthRate?: string
  adjustments?: ReadonlyArray<{ fromYear: number, amount: string, reason?: string, documentNo?: string }>
  transfers?: readonly TransferJson[]
  priorYearActual?: string
}

export interface RateBandJson {
  upToGrowth?: string
  rate: string
}

/** 分段期限 as sent: a period's first year and its bands. */
export interface RatePeriodJson {
  fromYear: number
  rates: readonly RateBandJson[]
}

export interface GroupJson {
  name: string
  basis: Basis
  base?: string | BaseRuleJson
  actual: string
  rates?: readonly RateBandJson[]
  schedule?: readonly RatePeriodJson[]
  shortfall?: ShortfallPolicy
  carriedShortfall?: string
}

export interface CalculationRequestJson {
  fiscalYear: number
  minimumRate?: string
  groups: readonly GroupJson[]
  advancesPaid?: string
}

/** Rates must satisfy floor ≤ rate ≤ 1 (§3); the message names the floor. */
function floorMessage (rate: Decimal, floor: Decimal): string {
  return `rate ${formatRate(rate)} is below the floor of ${formatRate(floor)} (不低于${floor.times(100).toString()}%): ` +
    'the zone\'s share may not be lower (calculation-rules.md §3)'
}

/**
 * The first band of a group's rates, or of any period of its schedule, below `floor`: its place
 * (rates/k/rate or schedule/p/rates/k/rate) and why, as a calculation request would be refused (§3).
 * A settlement line's request carries the whole schedule, so every period must meet the floor.
 */
export function bandBelowFloor (group: GroupRates, floor: Decimal): { at: string, message: string } | undefined {
  const periods = group.schedule === undefined
    ? [{ at: 'rates', rates: group.rates }]
    : group.schedule.map((period, p) => ({ at: `schedule/${p}/rates`, rates: period.rates }))
  for (const { at, rates } of periods) {
    const k = rates.findIndex((band) => band.rate.lessThan(floor))
    const band = rates[k]
    if (band !== undefined) return { at: `${at}/${k}/rate`, message: floorMessage(band.rate, floor) }
  }
  return undefined
}

export function parseRateBands (
  issues: IssueCollector, pointer: string, bands: readonly RateBandJson[], basis: Basis, floor: Decimal,
): RateBand[] {
  if (basis === 'total' && bands.length > 1) {
    issues.ruleAt(pointer, `basis total allows one band only, got ${bands.length} (calculation-rules.md §2)`)
  }
  const parsed: RateBand[] = []
  bands.forEach((band, k) => {
    const at = `${pointer}/${k}`
    const isLast = k === bands.length - 1
    const rate = money(band.rate)
    if (rate.lessThan(floor)) issues.ruleAt(`${at}/rate`, floorMessage(rate, floor))
    let upToGrowth: Decimal | undefined
    if (band.upToGrowth === undefined) {
      if (!isLast) issues.malformedAt(`${at}/upToGrowth`, 'every band but the last needs upToGrowth')
    } else if (isLast) {
      issues.malformedAt(`${at}/upToGrowth`, 'the last band has no upToGrowth: it takes all growth above the previous band')
    } else {
      upToGrowth = money(band.upToGrowth)
      if (!upToGrowth.greaterThan(0)) issues.ruleAt(`${at}/upToGrowth`, 'upToGrowth must be greater than 0')
      const previous = parsed[k - 1]?.upToGrowth
      if (previous !== undefined && !upToGrowth.greaterThan(previous)) {
        issues.ruleAt(`${at}/upToGrowth`,
          `bands out of order: upToGrowth ${band.upToGrowth} must be greater than the previous band's ${previous.toString()}`)
      }
    }
    // Rates may rise or fall from one band to the next (§2: 超收分成 gives the district more of windfall growth); only the floor binds them.
    parsed.push(upToGrowth === undefined ? { rate } : { upToGrowth, rate })
  })
  return parsed
}

/**
 * A rate schedule (分段期限, §2): one to twenty periods, fromYear strictly increasing, each with
 * bands checked as `parseRateBands` checks them. `firstYear`, when given, is the year the first
 * period must start (an agreement's effectiveFrom); `lastYear` the last year a period may start
 * (an agreement's effectiveTo).
 */
export function parseRateSchedule (
  issues: IssueCollector, pointer: string, schedule: readonly RatePeriodJson[], basis: Basis, floor: Decimal,
  years: { firstYear?: number, lastYear?: number | null } = {},
): RatePeriod[] {
  return schedule.map((period, k) => {
    const at = `${pointer}/${k}`
    const previous = schedule[k - 1]
    if (k === 0 && years.firstYear !== undefined && period.fromYear !== years.firstYear) {
      issues.ruleAt(`${at}/fromYear`, `the first period of a rate schedule starts in effectiveFrom ${years.firstYear}, not ${period.fromYear} (calculation-rules.md §2)`)
    }
    if (previous !== undefined && period.fromYear <= previous.fromYear) {
      issues.ruleAt(`${at}/fromYear`, `periods out of order: fromYear ${period.fromYear} must be after the previous period's ${previous.fromYear} (calculation-rules.md §2)`)
    }
    if (years.lastYear !== undefined && years.lastYear !== null && period.fromYear > years.lastYear) {
      issues.ruleAt(`${at}/fromYear`, `the period from ${period.fromYear} starts after effectiveTo ${years.lastYear}: it would never be in force`)
    }
    return { fromYear: period.fromYear, rates: parseRateBands(issues, `${at}/rates`, period.rates, basis, floor) }
  })
}

/** A group's bands: `rates` or `schedule`, exactly one of them (§2). */
export function parseGroupRates (
  issues: IssueCollector, pointer: string, group: { basis: Basis, rates?: readonly RateBandJson[] | undefined, schedule?: readonly RatePeriodJson[] | undefined },
  floor: Decimal, years: { firstYear?: number, lastYear?: number | null } = {},
): GroupRates {
  if (group.rates !== undefined && group.schedule !== undefined) {
    issues.malformedAt(`${pointer}/schedule`, 'give rates (one set of bands) or schedule (bands by period), not both')
  }
  if (group.schedule !== undefined) return { schedule: parseRateSchedule(issues, `${pointer}/schedule`, group.schedule, group.basis, floor, years) }
  if (group.rates === undefined) {
    issues.malformedAt(`${pointer}/rates`, 'rates (one set of bands) or schedule (bands by period) is required')
    return { rates: [] }
  }
  return { rates: parseRateBands(issues, `${pointer}/rates`, group.rates, group.basis, floor) }
}

/** Positive amounts: the funding of a transfer moves the base by its direction, never by its sign. */
function positiveAt (issues: IssueCollector, pointer: string, text: string, what: string): Decimal {
  const value = money(text)
  if (!value.greaterThan(0)) issues.ruleAt(pointer, `${what} must be more than 0.00: the direction says which way the base moves`)
  return value
}

/**
 * A responsibility transfer (事权划转, §4): years in order, funding positive, an indexed growth
 * above −1. `afterYear`, when given, is the base year the transfer must come after.
 */
export function parseTransfer (issues: IssueCollector, pointer: string, transfer: TransferJson, afterYear?: number): ResponsibilityTransfer {
  if (transfer.toYear !== undefined && transfer.toYear < transfer.fromYear) {
    issues.ruleAt(`${pointer}/toYear`, `toYear ${transfer.toYear} is before fromYear ${transfer.fromYear}`)
  }
  if (afterYear !== undefined && transfer.fromYear <= afterYear) {
    issues.ruleAt(`${pointer}/fromYear`, `fromYear must be after the base year ${afterYear}: the verified base already holds the functions of its year`)
  }
  const at = `${pointer}/funding`
  const f = transfer.funding
  const required = { fixed: ['amount'], headcount: ['headcount', 'unitCost'], indexed: ['amount', 'growthRate'] }[f.method]
  for (const field of ['amount', 'headcount', 'unitCost', 'growthRate'] as const) {
    const given = f[field] !== undefined
    if (required.includes(field) && !given) issues.malformedAt(`${at}/${field}`, `${field} is required for method ${f.method}`)
    if (!required.includes(field) && given) issues.malformedAt(`${at}/${field}`, `${field} does not apply to method ${f.method}`)
  }
  const amount = f.amount === undefined ? ZERO : positiveAt(issues, `${at}/amount`, f.amount, 'amount')
  let funding: TransferFunding
  switch (f.method) {
    case 'fixed':
      funding = { method: 'fixed', amount }
      break
    case 'headcount':
      funding = { method: 'headcount', headcount: f.headcount ?? 0, unitCost: f.unitCost === undefined ? ZERO : positiveAt(issues, `${at}/unitCost`, f.unitCost, 'unitCost') }
      break
    case 'indexed': {
      const growthRate = f.growthRate === undefined ? ZERO : money(f.growthRate)
      if (!growthRate.greaterThan(-1)) issues.ruleAt(`${at}/growthRate`, 'growthRate must be greater than −1')
      funding = { method: 'indexed', amount, growthRate }
      break
    }
  }
  return {
    function: transfer.function, direction: transfer.direction, fromYear: transfer.fromYear,
    ...(transfer.toYear === undefined ? {} : { toYear: transfer.toYear }),
    documentNo: transfer.documentNo, funding,
  }
}

function parseBase (
  issues: IssueCollector, pointer: string, base: string | BaseRuleJson, fiscalYear: number,
): BaseInput {
  if (typeof base === 'string') return { kind: 'amount', amount: money(base) }
  const { mode } = base
  if (mode !== 'prior_year' && base.amount === undefined) {
    issues.malformedAt(`${pointer}/amount`, `the verified base amount is required for mode ${mode}`)
  }
  if (mode === 'escalating') {
    if (base.growthRate === undefined) {
      issues.malformedAt(`${pointer}/growthRate`, 'growthRate is required for mode escalating')
    } else if (!money(base.growthRate).greaterThan(-1)) {
      issues.ruleAt(`${pointer}/growthRate`, 'growthRate must be greater than −1')
    }
  } else if (base.growthRate !== undefined) {
    issues.malformedAt(`${pointer}/growthRate`, `growthRate applies to mode escalating only, not ${mode}`)
  }
  if (mode === 'prior_year') {
    if (base.priorYearActual === undefined) {
      issues.ruleAt(`${pointer}/priorYearActual`, priorYearRevenueMissing(fiscalYear))
    }
  } else if (base.priorYearActual !== undefined) {
    issues.malformedAt(`${pointer}/priorYearActual`, 'priorYearActual applies to mode prior_year only')
  }
  if (base.baseYear >= fiscalYear) {
    issues.ruleAt(`${pointer}/baseYear`, `baseYear ${base.baseYear} must be before fiscalYear ${fiscalYear} (calculation-rules.md §2)`)
  }
  const transfers = (base.transfers ?? []).map((x, k) => parseTransfer(issues, `${pointer}/transfers/${k}`, x, base.baseYear))
  // Optional fields are assigned, not spread into the literal: V8 builds a literal with spreads in
  // its middle property by property, several times slower (and this runs on every calculation).
  const rule: BaseRule = { baseYear: base.baseYear, mode, adjustments: (base.adjustments ?? []).map((a) => ({ ...a, amount: money(a.amount) })) }
  if (base.amount !== undefined) rule.amount = money(base.amount)
  if (base.growthRate !== undefined) rule.growthRate = money(base.growthRate)
  if (transfers.length > 0) rule.transfers = transfers
  if (base.priorYearActual !== undefined) rule.priorYearActual = money(base.priorYearActual)
  return { kind: 'rule', rule }
}

function parseGroup (
  issues: IssueCollector, pointer: string, group: GroupJson, fiscalYear: number, floor: Decimal,
): GroupInput {
  const shortfall = group.shortfall ?? 'none'
  let base: BaseInput | undefined
  if (group.basis === 'increment') {
    if (group.base === undefined) issues.malformedAt(`${pointer}/base`, 'base is required for basis increment')
    else base = parseBase(issues, `${pointer}/base`, group.base, fiscalYear)
  } else {
    if (group.base !== undefined) issues.malformedAt(`${pointer}/base`, 'base is forbidden for basis total')
    if (shortfall !== 'none') issues.malformedAt(`${pointer}/shortfall`, 'a shortfall policy applies to basis increment only')
  }
  if (group.carriedShortfall !== undefined && shortfall !== 'carry_forward') {
    issues.malformedAt(`${pointer}/carriedShortfall`, 'carriedShortfall applies to shortfall carry_forward only')
  }
  const rates = parseGroupRates(issues, pointer, group, floor)
  const first = rates.schedule?.[0]
  if (first !== undefined && first.fromYear > fiscalYear) issues.ruleAt(`${pointer}/schedule/0/fromYear`, scheduleStartsLater(fiscalYear, first.fromYear))
  const actual = money(group.actual)
  const carriedShortfall = group.carriedShortfall === undefined ? ZERO : money(group.carriedShortfall)
  return groupInput(group.name, group.basis, base, actual, rates, shortfall, carriedShortfall)
}

/**
 * The engine's input for a group. Whole literals, one per shape: a literal with a spread in it is
 * built property by property, and such inputs made every calculation and settlement line about a
 * quarter slower, in their making and in every later read of them.
 */
export function groupInput (
  name: string, basis: Basis, base: BaseInput | undefined, actual: Decimal, rates: GroupRates, shortfall: ShortfallPolicy, carriedShortfall: Decimal,
): GroupInput {
  if (rates.schedule === undefined) {
    return base === undefined
      ? { name, basis, actual, rates: rates.rates, shortfall, carriedShortfall }
      : { name, basis, base, actual, rates: rates.rates, shortfall, carriedShortfall }
  }
  return base === undefined
    ? { name, basis, actual, schedule: rates.schedule, shortfall, carriedShortfall }
    : { name, basis, base, actual, schedule: rates.schedule, shortfall, carriedShortfall }
}

/**
 * Checks a calculation request against calculation-rules.md §2–§4 and returns the engine's
 * input. `deploymentFloor` is MIN_ZONE_RATE; a request may raise it, never lower it (§3).
 */
export function parseCalculationRequest (request: CalculationRequestJson, deploymentFloor: Decimal): AgreementYearInput {
  const issues = new IssueCollector()
  let floor = deploymentFloor
  if (request.minimumRate !== undefined) {
    const requested = money(request.minimumRate)
    if (requested.lessThan(deploymentFloor)) {
      issues.ruleAt('/minimumRate', `minimumRate ${request.minimumRate} is below the deployment floor of ${formatRate(deploymentFloor)}; ` +
        'a request may raise the floor, never lower it (calculation-rules.md §3)')
    } else {
      floor = requested
    }
  }
  const seen = new Map<string, number>()
  const groups = request.groups.map((group, i) => {
    const earlier = seen.get(group.name)
    if (earlier !== undefined) issues.ruleAt(`/groups/${i}/name`, `group name "${group.name}" is already used by /groups/${earlier}`)
    else seen.set(group.name, i)
    return parseGroup(issues, `/groups/${i}`, group, request.fiscalYear, floor)
  })
  issues.throwIfAny()
  return {
    fiscalYear: request.fiscalYear,
    minimumRate: floor,
    groups,
    advancesPaid: request.advancesPaid === undefined ? ZERO : money(request.advancesPaid),
  }
}

/*
 * And back: the engine's input as a calculation request (POST /v1/calculations). A settlement line
 * shows the request its figures come from, so that anyone can post it and get the same figures.
 */

const bandsJson = (rates: readonly RateBand[]): RateBandJson[] =>
  rates.map((b) => b.upToGrowth === undefined ? { rate: formatRate(b.rate) } : { upToGrowth: formatRate(b.upToGrowth), rate: formatRate(b.rate) })

function fundingJson (f: TransferFunding): TransferFundingJson {
  switch (f.method) {
    case 'fixed': return { method: 'fixed', amount: formatMoney(f.amount) }
    case 'headcount': return { method: 'headcount', headcount: f.headcount, unitCost: formatMoney(f.unitCost) }
    case 'indexed': return { method: 'indexed', amount: formatMoney(f.amount), growthRate: formatRate(f.growthRate) }
  }
}

/** A transfer as a request gives it. */
export function transferJson (x: ResponsibilityTransfer): TransferJson {
  return {
    function: x.function, direction: x.direction, fromYear: x.fromYear, ...(x.toYear === undefined ? {} : { toYear: x.toYear }),
    documentNo: x.documentNo, funding: fundingJson(x.funding),
  }
}

function baseJson (base: BaseInput): string | BaseRuleJson {
  if (base.kind === 'amount') return formatMoney(base.amount)
  const { rule } = base
  // Fields in the order they always had (the text is stored); optional ones assigned, not spread (see groupInput).
  const json: BaseRuleJson = rule.amount === undefined
    ? { baseYear: rule.baseYear, mode: rule.mode }
    : { amount: formatMoney(rule.amount), baseYear: rule.baseYear, mode: rule.mode }
  if (rule.growthRate !== undefined) json.growthRate = formatRate(rule.growthRate)
  json.adjustments = rule.adjustments.map((a) => {
    const adjustment: { fromYear: number, amount: string, reason?: string, documentNo?: string } = { fromYear: a.fromYear, amount: formatMoney(a.amount) }
    if (a.reason !== undefined) adjustment.reason = a.reason
    if (a.documentNo !== undefined) adjustment.documentNo = a.documentNo
    return adjustment
  })
  if (rule.transfers !== undefined && rule.transfers.length > 0) json.transfers = rule.transfers.map(transferJson)
  if (rule.priorYearActual !== undefined) json.priorYearActual = formatMoney(rule.priorYearActual)
  return json
}

export function groupJson (g: GroupInput): GroupJson {
  // Fields in the order they always had (the text is stored); optional ones assigned, not spread (see groupInput).
  const json: GroupJson = g.base === undefined
    ? { name: g.name, basis: g.basis, actual: formatMoney(g.actual) }
    : { name: g.name, basis: g.basis, base: baseJson(g.base), actual: formatMoney(g.actual) }
  if (g.schedule === undefined) json.rates = bandsJson(g.rates)
  else json.schedule = g.schedule.map((p) => ({ fromYear: p.fromYear, rates: bandsJson(p.rates) }))
  if (g.basis === 'increment') json.shortfall = g.shortfall
  if (g.shortfall === 'carry_forward') json.carriedShortfall = formatMoney(g.carriedShortfall)
  return json
}

const MONEY_IN = new RegExp(MONEY_PATTERN)

/**
 * Whether a request built from figures takes them as they are: a sum (an actual, last year's actual,
 * advances, a carried shortfall) may have up to 18 integer digits (§1), a request's amounts 15.
 */
export function requestTakes (request: CalculationRequestJson): boolean {
  const amounts = [request.advancesPaid, ...request.groups.flatMap((g) => [
    g.actual, g.carriedShortfall, typeof g.base === 'string' ? g.base : g.base?.priorYearActual,
  ])]
  return amounts.every((a) => a === undefined || MONEY_IN.test(a))
}
