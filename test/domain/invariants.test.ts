import fc from 'fast-check'
import t from 'tap'
import {
  type BandsGroupInput, computeAgreementYear, computeGroup, Decimal, type GroupInput, minDecimal, money, presentAgreementYear, type RateBand,
  type ResponsibilityTransfer, type ShortfallPolicy, sum, ZERO,
} from '../../src/domain/index.js'
import { holds } from '../properties.js'

// calculation-rules.md §7: every invariant, asserted on random inputs (≥ 1,000 runs, fixed seed).

const RUNS = { numRuns: 1000, seed: 20200607 } as const

const FLOOR = money('0.60')

/** An amount in yuan built from whole cents, as a string: no amount passes through a JS number. */
const cents = (max: bigint) => fc.bigInt({ min: -max, max }).map((c) => {
  const sign = c < 0n ? '-' : ''
  const abs = c < 0n ? -c : c
  return money(`${sign}${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`)
})
/**
 * Amounts up to a trillion yuan, and as often a few cents or a few hundred yuan: with large amounts
 * and six-decimal rates alone, a product that ends in exactly half a cent (where rounding decides,
 * §1) came up about once in a million draws, and a district share computed on its own, not as A − Z,
 * went unnoticed (found by mutating the engine).
 */
const amount = fc.oneof(cents(10n ** 14n), cents(10_000n), fc.constantFrom('0.05', '0.10', '-0.10', '0.00').map(money))
const nonNegative = amount.map((a) => a.abs())
/** A micro-rate in [lowest, 1]: six decimals, or a round rate whose products end in half a cent more often. */
const rateFrom = (lowest: number) => fc.oneof(
  fc.integer({ min: lowest, max: 1000000 }).map((micro) => money(micro.toString()).dividedBy(1000000)),
  fc.constantFrom(600000, 650000, 750000, 1000000).filter((micro) => micro >= lowest).map((micro) => money(micro.toString()).dividedBy(1000000)),
)
/** A rate between the floor and 1 with six decimals. */
const rate = rateFrom(600000)
const shortfall = fc.constantFrom<ShortfallPolicy>('none', 'deduct', 'carry_forward')

/** One to ten marginal bands: limits strictly increasing, rates in any order at or above the floor (§2). */
const anyBands: fc.Arbitrary<RateBand[]> = fc.array(fc.tuple(fc.integer({ min: 1, max: 500000 }), rate), { minLength: 1, maxLength: 10 })
  .map((raw) => {
    let limit = 0
    return raw.map(([step, r], k) => {
      if (k === raw.length - 1) return { rate: r }
      limit += step
      return { upToGrowth: money(limit.toString()).dividedBy(1000000), rate: r }
    })
  })
const sortedBy = (order: 1 | -1) => (bands: RateBand[]) => {
  const rates = bands.map((b) => b.rate).sort((a, b) => order * a.comparedTo(b))
  return bands.map((b, k) => ({ ...b, rate: rates[k]! }))
}
/** Rates that never fall from one band to the next (a progressive schedule). */
const risingBands = anyBands.map(sortedBy(1))
/** Rates that never rise (超收分成: the district or the city keeps more of windfall growth). */
const fallingBands = anyBands.map(sortedBy(-1))

const transfer: fc.Arbitrary<ResponsibilityTransfer> = fc.record({
  direction: fc.constantFrom('to_district' as const, 'to_zone' as const),
  fromYear: fc.integer({ min: 2020, max: 2024 }),
  span: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
  funding: fc.oneof(
    cents(10n ** 12n).map((a) => ({ method: 'fixed' as const, amount: a.abs().plus('0.01') })),
    fc.tuple(fc.integer({ min: 1, max: 500 }), cents(10n ** 9n)).map(([headcount, c]) => ({ method: 'headcount' as const, headcount, unitCost: c.abs().plus('0.01') })),
    fc.tuple(cents(10n ** 12n), fc.integer({ min: -200000, max: 300000 })).map(([a, g]) => ({ method: 'indexed' as const, amount: a.abs().plus('0.01'), growthRate: money(g.toString()).dividedBy(1000000) })),
  ),
}).map(({ span, ...x }) => ({ function: '教育', documentNo: '青政字〔2021〕5号', ...x, ...(span === undefined ? {} : { toYear: x.fromYear + span }) }))

const incrementGroupOf = (bands: fc.Arbitrary<RateBand[]>) => fc.record({
  base: amount, actual: amount, rates: bands, shortfall, carriedShortfall: nonNegative,
}).map(({ base, actual, rates, shortfall, carriedShortfall }): BandsGroupInput => ({
  name: 'g', basis: 'increment', base: { kind: 'amount', amount: base }, actual, rates, shortfall,
  carriedShortfall: shortfall === 'carry_forward' ? carriedShortfall : ZERO,
}))
const incrementGroup = incrementGroupOf(anyBands)
const totalGroup = fc.record({ actual: amount, rate }).map(({ actual, rate }): BandsGroupInput => ({
  name: 'fees', basis: 'total', actual, rates: [{ rate }], shortfall: 'none', carriedShortfall: ZERO,
}))
/** Base adjustments (基数调整) from the year before 2021 to the year after: in force, taking effect, not yet (§4). */
const adjustments = fc.array(fc.tuple(fc.integer({ min: 2019, max: 2023 }), amount), { maxLength: 3 })
  .map((drawn) => drawn.map(([fromYear, amount]) => ({ fromYear, amount, reason: '划转', documentNo: '青政字〔2021〕5号' })))
/**
 * A group whose base is a rule (fixed, escalating or prior_year, §4) with adjustments and
 * responsibility transfers, and whose bands are a schedule by period (§2), for 2021.
 */
const scheduledGroup = fc.record({
  amount, actual: amount, transfers: fc.array(transfer, { maxLength: 4 }), shortfall, carriedShortfall: nonNegative,
  periods: fc.array(fc.tuple(fc.integer({ min: 1, max: 3 }), anyBands), { minLength: 1, maxLength: 4 }),
  mode: fc.constantFrom('fixed' as const, 'escalating' as const, 'prior_year' as const), adjustments,
  growthRate: fc.integer({ min: -200000, max: 300000 }).map((micro) => money(micro.toString()).dividedBy(1000000)), priorYearActual: amount,
}).map(({ amount, actual, transfers, shortfall, carriedShortfall, periods, mode, adjustments, growthRate, priorYearActual }): GroupInput => {
  let fromYear = 2020
  const schedule = periods.map(([gap, rates], k) => ({ fromYear: k === 0 ? fromYear : (fromYear += gap), rates }))
  const rule = mode === 'fixed'
    ? { mode, amount, baseYear: 2019, adjustments, transfers }
    : mode === 'escalating' ? { mode, amount, growthRate, baseYear: 2019, adjustments, transfers } : { mode, priorYearActual, baseYear: 2019, adjustments, transfers }
  return {
    name: 's', basis: 'increment', base: { kind: 'rule', rule }, actual, schedule, shortfall,
    carriedShortfall: shortfall === 'carry_forward' ? carriedShortfall : ZERO,
  }
})
const anyGroup = fc.oneof(incrementGroup, totalGroup)
const everyKindOfGroup = fc.oneof(incrementGroup, totalGroup, scheduledGroup)

const zoneShareOf = (g: GroupInput) => computeGroup(g, 2021).zoneShare
const withBase = (g: BandsGroupInput, base: Decimal): BandsGroupInput => ({ ...g, base: { kind: 'amount', amount: base } })
const baseOf = (g: BandsGroupInput) => (g.base as { amount: Decimal }).amount
/** Σ rate_k × portion_k before rounding (or Z itself for a negative S). */
const exactShare = (g: GroupInput) => {
  const r = computeGroup(g, 2021)
  if (r.basis === 'increment' && r.shareable.isNegative()) return r.zoneShare
  return sum(r.bands.map((b) => b.exactShare))
}

t.test('§7 conservation: Z + D = A per group and in total; Σ bandShare = Z; printed band amounts add up ' +
  '(bands in any order, schedules by period, bases moved by responsibility transfers)', async (t) => {
  holds(t, fc.property(fc.array(everyKindOfGroup, { minLength: 1, maxLength: 8 }), amount, (groups, advancesPaid) => {
    const named = groups.map((g, i) => ({ ...g, name: `g${i}` }))
    const result = computeAgreementYear({ fiscalYear: 2021, minimumRate: FLOOR, groups: named, advancesPaid })
    for (const g of result.groups) {
      if (!g.zoneShare.plus(g.districtShare).equals(g.actual)) return false
      if (!sum(g.bands.map((b) => b.zoneShare)).equals(g.zoneShare)) return false
      // Printed band amounts add up to S (or A for basis total, or S under deduct).
      const target = g.basis === 'total' ? g.actual : g.shareable
      if (g.bands.length > 0 && !sum(g.bands.map((b) => b.amount)).equals(target)) return false
      if (g.bands.some((b) => b.amount.decimalPlaces() > 2 || b.zoneShare.decimalPlaces() > 2)) return false
      if (g.basis === 'increment' && g.base.decimalPlaces() > 2) return false
    }
    return result.zoneShare.plus(result.districtShare).equals(result.revenueTotal) &&
      result.revenueTotal.equals(sum(named.map((g) => g.actual))) &&
      result.balanceDue.equals(result.zoneShare.minus(advancesPaid))
  }), RUNS)
})

t.test('§7 floor: for S ≥ 0, Z ≥ floor × S − 0.005 × (number of bands), whatever the floor (§3: a request may state a higher one) and at its tightest: ' +
  'every rate at the floor, a base and an increment of a few cents (rounding each band down lost up to a cent a band, and passed the wide draws)', async (t) => {
  const tight = fc.record({
    floor: fc.integer({ min: 600000, max: 1000000 }), base: cents(100n), increment: cents(100n), steps: fc.array(fc.integer({ min: 1, max: 500000 }), { maxLength: 3 }),
    atFloor: fc.boolean(), raised: fc.array(fc.integer({ min: 0, max: 400000 }), { minLength: 4, maxLength: 4 }),
  }).map(({ floor, base, increment, steps, atFloor, raised }) => {
    const f = money(floor.toString()).dividedBy(1000000)
    // Every rate at the floor, or each at least the floor (never above 1).
    const rateOf = (k: number) => atFloor ? f : minDecimal(money('1'), f.plus(money((raised[k] ?? 0).toString()).dividedBy(1000000)))
    let limit = 0
    const rates: RateBand[] = [...steps.map((step, k) => ({ upToGrowth: money((limit += step).toString()).dividedBy(1000000), rate: rateOf(k) })), { rate: rateOf(steps.length) }]
    const group: BandsGroupInput = { name: 'g', basis: 'increment', base: { kind: 'amount', amount: base.abs() }, actual: base.abs().plus(increment.abs()), rates, shortfall: 'none', carriedShortfall: ZERO }
    return { floor: f, group }
  })
  holds(t, fc.property(tight, ({ floor, group }) => {
    const g = computeGroup(group, 2021)
    return g.zoneShare.greaterThanOrEqualTo(floor.times(g.shareable!).minus(money('0.005').times(group.rates.length)))
  }), RUNS, 'groups at the floor')
  holds(t, fc.property(incrementGroup, (group) => {
    const g = computeGroup(group, 2021)
    fc.pre(g.shareable!.greaterThanOrEqualTo(0))
    return g.zoneShare.greaterThanOrEqualTo(FLOOR.times(g.shareable!).minus(money('0.005').times(group.rates.length)))
  }), RUNS)
  holds(t, fc.property(totalGroup, (group) => {
    const g = computeGroup(group, 2021)
    fc.pre(g.actual.greaterThanOrEqualTo(0))
    return g.zoneShare.greaterThanOrEqualTo(FLOOR.times(g.actual).minus('0.005'))
  }), RUNS)
})

t.test('§7 monotonicity: raising any rate never lowers Z, whatever the order of the rates (of a non-negative amount to share; ' +
  'a higher rate on a deducted shortfall or a negative total makes Z more negative, as §5 means it to)', async (t) => {
  holds(t, fc.property(anyGroup, fc.nat({ max: 9 }), fc.integer({ min: 1, max: 400000 }), (group, index, micro) => {
    const shared = group.basis === 'total' ? group.actual : computeGroup(group, 2021).shareable!
    fc.pre(shared.greaterThanOrEqualTo(0))
    const k = index % group.rates.length
    // Only band k: rates may rise or fall from one band to the next (§2), so the others stay as they are.
    const raised = group.rates.map((b, j) => {
      if (j !== k) return b
      const r = b.rate.plus(money(micro.toString()).dividedBy(1000000))
      return { ...b, rate: r.greaterThan(1) ? money('1') : r }
    })
    return zoneShareOf({ ...group, rates: raised }).greaterThanOrEqualTo(zoneShareOf(group))
  }), RUNS)
})

t.test('§7 monotonicity: raising A never lowers Z, whatever the order of the rates', async (t) => {
  holds(t, fc.property(fc.oneof(anyGroup, scheduledGroup), nonNegative, (group, raise) => {
    return zoneShareOf({ ...group, actual: group.actual.plus(raise) }).greaterThanOrEqualTo(zoneShareOf(group))
  }), RUNS)
})

t.test('§7 monotonicity: raising B never raises Z (one band: exactly)', async (t) => {
  const oneBand = incrementGroup.map((g) => ({ ...g, rates: [{ rate: g.rates[0]!.rate }] }))
  holds(t, fc.property(oneBand, nonNegative, (group, raise) => {
    return zoneShareOf(withBase(group, baseOf(group).plus(raise))).lessThanOrEqualTo(zoneShareOf(group))
  }), RUNS)
})

t.test('§7 monotonicity: for bands whose rates never fall, raising B never raises the exact share; ' +
  'per-band rounding (§5) can move the printed Z by less than a cent per extra band', async (t) => {
  holds(t, fc.property(incrementGroupOf(risingBands), nonNegative, (group, raise) => {
    const raised = withBase(group, baseOf(group).plus(raise))
    const slack = money('0.01').times(group.rates.length - 1)
    return exactShare(raised).lessThanOrEqualTo(exactShare(group)) &&
      zoneShareOf(raised).lessThanOrEqualTo(zoneShareOf(group).plus(slack))
  }), RUNS)
})

t.test('§7 with falling rates a larger base may raise Z, and only as far as the agreement\'s falling steps say: raising B by δ (A as it is) ' +
  'raises the exact share by at most δ × (Σ over falling steps (rate_k − rate_k+1) × (1 + upToGrowth_k) − rate_1); with rates that never fall that is ' +
  'never a rise', async (t) => {
  const allowance = (rates: readonly RateBand[]) => {
    let widened = ZERO
    rates.forEach((b, k) => {
      const next = rates[k + 1]
      if (next !== undefined && b.upToGrowth !== undefined && b.rate.greaterThan(next.rate)) widened = widened.plus(b.rate.minus(next.rate).times(b.upToGrowth.plus(1)))
    })
    return widened.minus(rates[0]!.rate)
  }
  holds(t, fc.property(incrementGroupOf(fc.oneof(anyBands, fallingBands)), nonNegative, (group, raise) => {
    const raised = withBase(group, baseOf(group).plus(raise))
    fc.pre(!computeGroup(raised, 2021).shareable!.isNegative())
    return exactShare(raised).minus(exactShare(group)).lessThanOrEqualTo(raise.times(allowance(group.rates)))
  }), RUNS)
})

t.test('§7 a larger base with the same increment over it widens every band in yuan: rates that never fall give the zone no more, ' +
  'rates that never rise (超收分成) no less', async (t) => {
  const raiseBoth = (g: BandsGroupInput, raise: Decimal) => ({ ...withBase(g, baseOf(g).plus(raise)), actual: g.actual.plus(raise) })
  holds(t, fc.property(incrementGroupOf(risingBands), nonNegative, (group, raise) => {
    fc.pre(!computeGroup(group, 2021).shareable!.isNegative())
    return exactShare(raiseBoth(group, raise)).lessThanOrEqualTo(exactShare(group))
  }), RUNS)
  holds(t, fc.property(incrementGroupOf(fallingBands), nonNegative, (group, raise) => {
    fc.pre(!computeGroup(group, 2021).shareable!.isNegative())
    return exactShare(raiseBoth(group, raise)).greaterThanOrEqualTo(exactShare(group))
  }), RUNS)
})

t.test('§7 determinism: the same inputs give byte-identical output', async (t) => {
  holds(t, fc.property(fc.array(everyKindOfGroup, { minLength: 1, maxLength: 5 }), amount, (groups, advancesPaid) => {
    const named = groups.map((g, i) => ({ ...g, name: `g${i}` }))
    const once = JSON.stringify(presentAgreementYear(computeAgreementYear({ fiscalYear: 2021, minimumRate: FLOOR, groups: named, advancesPaid }), 'zh'))
    const copy = named.map((g): GroupInput => g.schedule === undefined
      ? { ...g, actual: money(g.actual.toString()), rates: g.rates.map((b) => ({ ...b })) }
      : { ...g, actual: money(g.actual.toString()), schedule: g.schedule.map((p) => ({ ...p, rates: p.rates.map((b) => ({ ...b })) })) })
    const twice = JSON.stringify(presentAgreementYear(computeAgreementYear({ fiscalYear: 2021, minimumRate: FLOOR, groups: copy, advancesPaid }), 'zh'))
    return once === twice
  }), RUNS)
})

/*
 * §4–§5 written out again, independently of src/domain/engine.ts, as a model the engine must equal
 * on every kind of group. §7's invariants hold for engines that are wrong in ways no invariant sees
 * (mutations that passed them: the deduct rate taken from the last band, band limits on A, a
 * transfer's last year left out, F(Y) cached across transfers, ties of a negative total rounded up).
 */
const cent = (x: Decimal) => x.toDecimalPlaces(2, Decimal.ROUND_HALF_UP)
const MODEL_YEAR = 2021

/** F(Y) of a transfer in force in Y, signed as it moves the base (§4). */
function modelTransfer (x: ResponsibilityTransfer): Decimal {
  const f = x.funding
  const moved = cent(f.method === 'fixed' ? f.amount : f.method === 'headcount' ? f.unitCost.times(f.headcount) : f.amount.times(f.growthRate.plus(1).pow(MODEL_YEAR - x.fromYear)))
  return x.direction === 'to_district' ? moved : moved.negated()
}

function modelBase (g: GroupInput): Decimal {
  const given = g.base
  if (g.basis !== 'increment' || given === undefined) throw new Error('basis total has no base')
  if (given.kind === 'amount') return given.amount
  const rule = given.rule
  const adjusted = sum(rule.adjustments.filter((a) => rule.mode === 'prior_year' ? a.fromYear === MODEL_YEAR : a.fromYear <= MODEL_YEAR).map((a) => a.amount))
  const moved = sum((rule.transfers ?? []).filter((x) => x.fromYear <= MODEL_YEAR && (x.toYear === undefined || MODEL_YEAR <= x.toYear)).map(modelTransfer))
  const own = rule.mode === 'fixed'
    ? rule.amount
    : rule.mode === 'escalating' ? (rule.amount === undefined || rule.growthRate === undefined ? undefined : cent(rule.amount.times(rule.growthRate.plus(1).pow(MODEL_YEAR - rule.baseYear)))) : rule.priorYearActual
  if (own === undefined) throw new Error('a base rule without its amount')
  return own.plus(adjusted).plus(moved)
}

/** Z, and for basis increment B and C_out, as §4–§5 say. */
function model (g: GroupInput): { zoneShare: Decimal, base?: Decimal, carriedOut?: Decimal } {
  const rates = g.schedule === undefined ? g.rates : [...g.schedule].reverse().find((p) => p.fromYear <= MODEL_YEAR)?.rates
  const first = rates?.[0]
  if (rates === undefined || first === undefined) throw new Error('no bands for the year')
  if (g.basis === 'total') return { zoneShare: cent(first.rate.times(g.actual)) }
  const base = modelBase(g)
  const shareable = g.actual.minus(base).minus(g.shortfall === 'carry_forward' ? g.carriedShortfall : ZERO)
  if (shareable.isNegative()) {
    if (g.shortfall === 'deduct') return { zoneShare: cent(first.rate.times(shareable)), base, carriedOut: ZERO }
    return { zoneShare: ZERO, base, carriedOut: g.shortfall === 'carry_forward' ? shareable.negated() : ZERO }
  }
  const limitBase = base.isNegative() ? ZERO : base
  let below = ZERO
  const zoneShare = sum(rates.map((band) => {
    const reach = band.upToGrowth === undefined ? shareable : minDecimal(shareable, limitBase.times(band.upToGrowth))
    const share = cent(band.rate.times(reach.minus(below)))
    below = reach
    return share
  }))
  return { zoneShare, base, carriedOut: ZERO }
}

t.test('§4–§5 the engine gives what the rules written out again give: Z, D = A − Z, B and C_out, on every kind of group ' +
  '(bases fixed, escalating and prior_year with adjustments and transfers; schedules; every shortfall policy; basis total)', async (t) => {
  holds(t, fc.property(everyKindOfGroup, (group) => {
    const r = computeGroup(group, MODEL_YEAR)
    const m = model(group)
    if (!r.zoneShare.equals(m.zoneShare) || !r.districtShare.equals(group.actual.minus(m.zoneShare))) return false
    return r.basis === 'total' || (m.base !== undefined && m.carriedOut !== undefined && r.base.equals(m.base) && r.carriedShortfallOut.equals(m.carriedOut))
  }), RUNS)
})
