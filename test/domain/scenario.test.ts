import fc from 'fast-check'
import t from 'tap'
import { type AgreementGroupJson, type AgreementJson, parseAgreement } from '../../src/domain/agreement.js'
import { InputError, Problem } from '../../src/domain/errors.js'
import { type Decimal, formatMoney, money, ZERO } from '../../src/domain/money.js'
import { planScenario, runScenario, type ScenarioFacts, type ScenarioRequestJson } from '../../src/domain/scenario.js'
import { holds } from '../properties.js'

// 测算 in the domain (api-contract.md, Scenarios; calculation-rules.md §2–§6): the changes checked as an agreement is,
// projection, the carry chain, and — on random agreements and revenue — no changes, no difference.

const FLOOR = money('0.60')

function agreementOf (groups: AgreementGroupJson[], years: { effectiveFrom?: number, effectiveTo?: number } = {}) {
  const json: AgreementJson = { zoneCode: 'QD-HT', districtCode: '370214', documentNo: 'x', effectiveFrom: years.effectiveFrom ?? 2020, baseYear: (years.effectiveFrom ?? 2020) - 1, groups, ...(years.effectiveTo === undefined ? {} : { effectiveTo: years.effectiveTo }) }
  const terms = parseAgreement(json, FLOOR)
  return { ...terms, id: 7, groups: terms.groups.map((g) => ({ ...g, adjustments: [], transfers: [] })) }
}

const TAXES: AgreementGroupJson = { name: 'taxes', basis: 'increment', categories: ['10101'], base: { amount: '1000.00', mode: 'fixed' }, rates: [{ upToGrowth: '0.10', rate: '0.60' }, { rate: '0.80' }], shortfall: 'carry_forward' }
const FEES: AgreementGroupJson = { name: 'fees', basis: 'total', categories: ['10304'], rates: [{ rate: '0.60' }] }

/** Facts from a table of recorded revenue by year and group position. */
function factsOf (revenue: Record<number, readonly string[]>, extra: Partial<ScenarioFacts> = {}): ScenarioFacts {
  const years = Object.keys(revenue).map(Number)
  return {
    recorded: (position, year) => {
      const a = revenue[year]?.[position]
      return a === undefined ? { total: ZERO, records: 0 } : { total: money(a), records: 1 }
    },
    lastRecordedYear: Math.max(...years),
    predecessor: undefined,
    predecessorCarriedOut: undefined,
    ...extra,
  }
}

const request = (overrides: Partial<ScenarioRequestJson> = {}): ScenarioRequestJson => ({ agreementId: 7, changes: {}, fromYear: 2020, toYear: 2023, ...overrides })

function issuesOf (fn: () => unknown): Array<{ pointer: string, message: string }> {
  try {
    fn()
  } catch (error) {
    if (error instanceof InputError) return [...error.issues]
    throw error
  }
  return []
}

t.test('projection: A(Y) = round(A(last) × (1 + g)^(Y − last)), g by group, else the default, else 0', async (t) => {
  const a = agreementOf([TAXES, FEES])
  const plan = planScenario(a, request({ toYear: 2024, growth: { default: '-0.10', byGroup: { taxes: '0.123456' } } }), FLOOR)
  const result = runScenario(plan, factsOf({ 2020: ['900.00', '100.00'], 2021: ['1150.00', '200.00'] }))
  t.same(result.years.map((y) => [y.fiscalYear, y.projected, ...y.agreed.groups.map((g) => formatMoney(g.actual))]), [
    [2020, false, '900.00', '100.00'],
    [2021, false, '1150.00', '200.00'],
    [2022, true, '1291.97', '180.00'],
    [2023, true, '1451.48', '162.00'],
    [2024, true, '1630.67', '145.80'],
  ], '1150.00 × 1.123456^n rounded once (1291.9744, 1451.4763915264, 1630.6698609186…); 200.00 × 0.9^n')
  const flat = runScenario(planScenario(a, request({ toYear: 2022 }), FLOOR), factsOf({ 2020: ['900.00', '100.00'], 2021: ['1150.00', '200.00'] }))
  t.same(flat.years[2]?.agreed.groups.map((g) => formatMoney(g.actual)), ['1150.00', '200.00'], 'no growth given: 0')
})

t.test('§4 a prior_year base in a projected year takes the projected prior year', async (t) => {
  const a = agreementOf([{ name: 'taxes', basis: 'increment', categories: ['10101'], base: { mode: 'prior_year' }, rates: [{ rate: '0.60' }] }])
  const result = runScenario(planScenario(a, request({ fromYear: 2021, growth: { default: '0.10' } }), FLOOR), factsOf({ 2019: ['1000.00'], 2020: ['1000.00'], 2021: ['1100.00'] }))
  t.same(result.years.map((y) => { const g = y.agreed.groups[0]; return [formatMoney(g?.base ?? ZERO), formatMoney(g?.actual ?? ZERO), formatMoney(g?.zoneShare ?? ZERO)] }), [
    ['1000.00', '1100.00', '60.00'],
    ['1100.00', '1210.00', '66.00'],
    ['1210.00', '1331.00', '72.60'],
  ])
})

t.test('§6 the chain runs from effectiveFrom when either version carries forward, and carries in from the previous version', async (t) => {
  const a = agreementOf([{ ...TAXES, shortfall: 'none' }, FEES])
  const plain = planScenario(a, request({ fromYear: 2022 }), FLOOR)
  t.equal(plain.chainFrom, 2022, 'no carry_forward: the years are independent')
  const carried = planScenario(a, request({ fromYear: 2022, changes: { groups: [{ name: 'taxes', shortfall: 'carry_forward' }] } }), FLOOR)
  t.equal(carried.chainFrom, 2020, 'carry_forward in the changed version: from effectiveFrom')
  const result = runScenario(carried, factsOf({ 2020: ['900.00', '0.00'], 2021: ['950.00', '0.00'], 2022: ['1200.00', '0.00'] }))
  t.same(result.years.map((y) => [y.fiscalYear, formatMoney(y.agreed.zoneShare), formatMoney(y.scenario.zoneShare)]), [
    [2022, '140.00', '30.00'],
    [2023, '140.00', '140.00'],
  ], 'as agreed 2022 shares 200.00 (100.00 × 0.60 + 100.00 × 0.80); changed, 2020 and 2021 leave 150.00 carried: 2022 shares 50.00 × 0.60')

  const successor = agreementOf([TAXES], { effectiveFrom: 2022 })
  const predecessor = { id: 3, effectiveFrom: 2020, effectiveTo: 2021, groups: [{ name: 'taxes', shortfall: 'carry_forward' as const }] }
  const plan = planScenario(successor, request({ fromYear: 2022, toYear: 2022 }), FLOOR)
  const fromPrevious = runScenario(plan, factsOf({ 2022: ['1200.00'] }, { predecessor, predecessorCarriedOut: new Map<string, Decimal>([['taxes', money('120.00')]]) }))
  t.equal(formatMoney(fromPrevious.years[0]?.agreed.groups[0]?.carriedShortfallIn ?? ZERO), '120.00', 'the previous version\'s finalized C_out is carried in')
  let refusal: unknown
  try {
    runScenario(plan, factsOf({ 2022: ['1200.00'] }, { predecessor, predecessorCarriedOut: undefined }))
  } catch (error) {
    refusal = error
  }
  t.ok(refusal instanceof Problem && refusal.status === 409 && /agreement 3, its previous version, and 2021 is not finalized/.test(refusal.message),
    '409 while it is not finalized, as a run')
})

t.test('§2–§3 the changed terms are checked as an agreement is, pointing into the request', async (t) => {
  const a = agreementOf([TAXES, FEES])
  t.same(issuesOf(() => planScenario(a, request({ changes: { groups: [{ name: 'taxes', schedule: [{ fromYear: 2021, rates: [{ rate: '0.70' }] }] }] } }), FLOOR)), [
    { pointer: '/changes/groups/0/schedule/0/fromYear', message: 'group "taxes": the first period of a rate schedule starts in effectiveFrom 2020, not 2021 (calculation-rules.md §2)' },
  ])
  t.same(issuesOf(() => planScenario(a, request({ changes: { groups: [{ name: 'taxes', rates: [{ rate: '0.70' }, { upToGrowth: '0.10', rate: '0.80' }] }] } }), FLOOR)).map((i) => i.pointer),
    ['/changes/groups/0/rates/0/upToGrowth', '/changes/groups/0/rates/1/upToGrowth'])
  t.same(issuesOf(() => planScenario(a, request({ changes: { groups: [{ name: 'taxes', transfers: [{ function: '教育', direction: 'to_zone', fromYear: 2019, documentNo: 'x', funding: { method: 'headcount', headcount: 2 } }] }] } }), FLOOR)).map((i) => i.pointer),
    ['/changes/groups/0/transfers/0/funding/unitCost'], 'malformed input is reported first (400)')
  t.same(issuesOf(() => planScenario(a, request({ changes: { groups: [{ name: 'taxes', transfers: [{ function: '教育', direction: 'to_zone', fromYear: 2019, documentNo: 'x', funding: { method: 'fixed', amount: '1.00' } }] }] } }), FLOOR)).map((i) => i.message), [
    'agreement 7 is in force 2020–open: a transfer from 2019 would move no base it settles',
    'fromYear must be after the base year 2019: the verified base already holds the functions of its year',
  ], 'then the rules (422)')
  t.same(issuesOf(() => planScenario(a, request({ growth: { byGroup: { 'a/b~c': '0.10' } } }), FLOOR)).map((i) => i.pointer), ['/growth/byGroup/a~1b~0c'], 'RFC 6901 escaping')
  t.same(issuesOf(() => planScenario(agreementOf([TAXES], { effectiveTo: 2022 }), request(), FLOOR)).map((i) => i.pointer), ['/toYear'], 'beyond effectiveTo')
})

/** calculation-rules.md §2 groups as an agreement request writes them. */
const rate = fc.constantFrom('0.60', '0.65', '0.7', '0.8', '0.95', '1', '0.612345')
const bands = fc.integer({ min: 1, max: 3 }).chain((n) => fc.array(rate, { minLength: n, maxLength: n }))
  .map((rates) => rates.map((r, k) => k === rates.length - 1 ? { rate: r } : { upToGrowth: ['0.05', '0.1', '0.333333'][k] ?? '1', rate: r }))
/** Whole cents as a string: no amount passes through a JS number. */
const amount = fc.bigInt({ min: -50_000n, max: 5_000_000n }).map((c) => {
  const abs = c < 0n ? -c : c
  return `${c < 0n ? '-' : ''}${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`
})
const group: fc.Arbitrary<Omit<AgreementGroupJson, 'name' | 'categories'>> = fc.oneof(
  fc.record({
    basis: fc.constant('increment' as const),
    base: fc.oneof(
      amount.map((a) => ({ mode: 'fixed' as const, amount: a })),
      fc.record({ mode: fc.constant('escalating' as const), amount, growthRate: fc.constantFrom('0.03', '-0.05', '0.123456') }),
      fc.constant({ mode: 'prior_year' as const }),
    ),
    rates: bands,
    shortfall: fc.constantFrom('none' as const, 'deduct' as const, 'carry_forward' as const),
  }),
  fc.record({ basis: fc.constant('total' as const), rates: rate.map((r) => [{ rate: r }]) }),
)

t.test('api-contract.md, Scenarios: with no changes, no difference in any group or year (random agreements and revenue)', async (t) => {
  holds(t, fc.property(
    fc.array(fc.tuple(group, fc.array(amount, { minLength: 5, maxLength: 5 })), { minLength: 1, maxLength: 4 }),
    fc.constantFrom('0.00', '0.05', '-0.2', '1.5'),
    fc.integer({ min: 2020, max: 2023 }),
    (groups, growth, fromYear) => {
      const a = agreementOf(groups.map(([g], i) => ({ ...g, name: `g${i}`, categories: [`c${i}`] })))
      const revenue: Record<number, string[]> = {}
      for (let k = 0; k < 5; k++) revenue[2019 + k] = groups.map(([, r]) => r[k] ?? '0.00')
      const result = runScenario(planScenario(a, request({ fromYear, toYear: 2026, growth: { default: growth } }), FLOOR), factsOf(revenue))
      return result.years.length === 2026 - fromYear + 1 && result.years.every((y) => y.projected === y.fiscalYear > 2023 &&
        y.scenario.zoneShare.equals(y.agreed.zoneShare) && y.scenario.revenueTotal.equals(y.agreed.revenueTotal) &&
        y.agreed.groups.every((g, i) => g.zoneShare.equals(y.scenario.groups[i]?.zoneShare ?? money('NaN'))))
    }), { numRuns: 500, seed: 20261130 }, 'random agreements, revenue and growth')
})
