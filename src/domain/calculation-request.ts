import { priorYearRevenueMissing } from './engine.js'
import { IssueCollector } from './errors.js'
import { type Decimal, formatRate, money, ZERO } from './money.js'
import type {
  AgreementYearInput, BaseInput, BaseMode, Basis, GroupInput, RateBand, ShortfallPolicy,
} from './types.js'

/*
 * The calculation request as it arrives in JSON (api-contract.md, POST /v1/calculations):
 * amounts and rates are strings whose format the route schema has already checked.
 * `parseCalculationRequest` checks the rules no schema can express and turns the strings
 * into Decimals, or throws an InputError that points at every field that is wrong.
 */

export interface BaseRuleJson {
  amount?: string
  baseYear: number
  mode: BaseMode
  growthRate?: string
  adjustments?: ReadonlyArray<{ fromYear: number, amount: string, reason?: string, documentNo?: string }>
  priorYearActual?: string
}

export interface RateBandJson {
  upToGrowth?: string
  rate: string
}

export interface GroupJson {
  name: string
  basis: Basis
  base?: string | BaseRuleJson
  actual: string
  rates: readonly RateBandJson[]
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
    const previousRate = parsed[k - 1]?.rate
    if (previousRate !== undefined && rate.lessThan(previousRate)) {
      issues.ruleAt(`${at}/rate`,
        `bands out of order: rate ${band.rate} is lower than the previous band's ${formatRate(previousRate)}; ` +
        'marginal rates may not fall as growth rises (calculation-rules.md §7, monotonicity)')
    }
    parsed.push(upToGrowth === undefined ? { rate } : { upToGrowth, rate })
  })
  return parsed
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
  return {
    kind: 'rule',
    rule: {
      ...(base.amount === undefined ? {} : { amount: money(base.amount) }),
      baseYear: base.baseYear,
      mode,
      ...(base.growthRate === undefined ? {} : { growthRate: money(base.growthRate) }),
      adjustments: (base.adjustments ?? []).map((a) => ({ ...a, amount: money(a.amount) })),
      ...(base.priorYearActual === undefined ? {} : { priorYearActual: money(base.priorYearActual) }),
    },
  }
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
  return {
    name: group.name,
    basis: group.basis,
    ...(base === undefined ? {} : { base }),
    actual: money(group.actual),
    rates: parseRateBands(issues, `${pointer}/rates`, group.rates, group.basis, floor),
    shortfall,
    carriedShortfall: group.carriedShortfall === undefined ? ZERO : money(group.carriedShortfall),
  }
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

