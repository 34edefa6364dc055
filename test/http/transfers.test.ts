import fc from 'fast-check'
import t, { type Test } from 'tap'
import { expectProblem, rowCount, testApp, testDatabase } from '../helpers.js'
import { holdsAsync } from '../properties.js'
import { agreementBody, buildWorld, created, get, injector, linesOf, post } from '../world.js'

// Responsibility transfers (api-contract.md, Responsibility transfers; calculation-rules.md §4), rate schedules and falling
// bands in settlement runs (§2), and the stateless calculation reproducing every settlement line (api-contract.md,
// POST /v1/calculations; Settlement runs).
// The world's agreements (2020 on, base year 2019): taxes = 10101 + 10104, increment, fixed base 1000.00,
// bands [≤ 10% at 0.60, rest at 0.80], carry_forward; fees = 10304, total at 0.60.

const database = await testDatabase(t)
const app = await testApp(t, database)
const world = await buildWorld(t, app)
const injectAs = injector(app, world)
const transfers = '/v1/responsibility-transfers'

t.test('§4 each funding method is recorded, listed per agreement, shown on the agreement; ?year= gives each F(Y) and the base they make', async (t) => {
  const ht = world.agreements.ht
  const education = await created(t, app, transfers, {
    agreementId: ht, group: 'taxes', function: '教育', direction: 'to_district', fromYear: 2021, toYear: 2022, documentNo: '青政字〔2021〕5号',
    funding: { method: 'fixed', amount: '100.00' },
  })
  t.match(education, {
    agreementId: ht, group: 'taxes', function: '教育', direction: 'to_district', fromYear: 2021, toYear: 2022, documentNo: '青政字〔2021〕5号',
    funding: { method: 'fixed', amount: '100.00' },
  })
  const health = await created(t, app, transfers, {
    agreementId: ht, group: 'taxes', function: '卫生健康', direction: 'to_district', fromYear: 2022, documentNo: '青政字〔2022〕2号',
    funding: { method: 'headcount', headcount: 2, unitCost: '30.00' },
  })
  t.same(health.funding, { method: 'headcount', headcount: 2, unitCost: '30.00' })
  t.equal(health.toYear, null, 'open-ended')
  const city = await created(t, app, transfers, {
    agreementId: ht, group: 'taxes', function: '城市管理', direction: 'to_zone', fromYear: 2021, documentNo: '青政字〔2021〕9号',
    funding: { method: 'indexed', amount: '50.00', growthRate: '0.10' },
  })
  t.same(city.funding, { method: 'indexed', amount: '50.00', growthRate: '0.10' })

  const listed = (await get(app, `${transfers}?agreementId=${ht}`)).json()
  t.same(listed.items.map((x: { id: number }) => x.id), [education.id, health.id, city.id], 'by id')
  t.same((await get(app, `${transfers}?agreementId=${world.agreements.bl}`)).json().items, [], 'none of another agreement')
  const agreement = (await get(app, `/v1/agreements/${ht}`)).json()
  t.same(agreement.groups[0].transfers.map((x: { function: string }) => x.function), ['教育', '城市管理', '卫生健康'], 'on the group, by fromYear')
  t.same(agreement.groups[1].transfers, [])

  const y2022 = (await get(app, `/v1/agreements/${ht}?year=2022`)).json().groups[0]
  t.equal(y2022.baseForYear, '1105.00', '1000.00 + 100.00 (教育) − 55.00 (城市管理: 50.00 × 1.10) + 60.00 (卫生健康: 2 × 30.00)')
  t.same(y2022.transfersForYear, [
    { id: education.id, function: '教育', direction: 'to_district', fundingForYear: '100.00', baseMove: '100.00' },
    { id: city.id, function: '城市管理', direction: 'to_zone', fundingForYear: '55.00', baseMove: '-55.00' },
    { id: health.id, function: '卫生健康', direction: 'to_district', fundingForYear: '60.00', baseMove: '60.00' },
  ])
  const y2023 = (await get(app, `/v1/agreements/${ht}?year=2023`)).json().groups[0]
  t.equal(y2023.baseForYear, '999.50', '教育 ended with 2022: 1000.00 − 60.50 (50.00 × 1.10²) + 60.00')
  const y2020 = (await get(app, `/v1/agreements/${ht}?year=2020`)).json().groups[0]
  t.same([y2020.baseForYear, y2020.transfersForYear], ['1000.00', []], 'none in force yet')

  const audit = (await get(app, '/v1/audit-events?entityType=responsibility_transfer')).json()
  t.same(audit.items.map((e: { entityId: string }) => e.entityId).sort(), [education.id, health.id, city.id].map(String).sort(), 'each write is audited')
})

t.test('refusals answer their status with a pointer and store nothing', async (t) => {
  const before = await rowCount(database, 'responsibility_transfers')
  const good = {
    agreementId: world.agreements.bl, group: 'taxes', function: '教育', direction: 'to_district', fromYear: 2021, documentNo: 'x',
    funding: { method: 'fixed', amount: '10.00' },
  }
  const cases: Array<[string, Record<string, unknown>, number, string]> = [
    ['an unknown agreement', { agreementId: 999999 }, 422, '/agreementId'],
    ['an unknown group', { group: 'nope' }, 422, '/group'],
    ['a group of basis total', { group: 'fees' }, 422, '/group'],
    ['a year before the agreement', { fromYear: 2019 }, 422, '/fromYear'],
    ['toYear before fromYear', { toYear: 2020 }, 422, '/toYear'],
    ['a funding of zero', { funding: { method: 'fixed', amount: '0.00' } }, 422, '/funding/amount'],
    ['a negative funding', { funding: { method: 'fixed', amount: '-10.00' } }, 400, '/funding/amount'],
    ['headcount without unitCost', { funding: { method: 'headcount', headcount: 3 } }, 400, '/funding/unitCost'],
    ['headcount of zero', { funding: { method: 'headcount', headcount: 0, unitCost: '1.00' } }, 400, '/funding/headcount'],
    // §1: 1,000,000 × 999,999,999,999,999.99 has 21 integer digits; before, 201, and no year from 2021 on could be settled.
    ['a funding beyond 18 integer digits', { funding: { method: 'headcount', headcount: 1_000_000, unitCost: '999999999999999.99' } }, 422, '/funding/unitCost'],
    ['indexed without growthRate', { funding: { method: 'indexed', amount: '1.00' } }, 400, '/funding/growthRate'],
    ['an amount with headcount', { funding: { method: 'headcount', headcount: 3, unitCost: '1.00', amount: '3.00' } }, 400, '/funding/amount'],
    ['an unknown method', { funding: { method: 'per_capita', amount: '1.00' } }, 400, '/funding/method'],
    ['an unknown direction', { direction: 'to_city' }, 400, '/direction'],
    ['no document', { documentNo: '' }, 400, '/documentNo'],
  ]
  for (const [what, overrides, status, pointer] of cases) {
    const problem = expectProblem(t, await post(app, transfers, { ...good, ...overrides }), status)
    t.ok(problem.errors?.some((e) => e.pointer === pointer), `${what}: ${status} at ${pointer}`, { errors: problem.errors })
  }
  expectProblem(t, await injectAs('district203', { method: 'POST', url: transfers, payload: good }), 403)
  t.equal(await rowCount(database, 'responsibility_transfers'), before, 'no refused transfer was stored')
})

t.test('§1 ?year= refuses an indexed funding compounded beyond 18 integer digits with 422 at the transfers, whether or not the base can be computed', async (t) => {
  // Agreements of their own, from 2030 on, so that the other tests' runs (2020, 2021) do not meet them.
  const agreementFrom2030 = async (zoneCode: string, base: Record<string, unknown>) => {
    await created(t, app, '/v1/zones', { code: zoneCode, name: zoneCode, hostDistrictCode: '370214' })
    const agreement = await created(t, app, '/v1/agreements', agreementBody(zoneCode, '370214', {
      effectiveFrom: 2030, baseYear: 2029, groups: [{ name: 'taxes', basis: 'increment', categories: ['10101'], base, rates: [{ rate: '0.60' }] }],
    })) as { id: number }
    await created(t, app, transfers, {
      agreementId: agreement.id, group: 'taxes', function: '城市管理', direction: 'to_zone', fromYear: 2030, documentNo: 'x',
      funding: { method: 'indexed', amount: '999999999999999.99', growthRate: '10' },
    })
    return agreement.id
  }
  const fixed = await agreementFrom2030('QD-FX', { amount: '1000.00', mode: 'fixed' })
  const priorYear = await agreementFrom2030('QD-PY', { mode: 'prior_year' })
  for (const [what, id] of [['a fixed base', fixed], ['a prior_year base without last year\'s revenue', priorYear]] as const) {
    const problem = expectProblem(t, await get(app, `/v1/agreements/${id}?year=2040`), 422)
    t.same(problem.errors?.map((e) => e.pointer), ['/groups/0/transfers'], `${what}: 422 at the transfer that led there`)
    t.match(problem.errors?.[0]?.message, /2040 .*more than 18 integer digits/)
  }
  // Before, the prior_year agreement answered 200 with a 35-digit fundingForYear (found by a probe of the API).
  const early = (await get(app, `/v1/agreements/${priorYear}?year=2031`)).json().groups[0]
  t.same([early.baseForYear, early.transfersForYear.map((x: { fundingForYear: string }) => x.fundingForYear)], [null, ['10999999999999999.89']],
    'a year whose figures fit still answers: 999,999,999,999,999.99 × 11')
})

t.test('a transfer outside the agreement\'s years says why for the side it falls on: before, the base already holds it; after, the next version records it', async (t) => {
  await created(t, app, '/v1/zones', { code: 'QD-END', name: '到期区', hostDistrictCode: '370214' })
  const ending = await created(t, app, '/v1/agreements', agreementBody('QD-END', '370214', { effectiveTo: 2022 })) as { id: number }
  const transfer = (fromYear: number) => ({ agreementId: ending.id, group: 'taxes', function: '教育', direction: 'to_district', fromYear, documentNo: 'x', funding: { method: 'fixed', amount: '10.00' } })
  const before = expectProblem(t, await post(app, transfers, transfer(2019)), 422)
  t.match(before.detail, /in force 2020–2022: a transfer from 2019 would move no base it settles \(a function moved before effectiveFrom is already in the verified base\)/)
  const after = expectProblem(t, await post(app, transfers, transfer(2023)), 422)
  t.match(after.detail, /in force 2020–2022: a transfer from 2023 would move no base it settles \(record it under the version that follows\)/)
  t.same(after.errors, [{ pointer: '/fromYear', message: 'within 2020–2022' }])
})

t.test('§9 a transfer stales a draft run that did not read it, and a finalized year refuses one (409), like any change to a settled year', async (t) => {
  const bl = world.agreements.bl
  await created(t, app, '/v1/revenues', { records: [{ zoneCode: 'QD-BL', category: '10101', year: 2020, month: 3, amount: '1200.00' }] }, 200)
  const draft = await created(t, app, '/v1/settlement-runs', { fiscalYear: 2020, agreementIds: [bl] })
  await created(t, app, transfers, { agreementId: bl, group: 'taxes', function: '教育', direction: 'to_district', fromYear: 2020, documentNo: 'x', funding: { method: 'fixed', amount: '100.00' } })
  const stale = expectProblem(t, await post(app, `/v1/settlement-runs/${draft.id}/finalize`, undefined), 409)
  t.match(stale.detail, /responsibility transfers/)
  const run = await created(t, app, '/v1/settlement-runs', { fiscalYear: 2020, agreementIds: [bl] })
  const [line] = await linesOf(injectAs, run.id) as unknown as Line[]
  t.match(line?.groups[0], { base: '1100.00' }, 'the new run reads the transfer')
  t.equal((await post(app, `/v1/settlement-runs/${run.id}/finalize`, undefined)).statusCode, 200)

  const refused = expectProblem(t, await post(app, transfers, { agreementId: bl, group: 'taxes', function: '卫生健康', direction: 'to_zone', fromYear: 2020, documentNo: 'x', funding: { method: 'fixed', amount: '1.00' } }), 409)
  t.same(refused.errors, [{ pointer: '/fromYear', message: 'must be after 2020' }])
  t.equal(refused.detail, `Agreement ${bl} is in a finalized settlement of 2020: a transfer from 2020 would change that year, and the years up to a signed one are not changed after it ` +
    '(the years after them carry from them, calculation-rules.md §6). Record it from 2021 on, or record a new agreement.', 'a transfer ending before the signed year is refused too; the detail does not say it moves the signed year (found by a probe)')
  await created(t, app, transfers, { agreementId: bl, group: 'taxes', function: '卫生健康', direction: 'to_zone', fromYear: 2021, documentNo: 'x', funding: { method: 'fixed', amount: '1.00' } })
})

type Group = Record<string, unknown> & { name: string, explanation: string[] }
type Line = Record<string, unknown> & { agreementId: number, groups: Group[], calculationRequest?: Record<string, unknown> }

/**
 * Posts the inputs a line shows to POST /v1/calculations and asserts the answer has the line's figures, figure for figure,
 * and its explanation word for word (calculation-rules.md §4–§6).
 */
async function recompute (t: Test, line: Line, language = 'zh') {
  t.ok(line.calculationRequest, `agreement ${line.agreementId}: the line shows its calculation request`)
  const response = await injectAs('zoneHT', { method: 'POST', url: '/v1/calculations', headers: { 'accept-language': language }, payload: line.calculationRequest as object })
  t.equal(response.statusCode, 200, 'any key may post it')
  const calculation = response.json()
  for (const key of ['revenueTotal', 'zoneShare', 'districtShare', 'advancesPaid', 'balanceDue'] as const) t.equal(calculation[key], line[key], `${key} ${String(line[key])}`)
  const printed = line.groups.map(({ writtenOff: _w, carriedToAgreementId: _c, ...g }) => g)
  t.same(calculation.groups, printed, 'every group, figure for figure, explanation included')
}

t.test('a schedule by year, falling bands and transfers of every method, settled: the explanation names the period and cites each transfer ' +
  'with its document and F(Y), the statement cites the transfers, and POST /v1/calculations reproduces every line from what it shows', async (t) => {
  await created(t, app, '/v1/zones', { code: 'QD-SC', name: '分段期限功能区', hostDistrictCode: '370214' })
  const agreement = await created(t, app, '/v1/agreements', {
    zoneCode: 'QD-SC', districtCode: '370214', documentNo: '青政字〔2020〕9号', effectiveFrom: 2020, baseYear: 2019,
    groups: [
      {
        name: 'vat', basis: 'increment', categories: ['10101'], base: { amount: '1000000.00', mode: 'escalating', growthRate: '0.03' },
        schedule: [{ fromYear: 2020, rates: [{ rate: '1.00' }] }, { fromYear: 2021, rates: [{ upToGrowth: '0.10', rate: '0.80' }, { rate: '0.60' }] }],
        shortfall: 'deduct',
      },
      { name: 'cit', basis: 'increment', categories: ['10104'], base: { mode: 'prior_year' }, rates: [{ upToGrowth: '0.05', rate: '0.90' }, { rate: '0.65' }] },
      { name: 'iit', basis: 'increment', categories: ['10106'], base: { amount: '300000.00', mode: 'fixed' }, rates: [{ rate: '0.60' }], shortfall: 'carry_forward' },
      { name: 'fees', basis: 'total', categories: ['10304'], schedule: [{ fromYear: 2020, rates: [{ rate: '1.00' }] }, { fromYear: 2021, rates: [{ rate: '0.70' }] }] },
    ],
  })
  const transfer = (group: string, fn: string, direction: string, funding: Record<string, unknown>) =>
    created(t, app, transfers, { agreementId: agreement.id, group, function: fn, direction, fromYear: 2021, documentNo: `青政字〔2021〕${fn}号`, funding })
  await transfer('vat', '卫生健康', 'to_district', { method: 'headcount', headcount: 12, unitCost: '1800.00' })
  await transfer('vat', '城市管理', 'to_zone', { method: 'indexed', amount: '12345.67', growthRate: '0.035' })
  await transfer('cit', '教育', 'to_district', { method: 'fixed', amount: '5000.00' })
  await transfer('iit', '交通', 'to_zone', { method: 'fixed', amount: '2000.00' })
  const month = (category: string, year: number, amount: string) => ({ zoneCode: 'QD-SC', category, year, month: 12, amount })
  await created(t, app, '/v1/revenues', { records: [
    month('10104', 2019, '380000.00'), month('10101', 2020, '1100000.00'), month('10104', 2020, '400000.00'), month('10106', 2020, '250000.00'), month('10304', 2020, '9000.00'),
    month('10101', 2021, '1250000.33'), month('10104', 2021, '430000.00'), month('10106', 2021, '330000.00'), month('10304', 2021, '9999.99'),
  ] }, 200)
  // The world's agreements carry a shortfall out of 2020 into 2021 (carry_forward), so 2021's lines carry one in.
  await created(t, app, '/v1/revenues', { records: [{ zoneCode: 'QD-HT', category: '10101', year: 2020, month: 1, amount: '900.00' }, { zoneCode: 'QD-HT', category: '10101', year: 2021, month: 1, amount: '1300.00' }] }, 200)
  await created(t, app, '/v1/advances', { agreementId: agreement.id, fiscalYear: 2021, paidOn: '2021-06-30', amount: '50000.00', documentNo: 'x' })

  const run2020 = await created(t, app, '/v1/settlement-runs', { fiscalYear: 2020 })
  const lines2020 = await linesOf(injectAs, run2020.id) as Line[]
  for (const line of lines2020) await recompute(t, line)
  t.equal((await post(app, `/v1/settlement-runs/${run2020.id}/finalize`, undefined)).statusCode, 200)

  const run2021 = await created(t, app, '/v1/settlement-runs', { fiscalYear: 2021 })
  const lines2021 = await linesOf(injectAs, run2021.id) as Line[]
  t.ok(lines2021.length >= 3, 'every agreement in force')
  for (const line of lines2021) await recompute(t, line)
  for (const line of await linesOf(injectAs, run2021.id, 'admin', { 'accept-language': 'en' }) as Line[]) await recompute(t, line, 'en')
  const ht = lines2021.find((l) => l.agreementId === world.agreements.ht)!
  t.match(ht.groups[0], { base: '1050.00', carriedShortfallIn: '100.00' }, 'a carried shortfall is among the inputs reproduced: 2020 fell 100.00 short of 1000.00')

  const sc = lines2021.find((l) => l.agreementId === agreement.id)!
  const [vat, cit, iit, fees] = sc.groups
  // vat: 1000000.00 × 1.03² = 1060900.00 + 12 × 1800.00 − round(12345.67 × 1.035^0) = 1060900.00 + 21600.00 − 12345.67 = 1070154.33;
  // S = 1250000.33 − 1070154.33 = 179846.00; period 2's falling bands: L₁ = 107015.433; 107015.433 × 0.80 = 85612.3464 → 85612.35;
  // 72830.567 × 0.60 = 43698.3402 → 43698.34; Z = 129310.69
  t.match(vat, {
    base: '1070154.33', shareable: '179846.00', zoneShare: '129310.69', period: { fromYear: 2021, toYear: null, number: 2, of: 2 },
    bands: [{ rate: '0.80', amount: '107015.43', zoneShare: '85612.35' }, { rate: '0.60', amount: '72830.57', zoneShare: '43698.34' }],
  })
  t.same(vat!.explanation.slice(0, 2), [
    '分段期限：第2段（共2段），2021年起，适用本段分成比例',
    '基数（递增）= 递增后核定基数 1060900.00（1000000.00 × (1 + 0.03)^2 = 1060900.00） + 事权划转 21600.00（「卫生健康」划归属地，青政字〔2021〕卫生健康号，F(2021) = 12人 × 1800.00 = 21600.00） ' +
      '− 事权划转 12345.67（「城市管理」划归功能区，青政字〔2021〕城市管理号，F(2021) = 12345.67 × (1 + 0.035)^0 = 12345.67） = 1070154.33',
  ])
  // cit: prior_year A(2020) 400000.00 + 5000.00 = 405000.00; S = 25000.00 against a limit of 20250.00: 18225.00 + 3087.50 = 21312.50
  t.match(cit, { base: '405000.00', zoneShare: '21312.50' })
  t.match(cit!.explanation[0], /^基数（上年实际）= 上年实际收入 400000\.00 \+ 事权划转 5000\.00（「教育」划归属地，青政字〔2021〕教育号，F\(2021\) = 5000\.00） = 405000\.00$/)
  // iit: 300000.00 − 2000.00 = 298000.00, S = 32000.00 − the 50000.00 carried in from 2020 (A 250000.00): carried out 18000.00
  t.match(iit, { base: '298000.00', carriedShortfallIn: '50000.00', carriedShortfallOut: '18000.00', zoneShare: '0.00' })
  t.match(fees, { zoneShare: '6999.99', period: { fromYear: 2021, number: 2 } }, '9999.99 × 0.70 = 6999.993 → 6999.99, the second period\'s rate')

  const statement = (await injectAs('admin', { method: 'GET', url: `/v1/settlement-runs/${run2021.id}/statement` })).body
  t.match(statement, /事权划转 responsibility transfers behind the base/)
  t.match(statement, /卫生健康 划归属地 to the district \+21600\.00（青政字〔2021〕卫生健康号）；城市管理 划归功能区 to the zone -12345\.67（青政字〔2021〕城市管理号）/)
  // api-contract.md, Responsibility transfers: every statement cites them, the page to print and stamp too.
  const html = (await injectAs('admin', { method: 'GET', url: `/v1/settlement-runs/${run2021.id}/statement?format=html` })).body
  const page = html.slice(html.indexOf(`data-agreement-id="${agreement.id}"`))
  t.match(page.slice(0, page.indexOf('</section>')), '<p class="note">注：口径组 vat 核定基数含事权划转（财随事走）：卫生健康 划归属地 to the district +21,600.00（青政字〔2021〕卫生健康号）；' +
    '城市管理 划归功能区 to the zone -12,345.67（青政字〔2021〕城市管理号）。</p>', 'on the agreement\'s page, under its groups, amounts with thousands separators as its tables print them (before, +21600.00)')

  // api-contract.md, Settlement runs: verification recomputes every line from its stored inputs, the transfers behind its bases included.
  t.equal((await post(app, `/v1/settlement-runs/${run2021.id}/finalize`, undefined)).statusCode, 200)
  t.match((await get(app, `/v1/settlement-runs/${run2021.id}/verification`)).json(),
    { runId: run2021.id, digestMatches: true, linesChecked: lines2021.length, mismatchCount: 0, mismatches: [] }, 'a run whose bases transfers moved verifies clean')
})

t.test('a property: random agreements (bands in any order, schedules, transfers of every method, every base mode and shortfall policy), ' +
  'settled; each line posted to POST /v1/calculations as it shows its inputs gives its figures, and the finalized year verifies clean', async (t) => {
  const rate = fc.integer({ min: 60, max: 100 }).map((n) => (n / 100).toFixed(2))
  const bands = fc.array(fc.tuple(fc.integer({ min: 1, max: 300 }), rate), { minLength: 1, maxLength: 4 }).map((raw) => {
    let limit = 0
    return raw.map(([step, r], k) => k === raw.length - 1 ? { rate: r } : { upToGrowth: ((limit += step) / 100).toFixed(2), rate: r })
  })
  const funding = fc.oneof(
    fc.integer({ min: 1, max: 9_999_999 }).map((c) => ({ method: 'fixed', amount: (c / 100).toFixed(2) })),
    fc.tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 99_999_999 })).map(([headcount, c]) => ({ method: 'headcount', headcount, unitCost: (c / 100).toFixed(2) })),
    fc.tuple(fc.integer({ min: 1, max: 9_999_999 }), fc.integer({ min: -50_000, max: 150_000 })).map(([c, g]) => ({ method: 'indexed', amount: (c / 100).toFixed(2), growthRate: (g / 1_000_000).toFixed(6) })),
  )
  const group = fc.record({
    mode: fc.constantFrom('fixed', 'escalating', 'prior_year'),
    amount: fc.integer({ min: 0, max: 100_000_000 }),
    schedule: fc.boolean(),
    first: bands, second: bands,
    shortfall: fc.constantFrom('none', 'deduct', 'carry_forward'),
    transfers: fc.array(fc.record({ direction: fc.constantFrom('to_district', 'to_zone'), offset: fc.integer({ min: 0, max: 2 }), span: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }), funding }), { maxLength: 3 }),
    actuals: fc.tuple(fc.integer({ min: 0, max: 200_000_000 }), fc.integer({ min: 0, max: 200_000_000 }), fc.integer({ min: 0, max: 200_000_000 })),
  })
  let zone = 0
  await holdsAsync(t, fc.asyncProperty(fc.array(group, { minLength: 1, maxLength: 3 }), fc.integer({ min: 2031, max: 2034 }), async (groups, year) => {
    zone++
    const code = `QD-P${zone}`
    await created(t, app, '/v1/zones', { code, name: '测试', hostDistrictCode: '370214' })
    const categories = ['10101', '10104', '10106']
    const effectiveFrom = year - 1
    const agreement = await created(t, app, '/v1/agreements', {
      zoneCode: code, districtCode: '370214', documentNo: 'P', effectiveFrom, baseYear: 2029,
      groups: groups.map((g, i) => ({
        name: `g${i}`, basis: 'increment', categories: [categories[i]!], shortfall: g.shortfall,
        base: g.mode === 'prior_year' ? { mode: 'prior_year' } : { mode: g.mode, amount: (g.amount / 100).toFixed(2), ...(g.mode === 'escalating' ? { growthRate: '0.025' } : {}) },
        ...(g.schedule ? { schedule: [{ fromYear: effectiveFrom, rates: g.first }, { fromYear: year, rates: g.second }] } : { rates: g.first }),
      })),
    })
    for (const [i, g] of groups.entries()) {
      for (const x of g.transfers) {
        const fromYear = effectiveFrom + x.offset
        await created(t, app, transfers, {
          agreementId: agreement.id, group: `g${i}`, function: '事权', direction: x.direction, fromYear, documentNo: 'P',
          ...(x.span === undefined ? {} : { toYear: fromYear + x.span }), funding: x.funding,
        })
      }
    }
    // Three years of revenue: prior_year bases read the year before each settled one.
    await created(t, app, '/v1/revenues', { records: groups.flatMap((g, i) => g.actuals.map((cents, k) => (
      { zoneCode: code, category: categories[i]!, year: year - 2 + k, month: 1, amount: (cents / 100).toFixed(2) }))) }, 200)
    // The first year, then the second carrying its shortfalls in.
    const first = await created(t, app, '/v1/settlement-runs', { fiscalYear: effectiveFrom, agreementIds: [agreement.id] })
    if ((await post(app, `/v1/settlement-runs/${first.id}/finalize`, undefined)).statusCode !== 200) return false
    // The finalized year verifies clean: its line recomputed from what it stores, transfers included.
    if ((await get(app, `/v1/settlement-runs/${first.id}/verification`)).json().mismatchCount !== 0) return false
    const second = await created(t, app, '/v1/settlement-runs', { fiscalYear: year, agreementIds: [agreement.id] })
    for (const run of [first, second]) {
      const [line] = await linesOf(injectAs, run.id) as Line[]
      if (line?.calculationRequest === undefined) return false
      const calculation = (await post(app, '/v1/calculations', line.calculationRequest)).json()
      const printed = line.groups.map(({ writtenOff: _w, carriedToAgreementId: _c, ...g }) => g)
      const same = JSON.stringify(calculation.groups) === JSON.stringify(printed) &&
        (['revenueTotal', 'zoneShare', 'districtShare', 'advancesPaid', 'balanceDue'] as const).every((k) => calculation[k] === line[k])
      if (!same) return false
    }
    return true
  }), { numRuns: 25, seed: 20260114 }, 'random agreements settled over two years')
})
