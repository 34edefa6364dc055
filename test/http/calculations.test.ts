import fc from 'fast-check'
import t from 'tap'
import { CalculationRequest } from '../../src/http/schemas/calculations.js'
import { contractRequest } from '../fixtures.js'
import { expectProblem, testApp, testDatabase } from '../helpers.js'
import { injector } from '../world.js'

// POST /v1/calculations (api-contract.md) through app.inject.
const app = await testApp(t, await testDatabase(t))
const injectAs = injector(app)

function calculate (body: unknown, headers: Record<string, string> = {}) {
  return injectAs('admin', { method: 'POST', url: '/v1/calculations', headers, payload: body as object })
}

/** The contract request with one group's fields replaced. */
function withGroup (index: number, patch: Record<string, unknown>, base: Record<string, unknown> = contractRequest) {
  const groups = (base.groups as Array<Record<string, unknown>>).map((g, i) => i === index ? { ...g, ...patch } : g)
  return { ...base, groups }
}

t.test('the contract example answers the contract response, figure by figure', async (t) => {
  const response = await calculate(contractRequest)
  t.equal(response.statusCode, 200)
  const body = response.json()
  t.match(body, {
    fiscalYear: 2021, minimumRate: '0.60', revenueTotal: '1330000.00', zoneShare: '228000.00',
    districtShare: '1102000.00', advancesPaid: '100000.00', balanceDue: '128000.00',
  })
  const [taxes, fees] = body.groups
  t.same({ ...taxes, explanation: undefined }, {
    name: 'taxes', basis: 'increment', base: '1000000.00', actual: '1250000.00', increment: '250000.00',
    carriedShortfallIn: '0.00', shareable: '250000.00',
    bands: [{ rate: '0.60', amount: '100000.00', zoneShare: '60000.00' }, { rate: '0.80', amount: '150000.00', zoneShare: '120000.00' }],
    zoneShare: '180000.00', districtShare: '1070000.00', carriedShortfallOut: '0.00', explanation: undefined,
  })
  t.ok(taxes.explanation.includes('增量 = 实际 1250000.00 − 基数 1000000.00 = 250000.00'), 'Chinese explanation by default')
  t.same({ ...fees, explanation: undefined }, {
    name: 'fees', basis: 'total', actual: '80000.00',
    bands: [{ rate: '0.60', amount: '80000.00', zoneShare: '48000.00' }],
    zoneShare: '48000.00', districtShare: '32000.00', explanation: undefined,
  }, 'basis total has no base, increment, carried shortfall or shareable')
  t.equal(response.headers['content-language'], 'zh-CN')
})

t.test('Accept-Language: en gives English explanations', async (t) => {
  const response = await calculate(contractRequest, { 'accept-language': 'en-GB,en;q=0.9,zh;q=0.5' })
  t.equal(response.statusCode, 200)
  t.ok(response.json().groups[0].explanation.includes('Increment = actual 1250000.00 − base 1000000.00 = 250000.00'))
  t.equal(response.headers['content-language'], 'en')
  const chinese = await calculate(contractRequest, { 'accept-language': 'zh-CN,en;q=0.8' })
  t.match(chinese.json().groups[1].explanation[0], /^全额分成/)
})

t.test('the Swagger UI example runs as-is', async (t) => {
  const example = (CalculationRequest as unknown as { examples: unknown[] }).examples[0]
  const response = await calculate(example)
  t.equal(response.statusCode, 200)
  const body = response.json()
  // escalating: round(500000.00 × 1.05²) − 20000.00 = 551250.00 − 20000.00 = 531250.00; I = 28750.00; Z = 17250.00
  t.match(body.groups[2], { base: '531250.00', increment: '28750.00', zoneShare: '17250.00', districtShare: '542750.00' })
  // scheduled: 800000.00 + 12 × 5000.00 (卫生健康 to the district) = 860000.00; S = 140000.00; 2021 is the second period:
  // 86000.00 × 0.80 = 68800.00 + 54000.00 × 0.60 = 32400.00 = 101200.00
  t.match(body.groups[3], {
    base: '860000.00', shareable: '140000.00', zoneShare: '101200.00', period: { fromYear: 2021, toYear: null, number: 2, of: 2 },
    bands: [{ rate: '0.80', amount: '86000.00', zoneShare: '68800.00' }, { rate: '0.60', amount: '54000.00', zoneShare: '32400.00' }],
  })
  t.equal(body.zoneShare, '346450.00')
  t.equal(body.balanceDue, '246450.00')
})

t.test('§8 worked examples through the endpoint', async (t) => {
  const one = (group: Record<string, unknown>, fiscalYear = 2021) => calculate({ fiscalYear, groups: [{ name: 'g', ...group }] })
  t.match((await one({ basis: 'increment', base: '1000.00', actual: '1050.00', rates: [{ rate: '0.60' }] })).json().groups[0],
    { increment: '50.00', zoneShare: '30.00', districtShare: '1020.00' }, '§8.1')
  t.match((await one({ basis: 'increment', base: '1000.00', actual: '900.00', rates: [{ rate: '0.60' }], shortfall: 'deduct' })).json().groups[0],
    { zoneShare: '-60.00', districtShare: '960.00', bands: [{ rate: '0.60', amount: '-100.00', zoneShare: '-60.00' }] }, '§8.4 deduct')
  t.match((await one({ basis: 'increment', base: '1000.00', actual: '900.00', rates: [{ rate: '0.60' }], shortfall: 'none' })).json().groups[0],
    { zoneShare: '0.00', districtShare: '900.00', bands: [] }, '§8.4 none')
  t.match((await one({ basis: 'increment', base: '1000.00', actual: '1250.00', rates: [{ rate: '0.60' }], shortfall: 'carry_forward', carriedShortfall: '100.00' })).json().groups[0],
    { shareable: '150.00', zoneShare: '90.00', carriedShortfallIn: '100.00' }, '§8.4 carried next year')
  t.match((await one({ basis: 'increment', base: '0.00', actual: '0.10', rates: [{ rate: '0.65' }] })).json().groups[0],
    { zoneShare: '0.07' }, '§8.5 0.065 → 0.07')
  t.match((await one({
    basis: 'increment', actual: '1200000.00', rates: [{ rate: '0.60' }],
    base: { amount: '1000000.00', baseYear: 2019, mode: 'escalating', growthRate: '0.05', adjustments: [{ fromYear: 2021, amount: '-50000.00' }] },
  }, 2022)).json().groups[0], { base: '1107625.00', increment: '92375.00', zoneShare: '55425.00' }, '§8.6')
  t.match((await one({
    basis: 'increment', actual: '1300.00', rates: [{ rate: '0.60' }],
    base: { baseYear: 2019, mode: 'prior_year', priorYearActual: '1100.00', adjustments: [{ fromYear: 2022, amount: '100.00' }, { fromYear: 2021, amount: '999.00' }] },
  }, 2022)).json().groups[0], { base: '1200.00', zoneShare: '60.00' }, '§4 prior_year: A(Y−1) + adjustments from Y only')
})

t.test('§8.7–§8.12 worked examples beyond calculation-rules.md §8 (README) through the endpoint: falling bands, a schedule by year, each funding method', async (t) => {
  const one = async (group: Record<string, unknown>, fiscalYear = 2021, language = 'zh') => {
    const response = await calculate({ fiscalYear, groups: [{ name: 'taxes', basis: 'increment', ...group }] }, { 'accept-language': language })
    t.equal(response.statusCode, 200, 'answered')
    return response.json().groups[0]
  }
  t.match(await one({ base: '1000000.00', actual: '1250000.00', rates: [{ upToGrowth: '0.10', rate: '0.80' }, { rate: '0.60' }] }), {
    shareable: '250000.00', zoneShare: '170000.00', districtShare: '1080000.00',
    bands: [{ rate: '0.80', amount: '100000.00', zoneShare: '80000.00' }, { rate: '0.60', amount: '150000.00', zoneShare: '90000.00' }],
  }, '§8.7 falling bands')
  const falling = [{ upToGrowth: '2.00', rate: '1.00' }, { rate: '0.60' }]
  t.equal((await one({ base: '1000.00', actual: '5000.00', rates: falling })).zoneShare, '3200.00', '§8.8 B 1000.00')
  t.equal((await one({ base: '1100.00', actual: '5000.00', rates: falling })).zoneShare, '3220.00', '§8.8 a larger base, B 1100.00, raises Z')
  const schedule = [{ fromYear: 2020, rates: [{ rate: '1.00' }] }, { fromYear: 2023, rates: [{ rate: '0.60' }] }]
  const y2022 = await one({ base: '1000000.00', actual: '1200000.00', schedule }, 2022)
  t.match(y2022, { zoneShare: '200000.00', districtShare: '1000000.00', period: { fromYear: 2020, toYear: 2022, number: 1, of: 2 } }, '§8.9 2022')
  t.equal(y2022.explanation[0], '分段期限：第1段（共2段），2020–2022年，适用本段分成比例')
  t.match(await one({ base: '1000000.00', actual: '1200000.00', schedule }, 2023), { zoneShare: '120000.00', period: { fromYear: 2023, toYear: null } }, '§8.9 2023')
  const education = { function: '教育', direction: 'to_district', fromYear: 2021, toYear: 2023, documentNo: '青政字〔2021〕5号', funding: { method: 'fixed', amount: '50000.00' } }
  const fixed = (fiscalYear: number) => one({ base: { amount: '1000000.00', baseYear: 2019, mode: 'fixed', transfers: [education] }, actual: '1000000.00', rates: [{ rate: '0.60' }] }, fiscalYear)
  t.equal((await fixed(2022)).base, '1050000.00', '§8.10 in force')
  t.equal((await fixed(2020)).base, '1000000.00', '§8.10 before')
  t.equal((await fixed(2024)).base, '1000000.00', '§8.10 after')
  const health = await one({
    base: {
      amount: '100000000.00', baseYear: 2019, mode: 'escalating', growthRate: '0.03',
      transfers: [{ function: '卫生健康', direction: 'to_district', fromYear: 2021, documentNo: '青政字〔2021〕5号', funding: { method: 'headcount', headcount: 12, unitCost: '180000.00' } }],
    },
    actual: '110000000.00', rates: [{ rate: '0.60' }],
  }, 2021, 'en')
  t.match(health, { base: '108250000.00', increment: '1750000.00', zoneShare: '1050000.00' }, '§8.11')
  t.equal(health.explanation[0],
    'Base (escalating) = escalated verified base 106090000.00 (100000000.00 × (1 + 0.03)^2 = 106090000.00) + transfer 2160000.00 ("卫生健康" to the district, 青政字〔2021〕5号, F(2021) = 12 staff × 180000.00 = 2160000.00) = 108250000.00')
  const indexed = await one({
    base: {
      baseYear: 2020, mode: 'prior_year', priorYearActual: '2000000.00',
      transfers: [{ function: '城市管理', direction: 'to_zone', fromYear: 2021, documentNo: '青政字〔2021〕5号', funding: { method: 'indexed', amount: '123456.78', growthRate: '0.05' } }],
    },
    actual: '2100000.00', rates: [{ rate: '0.60' }],
  }, 2023)
  t.equal(indexed.base, '1863888.90', '§8.12 A(2022) 2000000.00 − F(2023) 136111.10')
  t.match(indexed.explanation[0], / − 事权划转 136111\.10（.*F\(2023\) = 123456\.78 × \(1 \+ 0\.05\)\^2 = 136111\.09995 → 136111\.10） = 1863888\.90$/)
})

t.test('§7 no amount passes through a JavaScript number: 15-digit amounts come back exact', async (t) => {
  const response = await calculate({
    fiscalYear: 2021,
    groups: [
      { name: 'huge', basis: 'total', actual: '999999999999999.99', rates: [{ rate: '1' }] },
      { name: 'odd', basis: 'total', actual: '123456789012345.67', rates: [{ rate: '0.600001' }] },
    ],
    advancesPaid: '-999999999999999.99',
  })
  t.equal(response.statusCode, 200)
  const body = response.json()
  t.equal(body.groups[0].zoneShare, '999999999999999.99')
  // 123456789012345.67 × 0.600001 = 74074196864196.41434567 → 74074196864196.41 (a double would say …196.4)
  t.equal(body.groups[1].zoneShare, '74074196864196.41')
  t.equal(body.groups[1].districtShare, '49382592148149.26')
  t.equal(body.revenueTotal, '1123456789012345.66')
  t.equal(body.zoneShare, '1074074196864196.40')
  t.equal(body.balanceDue, '2074074196864196.39')

  await fc.assert(fc.asyncProperty(fc.bigInt({ min: 0n, max: 10n ** 17n - 1n }), async (cents) => {
    const amount = `${cents / 100n}.${(cents % 100n).toString().padStart(2, '0')}`
    const r = await calculate({ fiscalYear: 2021, groups: [{ name: 'g', basis: 'total', actual: amount, rates: [{ rate: '1.000000' }] }] })
    const g = r.json().groups[0]
    return g.actual === amount && g.zoneShare === amount && g.districtShare === '0.00'
  }), { numRuns: 200, seed: 7 })
})

t.test('the longest base line (100 adjustments, each with the longest document number) stays within the documented bound (api-contract.md, POST /v1/calculations: explanation; calculation-rules.md §4; found by the fuzzer)', async (t) => {
  const adjustments = Array.from({ length: 100 }, (_, i) => ({ fromYear: 2020 + (i % 2), amount: i % 2 === 0 ? '-999999999999999.99' : '999999999999999.99', documentNo: '号'.repeat(100) }))
  for (const language of ['zh', 'en']) {
    const response = await injectAs('admin', {
      method: 'POST', url: '/v1/calculations', headers: { 'accept-language': language },
      payload: { fiscalYear: 2021, groups: [{ name: 'taxes', basis: 'increment', base: { amount: '1000000.00', baseYear: 2019, mode: 'fixed', adjustments }, actual: '1250000.00', rates: [{ rate: '0.60' }] }] },
    })
    t.equal(response.statusCode, 200, `${language}: answered, and the answer holds to the document (testApp checks it)`)
    const baseLine = (response.json().groups[0].explanation as string[])[0]!
    t.ok(baseLine.length > 2000 && baseLine.length <= 20_000, `${language}: the base line lists all 100 adjustments in ${baseLine.length} characters`)
  }
})

const ruleBase = { amount: '1000000.00', baseYear: 2019, mode: 'fixed' }
const transfer = { function: '教育', direction: 'to_district', fromYear: 2021, documentNo: '青政字〔2021〕5号', funding: { method: 'fixed', amount: '50000.00' } }

t.test('§1 a base that responsibility transfers move beyond 18 integer digits is a 422 naming the transfers, not a 500', async (t) => {
  const huge = { function: '教育', direction: 'to_district', fromYear: 2021, documentNo: 'x', funding: { method: 'headcount', headcount: 1_000_000, unitCost: '999999999999999.99' } }
  const problem = expectProblem(t, await calculate({
    fiscalYear: 2021, groups: [{ name: 'taxes', basis: 'increment', base: { ...ruleBase, transfers: [huge] }, actual: '1.00', rates: [{ rate: '0.60' }] }],
  }), 422)
  t.same(problem.errors?.map((e) => e.pointer), ['/groups/0/base/transfers'])
  t.match(problem.detail, /responsibility transfers/)
})

t.test('§1 a base that fits is still a 422 when its explanation would print a figure beyond 18 integer digits on the way: a transfer\'s F(Y), or the escalated base', async (t) => {
  // Two opposite transfers of 1,000,000 staff × 999,999,999,999,999.99 = 999,999,999,999,999,990,000.00 each (21 digits): B(Y) stays 1,000,000.00.
  const huge = { function: '教育', direction: 'to_district', fromYear: 2021, documentNo: 'x', funding: { method: 'headcount', headcount: 1_000_000, unitCost: '999999999999999.99' } }
  const opposite = { ...huge, direction: 'to_zone' }
  const transfers = expectProblem(t, await calculate({
    fiscalYear: 2021, groups: [{ name: 'taxes', basis: 'increment', base: { ...ruleBase, transfers: [huge, opposite] }, actual: '1.00', rates: [{ rate: '0.60' }] }],
  }), 422)
  t.same(transfers.errors?.map((e) => e.pointer), ['/groups/0/base/transfers'])
  t.match(transfers.detail, /group "taxes".*responsibility transfer \(事权划转\) whose funding for the year has more than 18 integer digits/)
  // 10,000,000,000,000.00 × (1 + 9)^6 = 10^19 (20 digits), less ten transfers to the zone of 1,000 × 999,999,999,999,999.99 each (18 digits): B(2021) = 100.00.
  const toZone = Array.from({ length: 10 }, (_, i) => ({ ...huge, function: `事项${i}`, direction: 'to_zone', funding: { method: 'headcount', headcount: 1000, unitCost: '999999999999999.99' } }))
  const escalating = { amount: '10000000000000.00', baseYear: 2015, mode: 'escalating', growthRate: '9', transfers: toZone }
  const escalated = expectProblem(t, await calculate({
    fiscalYear: 2021, groups: [{ name: 'taxes', basis: 'increment', base: escalating, actual: '1.00', rates: [{ rate: '0.60' }] }],
  }), 422)
  t.same(escalated.errors?.map((e) => e.pointer), ['/groups/0/base/growthRate'])
  t.match(escalated.detail, /escalated base of more than 18 integer digits \(the growth compounds over 6 years\)/)
  const fits = await calculate({
    fiscalYear: 2021, groups: [{ name: 'taxes', basis: 'increment', base: { ...escalating, amount: '999999999999.99', transfers: toZone.slice(0, 1) }, actual: '1.00', rates: [{ rate: '0.60' }] }],
  })
  t.equal(fits.statusCode, 200, 'an escalated base of 18 digits with a transfer of 18 digits is answered')
  t.equal(fits.json().groups[0].base, '-9990.00', '999,999,999,999,990,000.00 − 999,999,999,999,999,990.00')
})

t.test('§1 bases and increments that each fit but whose sums over the groups would not (an agreement\'s history prints them) are a 422 at /groups', async (t) => {
  // Two escalating bases: 600,000,000,000.00 × (1 + 999)^(2021 − 2019) = 600,000,000,000,000,000.00 each (18 digits); Σ 1.2 × 10^18.
  const escalating = { amount: '600000000000.00', baseYear: 2019, mode: 'escalating', growthRate: '999' }
  const group = (name: string, base: object) => ({ name, basis: 'increment', base, actual: '1.00', rates: [{ rate: '0.60' }] })
  const problem = expectProblem(t, await calculate({ fiscalYear: 2021, groups: [group('taxes', escalating), group('levies', escalating)] }), 422)
  t.same(problem.errors?.map((e) => e.pointer), ['/groups'])
  t.match(problem.detail, /totals over the groups of more than 18 integer digits/)
  const one = await calculate({ fiscalYear: 2021, groups: [group('taxes', escalating), group('levies', ruleBase)] })
  t.equal(one.statusCode, 200, 'one of them fits with a small base beside it')
  t.equal(one.json().groups[0].base, '600000000000000000.00')
})

t.test('the longest base line (100 adjustments and 100 responsibility transfers, each with the longest texts and an exact F(Y) of some 650 decimals) ' +
  'stays within the documented bound (api-contract.md, POST /v1/calculations: explanation; calculation-rules.md §4)', async (t) => {
  const adjustments = Array.from({ length: 100 }, (_, i) => ({ fromYear: 2020 + (i % 2), amount: i % 2 === 0 ? '-999999999999999.99' : '999999999999999.99', documentNo: '号'.repeat(100) }))
  // Opposite transfers of the same funding cancel out: the base stays small while each F(Y) prints in full.
  const transfers = Array.from({ length: 100 }, (_, i) => ({
    function: '事'.repeat(200), direction: i % 2 === 0 ? 'to_zone' : 'to_district', fromYear: 1991, documentNo: '号'.repeat(100),
    funding: { method: 'indexed', amount: '999999999999999.99', growthRate: '-0.999999' },
  }))
  for (const language of ['zh', 'en']) {
    const response = await injectAs('admin', {
      method: 'POST', url: '/v1/calculations', headers: { 'accept-language': language },
      payload: { fiscalYear: 2100, groups: [{ name: 'taxes', basis: 'increment', base: { amount: '1000000.00', baseYear: 1990, mode: 'fixed', adjustments, transfers }, actual: '1250000.00', rates: [{ rate: '0.60' }] }] },
    })
    t.equal(response.statusCode, 200, `${language}: answered, and the answer holds to the document (testApp checks it)`)
    const group = response.json().groups[0]
    t.equal(group.base, '1000000.00', 'the transfers cancel out')
    t.ok(group.explanation[0].length > 100_000, `${language}: the base line cites all 100 transfers in ${group.explanation[0].length as number} characters`)
  }
})

t.test('bad input: each answers its status with problem+json and a pointer', async (t) => {
  const cases: Array<[string, unknown, number, string]> = [
    ['money as a JSON number', withGroup(0, { actual: 1250000 }), 400, '/groups/0/actual'],
    ['three decimals', withGroup(0, { actual: '1250000.005' }), 400, '/groups/0/actual'],
    ['an exponent', withGroup(0, { base: '1e6' }), 400, '/groups/0/base'],
    ['NaN as a string', withGroup(1, { actual: 'NaN' }), 400, '/groups/1/actual'],
    ['an empty amount', { ...contractRequest, advancesPaid: '' }, 400, '/advancesPaid'],
    ['a rate as a number', withGroup(1, { rates: [{ rate: 0.6 }] }), 400, '/groups/1/rates/0/rate'],
    ['a rate above 1', withGroup(1, { rates: [{ rate: '1.5' }] }), 400, '/groups/1/rates/0/rate'],
    ['a rate with seven decimals', withGroup(1, { rates: [{ rate: '0.6000001' }] }), 400, '/groups/1/rates/0/rate'],
    ['the fiscal year as a string', { ...contractRequest, fiscalYear: '2021' }, 400, '/fiscalYear'],
    ['missing base for basis increment', withGroup(0, { base: undefined }), 400, '/groups/0/base'],
    ['a base for basis total', withGroup(1, { base: '1.00' }), 400, '/groups/1/base'],
    ['no groups', { ...contractRequest, groups: [] }, 400, '/groups'],
    ['too many groups (51)', { ...contractRequest, groups: Array.from({ length: 51 }, (_, i) => ({ name: `f${i}`, basis: 'total', actual: '1.00', rates: [{ rate: '0.60' }] })) }, 400, '/groups'],
    ['an unknown field', { ...contractRequest, zoneShare: '1.00' }, 400, '/zoneShare'],
    ['an unknown basis', withGroup(1, { basis: 'gross' }), 400, '/groups/1/basis'],
    ['missing upToGrowth on a band before the last', withGroup(0, { rates: [{ rate: '0.60' }, { rate: '0.80' }] }), 400, '/groups/0/rates/0/upToGrowth'],
    ['upToGrowth on the last band', withGroup(1, { rates: [{ upToGrowth: '0.10', rate: '0.60' }] }), 400, '/groups/1/rates/0/upToGrowth'],
    ['carriedShortfall without carry_forward', withGroup(0, { shortfall: 'none', carriedShortfall: '5.00' }), 400, '/groups/0/carriedShortfall'],
    ['a negative carried shortfall', withGroup(0, { carriedShortfall: '-5.00' }), 400, '/groups/0/carriedShortfall'],
    ['escalating without growthRate', withGroup(0, { base: { amount: '1.00', baseYear: 2019, mode: 'escalating' } }), 400, '/groups/0/base/growthRate'],
    ['rate below the floor', withGroup(0, { rates: [{ upToGrowth: '0.10', rate: '0.59' }, { rate: '0.80' }] }), 422, '/groups/0/rates/0/rate'],
    ['minimumRate below the deployment floor', { ...contractRequest, minimumRate: '0.50' }, 422, '/minimumRate'],
    ['a rate below a raised minimumRate', { ...contractRequest, minimumRate: '0.70' }, 422, '/groups/0/rates/0/rate'],
    ['bands out of order', withGroup(0, { rates: [{ upToGrowth: '0.20', rate: '0.60' }, { upToGrowth: '0.10', rate: '0.70' }, { rate: '0.80' }] }), 422, '/groups/0/rates/1/upToGrowth'],
    ['a falling rate below the floor', withGroup(0, { rates: [{ upToGrowth: '0.10', rate: '0.80' }, { rate: '0.55' }] }), 422, '/groups/0/rates/1/rate'],
    ['rates and a schedule', withGroup(0, { schedule: [{ fromYear: 2020, rates: [{ rate: '0.60' }] }] }), 400, '/groups/0/schedule'],
    ['neither rates nor a schedule', withGroup(1, { rates: undefined }), 400, '/groups/1/rates'],
    ['an empty schedule', withGroup(1, { rates: undefined, schedule: [] }), 400, '/groups/1/schedule'],
    ['schedule periods out of order', withGroup(1, { rates: undefined, schedule: [{ fromYear: 2020, rates: [{ rate: '0.60' }] }, { fromYear: 2020, rates: [{ rate: '0.70' }] }] }), 422, '/groups/1/schedule/1/fromYear'],
    ['a schedule that starts after the fiscal year', withGroup(1, { rates: undefined, schedule: [{ fromYear: 2022, rates: [{ rate: '0.60' }] }] }), 422, '/groups/1/schedule/0/fromYear'],
    ['a schedule period below the floor', withGroup(1, { rates: undefined, schedule: [{ fromYear: 2020, rates: [{ rate: '0.60' }] }, { fromYear: 2021, rates: [{ rate: '0.50' }] }] }), 422, '/groups/1/schedule/1/rates/0/rate'],
    ['basis total with two bands in a period', withGroup(1, { rates: undefined, schedule: [{ fromYear: 2020, rates: [{ upToGrowth: '0.10', rate: '0.60' }, { rate: '0.80' }] }] }), 422, '/groups/1/schedule/0/rates'],
    ['a transfer without its funding', withGroup(0, { base: { ...ruleBase, transfers: [{ ...transfer, funding: undefined }] } }), 400, '/groups/0/base/transfers/0/funding'],
    ['a transfer in an unknown direction', withGroup(0, { base: { ...ruleBase, transfers: [{ ...transfer, direction: 'to_city' }] } }), 400, '/groups/0/base/transfers/0/direction'],
    ['a headcount transfer without unitCost', withGroup(0, { base: { ...ruleBase, transfers: [{ ...transfer, funding: { method: 'headcount', headcount: 12 } }] } }), 400, '/groups/0/base/transfers/0/funding/unitCost'],
    ['a fractional headcount', withGroup(0, { base: { ...ruleBase, transfers: [{ ...transfer, funding: { method: 'headcount', headcount: 12.5, unitCost: '1.00' } }] } }), 400, '/groups/0/base/transfers/0/funding/headcount'],
    ['a fixed transfer with a growthRate', withGroup(0, { base: { ...ruleBase, transfers: [{ ...transfer, funding: { method: 'fixed', amount: '1.00', growthRate: '0.05' } }] } }), 400, '/groups/0/base/transfers/0/funding/growthRate'],
    ['a transfer of zero', withGroup(0, { base: { ...ruleBase, transfers: [{ ...transfer, funding: { method: 'fixed', amount: '0.00' } }] } }), 422, '/groups/0/base/transfers/0/funding/amount'],
    ['a negative transfer amount', withGroup(0, { base: { ...ruleBase, transfers: [{ ...transfer, funding: { method: 'fixed', amount: '-5.00' } }] } }), 400, '/groups/0/base/transfers/0/funding/amount'],
    ['a transfer ending before it starts', withGroup(0, { base: { ...ruleBase, transfers: [{ ...transfer, toYear: 2020 }] } }), 422, '/groups/0/base/transfers/0/toYear'],
    ['a transfer from the base year', withGroup(0, { base: { ...ruleBase, transfers: [{ ...transfer, fromYear: 2019 }] } }), 422, '/groups/0/base/transfers/0/fromYear'],
    ['an indexed transfer shrinking by 100% a year', withGroup(0, { base: { ...ruleBase, transfers: [{ ...transfer, funding: { method: 'indexed', amount: '1.00', growthRate: '-1' } }] } }), 422, '/groups/0/base/transfers/0/funding/growthRate'],
    ['upToGrowth of zero', withGroup(0, { rates: [{ upToGrowth: '0', rate: '0.60' }, { rate: '0.80' }] }), 422, '/groups/0/rates/0/upToGrowth'],
    ['basis total with two bands', withGroup(1, { rates: [{ upToGrowth: '0.10', rate: '0.60' }, { rate: '0.80' }] }), 422, '/groups/1/rates'],
    ['two groups of one name', withGroup(1, { name: 'taxes' }), 422, '/groups/1/name'],
    ['prior_year without last year\'s actual', withGroup(0, { base: { baseYear: 2019, mode: 'prior_year' } }), 422, '/groups/0/base/priorYearActual'],
    ['a base year after the fiscal year', withGroup(0, { base: { amount: '1.00', baseYear: 2022, mode: 'fixed' } }), 422, '/groups/0/base/baseYear'],
  ]
  for (const [what, body, status, pointer] of cases) {
    const response = await calculate(body)
    const problem = expectProblem(t, response, status)
    t.ok(problem.errors?.some((e) => e.pointer === pointer), `${what}: ${status} pointing at ${pointer}`, { errors: problem.errors })
  }
})

t.test('the floor violation names the floor', async (t) => {
  const problem = expectProblem(t, await calculate(withGroup(1, { rates: [{ rate: '0.55' }] })), 422)
  t.match(problem.errors?.[0]?.message, /below the floor of 0\.60/)
  const raised = await injectAs('admin', { method: 'POST', url: '/v1/calculations', payload: { ...withGroup(1, { rates: [{ rate: '0.65' }] }), minimumRate: '0.70' } })
  t.match(expectProblem(t, raised, 422).errors?.map((e) => e.message).join(' '), /below the floor of 0\.70/)
})

t.test('a deployment with a higher MIN_ZONE_RATE enforces it', async (t) => {
  const injectAsStrict = injector(await testApp(t, await testDatabase(t), { minZoneRate: '0.65' }))
  const response = await injectAsStrict('admin', { method: 'POST', url: '/v1/calculations', payload: contractRequest })
  const problem = expectProblem(t, response, 422)
  t.ok(problem.errors?.some((e) => e.pointer === '/minimumRate'), 'the request\'s 0.60 is below the deployment\'s 0.65')
  const ok = await injectAsStrict('admin', { method: 'POST', url: '/v1/calculations', payload: { ...contractRequest, minimumRate: undefined, groups: [{ name: 'f', basis: 'total', actual: '100.00', rates: [{ rate: '0.65' }] }] } })
  t.equal(ok.statusCode, 200)
  t.equal(ok.json().minimumRate, '0.65')
})

t.test('malformed bodies', async (t) => {
  const raw = (payload: string, contentType = 'application/json') =>
    injectAs('admin', { method: 'POST', url: '/v1/calculations', headers: { 'content-type': contentType }, payload })
  expectProblem(t, await raw('{"fiscalYear": 2021, "groups": [{"name": "g", "basis": "total", "actual": NaN, "rates": [{"rate": "0.6"}]}]}'), 400)
  expectProblem(t, await raw('{"fiscalYear": 2021,'), 400)
  expectProblem(t, await raw('fiscalYear=2021', 'text/plain'), 415)
  expectProblem(t, await raw('<fiscalYear>2021</fiscalYear>', 'application/xml'), 415)
  expectProblem(t, await raw('{"__proto__": {"x": 1}, "fiscalYear": 2021, "groups": []}'), 400)
})

t.test('a body over the limit answers 413', async (t) => {
  const big = { ...contractRequest, groups: [{ ...contractRequest.groups[1], name: 'x'.repeat(2 * 1024 * 1024) }] }
  const problem = expectProblem(t, await calculate(big), 413)
  t.match(problem.detail, /too large/i)
})

t.test('the bearer token', async (t) => {
  const call = (headers: Record<string, string>) => app.inject({ method: 'POST', url: '/v1/calculations', headers, payload: contractRequest })
  const missing = await call({})
  expectProblem(t, missing, 401)
  t.match(missing.headers['www-authenticate'], /^Bearer/)
  expectProblem(t, await call({ authorization: 'Bearer wrong-token-wrong-token' }), 401)
  expectProblem(t, await call({ authorization: 'Basic dXNlcjpwYXNz' }), 401)
  expectProblem(t, await call({ authorization: 'Bearer ' }), 401)
  // The token is checked before the body: an unauthenticated caller learns nothing about validation.
  const unauthenticatedBad = await app.inject({ method: 'POST', url: '/v1/calculations', payload: { groups: 1 } })
  expectProblem(t, unauthenticatedBad, 401)
})

t.test('unknown routes answer 404 problem+json; public endpoints need no token', async (t) => {
  expectProblem(t, await injectAs('admin', { method: 'GET', url: '/v1/nothing-here' }), 404)
  const health = await app.inject({ method: 'GET', url: '/health' })
  t.equal(health.statusCode, 200)
  t.same(health.json(), { status: 'ok' })
  t.ok(health.headers['x-request-id'], 'every response carries its request id')
})

t.test('an explanation subtracts a negative amount in parentheses, never "− -" (found by a probe: "actual 0.00 − -2399999999999999.98")', async (t) => {
  const body = {
    fiscalYear: 2021,
    groups: [{ name: 'taxes', basis: 'increment', base: { amount: '0.00', baseYear: 2020, mode: 'fixed', adjustments: [{ fromYear: 2021, amount: '-50.00' }] }, actual: '0.00', rates: [{ rate: '0.60' }], shortfall: 'deduct' }],
  }
  const zh = (await calculate(body)).json()
  t.match(zh.groups[0], { base: '-50.00', increment: '50.00', zoneShare: '30.00' })
  t.ok(zh.groups[0].explanation.includes('增量 = 实际 0.00 − 基数 (-50.00) = 50.00'), zh.groups[0].explanation.join('\n'))
  const negative = (await calculate({ fiscalYear: 2021, groups: [{ ...body.groups[0], base: '100.00' }] }, { 'accept-language': 'en' })).json()
  t.match(negative.groups[0], { zoneShare: '-60.00', districtShare: '60.00' }, '§5.5 deduct: S = −100.00 at the first band\'s 0.60')
  t.equal(negative.groups[0].explanation.at(-1), 'Zone share -60.00; the district keeps actual 0.00 − (-60.00) = 60.00')
  for (const line of [...zh.groups[0].explanation, ...negative.groups[0].explanation] as string[]) t.notMatch(line, /− -/, line)
})
