import fc from 'fast-check'
import t from 'tap'
import {
  computeAgreementYear, computeGroup, type Decimal, type GroupInput, money, presentAgreementYear, type RateBand,
  type ShortfallPolicy, sum, ZERO,
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
const amount = cents(10n ** 14n)
const nonNegative = amount.map((a) => a.abs())
/** A rate between the floor and 1 with six decimals. */
const rate = fc.integer({ min: 600000, max: 1000000 }).map((micro) => money(micro.toString()).dividedBy(1000000))
const shortfall = fc.constantFrom<ShortfallPolicy>('none', 'deduct', 'carry_forward')

/** One to ten marginal bands: limits strictly increasing, rates never falling (§2, §7). */
const bands: fc.Arbitrary<RateBand[]> = fc.array(fc.tuple(fc.integer({ min: 1, max: 500000 }), rate), { minLength: 1, maxLength: 10 })
  .map((raw) => {
    const steps = raw.map(([step]) => step)
    const rates = raw.map(([, r]) => r).sort((a, b) => a.comparedTo(b))
    let limit = 0
    return rates.map((r, k) => {
      if (k === rates.length - 1) return { rate: r }
      limit += steps[k]!
      return { upToGrowth: money(limit.toString()).dividedBy(1000000), rate: r }
    })
  })

const incrementGroup = fc.record({
  base: amount, actual: amount, rates: bands, shortfall, carriedShortfall: nonNegative,
}).map(({ base, actual, rates, shortfall, carriedShortfall }): GroupInput => ({
  name: 'g', basis: 'increment', base: { kind: 'amount', amount: base }, actual, rates, shortfall,
  carriedShortfall: shortfall === 'carry_forward' ? carriedShortfall : ZERO,
}))
const totalGroup = fc.record({ actual: amount, rate }).map(({ actual, rate }): GroupInput => ({
  name: 'fees', basis: 'total', actual, rates: [{ rate }], shortfall: 'none', carriedShortfall: ZERO,
}))
const anyGroup = fc.oneof(incrementGroup, totalGroup)

const zoneShareOf = (g: GroupInput) => computeGroup(g, 2021).zoneShare
const withBase = (g: GroupInput, base: Decimal): GroupInput => ({ ...g, base: { kind: 'amount', amount: base } })
const baseOf = (g: GroupInput) => (g.base as { amount: Decimal }).amount

t.test('§7 conservation: Z + D = A per group and in total; Σ bandShare = Z; printed band amounts add up', async (t) => {
  holds(t, fc.property(fc.array(anyGroup, { minLength: 1, maxLength: 8 }), amount, (groups, advancesPaid) => {
    const named = groups.map((g, i) => ({ ...g, name: `g${i}` }))
    const result = computeAgreementYear({ fiscalYear: 2021, minimumRate: FLOOR, groups: named, advancesPaid })
    for (const g of result.groups) {
      if (!g.zoneShare.plus(g.districtShare).equals(g.actual)) return false
      if (!sum(g.bands.map((b) => b.zoneShare)).equals(g.zoneShare)) return false
      // Printed band amounts add up to S (or A for basis total, or S under deduct).
      const target = g.basis === 'total' ? g.actual : g.shareable!
      if (g.bands.length > 0 && !sum(g.bands.map((b) => b.amount)).equals(target)) return false
      if (g.bands.some((b) => b.amount.decimalPlaces() > 2 || b.zoneShare.decimalPlaces() > 2)) return false
    }
    return result.zoneShare.plus(result.districtShare).equals(result.revenueTotal) &&
      result.revenueTotal.equals(sum(named.map((g) => g.actual))) &&
      result.balanceDue.equals(result.zoneShare.minus(advancesPaid))
  }), RUNS)
})

t.test('§7 floor: for S ≥ 0, Z ≥ floor × S − 0.005 × (number of bands)', async (t) => {
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

t.test('§7 monotonicity: raising any rate never lowers Z (of a non-negative amount to share; ' +
  'a higher rate on a deducted shortfall or a negative total makes Z more negative, as §5 means it to)', async (t) => {
  holds(t, fc.property(anyGroup, fc.nat({ max: 9 }), fc.integer({ min: 1, max: 400000 }), (group, index, micro) => {
    const shared = group.basis === 'total' ? group.actual : computeGroup(group, 2021).shareable!
    fc.pre(shared.greaterThanOrEqualTo(0))
    const k = index % group.rates.length
    const raised = group.rates.map((b, j) => {
      if (j < k) return b
      // Raise band k, and any later band it would overtake, so the bands stay valid (rates never fall).
      const r = b.rate.plus(money(micro.toString()).dividedBy(1000000))
      return { ...b, rate: r.greaterThan(1) ? money('1') : r }
    })
    return zoneShareOf({ ...group, rates: raised }).greaterThanOrEqualTo(zoneShareOf(group))
  }), RUNS)
})

t.test('§7 monotonicity: raising A never lowers Z', async (t) => {
  holds(t, fc.property(anyGroup, nonNegative, (group, raise) => {
    return zoneShareOf({ ...group, actual: group.actual.plus(raise) }).greaterThanOrEqualTo(zoneShareOf(group))
  }), RUNS)
})

t.test('§7 monotonicity: raising B never raises Z (one band: exactly)', async (t) => {
  const oneBand = incrementGroup.map((g) => ({ ...g, rates: [{ rate: g.rates[0]!.rate }] }))
  holds(t, fc.property(oneBand, nonNegative, (group, raise) => {
    return zoneShareOf(withBase(group, baseOf(group).plus(raise))).lessThanOrEqualTo(zoneShareOf(group))
  }), RUNS)
})

t.test('§7 monotonicity: raising B never raises Z (several bands: the exact share never rises; ' +
  'per-band rounding (§5) can move the printed Z by less than a cent per extra band)', async (t) => {
  const exactShare = (g: GroupInput) => {
    const r = computeGroup(g, 2021)
    if (r.shareable!.isNegative()) return r.zoneShare
    return sum(r.bands.map((b) => b.rate.times(b.portion)))
  }
  holds(t, fc.property(incrementGroup, nonNegative, (group, raise) => {
    const raised = withBase(group, baseOf(group).plus(raise))
    const slack = money('0.01').times(group.rates.length - 1)
    return exactShare(raised).lessThanOrEqualTo(exactShare(group)) &&
      zoneShareOf(raised).lessThanOrEqualTo(zoneShareOf(group).plus(slack))
  }), RUNS)
})

t.test('§7 determinism: the same inputs give byte-identical output', async (t) => {
  holds(t, fc.property(fc.array(anyGroup, { minLength: 1, maxLength: 5 }), amount, (groups, advancesPaid) => {
    const named = groups.map((g, i) => ({ ...g, name: `g${i}` }))
    const once = JSON.stringify(presentAgreementYear(computeAgreementYear({ fiscalYear: 2021, minimumRate: FLOOR, groups: named, advancesPaid }), 'zh'))
    const copy = named.map((g) => ({ ...g, actual: money(g.actual.toString()), rates: g.rates.map((b) => ({ ...b })) }))
    const twice = JSON.stringify(presentAgreementYear(computeAgreementYear({ fiscalYear: 2021, minimumRate: FLOOR, groups: copy, advancesPaid }), 'zh'))
    return once === twice
  }), RUNS)
})
