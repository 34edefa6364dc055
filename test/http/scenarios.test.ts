import ExcelJS from 'exceljs'
import t, { type Test } from 'tap'
import type { Database } from '../../src/db/database.js'
import { expectProblem, rowCount, testApp, testDatabase } from '../helpers.js'
import { agreementBody, buildWorld, created, injector, linesOf, type Caller } from '../world.js'
import { parseSvg } from '../svg.js'

// 测算 (api-contract.md, Scenarios; calculation-rules.md §2–§6, §9): POST /v1/scenarios settles an agreement as it is and as
// changed, year by year, with the settlement run's engine; nothing is stored.
// The world's agreements (2020 on, base year 2019): taxes = 10101 + 10104, increment, fixed base 1000.00,
// bands [≤ 10% at 0.60, rest at 0.80], carry_forward; fees = 10304, total at 0.60.
//
// The worked example (README, "Scenarios (测算)"; proposed for calculation-rules.md §8): agreement ht, revenue on record
// taxes 2020 900.00, 2021 1150.00 (1000.00 + 150.00); fees 2020 100.00, 2021 200.00; 2020 and 2021 settled and finalized.
// Changed: taxes' first band 0.60 → 0.70. Growth after 2021: taxes 5% (the default), fees 0%.
//   2020  taxes B 1000.00, A 900.00: S = −100.00 < 0, carry_forward: Z 0.00 both ways, C_out 100.00.
//         fees 100.00 × 0.60 = 60.00.                                   totals Z 60.00 / 60.00, difference 0.00
//   2021  taxes A 1150.00: I 150.00, C_in 100.00, S 50.00 (within the first band, L₁ = 1000.00 × 0.10 = 100.00):
//         agreed 50.00 × 0.60 = 30.00, changed 50.00 × 0.70 = 35.00; fees 200.00 × 0.60 = 120.00.
//                                                                       totals Z 150.00 / 155.00, difference 5.00
//   2022  projected: taxes A = 1150.00 × 1.05 = 1207.50, S 207.50: agreed 100.00 × 0.60 + 107.50 × 0.80 = 60.00 + 86.00 = 146.00,
//         changed 70.00 + 86.00 = 156.00; fees 200.00 → 120.00.        totals Z 266.00 / 276.00, difference 10.00
//   2023  projected: taxes A = round(1150.00 × 1.05²) = round(1267.875) = 1267.88, S 267.88:
//         agreed 60.00 + 167.88 × 0.80 = 60.00 + 134.304 → 134.30 = 194.30, changed 70.00 + 134.30 = 204.30;
//         fees 120.00.                                                  totals Z 314.30 / 324.30, difference 10.00
//   2020–2023: revenue 5225.38; zone share 790.30 agreed, 815.30 changed: difference 25.00.

const database = await testDatabase(t)
const app = await testApp(t, database)
const world = await buildWorld(t, app)
const injectAs = injector(app, world)
const ht = world.agreements.ht

await created(t, app, '/v1/revenues', { records: [
  { zoneCode: 'QD-HT', category: '10101', year: 2020, month: 3, amount: '900.00' },
  { zoneCode: 'QD-HT', category: '10304', year: 2020, month: 3, amount: '100.00' },
  { zoneCode: 'QD-HT', category: '10101', year: 2021, month: 3, amount: '1000.00' },
  { zoneCode: 'QD-HT', category: '10104', year: 2021, month: 5, amount: '150.00' },
  { zoneCode: 'QD-HT', category: '10304', year: 2021, month: 3, amount: '200.00' },
] }, 200)
/** Settles and finalizes `years` of the agreement, each in a run of its own; answers the runs by year. */
async function signYears (agreementId: number, years: readonly number[]): Promise<Record<number, number>> {
  const signed: Record<number, number> = {}
  for (const year of years) {
    signed[year] = (await created(t, app, '/v1/settlement-runs', { fiscalYear: year, agreementIds: [agreementId] })).id
    await created(t, app, `/v1/settlement-runs/${signed[year]}/finalize`, undefined, 200)
  }
  return signed
}
const runs = await signYears(ht, [2020, 2021])

const worked = {
  agreementId: ht,
  changes: { groups: [{ name: 'taxes', rates: [{ upToGrowth: '0.10', rate: '0.70' }, { rate: '0.80' }] }] },
  fromYear: 2020,
  toYear: 2023,
  growth: { default: '0.05', byGroup: { fees: '0.00' } },
}

async function scenario (body: unknown, who: Caller = 'admin', query = '', headers: Record<string, string> = {}) {
  return injectAs(who, { method: 'POST', url: `/v1/scenarios${query}`, payload: body as object, headers })
}

interface GroupJson { name: string, base?: string, actual: string, zoneShare: string, districtShare: string, carriedShortfallIn?: string, carriedShortfallOut?: string, bands: unknown[], explanation?: string[] }
interface Totals { revenueTotal: string, zoneShare: string, districtShare: string }
interface YearJson { fiscalYear: number, projected: boolean, groups: Array<{ name: string, agreed: GroupJson, scenario: GroupJson, difference: string }>, totals: { agreed: Totals, scenario: Totals, difference: string } }
interface ScenarioJson { agreementId: number, fromYear: number, toYear: number, lastRecordedYear: number, minimumRate: { agreed: string, scenario: string }, years: YearJson[], totals: { agreed: Totals, scenario: Totals, difference: string } }

t.test('§8 worked example: one rate changed, over settled and projected years, with a carry-forward and a band', async (t) => {
  const response = await scenario(worked)
  t.equal(response.statusCode, 200, response.body)
  const body = response.json() as ScenarioJson
  t.match(body, { agreementId: ht, fromYear: 2020, toYear: 2023, lastRecordedYear: 2021, minimumRate: { agreed: '0.60', scenario: '0.60' } }, 'revenue on record to 2021')
  const row = (y: YearJson) => [y.fiscalYear, y.projected, ...y.groups.flatMap((g) => [g.name, g.agreed.actual, g.agreed.zoneShare, g.scenario.zoneShare, g.difference]),
    y.totals.agreed.zoneShare, y.totals.scenario.zoneShare, y.totals.difference]
  t.same(body.years.map(row), [
    [2020, false, 'taxes', '900.00', '0.00', '0.00', '0.00', 'fees', '100.00', '60.00', '60.00', '0.00', '60.00', '60.00', '0.00'],
    [2021, false, 'taxes', '1150.00', '30.00', '35.00', '5.00', 'fees', '200.00', '120.00', '120.00', '0.00', '150.00', '155.00', '5.00'],
    [2022, true, 'taxes', '1207.50', '146.00', '156.00', '10.00', 'fees', '200.00', '120.00', '120.00', '0.00', '266.00', '276.00', '10.00'],
    [2023, true, 'taxes', '1267.88', '194.30', '204.30', '10.00', 'fees', '200.00', '120.00', '120.00', '0.00', '314.30', '324.30', '10.00'],
  ])
  t.same(body.years.map((y) => [y.totals.agreed, y.totals.scenario]), [
    [{ revenueTotal: '1000.00', zoneShare: '60.00', districtShare: '940.00' }, { revenueTotal: '1000.00', zoneShare: '60.00', districtShare: '940.00' }],
    [{ revenueTotal: '1350.00', zoneShare: '150.00', districtShare: '1200.00' }, { revenueTotal: '1350.00', zoneShare: '155.00', districtShare: '1195.00' }],
    [{ revenueTotal: '1407.50', zoneShare: '266.00', districtShare: '1141.50' }, { revenueTotal: '1407.50', zoneShare: '276.00', districtShare: '1131.50' }],
    [{ revenueTotal: '1467.88', zoneShare: '314.30', districtShare: '1153.58' }, { revenueTotal: '1467.88', zoneShare: '324.30', districtShare: '1143.58' }],
  ])
  t.same(body.totals, {
    agreed: { revenueTotal: '5225.38', zoneShare: '790.30', districtShare: '4435.08' },
    scenario: { revenueTotal: '5225.38', zoneShare: '815.30', districtShare: '4410.08' },
    difference: '25.00',
  })
  const [y2020, y2021, , y2023] = body.years
  t.match(y2020?.groups[0], { agreed: { shareable: '-100.00', carriedShortfallOut: '100.00' }, scenario: { shareable: '-100.00', carriedShortfallOut: '100.00', bands: [] } }, '§5.5 carry_forward: C_out 100.00')
  t.match(y2021?.groups[0], { agreed: { carriedShortfallIn: '100.00', shareable: '50.00' }, scenario: { carriedShortfallIn: '100.00', shareable: '50.00' } }, '§6 C_out of 2020 is C_in of 2021 in both versions')
  t.same(y2021?.groups[0]?.scenario.bands, [{ rate: '0.70', amount: '50.00', zoneShare: '35.00' }, { rate: '0.80', amount: '0.00', zoneShare: '0.00' }])
  t.same(y2023?.groups[0]?.agreed.bands, [{ rate: '0.60', amount: '100.00', zoneShare: '60.00' }, { rate: '0.80', amount: '167.88', zoneShare: '134.30' }], '167.88 × 0.80 = 134.304 → 134.30')
  t.same(y2021?.groups[0]?.scenario.explanation, [
    '基数（固定）= 核定基数 1000.00（2019年） = 1000.00',
    '增量 = 实际 1150.00 − 基数 1000.00 = 150.00',
    '可分成增量 = 增量 150.00 − 上年结转短收 100.00 = 50.00',
    '第1档（增长不超过基数的10%，上限 100.00）：50.00 × 0.70 = 35.00',
    '第2档（超出部分）：0.00 × 0.80 = 0.00',
    '各档合计 = 35.00 + 0.00 = 35.00',
    '功能区分成 35.00；属地政府留成 = 实际 1150.00 − 35.00 = 1115.00',
  ], 'the explanation of the changed version, as POST /v1/calculations gives it')
  t.notOk('explanation' in (y2021?.groups[0]?.agreed ?? {}), 'the agreed figures carry no explanation')

  const calculation = await injectAs('admin', { method: 'POST', url: '/v1/calculations', payload: {
    fiscalYear: 2021, groups: [{ name: 'taxes', basis: 'increment', base: '1000.00', actual: '1150.00', rates: worked.changes.groups[0]?.rates, shortfall: 'carry_forward', carriedShortfall: '100.00' }],
  } })
  t.same(calculation.json().groups[0].explanation.slice(1), y2021?.groups[0]?.scenario.explanation?.slice(1), 'the same text as the calculation endpoint (whose base is given, not a rule)')

  const english = (await scenario(worked, 'admin', '', { 'accept-language': 'en' })).json() as ScenarioJson
  t.equal(english.years[1]?.groups[0]?.scenario.explanation?.[1], 'Increment = actual 1150.00 − base 1000.00 = 150.00', 'English with Accept-Language: en')
})

t.test('§9 the settled years equal the finalized lines; a range that starts later runs the carry chain from the agreement\'s first year', async (t) => {
  const body = (await scenario({ agreementId: ht, changes: {}, fromYear: 2020, toYear: 2021 })).json() as ScenarioJson
  for (const year of [2020, 2021]) {
    const [line] = await linesOf(injectAs, runs[year] ?? 0)
    const settled = body.years.find((y) => y.fiscalYear === year)
    t.same(settled?.totals.agreed, { revenueTotal: line?.revenueTotal, zoneShare: line?.zoneShare, districtShare: line?.districtShare }, `${year}: the finalized line's totals`)
    const lineGroups = (line?.groups as GroupJson[]).map(({ explanation: _e, ...figures }) => figures)
    t.same(settled?.groups.map((g) => g.agreed), lineGroups, `${year}: the finalized line's groups, figure for figure`)
    t.same(settled?.groups.map((g) => g.difference), ['0.00', '0.00'])
  }
  const later = (await scenario({ ...worked, fromYear: 2022 })).json() as ScenarioJson
  const whole = (await scenario(worked)).json() as ScenarioJson
  t.same(later.years, whole.years.slice(2), '2022–2023 alone: the 2020 shortfall was carried through 2021 all the same')
})

t.test('changes: a floor, a base, a basis, a shortfall policy, transfers; every key within its scope', async (t) => {
  const base = await scenario({ ...worked, changes: { groups: [{ name: 'taxes', base: { amount: '1100.00', mode: 'fixed' }, shortfall: 'none' }] } })
  const y = (base.json() as ScenarioJson).years
  t.same(y.map((x) => x.groups[0]?.scenario.zoneShare), ['0.00', '30.00', '64.50', '112.30'],
    'base 1100.00 (L₁ = 110.00), shortfall none: 2020 nothing carried; 2021 S = 50.00 × 0.60 = 30.00; 2022 S = 107.50 × 0.60 = 64.50; ' +
    '2023 S = 167.88: 110.00 × 0.60 + 57.88 × 0.80 = 66.00 + 46.304 → 46.30 = 112.30')
  t.same(y.map((x) => x.groups[0]?.scenario.carriedShortfallOut), ['0.00', '0.00', '0.00', '0.00'], '§5.5 none: the district bears the 2020 shortfall')
  const transfer = await scenario({ ...worked, changes: { groups: [{ name: 'taxes', transfers: [{ function: '教育', direction: 'to_zone', fromYear: 2022, documentNo: '青政字〔2022〕1号', funding: { method: 'fixed', amount: '100.00' } }] }] } })
  t.same((transfer.json() as ScenarioJson).years.map((x) => x.groups[0]?.scenario.base), ['1000.00', '1000.00', '900.00', '900.00'], '§4 a transfer to the zone lowers the base from 2022')
  t.match((transfer.json() as ScenarioJson).years[2]?.groups[0]?.scenario.explanation?.[0], / − 事权划转 100\.00（「教育」划归功能区，青政字〔2022〕1号，F\(2022\) = 100\.00）/)
  const total = await scenario({ ...worked, changes: { groups: [{ name: 'taxes', basis: 'total', rates: [{ rate: '0.65' }] }, { name: 'fees', rates: [{ rate: '0.65' }] }], minimumRate: '0.65' } })
  const totalYears = (total.json() as ScenarioJson)
  t.same(totalYears.years.map((x) => x.groups[0]?.scenario.zoneShare), ['585.00', '747.50', '784.88', '824.12'], 'basis total at 0.65: 900.00, 1150.00, 1207.50, 1267.88 × 0.65 (784.875 → 784.88, 824.122 → 824.12)')
  t.same(totalYears.minimumRate, { agreed: '0.60', scenario: '0.65' })
  for (const who of ['district214', 'zoneHT'] as const) {
    t.same((await scenario(worked, who)).json(), (await scenario(worked)).json(), `${who} runs it within its scope`)
  }
})

/** Rows of the tables that a scenario must never write to. */
const STORED: Array<keyof Database> = ['settlement_runs', 'settlement_lines', 'audit_events', 'agreements', 'responsibility_transfers', 'idempotency_keys']

async function refused (t: Test, body: unknown, status: number, pointer: string | undefined, detail: RegExp, who: Caller = 'admin') {
  const before = await Promise.all(STORED.map((table) => rowCount(database, table)))
  const problem = expectProblem(t, await scenario(body, who), status)
  t.match(problem.detail, detail)
  if (pointer !== undefined) t.equal(problem.errors?.[0]?.pointer, pointer, `points at ${pointer}`)
  t.same(await Promise.all(STORED.map((table) => rowCount(database, table))), before, 'nothing stored')
  return problem
}

t.test('4xx: what is wrong and where, as problem+json, nothing stored', async (t) => {
  await refused(t, { ...worked, agreementId: 999 }, 404, undefined, /No agreement 999/)
  await refused(t, worked, 404, undefined, new RegExp(`No agreement ${ht}`), 'district203')
  await refused(t, worked, 404, undefined, new RegExp(`No agreement ${ht}`), 'zoneBL')
  await refused(t, { ...worked, changes: { groups: [{ name: 'levies', shortfall: 'none' }] } }, 422, '/changes/groups/0/name', /has no group "levies" \(its groups: taxes, fees\)/)
  await refused(t, { ...worked, changes: { groups: [{ name: 'taxes', rates: [{ upToGrowth: '0.10', rate: '0.55' }, { rate: '0.80' }] }] } }, 422, '/changes/groups/0/rates/0/rate',
    /rate 0\.55 is below the floor of 0\.60 \(不低于60%\)/)
  await refused(t, { ...worked, changes: { minimumRate: '0.70' } }, 422, '/changes/minimumRate', /group "taxes", agreed rates\/0\/rate: rate 0\.60 is below the floor of 0\.70/)
  await refused(t, { ...worked, changes: { minimumRate: '0.50' } }, 422, '/changes/minimumRate', /below the deployment floor of 0\.60/)
  // The base a group made increment needs is the change's to give, not an agreed term (it said "agreed base: base is required"; found by a probe).
  const baseless = await refused(t, { ...worked, changes: { groups: [{ name: 'fees', basis: 'increment' }] } }, 400, '/changes/groups/0/base', /not well-formed/)
  t.same(baseless.errors, [{ pointer: '/changes/groups/0/base', message: 'group "fees", changed to basis increment: base is required for basis increment' }])
  await refused(t, { ...worked, changes: { groups: [{ name: 'taxes', basis: 'total' }] } }, 422, '/changes/groups/0', /basis total allows one band only/)
  await refused(t, { ...worked, changes: { groups: [{ name: 'taxes', shortfall: 'none' }, { name: 'taxes', shortfall: 'deduct' }] } }, 422, '/changes/groups/1/name', /already changed by \/changes\/groups\/0/)
  await refused(t, { ...worked, changes: { groups: [{ name: 'fees', transfers: [{ function: '教育', direction: 'to_zone', fromYear: 2022, documentNo: 'x', funding: { method: 'fixed', amount: '1.00' } }] }] } },
    422, '/changes/groups/0/transfers', /basis total\): it has no base/)
  await refused(t, { ...worked, fromYear: 2023, toYear: 2022 }, 422, '/toYear', /toYear 2022 is before fromYear 2023/)
  await refused(t, { ...worked, fromYear: 2020, toYear: 2050 }, 422, '/toYear', /at most 30 years; 2020–2050 is 31/)
  await refused(t, { ...worked, fromYear: 2019 }, 422, '/fromYear', /not in force in 2019 \(2020–open\)/)
  await refused(t, { ...worked, growth: { default: '-1.00' } }, 422, '/growth/default', /greater than −1/)
  await refused(t, { ...worked, growth: { byGroup: { levies: '0.10' } } }, 422, '/growth/byGroup/levies', /has no group "levies"/)
  await refused(t, { ...worked, changes: { groups: [{ name: 'taxes', rates: [{ rate: 0.7 }] }] } }, 400, undefined, /does not match the schema/)
  await refused(t, { ...worked, agreementId: world.agreements.bl }, 422, '/agreementId', new RegExp(`Agreement ${world.agreements.bl} has no revenue on record`))
})

t.test('§1 magnitudes: a scenario that would print a figure beyond 18 integer digits points at the input of the request that led there', async (t) => {
  const huge = /more than 18 integer digits/
  await refused(t, { ...worked, growth: { default: '999.00' }, toYear: 2049 }, 422, '/growth/default', huge)
  await refused(t, { ...worked, growth: { default: '0.00', byGroup: { taxes: '999.00' } }, toYear: 2049 }, 422, '/growth/byGroup/taxes', /group "taxes": 2026 gives an actual revenue of more than 18 integer digits/)
  await refused(t, { ...worked, changes: { groups: [{ name: 'taxes', base: { amount: '1000.00', mode: 'escalating', growthRate: '9.00' } }] } , toYear: 2049 }, 422,
    '/changes/groups/0/base/growthRate', /as changed: .*group "taxes": 2034 gives an escalated base of more than 18 integer digits/)
  await refused(t, { ...worked, toYear: 2049, changes: { groups: [{ name: 'taxes', transfers: [{ function: '教育', direction: 'to_district', fromYear: 2022, documentNo: '青政字〔2022〕1号',
    funding: { method: 'indexed', amount: '1000.00', growthRate: '9.00' } }] }] } }, 422, '/changes/groups/0/transfers', /as changed: .*responsibility transfers/)
  // Each year fits, their sum does not: taxes grow 2.4 a year from 1150.00 (2021) to 1150.00 × 3.4^28 ≈ 8.7 × 10^17 in 2049;
  // Σ 2022–2049 ≈ 8.7 × 10^17 × 3.4 / 2.4 ≈ 1.2 × 10^18, 19 integer digits.
  await refused(t, { ...worked, growth: { default: '2.40', byGroup: { fees: '0.00' } }, toYear: 2049 }, 422, '/toYear', /totals over 2020–2049 .*more than 18 integer digits/)
  const fits = await scenario({ ...worked, growth: { default: '2.40', byGroup: { fees: '0.00' } }, toYear: 2047 })
  t.equal(fits.statusCode, 200, '2020–2047 sums to 18 integer digits: it is answered')
  t.match((fits.json() as ScenarioJson).totals.scenario.revenueTotal, /^\d{18}\.\d\d$/)

  // Two groups on a base of 0.00 shared whole, each moved by an 18-digit transfer (1,000,000 × 999,999,999,999.99), in
  // opposite directions: every figure of the year fits, and the year's total difference is 0.00, but swapping the
  // directions moves each group's zone share by 1,999,999,999,999,980,000.00, 19 integer digits.
  await created(t, app, '/v1/zones', { code: 'QD-SWAP', name: '换向', hostDistrictCode: '370214' })
  const swapped = await created(t, app, '/v1/agreements', {
    zoneCode: 'QD-SWAP', districtCode: '370214', documentNo: '青政字〔2020〕9号', effectiveFrom: 2020, baseYear: 2019,
    groups: ['10101', '10104'].map((category, i) => ({ name: `g${i + 1}`, basis: 'increment', categories: [category], base: { amount: '0.00', mode: 'fixed' }, rates: [{ rate: '1.00' }], shortfall: 'deduct' })),
  }) as { id: number }
  const transfer = (direction: string) => ({ function: '环卫', direction, fromYear: 2020, documentNo: '青政字〔2020〕10号', funding: { method: 'headcount', headcount: 1_000_000, unitCost: '999999999999.99' } })
  await created(t, app, '/v1/responsibility-transfers', { agreementId: swapped.id, group: 'g1', ...transfer('to_zone') })
  await created(t, app, '/v1/responsibility-transfers', { agreementId: swapped.id, group: 'g2', ...transfer('to_district') })
  await created(t, app, '/v1/revenues', { records: [{ zoneCode: 'QD-SWAP', category: '10101', year: 2020, month: 1, amount: '1.00' }] }, 200)
  const swap = { agreementId: swapped.id, fromYear: 2020, toYear: 2020, changes: { groups: [{ name: 'g1', transfers: [transfer('to_district')] }, { name: 'g2', transfers: [transfer('to_zone')] }] } }
  const problem = await refused(t, swap, 422, '/changes/groups/0', /2020, group "g1": the zone share as changed differs from the agreed one by more than 18 integer digits/)
  t.same(problem.errors?.map((e) => e.pointer), ['/changes/groups/0', '/changes/groups/1'], 'both groups named; before, 200 printing differences of 19 integer digits')
})

/** A CSV answer's rows as cells (the BOM and the title line dropped; no field in these tables holds a comma or a quote). */
function csvRows (text: string): string[][] {
  return text.replace(/^\uFEFF/, '').trimEnd().split('\r\n').slice(1).map((line) => line.split(','))
}

t.test('csv and xlsx: one row per year and group and a total per year, the figures of the JSON', async (t) => {
  const json = (await scenario(worked)).json() as ScenarioJson
  const expected = json.years.flatMap((y) => [
    ...y.groups.map((g) => [String(y.fiscalYear), g.name, g.scenario.actual, g.agreed.zoneShare, g.scenario.zoneShare, g.difference]),
    [String(y.fiscalYear), '', y.totals.scenario.revenueTotal, y.totals.agreed.zoneShare, y.totals.scenario.zoneShare, y.totals.difference],
  ])
  expected.push(['2020–2023', '', json.totals.scenario.revenueTotal, json.totals.agreed.zoneShare, json.totals.scenario.zoneShare, json.totals.difference])

  const csv = await scenario(worked, 'admin', '?format=csv')
  t.equal(csv.statusCode, 200)
  t.match(csv.headers['content-type'], /^text\/csv/)
  t.match(csv.headers['content-disposition'], new RegExp(`scenario-agreement-${ht}-2020-2023\\.csv`))
  const [header = [], ...rows] = csvRows(csv.body)
  const at = (name: string) => header.findIndex((h) => h.startsWith(name))
  const columns = ['年度', '口径组', '实际收入', '现行功能区分成', '测算功能区分成', '差额'].map(at)
  t.notOk(columns.includes(-1), 'every column is there')
  t.same(rows.map((r) => columns.map((c) => r[c] ?? '')), expected)
  t.same(rows.map((r) => r[at('行类型')]).filter((r) => r !== '口径组 group'), ['小计 year total', '小计 year total', '小计 year total', '小计 year total', '合计 total'])
  t.same(rows.map((r) => r[at('收入')]).slice(0, 3), ['实际 recorded', '实际 recorded', '实际 recorded'])

  const xlsx = await injectAs('admin', { method: 'POST', url: '/v1/scenarios?format=xlsx', payload: worked })
  t.equal(xlsx.statusCode, 200)
  const workbook = new ExcelJS.Workbook()
  await workbook.xlsx.load(xlsx.rawPayload as unknown as ArrayBuffer)
  const sheet = workbook.getWorksheet('测算')
  const cells: string[][] = []
  sheet?.eachRow((r, n) => { if (n > 2) cells.push((r.values as unknown[]).slice(1).map((v) => typeof v === 'number' ? v.toFixed(2) : String(v ?? ''))) })
  t.same(cells.map((r) => columns.map((c) => r[c] ?? '').map((v, i) => i === 0 ? v.replace(/\.00$/, '') : v)), expected, 'the same figures, amounts as numbers')
  const years: unknown[] = []
  sheet?.eachRow((r, n) => { if (n > 2) years.push(r.getCell(2).value) })
  t.ok(years.length > 0 && years.every((y) => typeof y === 'number' || (typeof y === 'string' && /^\d{4}–\d{4}$/.test(y))), 'each year a number; the range of a total row text', { years })
})

t.test('svg (api-contract.md, Scenarios): both zone shares by year, the projected years marked, Chinese axis names and legend', async (t) => {
  const response = await scenario(worked, 'admin', '?format=svg')
  t.equal(response.statusCode, 200)
  t.equal(response.headers['content-type'], 'image/svg+xml; charset=utf-8')
  const svg = parseSvg(response.body)
  t.match(svg.prolog, /<\?xml-stylesheet type="text\/css" href="\.\.\/assets\/statement-[0-9a-f]+\.css"\?>/, 'links the service\'s stylesheet and CJK font from /v1/scenarios')
  t.equal(svg.elements[0]?.name, 'svg')
  for (const text of ['年度', '金额（元）', '现行办法', '测算方案', '2020', '2021', '2022（预测）', '2023（预测）']) t.ok(svg.texts.includes(text), `names ${text}`)
  t.ok(svg.texts.some((text) => text.includes(`分成办法 ${ht}`)), 'the title names the agreement')
  t.ok(svg.texts.some((text) => text.includes('实际收入至 2021 年') && text.includes('差额合计 25.00')), 'the subtitle: where recorded revenue ends, the difference over the years')
  for (const label of ['150.00', '155.00', '314.30', '324.30']) t.ok(svg.texts.includes(label), `the zone share ${label}, as the figure is written`)
  const refused = await scenario({ ...worked, fromYear: 2023, toYear: 2022 }, 'admin', '?format=svg')
  t.equal(refused.statusCode, 422, 'a bad scenario is a problem in any format')
  t.match(refused.headers['content-type'], /^application\/problem\+json/)
})

t.test('README, Scenarios: a year settled and finalized on no revenue is on record, not projected: its figures are the signed line\'s, and the next year carries in its shortfall (found by a probe: it was projected from the year before)', async (t) => {
  const bl = world.agreements.bl
  await created(t, app, '/v1/revenues', { records: [
    { zoneCode: 'QD-BL', category: '10101', year: 2020, month: 3, amount: '1100.00' },
    { zoneCode: 'QD-BL', category: '10304', year: 2020, month: 3, amount: '100.00' },
  ] }, 200)
  const signed = await signYears(bl, [2020, 2021])
  const body = (await scenario({ agreementId: bl, changes: {}, fromYear: 2020, toYear: 2022, growth: { default: '0.05' } })).json() as ScenarioJson
  t.equal(body.lastRecordedYear, 2021, '2021 is settled and signed: on record')
  t.same(body.years.map((y) => [y.fiscalYear, y.projected, y.totals.agreed.revenueTotal]), [[2020, false, '1200.00'], [2021, false, '0.00'], [2022, true, '0.00']],
    'revenue after 2021 is projected from 2021\'s, as signed (before: 2021 projected at 1,260.00)')
  const [line] = await linesOf(injectAs, signed[2021] ?? 0)
  const y2021 = body.years[1]
  t.same(y2021?.totals.agreed, { revenueTotal: line?.revenueTotal, zoneShare: line?.zoneShare, districtShare: line?.districtShare }, '2021: the finalized line\'s totals')
  const taxesOut = (line?.groups as GroupJson[]).find((g) => g.name === 'taxes')?.carriedShortfallOut
  t.equal(taxesOut, '1000.00', 'the signed 2021 line carries out B − A = 1000.00 (no revenue, carry_forward)')
  t.equal(y2021?.groups[0]?.agreed.carriedShortfallOut, taxesOut, '2021 carries out what the signed line does')
  t.equal(body.years[2]?.groups[0]?.agreed.carriedShortfallIn, taxesOut, '2022 carries in what 2021 carried out: one chain')
})

t.test('README, Scenarios: revenue of the pair after the agreement ends is the next version\'s: the last year on record is the agreement\'s own, and its later years are projected (found by a probe: they were settled on 0.00)', async (t) => {
  await created(t, app, '/v1/zones', { code: 'QD-SN', name: '示例新区', hostDistrictCode: '370214' })
  const ended = (await created(t, app, '/v1/agreements', agreementBody('QD-SN', '370214', { effectiveTo: 2022, documentNo: '旧版' }))).id as number
  await created(t, app, '/v1/agreements', agreementBody('QD-SN', '370214', { effectiveFrom: 2023, baseYear: 2022, documentNo: '新版' }))
  await created(t, app, '/v1/revenues', { records: [
    { zoneCode: 'QD-SN', category: '10101', year: 2020, month: 3, amount: '1100.00' },
    { zoneCode: 'QD-SN', category: '10304', year: 2020, month: 3, amount: '100.00' },
    { zoneCode: 'QD-SN', category: '10101', year: 2023, month: 1, amount: '5.00' },
  ] }, 200)
  const body = (await scenario({ agreementId: ended, changes: {}, fromYear: 2020, toYear: 2022, growth: { default: '0.10' } })).json() as ScenarioJson
  t.equal(body.lastRecordedYear, 2020, 'the 2023 record is under the version that follows (before: 2023)')
  t.same(body.years.map((y) => [y.fiscalYear, y.projected, y.totals.agreed.revenueTotal]), [[2020, false, '1200.00'], [2021, true, '1320.00'], [2022, true, '1452.00']],
    '2021 and 2022 projected from 2020 at 10% (before: settled on 0.00, as if nothing had come in)')

  // With revenue of the pair only after its last year, the agreement has none on record of its own: said so, naming the year.
  await created(t, app, '/v1/zones', { code: 'QD-SO', name: '示例旧区', hostDistrictCode: '370214' })
  const bare = (await created(t, app, '/v1/agreements', agreementBody('QD-SO', '370214', { effectiveTo: 2022, documentNo: '旧版' }))).id as number
  await created(t, app, '/v1/revenues', { records: [{ zoneCode: 'QD-SO', category: '10101', year: 2023, month: 1, amount: '5.00' }] }, 200)
  const refused = expectProblem(t, await scenario({ agreementId: bare, changes: {}, fromYear: 2020, toYear: 2022 }), 422)
  t.equal(refused.detail, `Agreement ${bare} has no revenue on record up to 2022, its last year: a scenario settles the recorded years and projects later ones from the last of them.`)
  t.same(refused.errors, [{ pointer: '/agreementId', message: 'no revenue on record for the agreement\'s groups up to 2022, its last year' }])
})
