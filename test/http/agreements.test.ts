import t from 'tap'
import { expectProblem, rowCount, testApp, testDatabase } from '../helpers.js'
import { agreementBody, created, get, injector, post } from '../world.js'

// Agreements and base adjustments (api-contract.md, Registry; calculation-rules.md §2–§4).

const database = await testDatabase(t)
const app = await testApp(t, database)
const injectAs = injector(app)

await created(t, app, '/v1/districts', { code: '370214', name: '城阳区' })
await created(t, app, '/v1/zones', { code: 'QD-HT', name: '青岛高新区', hostDistrictCode: '370214' })

t.test('an agreement is stored with its groups, categories and bands, and read back as sent', async (t) => {
  const agreement = await created(t, app, '/v1/agreements', agreementBody('QD-HT', '370214', { effectiveTo: 2022 }))
  t.match(agreement, { zoneCode: 'QD-HT', districtCode: '370214', documentNo: '青政字〔2020〕12号', baseYear: 2019, effectiveFrom: 2020, effectiveTo: 2022 })
  t.same(agreement.groups, [
    { name: 'taxes', basis: 'increment', categories: ['10101', '10104'], base: { amount: '1000.00', mode: 'fixed', growthRate: null }, rates: [{ upToGrowth: '0.10', rate: '0.60' }, { rate: '0.80' }], shortfall: 'carry_forward', adjustments: [], transfers: [] },
    { name: 'fees', basis: 'total', categories: ['10304'], base: null, rates: [{ rate: '0.60' }], shortfall: 'none', adjustments: [], transfers: [] },
  ])
  t.same((await get(app, `/v1/agreements/${agreement.id}`)).json(), agreement)
  t.same((await get(app, '/v1/agreements?zoneCode=QD-HT&year=2021')).json().items.map((a: { id: number }) => a.id), [agreement.id])
  t.same((await get(app, '/v1/agreements?year=2023')).json().items, [], 'not in force in 2023')
})

t.test('each rule of §2–§3 answers its status with a pointer, and stores nothing', async (t) => {
  const before = await rowCount(database, 'agreements')
  const taxes = agreementBody('QD-HT', '370214').groups[0]!
  const cases: Array<[string, Record<string, unknown>, number, string]> = [
    ['rate below the floor', { effectiveFrom: 2030, baseYear: 2029, groups: [{ ...taxes, rates: [{ upToGrowth: '0.10', rate: '0.55' }, { rate: '0.80' }] }] }, 422, '/groups/0/rates/0/rate'],
    ['bands out of order', { effectiveFrom: 2030, baseYear: 2029, groups: [{ ...taxes, rates: [{ upToGrowth: '0.20', rate: '0.60' }, { upToGrowth: '0.10', rate: '0.70' }, { rate: '0.80' }] }] }, 422, '/groups/0/rates/1/upToGrowth'],
    ['a category in two groups', { effectiveFrom: 2030, baseYear: 2029, groups: [taxes, { name: 'fees', basis: 'total', categories: ['10101'], rates: [{ rate: '0.60' }] }] }, 422, '/groups/1/categories/0'],
    ['baseYear not before effectiveFrom', { effectiveFrom: 2030, baseYear: 2030 }, 422, '/baseYear'],
    ['effectiveTo before effectiveFrom', { effectiveFrom: 2030, baseYear: 2029, effectiveTo: 2029 }, 422, '/effectiveTo'],
    ['years overlapping an agreement of the same pair', { effectiveFrom: 2022, baseYear: 2019 }, 422, '/effectiveFrom'],
    ['an unknown category', { effectiveFrom: 2030, baseYear: 2029, groups: [{ ...taxes, categories: ['99999'] }] }, 422, '/groups/0/categories/0'],
    ['an unknown zone', { zoneCode: 'QD-NONE', effectiveFrom: 2030, baseYear: 2029 }, 422, '/zoneCode'],
    ['a base missing for basis increment', { effectiveFrom: 2030, baseYear: 2029, groups: [{ ...taxes, base: undefined }] }, 400, '/groups/0/base'],
    ['escalating without growthRate', { effectiveFrom: 2030, baseYear: 2029, groups: [{ ...taxes, base: { amount: '1.00', mode: 'escalating' } }] }, 400, '/groups/0/base/growthRate'],
    ['an amount as a JSON number', { effectiveFrom: 2030, baseYear: 2029, groups: [{ ...taxes, base: { amount: 1000, mode: 'fixed' } }] }, 400, '/groups/0/base/amount'],
    ['no categories', { effectiveFrom: 2030, baseYear: 2029, groups: [{ ...taxes, categories: [] }] }, 400, '/groups/0/categories'],
    ['a falling rate below the floor', { effectiveFrom: 2030, baseYear: 2029, groups: [{ ...taxes, rates: [{ upToGrowth: '0.10', rate: '0.80' }, { rate: '0.59' }] }] }, 422, '/groups/0/rates/1/rate'],
    ['rates and a schedule', { effectiveFrom: 2030, baseYear: 2029, groups: [{ ...taxes, schedule: [{ fromYear: 2030, rates: [{ rate: '0.60' }] }] }] }, 400, '/groups/0/schedule'],
    ['neither rates nor a schedule', { effectiveFrom: 2030, baseYear: 2029, groups: [{ ...taxes, rates: undefined }] }, 400, '/groups/0/rates'],
    ['a schedule that does not start in effectiveFrom', { effectiveFrom: 2030, baseYear: 2029, groups: [{ ...taxes, rates: undefined, schedule: [{ fromYear: 2031, rates: [{ rate: '0.60' }] }] }] }, 422, '/groups/0/schedule/0/fromYear'],
    ['schedule periods out of order', { effectiveFrom: 2030, baseYear: 2029, groups: [{ ...taxes, rates: undefined, schedule: [{ fromYear: 2030, rates: [{ rate: '0.60' }] }, { fromYear: 2033, rates: [{ rate: '0.70' }] }, { fromYear: 2032, rates: [{ rate: '0.80' }] }] }] }, 422, '/groups/0/schedule/2/fromYear'],
    ['a schedule period after effectiveTo', { effectiveFrom: 2030, effectiveTo: 2032, baseYear: 2029, groups: [{ ...taxes, rates: undefined, schedule: [{ fromYear: 2030, rates: [{ rate: '1.00' }] }, { fromYear: 2033, rates: [{ rate: '0.60' }] }] }] }, 422, '/groups/0/schedule/1/fromYear'],
    ['a schedule period below the floor', { effectiveFrom: 2030, baseYear: 2029, groups: [{ ...taxes, rates: undefined, schedule: [{ fromYear: 2030, rates: [{ rate: '1.00' }] }, { fromYear: 2033, rates: [{ rate: '0.50' }] }] }] }, 422, '/groups/0/schedule/1/rates/0/rate'],
    ['a schedule of 21 periods', { effectiveFrom: 2030, baseYear: 2029, groups: [{ ...taxes, rates: undefined, schedule: Array.from({ length: 21 }, (_, k) => ({ fromYear: 2030 + k, rates: [{ rate: '0.60' }] })) }] }, 400, '/groups/0/schedule'],
  ]
  for (const [what, overrides, status, pointer] of cases) {
    const problem = expectProblem(t, await post(app, '/v1/agreements', agreementBody('QD-HT', '370214', overrides)), status)
    t.ok(problem.errors?.some((e) => e.pointer === pointer), `${what}: ${status} at ${pointer}`, { errors: problem.errors })
  }
  t.equal(await rowCount(database, 'agreements'), before, 'no refused agreement was stored')
})

t.test('base for any year: fixed, escalating and prior_year, with adjustments (§4)', async (t) => {
  await created(t, app, '/v1/districts', { code: '370203', name: '市北区' })
  const agreement = await created(t, app, '/v1/agreements', {
    zoneCode: 'QD-HT', districtCode: '370203', documentNo: '青财预〔2020〕1号', effectiveFrom: 2020, baseYear: 2019,
    groups: [
      { name: 'vat', basis: 'increment', categories: ['10101'], base: { amount: '1000000.00', mode: 'escalating', growthRate: '0.05' }, rates: [{ rate: '0.60' }] },
      { name: 'cit', basis: 'increment', categories: ['10104'], base: { amount: '500.00', mode: 'fixed' }, rates: [{ rate: '0.60' }] },
      { name: 'iit', basis: 'increment', categories: ['10106'], base: { mode: 'prior_year' }, rates: [{ rate: '0.60' }] },
    ],
  })
  const adjustment = await created(t, app, `/v1/agreements/${agreement.id}/base-adjustments`, { group: 'vat', fromYear: 2021, amount: '-50000.00', reason: '教育事权划转功能区', documentNo: '青财预〔2021〕3号' })
  t.match(adjustment, { fromYear: 2021, amount: '-50000.00', reason: '教育事权划转功能区' })
  await created(t, app, `/v1/agreements/${agreement.id}/base-adjustments`, { group: 'iit', fromYear: 2022, amount: '100.00', reason: '企业迁入', documentNo: 'x' })
  await created(t, app, '/v1/revenues', { records: [
    { zoneCode: 'QD-HT', districtCode: '370203', category: '10106', year: 2021, month: 1, amount: '700.00' },
    { zoneCode: 'QD-HT', districtCode: '370203', category: '10106', year: 2021, month: 2, amount: '400.00' },
  ] }, 200)

  const y2022 = (await get(app, `/v1/agreements/${agreement.id}?year=2022`)).json()
  t.equal(y2022.inForce, true)
  t.same(y2022.groups.map((g: { baseForYear: string | null }) => g.baseForYear), ['1107625.00', '500.00', '1200.00'],
    'escalating: round(1000000 × 1.05³) − 50000; fixed; prior_year: A(2021) 1100.00 + 100.00 from 2022')
  const y2020 = (await get(app, `/v1/agreements/${agreement.id}?year=2020`)).json()
  t.equal(y2020.groups[0].baseForYear, '1050000.00', 'the adjustment applies from 2021 only')
  t.equal(y2020.groups[2].baseForYear, null, 'no revenue recorded for 2019')
  t.match(y2020.groups[2].baseNote, /2019/)

  // An adjustment of 0.00 moves nothing: 422 at /amount, nothing recorded (before, 201 and every draft of the agreement stale; found by a probe of the writes).
  for (const amount of ['0.00', '-0.00', '0']) {
    const before = await rowCount(database, 'base_adjustments')
    const empty = expectProblem(t, await post(app, `/v1/agreements/${agreement.id}/base-adjustments`, { group: 'vat', fromYear: 2025, amount, reason: 'x', documentNo: 'x' }), 422)
    t.same(empty.errors, [{ pointer: '/amount', message: 'not zero' }], amount)
    t.equal(await rowCount(database, 'base_adjustments'), before, `${amount}: nothing recorded`)
  }
  const wrongGroup = expectProblem(t, await post(app, `/v1/agreements/${agreement.id}/base-adjustments`, { group: 'nope', fromYear: 2021, amount: '1.00', reason: 'x', documentNo: 'x' }), 422)
  t.equal(wrongGroup.errors?.[0]?.pointer, '/group')
  expectProblem(t, await post(app, '/v1/agreements/999999/base-adjustments', { group: 'vat', fromYear: 2021, amount: '1.00', reason: 'x', documentNo: 'x' }), 404)

  // A group holds at most 100 adjustments, as many as a calculation takes (it has 1 already).
  for (let i = 2; i <= 100; i++) {
    const response = await post(app, `/v1/agreements/${agreement.id}/base-adjustments`, { group: 'vat', fromYear: 2030, amount: '1.00', reason: `第${i}次`, documentNo: 'x' })
    if (response.statusCode !== 201) t.fail(`adjustment ${i} answered ${response.statusCode}`)
  }
  const full = expectProblem(t, await post(app, `/v1/agreements/${agreement.id}/base-adjustments`, { group: 'vat', fromYear: 2030, amount: '1.00', reason: '第101次', documentNo: 'x' }), 422)
  t.same(full.errors, [{ pointer: '/group', message: 'at most 100 adjustments per group' }])
  const stored = (await get(app, `/v1/agreements/${agreement.id}?year=2030`)).json()
  t.equal(stored.groups[0].adjustments.length, 100, 'the 101st was not stored')
})

t.test('a change is a new agreement from a later year: end the old one, then add the new one', async (t) => {
  const old = await created(t, app, '/v1/agreements', agreementBody('QD-HT', '370214', { effectiveFrom: 2023, baseYear: 2022, documentNo: '旧' }))
  expectProblem(t, await post(app, '/v1/agreements', agreementBody('QD-HT', '370214', { effectiveFrom: 2025, baseYear: 2024 })), 422)
  const ended = await injectAs('admin', { method: 'PATCH', url: `/v1/agreements/${old.id}`, payload: { effectiveTo: 2024 } })
  t.equal(ended.statusCode, 200)
  t.equal(ended.json().effectiveTo, 2024)
  const next = await created(t, app, '/v1/agreements', agreementBody('QD-HT', '370214', { effectiveFrom: 2025, baseYear: 2024, documentNo: '新' }))
  t.same((await get(app, '/v1/agreements?zoneCode=QD-HT&districtCode=370214&year=2025')).json().items.map((a: { id: number }) => a.id), [next.id])
  const reopen = expectProblem(t, await injectAs('admin', { method: 'PATCH', url: `/v1/agreements/${old.id}`, payload: { effectiveTo: null } }), 422)
  t.equal(reopen.errors?.[0]?.pointer, '/effectiveTo')

  // §4: an adjustment from after the last year in force would change no year the agreement settles. It is refused,
  // as a responsibility transfer is, rather than stored where no statement would show it (before: 201).
  const adjustments = await rowCount(database, 'base_adjustments')
  const late = expectProblem(t, await post(app, `/v1/agreements/${old.id}/base-adjustments`, { group: 'taxes', fromYear: 2025, amount: '100.00', reason: '企业迁入', documentNo: 'x' }), 422)
  t.same(late.errors, [{ pointer: '/fromYear', message: 'within 2023–2024' }])
  t.match(late.detail, /in force 2023–2024: an adjustment from 2025 would move no base it settles \(record it under the version that follows\)/)
  t.equal(await rowCount(database, 'base_adjustments'), adjustments, 'nothing recorded')
  await created(t, app, `/v1/agreements/${old.id}/base-adjustments`, { group: 'taxes', fromYear: 2024, amount: '100.00', reason: '企业迁入', documentNo: 'x' })
})

t.test('§2 falling rates and a rate schedule (分段期限) are stored as written; ?year= shows the bands of the year and names the period', async (t) => {
  await created(t, app, '/v1/zones', { code: 'QD-SC', name: '分段期限功能区', hostDistrictCode: '370214' })
  const agreement = await created(t, app, '/v1/agreements', {
    zoneCode: 'QD-SC', districtCode: '370214', documentNo: '青政字〔2020〕9号', effectiveFrom: 2020, effectiveTo: 2025, baseYear: 2019,
    groups: [
      {
        name: 'taxes', basis: 'increment', categories: ['10101'], base: { amount: '1000000.00', mode: 'fixed' },
        schedule: [{ fromYear: 2020, rates: [{ rate: '1.00' }] }, { fromYear: 2023, rates: [{ upToGrowth: '0.10', rate: '0.80' }, { rate: '0.60' }] }],
      },
      { name: 'windfall', basis: 'increment', categories: ['10104'], base: { amount: '500.00', mode: 'fixed' }, rates: [{ upToGrowth: '0.10', rate: '0.80' }, { upToGrowth: '12.5', rate: '0.70' }, { rate: '0.60' }] },
      { name: 'fees', basis: 'total', categories: ['10304'], schedule: [{ fromYear: 2020, rates: [{ rate: '1.00' }] }, { fromYear: 2022, rates: [{ rate: '0.60' }] }] },
    ],
  })
  t.same(agreement.groups[0].schedule, [
    { fromYear: 2020, rates: [{ rate: '1.00' }] },
    { fromYear: 2023, rates: [{ upToGrowth: '0.10', rate: '0.80' }, { rate: '0.60' }] },
  ], 'the schedule as written')
  t.equal(agreement.groups[0].rates, undefined, 'a group with a schedule has no single set of bands')
  t.same(agreement.groups[1].rates, [{ upToGrowth: '0.10', rate: '0.80' }, { upToGrowth: '12.50', rate: '0.70' }, { rate: '0.60' }], 'falling rates as written')
  t.same((await get(app, `/v1/agreements/${agreement.id}`)).json(), agreement, 'read back as stored')

  const y2022 = (await get(app, `/v1/agreements/${agreement.id}?year=2022`)).json()
  t.same(y2022.groups[0].ratesForYear, [{ rate: '1.00' }])
  t.same(y2022.groups[0].periodForYear, { fromYear: 2020, toYear: 2022, number: 1, of: 2 })
  t.same(y2022.groups[2].periodForYear, { fromYear: 2022, toYear: null, number: 2, of: 2 })
  t.same(y2022.groups[2].ratesForYear, [{ rate: '0.60' }])
  t.equal(y2022.groups[1].periodForYear, undefined, 'no period for a group with one set of bands')
  const y2024 = (await get(app, `/v1/agreements/${agreement.id}?year=2024`)).json()
  t.same(y2024.groups[0].ratesForYear, [{ upToGrowth: '0.10', rate: '0.80' }, { rate: '0.60' }])
  t.same(y2024.groups[0].periodForYear, { fromYear: 2023, toYear: null, number: 2, of: 2 })
  const shrinking = await created(t, app, '/v1/agreements', {
    zoneCode: 'QD-SC', districtCode: '370214', documentNo: '青政字〔2026〕1号', effectiveFrom: 2026, baseYear: 2025,
    groups: [{ name: 'taxes', basis: 'increment', categories: ['10101'], base: { amount: '1000.00', mode: 'escalating', growthRate: '-0.02' }, rates: [{ rate: '0.60' }] }],
  })
  t.same(shrinking.groups[0].base, { amount: '1000.00', mode: 'escalating', growthRate: '-0.02' }, 'a shrinking base prints its negative growth (and holds to the document)')
  const before = (await get(app, `/v1/agreements/${agreement.id}?year=2019`)).json()
  t.equal(before.inForce, false)
  t.equal(before.groups[0].ratesForYear, undefined, 'no bands before the schedule starts')
  // §2: a base is verified in the base year and applies from the year after; before, ?year=1990 compounded it backwards (27582513.55 for
  // 65,000,000 at 3%) or, for a shrinking base, answered 422 at a growthRate the request does not hold (found by a probe of the API).
  for (const year of [2025, 2000, 1990]) {
    const shown = (await get(app, `/v1/agreements/${shrinking.id}?year=${year}`)).json()
    t.equal(shown.groups[0].baseForYear, null, `${year}: no base`)
    t.equal(shown.groups[0].baseNote, `${year} is not after the base year 2025: a base is verified in the base year and applies from the year after it (calculation-rules.md §2)`)
  }
  t.equal((await get(app, `/v1/agreements/${shrinking.id}?year=2026`)).json().groups[0].baseForYear, '980.00', '2026: 1000.00 × (1 − 0.02)')
})

t.test('§6 an agreement cannot end before a year it has advances (预拨) for: no line would count them; recovered, it can', async (t) => {
  await created(t, app, '/v1/zones', { code: 'QD-AD', name: '预拨功能区', hostDistrictCode: '370214' })
  const old = await created(t, app, '/v1/agreements', agreementBody('QD-AD', '370214', { effectiveFrom: 2023, baseYear: 2022, documentNo: '旧' }))
  await created(t, app, '/v1/advances', { agreementId: old.id, fiscalYear: 2026, paidOn: '2026-03-01', amount: '500.00', documentNo: '青财预〔2026〕1号' })
  await created(t, app, '/v1/advances', { agreementId: old.id, fiscalYear: 2027, paidOn: '2027-03-01', amount: '300.00', documentNo: '青财预〔2027〕1号' })
  await created(t, app, '/v1/advances', { agreementId: old.id, fiscalYear: 2025, paidOn: '2025-03-01', amount: '200.00', documentNo: '青财预〔2025〕1号' })

  const end = (effectiveTo: number) => injectAs('admin', { method: 'PATCH', url: `/v1/agreements/${old.id}`, payload: { effectiveTo } })
  const refused = expectProblem(t, await end(2025), 409)
  t.equal(refused.type.endsWith('agreement-has-advances'), true, refused.type)
  t.match(refused.detail, /2026 \(500\.00\), 2027 \(300\.00\)/, 'names each year left unsettled and its advances')
  t.same(refused.errors, [{ pointer: '/effectiveTo', message: 'must be 2027 or later while advances for 2027 are on record' }])
  t.equal((await get(app, `/v1/agreements/${old.id}`)).json().effectiveTo, null, 'the agreement is not ended')

  // Recovered (a negative advance for each year, under this agreement), the years hold nothing to settle.
  await created(t, app, '/v1/advances', { agreementId: old.id, fiscalYear: 2026, paidOn: '2026-09-01', amount: '-500.00', documentNo: '青财预〔2026〕2号 收回' })
  t.match(expectProblem(t, await end(2025), 409).detail, /paid for 2027 \(300\.00\): ended before that year/, '2027 still holds its advance')
  expectProblem(t, await end(2026), 409)
  await created(t, app, '/v1/advances', { agreementId: old.id, fiscalYear: 2027, paidOn: '2027-09-01', amount: '-300.00', documentNo: '青财预〔2027〕2号 收回' })
  const ended = await end(2025)
  t.equal(ended.statusCode, 200, 'every later year\'s advances recovered: it ends')
  t.equal(ended.json().effectiveTo, 2025)
  // The version that follows takes the advance for 2026, and its settlement counts it.
  const next = await created(t, app, '/v1/agreements', agreementBody('QD-AD', '370214', { effectiveFrom: 2026, baseYear: 2025, documentNo: '新' }))
  await created(t, app, '/v1/advances', { agreementId: next.id, fiscalYear: 2026, paidOn: '2026-09-01', amount: '500.00', documentNo: '青财预〔2026〕3号' })
  expectProblem(t, await post(app, '/v1/advances', { agreementId: old.id, fiscalYear: 2026, paidOn: '2026-09-02', amount: '1.00', documentNo: 'x' }), 422)
})

t.test('ending an agreement at the year it already ends changes nothing, and the audit log says nothing of it (as a revoked key revoked again)', async (t) => {
  await created(t, app, '/v1/zones', { code: 'QD-AU', name: '审计测试区', hostDistrictCode: '370214' })
  const agreement = await created(t, app, '/v1/agreements', agreementBody('QD-AU', '370214', { effectiveFrom: 2040, baseYear: 2039, documentNo: '审计' }))
  const events = async () => (await get(app, `/v1/audit-events?entityType=agreement&entityId=${agreement.id}`)).json().items as Array<{ action: string, details: unknown }>
  const end = () => injectAs('admin', { method: 'PATCH', url: `/v1/agreements/${agreement.id}`, payload: { effectiveTo: 2041 } })
  t.equal((await end()).statusCode, 200)
  t.equal((await end()).statusCode, 200, 'the same end again: 200, as it stands')
  t.same((await events()).map((e) => e.action), ['set_effective_to', 'create'], 'one event for the end (before, a second with from 2041 to 2041)')
})
