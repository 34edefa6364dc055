import t from 'tap'
import {
  type BandsGroupInput, baseForYear, computeAgreementYear, computeGroup, explainGroup, formatMoney, money, parseCalculationRequest,
  presentAgreementYear, type ResponsibilityTransfer, ZERO,
} from '../../src/domain/index.js'
import { contractRequest } from '../fixtures.js'

// calculation-rules.md §8: every worked example, figure by figure.

const floor = money('0.60')

function incrementGroup (base: string, actual: string, rates: Array<[string | undefined, string]>, extra: Partial<BandsGroupInput> = {}): BandsGroupInput {
  return {
    name: 'g',
    basis: 'increment',
    base: { kind: 'amount', amount: money(base) },
    actual: money(actual),
    rates: rates.map(([up, rate]) => up === undefined ? { rate: money(rate) } : { upToGrowth: money(up), rate: money(rate) }),
    shortfall: 'none',
    carriedShortfall: ZERO,
    ...extra,
  }
}

const f = (d: { toString (): string } | undefined) => d === undefined ? undefined : formatMoney(money(d.toString()))

t.test('§8.1 高新区 4:6 — B 1000.00, A 1050.00, rate 0.60: I 50.00, Z 30.00, D 1020.00', async (t) => {
  const g = computeGroup(incrementGroup('1000.00', '1050.00', [[undefined, '0.60']]), 2021)
  t.equal(f(g.increment), '50.00')
  t.equal(f(g.zoneShare), '30.00')
  t.equal(f(g.districtShare), '1020.00')
})

t.test('§8.2 fees, basis total, A 80000.00, rate 0.60: Z 48000.00, D 32000.00', async (t) => {
  const g = computeGroup({
    name: 'fees', basis: 'total', actual: money('80000.00'), rates: [{ rate: money('0.60') }], shortfall: 'none', carriedShortfall: ZERO,
  }, 2021)
  t.equal(f(g.zoneShare), '48000.00')
  t.equal(f(g.districtShare), '32000.00')
  t.equal(g.increment, undefined)
})

t.test('§8.3 two bands: portions 100000.00 + 150000.00, shares 60000.00 + 120000.00', async (t) => {
  const g = computeGroup(incrementGroup('1000000.00', '1250000.00', [['0.10', '0.60'], [undefined, '0.80']]), 2021)
  t.equal(f(g.shareable), '250000.00')
  t.same(g.bands.map((b) => [f(b.limit), f(b.amount), f(b.zoneShare)]), [
    ['100000.00', '100000.00', '60000.00'],
    [undefined, '150000.00', '120000.00'],
  ])
  t.equal(f(g.zoneShare), '180000.00')
  t.equal(f(g.districtShare), '1070000.00')
})

t.test('§8.4 shortfall B 1000.00, A 900.00, rate 0.60 under each policy', async (t) => {
  const none = computeGroup(incrementGroup('1000.00', '900.00', [[undefined, '0.60']]), 2021)
  t.equal(f(none.zoneShare), '0.00')
  t.equal(f(none.districtShare), '900.00')
  t.same(none.bands, [])

  const deduct = computeGroup(incrementGroup('1000.00', '900.00', [[undefined, '0.60']], { shortfall: 'deduct' }), 2021)
  t.equal(f(deduct.zoneShare), '-60.00')
  t.equal(f(deduct.districtShare), '960.00')
  t.same(deduct.bands.map((b) => f(b.amount)), ['-100.00'])

  const carry = computeGroup(incrementGroup('1000.00', '900.00', [[undefined, '0.60']], { shortfall: 'carry_forward' }), 2021)
  t.equal(f(carry.zoneShare), '0.00')
  t.equal(f(carry.carriedShortfallOut), '100.00')

  const next = computeGroup(incrementGroup('1000.00', '1250.00', [[undefined, '0.60']],
    { shortfall: 'carry_forward', carriedShortfall: carry.carriedShortfallOut! }), 2022)
  t.equal(f(next.shareable), '150.00')
  t.equal(f(next.zoneShare), '90.00')
  t.equal(f(next.carriedShortfallOut), '0.00')
})

t.test('§8.5 rounding half up, away from zero, per band', async (t) => {
  t.equal(f(computeGroup(incrementGroup('0.00', '0.05', [[undefined, '0.65']]), 2021).zoneShare), '0.03', '0.0325 → 0.03')
  t.equal(f(computeGroup(incrementGroup('0.00', '0.10', [[undefined, '0.65']]), 2021).zoneShare), '0.07', '0.065 → 0.07')
  const deduct = computeGroup(incrementGroup('0.10', '0.00', [[undefined, '0.65']], { shortfall: 'deduct' }), 2021)
  t.equal(f(deduct.shareable), '-0.10')
  t.equal(f(deduct.zoneShare), '-0.07', '−0.065 → −0.07')
})

t.test('§8.6 escalating base 1000000.00 from 2019 at 0.05, for 2022, with an adjustment', async (t) => {
  const rule = { amount: money('1000000.00'), baseYear: 2019, mode: 'escalating' as const, growthRate: money('0.05'), adjustments: [] }
  t.equal(f(baseForYear({ kind: 'rule', rule }, 2022).base), '1157625.00')
  const adjusted = baseForYear({ kind: 'rule', rule: { ...rule, adjustments: [{ fromYear: 2021, amount: money('-50000.00') }] } }, 2022)
  t.equal(f(adjusted.escalated), '1157625.00')
  t.equal(f(adjusted.base), '1107625.00')
  // The adjustment applies from its year on, and does not grow.
  const in2020 = baseForYear({ kind: 'rule', rule: { ...rule, adjustments: [{ fromYear: 2021, amount: money('-50000.00') }] } }, 2020)
  t.equal(f(in2020.base), '1050000.00')
})

t.test('§4 fixed and prior_year bases with adjustments', async (t) => {
  const adjustments = [{ fromYear: 2021, amount: money('200.00') }, { fromYear: 2022, amount: money('-50.00') }]
  const fixed = baseForYear({ kind: 'rule', rule: { amount: money('1000.00'), baseYear: 2019, mode: 'fixed', adjustments } }, 2022)
  t.equal(f(fixed.base), '1150.00', 'fixed: amount + every adjustment with fromYear ≤ Y')
  const prior = baseForYear({ kind: 'rule', rule: { baseYear: 2019, mode: 'prior_year', adjustments, priorYearActual: money('1300.00') } }, 2022)
  t.equal(f(prior.base), '1250.00', 'prior_year: A(Y−1) + only the adjustments with fromYear = Y')
})

t.test('the contract example of POST /v1/calculations, end to end through the domain', async (t) => {
  const input = parseCalculationRequest(contractRequest, floor)
  const out = presentAgreementYear(computeAgreementYear(input), 'zh')
  t.match(out, {
    fiscalYear: 2021,
    minimumRate: '0.60',
    revenueTotal: '1330000.00',
    zoneShare: '228000.00',
    districtShare: '1102000.00',
    advancesPaid: '100000.00',
    balanceDue: '128000.00',
  })
  t.same(out.groups[0]!.bands, [
    { rate: '0.60', amount: '100000.00', zoneShare: '60000.00' },
    { rate: '0.80', amount: '150000.00', zoneShare: '120000.00' },
  ])
  t.equal(out.groups[0]!.explanation[1], '增量 = 实际 1250000.00 − 基数 1000000.00 = 250000.00')
  t.same(Object.keys(out.groups[1]!).sort(), ['actual', 'bands', 'basis', 'districtShare', 'explanation', 'name', 'zoneShare'])
  const en = presentAgreementYear(computeAgreementYear(input), 'en')
  t.equal(en.groups[0]!.explanation[1], 'Increment = actual 1250000.00 − base 1000000.00 = 250000.00')
})

t.test('band amounts print to the cent and add up to S even when a limit has fractions of a cent', async (t) => {
  // L₁ = 1000.01 × 0.333333 = 333.33666333: the share is computed on the exact portion (§5),
  // the printed portions telescope so that they add up to S.
  const g = computeGroup(incrementGroup('1000.01', '2000.00', [['0.333333', '0.60'], [undefined, '0.70']]), 2021)
  t.same(g.bands.map((b) => f(b.amount)), ['333.34', '666.65'])
  t.equal(f(g.bands[0]!.zoneShare), '200.00', '0.6 × 333.33666333 = 200.002 → 200.00')
  t.equal(f(g.bands[1]!.zoneShare), '466.66', '0.7 × 666.65333667 = 466.657… → 466.66')
  t.equal(f(g.zoneShare), '666.66')
})

t.test('§5 per-band rounding against §7 "raising B never raises Z": a one-cent counterexample, kept as found', async (t) => {
  // Two bands at the same rate: the exact share falls by 0.006 as B rises by 0.01, but band 1's
  // rounded share goes up a cent while band 2's stays. §5 (round every band on its own) wins;
  // the property test bounds the effect at one cent per extra band.
  const z = (base: string) => computeGroup(incrementGroup(base, '2000.00', [['0.10', '0.60'], [undefined, '0.60']]), 2021).zoneShare
  t.equal(f(z('1000.24')), '599.85')
  t.equal(f(z('1000.25')), '599.86')
})

// Worked examples beyond calculation-rules.md §8 (README, "Worked examples beyond calculation-rules.md §8"), numbered on from §8.6:
// falling bands, a schedule by year, and each funding method of a responsibility transfer (§2, §4, §7).

const bands = (rates: Array<[string | undefined, string]>) =>
  rates.map(([up, rate]) => up === undefined ? { rate: money(rate) } : { upToGrowth: money(up), rate: money(rate) })

t.test('§8.7 falling bands (超收分成) [{upToGrowth 0.10, rate 0.80}, {rate 0.60}], B 1000000.00, A 1250000.00: shares 80000.00 + 90000.00 = Z 170000.00', async (t) => {
  const g = computeGroup(incrementGroup('1000000.00', '1250000.00', [['0.10', '0.80'], [undefined, '0.60']]), 2021)
  t.equal(f(g.shareable), '250000.00')
  t.same(g.bands.map((b) => [f(b.limit), f(b.amount), f(b.zoneShare)]), [
    ['100000.00', '100000.00', '80000.00'],
    [undefined, '150000.00', '90000.00'],
  ])
  t.equal(f(g.zoneShare), '170000.00')
  t.equal(f(g.districtShare), '1080000.00')
})

t.test('§8.8 with falling rates a larger base raises Z (§7): [{upToGrowth 2.00, rate 1.00}, {rate 0.60}], A 5000.00; B 1000.00 gives Z 3200.00, B 1100.00 gives 3220.00', async (t) => {
  const z = (base: string) => computeGroup(incrementGroup(base, '5000.00', [['2.00', '1.00'], [undefined, '0.60']]), 2021)
  const small = z('1000.00')
  t.same(small.bands.map((b) => [f(b.amount), f(b.zoneShare)]), [['2000.00', '2000.00'], ['2000.00', '1200.00']])
  t.equal(f(small.zoneShare), '3200.00')
  const large = z('1100.00')
  t.same(large.bands.map((b) => [f(b.amount), f(b.zoneShare)]), [['2200.00', '2200.00'], ['1700.00', '1020.00']])
  t.equal(f(large.zoneShare), '3220.00', 'the base rose by 100.00 and the zone\'s share by 20.00: (1.00 − 0.60) × (1 + 2.00) − 1.00 = 0.20 of it')
})

const schedule = [
  { fromYear: 2020, rates: bands([[undefined, '1.00']]) },
  { fromYear: 2023, rates: bands([[undefined, '0.60']]) },
]
const scheduled = (fiscalYear: number) => computeGroup({
  name: 'taxes', basis: 'increment', base: { kind: 'amount', amount: money('1000000.00') }, actual: money('1200000.00'),
  schedule, shortfall: 'none', carriedShortfall: ZERO,
}, fiscalYear)

t.test('§8.9 a schedule by year (分段期限) [{2020: rate 1.00}, {2023: rate 0.60}], B 1000000.00, A 1200000.00: Z 200000.00 in 2022, 120000.00 in 2023', async (t) => {
  const y2022 = scheduled(2022)
  t.same(y2022.period, { fromYear: 2020, toYear: 2022, number: 1, of: 2 })
  t.equal(f(y2022.zoneShare), '200000.00')
  t.equal(f(y2022.districtShare), '1000000.00')
  t.equal(explainGroup(y2022, 'zh')[0], '分段期限：第1段（共2段），2020–2022年，适用本段分成比例')
  const y2023 = scheduled(2023)
  t.same(y2023.period, { fromYear: 2023, toYear: null, number: 2, of: 2 })
  t.equal(f(y2023.zoneShare), '120000.00')
  t.equal(f(y2023.districtShare), '1080000.00')
  t.equal(explainGroup(y2023, 'en')[0], 'Rate schedule: period 2 of 2, from 2023 on: its bands apply')
})

const transferOf = (x: Omit<ResponsibilityTransfer, 'documentNo'>): ResponsibilityTransfer => ({ documentNo: '青政字〔2021〕5号', ...x })

t.test('§8.10 a fixed transfer 教育 to the district, 50000.00 a year 2021–2023, on a fixed base 1000000.00: B 1050000.00 in 2022, 1000000.00 in 2020 and 2024', async (t) => {
  const rule = {
    amount: money('1000000.00'), baseYear: 2019, mode: 'fixed' as const, adjustments: [],
    transfers: [transferOf({ function: '教育', direction: 'to_district', fromYear: 2021, toYear: 2023, funding: { method: 'fixed', amount: money('50000.00') } })],
  }
  const y2022 = baseForYear({ kind: 'rule', rule }, 2022)
  t.equal(f(y2022.base), '1050000.00')
  t.same(y2022.transfers?.map((x) => [f(x.fundingForYear), f(x.baseMove)]), [['50000.00', '50000.00']])
  t.equal(f(baseForYear({ kind: 'rule', rule }, 2020).base), '1000000.00', 'not yet in force')
  t.equal(f(baseForYear({ kind: 'rule', rule }, 2024).base), '1000000.00', 'no longer in force')
  t.equal(baseForYear({ kind: 'rule', rule }, 2024).transfers, undefined)
})

t.test('§8.11 a headcount transfer 卫生健康 to the district, 12 staff × 180000.00 from 2021, on an escalating base 100000000.00 (2019, 0.03): ' +
  'B(2021) = 106090000.00 + 2160000.00 = 108250000.00; A 110000000.00 at 0.60 gives Z 1050000.00', async (t) => {
  const g = computeGroup({
    name: 'taxes', basis: 'increment', actual: money('110000000.00'), rates: bands([[undefined, '0.60']]), shortfall: 'none', carriedShortfall: ZERO,
    base: {
      kind: 'rule',
      rule: {
        amount: money('100000000.00'), baseYear: 2019, mode: 'escalating', growthRate: money('0.03'), adjustments: [],
        transfers: [transferOf({ function: '卫生健康', direction: 'to_district', fromYear: 2021, funding: { method: 'headcount', headcount: 12, unitCost: money('180000.00') } })],
      },
    },
  }, 2021)
  t.equal(f(g.base), '108250000.00')
  t.equal(f(g.increment), '1750000.00')
  t.equal(f(g.zoneShare), '1050000.00')
  t.equal(explainGroup(g, 'zh')[0],
    '基数（递增）= 递增后核定基数 106090000.00（100000000.00 × (1 + 0.03)^2 = 106090000.00） + 事权划转 2160000.00（「卫生健康」划归属地，青政字〔2021〕5号，F(2021) = 12人 × 180000.00 = 2160000.00） = 108250000.00')
  t.equal(explainGroup(g, 'en')[0],
    'Base (escalating) = escalated verified base 106090000.00 (100000000.00 × (1 + 0.03)^2 = 106090000.00) + transfer 2160000.00 ("卫生健康" to the district, 青政字〔2021〕5号, F(2021) = 12 staff × 180000.00 = 2160000.00) = 108250000.00')
})

t.test('§8.12 an indexed transfer to the zone, 123456.78 growing 0.05 a year from 2021, on a prior_year base (every year, not once): ' +
  'F(2023) = 123456.78 × 1.05² = 136111.09995 → 136111.10; B(2023) = A(2022) 2000000.00 − 136111.10 = 1863888.90', async (t) => {
  const rule = (priorYearActual: string) => ({
    baseYear: 2020, mode: 'prior_year' as const, adjustments: [], priorYearActual: money(priorYearActual),
    transfers: [transferOf({ function: '城市管理', direction: 'to_zone', fromYear: 2021, funding: { method: 'indexed', amount: money('123456.78'), growthRate: money('0.05') } })],
  })
  const y2023 = baseForYear({ kind: 'rule', rule: rule('2000000.00') }, 2023)
  t.equal(y2023.transfers?.[0]?.exactFunding.toString(), '136111.09995')
  t.equal(f(y2023.transfers?.[0]?.fundingForYear), '136111.10')
  t.equal(f(y2023.base), '1863888.90')
  const y2024 = baseForYear({ kind: 'rule', rule: rule('2100000.00') }, 2024)
  t.equal(f(y2024.transfers?.[0]?.fundingForYear), '142916.65', '123456.78 × 1.157625 = 142916.6549… → 142916.65, taken off the base again')
  t.equal(f(y2024.base), '1957083.35')
  const g = computeGroup({ name: 'taxes', basis: 'increment', base: { kind: 'rule', rule: rule('2000000.00') }, actual: money('2100000.00'), rates: bands([[undefined, '0.60']]), shortfall: 'none', carriedShortfall: ZERO }, 2023)
  t.equal(explainGroup(g, 'zh')[0],
    '基数（上年实际）= 上年实际收入 2000000.00 − 事权划转 136111.10（「城市管理」划归功能区，青政字〔2021〕5号，F(2023) = 123456.78 × (1 + 0.05)^2 = 136111.09995 → 136111.10） = 1863888.90')
})
