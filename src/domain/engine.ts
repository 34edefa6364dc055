import { Decimal, maxDecimal, minDecimal, roundToCent, sum, ZERO } from './money.js'
import type {
  AgreementYearInput, AgreementYearResult, BandResult, BaseDerivation, BaseInput, BaseRule, GroupInput, GroupRates, GroupResult, PeriodInYear, RateBand,
  ResponsibilityTransfer, TransferInYear,
} from './types.js'

/*
 * The engine of calculation-rules.md §4–§6. Every function is pure: Decimals in, Decimals out.
 * Rounding (half up, to the cent) happens only where the rules name it:
 * the escalated base and each transfer's funding (§4), each band's share (§5.4), the deducted share
 * (§5.5), basis total (§5).
 */

/** The base adjustments that move B(Y) (§4). */
export function adjustmentsFor<A extends { fromYear: number }> (rule: { mode: BaseRule['mode'], adjustments: readonly A[] }, fiscalYear: number): A[] {
  // prior_year takes only the adjustments made for Y itself: earlier ones are already in A(Y−1).
  return rule.adjustments.filter((a) => rule.mode === 'prior_year' ? a.fromYear === fiscalYear : a.fromYear <= fiscalYear)
}

/** Whether a responsibility transfer is in force in year Y: fromYear ≤ Y ≤ toYear (open-ended without toYear). §4 */
export function transferInForce (transfer: Pick<ResponsibilityTransfer, 'fromYear' | 'toYear'>, fiscalYear: number): boolean {
  return transfer.fromYear <= fiscalYear && (transfer.toYear === undefined || fiscalYear <= transfer.toYear)
}

/**
 * F(Y) of a transfer in force in Y (§4): fixed, round(headcount × unitCost), or
 * round(amount × (1 + growthRate)^(Y − fromYear)), the power exact and rounded once.
 */
export function transferForYear (transfer: ResponsibilityTransfer, fiscalYear: number): TransferInYear {
  const { funding } = transfer
  let exactFunding: Decimal
  switch (funding.method) {
    case 'fixed': exactFunding = funding.amount
      break
    case 'headcount': exactFunding = funding.unitCost.times(funding.headcount)
      break
    case 'indexed': exactFunding = funding.amount.times(new Decimal(1).plus(funding.growthRate).pow(fiscalYear - transfer.fromYear))
      break
  }
  const fundingForYear = roundToCent(exactFunding)
  return {
    function: transfer.function, direction: transfer.direction, fromYear: transfer.fromYear,
    ...(transfer.toYear === undefined ? {} : { toYear: transfer.toYear }),
    documentNo: transfer.documentNo, funding: transfer.funding, fiscalYear,
    exactFunding, fundingForYear, baseMove: transfer.direction === 'to_district' ? fundingForYear : fundingForYear.negated(),
  }
}

/** The transfers of a rule in force in Y, each with F(Y); every base mode takes them every year in force. §4 */
function transfersFor (rule: BaseRule, fiscalYear: number): TransferInYear[] {
  return (rule.transfers ?? []).filter((x) => transferInForce(x, fiscalYear)).map((x) => transferForYear(x, fiscalYear))
}

/** Why a prior_year base cannot be computed for Y: no revenue of the group is recorded for Y−1 (§4). */
export function priorYearRevenueMissing (year: number): string {
  return `mode prior_year bases ${year} on ${year - 1}'s revenue, and none is recorded (calculation-rules.md §4)`
}

/** B(Y), the verified base (核定基数) for fiscal year Y. §4 */
export function baseForYear (base: BaseInput, fiscalYear: number): BaseDerivation {
  if (base.kind === 'amount') return { mode: 'given', adjustments: [], base: base.amount }
  const { rule } = base
  const adjustments = adjustmentsFor(rule, fiscalYear)
  const transfers = transfersFor(rule, fiscalYear)
  const adjustmentTotal = sum([...adjustments.map((a) => a.amount), ...transfers.map((x) => x.baseMove)])
  // Transfers are named in the derivation only when one is in force, so a base without any reads as it always did.
  const moved = transfers.length === 0 ? {} : { transfers }
  switch (rule.mode) {
    case 'fixed': {
      const amount = rule.amount ?? ZERO
      return { mode: 'fixed', baseYear: rule.baseYear, amount, adjustments, ...moved, base: amount.plus(adjustmentTotal) }
    }
    case 'escalating': {
      const amount = rule.amount ?? ZERO
      const growthRate = rule.growthRate ?? ZERO
      const years = fiscalYear - rule.baseYear
      // The power is exact (the Decimal precision covers it) and rounded once; adjustments do not grow.
      const exactEscalated = amount.times(new Decimal(1).plus(growthRate).pow(years))
      const escalated = roundToCent(exactEscalated)
      return {
        mode: 'escalating', baseYear: rule.baseYear, amount, growthRate, years, exactEscalated, escalated, adjustments, ...moved,
        base: escalated.plus(adjustmentTotal),
      }
    }
    case 'prior_year': {
      const priorYearActual = rule.priorYearActual ?? ZERO
      return { mode: 'prior_year', baseYear: rule.baseYear, priorYearActual, adjustments, ...moved, base: priorYearActual.plus(adjustmentTotal) }
    }
  }
}

/**
 * The bands of year Y (§2): the group's one set, or those of the schedule period in force, the
 * last with fromYear ≤ Y. Undefined when a schedule starts after Y (its parsers refuse that).
 */
export function ratesForYear (group: GroupRates, fiscalYear: number): { rates: readonly RateBand[], period?: PeriodInYear } | undefined {
  if (group.schedule === undefined) return { rates: group.rates }
  const { schedule } = group
  let index = -1
  schedule.forEach((p, i) => { if (p.fromYear <= fiscalYear) index = i })
  const current = schedule[index]
  if (current === undefined) return undefined
  const next = schedule[index + 1]
  return { rates: current.rates, period: { fromYear: current.fromYear, toYear: next === undefined ? null : next.fromYear - 1, number: index + 1, of: schedule.length } }
}

/** Why a group has no bands for Y: its schedule starts later (§2). */
export function scheduleStartsLater (fiscalYear: number, firstYear: number): string {
  return `the rate schedule starts in ${firstYear}: it has no bands for ${fiscalYear} (calculation-rules.md §2)`
}

/**
 * Splits a non-negative shareable increment S over marginal bands. §5 step 4
 * L₀ = 0, L_k = max(0, B) × upToGrowth_k, L_n = ∞; portion_k = min(S, L_k) − min(S, L_{k−1});
 * bandShare_k = round(rate_k × portion_k).
 *
 * The printed `amount` of a band is round(min(S, L_k)) − round(min(S, L_{k−1})): it equals the
 * exact portion whenever the limits are whole cents, and the printed amounts always add up to S.
 */
export function splitIntoBands (shareable: Decimal, base: Decimal, rates: readonly RateBand[]): BandResult[] {
  const limitBase = maxDecimal(ZERO, base)
  let previousReach = ZERO
  return rates.map((band) => {
    const limit = band.upToGrowth === undefined ? undefined : limitBase.times(band.upToGrowth)
    const reach = limit === undefined ? shareable : minDecimal(shareable, limit)
    const portion = reach.minus(previousReach)
    const amount = roundToCent(reach).minus(roundToCent(previousReach))
    previousReach = reach
    const exactShare = band.rate.times(portion)
    const zoneShare = roundToCent(exactShare)
    // Two literals rather than one with a spread in its middle (V8 builds those property by property); the keys keep their order.
    return limit === undefined
      ? { rate: band.rate, amount, portion, exactShare, zoneShare }
      : { rate: band.rate, limit, upToGrowth: band.upToGrowth, amount, portion, exactShare, zoneShare }
  })
}

function firstRate (group: GroupInput, rates: readonly RateBand[]): Decimal {
  const band = rates[0]
  if (band === undefined) throw new Error(`group ${group.name} has no rate band`)
  return band.rate
}

/** One group in year Y. §5 */
export function computeGroup (group: GroupInput, fiscalYear: number): GroupResult {
  const actual = group.actual
  const year = ratesForYear(group, fiscalYear)
  if (year === undefined) throw new Error(`group ${group.name}: ${scheduleStartsLater(fiscalYear, group.schedule?.[0]?.fromYear ?? fiscalYear)}`)
  const { rates } = year
  // The period is named only for a schedule, so a group with one set of bands reads as it always did.
  const period = year.period === undefined ? {} : { period: year.period }
  if (group.basis === 'total') {
    const rate = firstRate(group, rates)
    const exactShare = rate.times(actual)
    const zoneShare = roundToCent(exactShare)
    return {
      name: group.name, basis: 'total', shortfall: group.shortfall, actual,
      bands: [{ rate, amount: actual, portion: actual, exactShare, zoneShare }],
      zoneShare, districtShare: actual.minus(zoneShare), ...period,
    }
  }
  if (group.base === undefined) throw new Error(`group ${group.name}: basis increment needs a base`)
  const baseDerivation = baseForYear(group.base, fiscalYear)
  const base = baseDerivation.base
  const increment = actual.minus(base)
  const carriedShortfallIn = group.shortfall === 'carry_forward' ? group.carriedShortfall : ZERO
  const shareable = increment.minus(carriedShortfallIn)

  let bands: BandResult[] = []
  let zoneShare = ZERO
  let carriedShortfallOut = ZERO
  if (shareable.greaterThanOrEqualTo(0)) {
    bands = splitIntoBands(shareable, base, rates)
    zoneShare = sum(bands.map((b) => b.zoneShare))
  } else if (group.shortfall === 'deduct') {
    const rate = firstRate(group, rates)
    const exactShare = rate.times(shareable)
    zoneShare = roundToCent(exactShare)
    bands = [{ rate, amount: shareable, portion: shareable, exactShare, zoneShare }]
  } else if (group.shortfall === 'carry_forward') {
    carriedShortfallOut = shareable.negated()
  }
  return {
    name: group.name, basis: 'increment', shortfall: group.shortfall,
    base, baseDerivation, actual, increment, carriedShortfallIn, shareable,
    bands, zoneShare, districtShare: actual.minus(zoneShare), carriedShortfallOut, ...period,
  }
}

/** The agreement in year Y: totals, advances and the balance due. §6 */
export function computeAgreementYear (input: AgreementYearInput): AgreementYearResult {
  const groups = input.groups.map((g) => computeGroup(g, input.fiscalYear))
  const revenueTotal = sum(groups.map((g) => g.actual))
  const zoneShare = sum(groups.map((g) => g.zoneShare))
  return {
    fiscalYear: input.fiscalYear,
    minimumRate: input.minimumRate,
    revenueTotal,
    zoneShare,
    districtShare: revenueTotal.minus(zoneShare),
    advancesPaid: input.advancesPaid,
    balanceDue: zoneShare.minus(input.advancesPaid),
    groups,
  }
}
