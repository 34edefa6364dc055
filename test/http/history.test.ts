import ExcelJS from 'exceljs'
import t from 'tap'
import { expectProblem, testApp, testDatabase } from '../helpers.js'
import { parseSvg } from '../svg.js'
import { created, get, injector, post } from '../world.js'

/*
 * GET /v1/agreements/{id}/history (api-contract.md, Scenarios; calculation-rules.md §6, §9):
 * every settled year of an agreement told by the last finalized line of the year's chain, the
 * figures as stored, with the supplementary settlements' adjustments; csv, xlsx and svg.
 *
 * The agreement (QD-H1 / 城阳区, from 2020): `taxes` (10101, increment, fixed base 1000.00, one band
 * at 0.60, carry_forward) and `fees` (10304, total, 0.60). Revenue in January.
 *   2020: taxes 2000.00, fees 100.00 → Z = 0.60 × 1000.00 + 0.60 × 100.00 = 660.00 (§5, §6);
 *         advances 100.00 → balance 560.00. One annual run, finalized.
 *   2021: taxes 2500.00, fees 100.00 → Z 960.00; advances 50.00 → balance 910.00 (annual, finalized);
 *         taxes revised to 3000.00 → Z 1260.00, adjustment 300.00 (supplementary, finalized, §9);
 *         taxes revised to 3500.00 → Z 1560.00, adjustment 300.00 (a second supplementary, finalized).
 *   2022: taxes 1800.00 → a draft run only: absent from the history.
 */

const database = await testDatabase(t)
const app = await testApp(t, database)
const injectAs = injector(app)
await created(t, app, '/v1/districts', { code: '370214', name: '城阳区' })
await created(t, app, '/v1/districts', { code: '370203', name: '市北区' })
await created(t, app, '/v1/zones', { code: 'QD-H1', name: '历史测试区', hostDistrictCode: '370214' })
await created(t, app, '/v1/zones', { code: 'QD-H2', name: '另一功能区', hostDistrictCode: '370203' })

const id = (await created(t, app, '/v1/agreements', {
  zoneCode: 'QD-H1', districtCode: '370214', documentNo: '历〔2020〕1号', effectiveFrom: 2020, baseYear: 2019,
  groups: [
    { name: 'taxes', basis: 'increment', categories: ['10101'], base: { amount: '1000.00', mode: 'fixed' }, rates: [{ rate: '0.60' }], shortfall: 'carry_forward' },
    { name: 'fees', basis: 'total', categories: ['10304'], rates: [{ rate: '0.60' }] },
  ],
})).id as number
const other = (await created(t, app, '/v1/agreements', {
  zoneCode: 'QD-H2', districtCode: '370203', documentNo: '历〔2020〕2号', effectiveFrom: 2020, baseYear: 2019,
  groups: [{ name: 'taxes', basis: 'increment', categories: ['10101'], base: { amount: '1000.00', mode: 'fixed' }, rates: [{ rate: '0.60' }], shortfall: 'none' }],
})).id as number

/** The setup POSTs (outside any subtest: a refusal throws with its body). */
async function posted (url: string, payload: unknown, status: number) {
  const response = await post(app, url, payload)
  if (response.statusCode !== status) throw new Error(`POST ${url} answered ${response.statusCode}: ${response.body}`)
  return response.json() as { id: number }
}
async function revenue (year: number, taxes: string, fees?: string): Promise<void> {
  const records = [{ zoneCode: 'QD-H1', category: '10101', year, month: 1, amount: taxes }]
  if (fees !== undefined) records.push({ zoneCode: 'QD-H1', category: '10304', year, month: 1, amount: fees })
  await posted('/v1/revenues', { records }, 200)
}
async function settle (year: number, finalize = true): Promise<number> {
  const run = await posted('/v1/settlement-runs', { fiscalYear: year, agreementIds: [id] }, 201)
  if (finalize) await posted(`/v1/settlement-runs/${run.id}/finalize`, undefined, 200)
  return run.id
}

await revenue(2020, '2000.00', '100.00')
await posted('/v1/advances', { agreementId: id, fiscalYear: 2020, paidOn: '2020-06-30', amount: '100.00', documentNo: '预〔2020〕1号' }, 201)
const run2020 = await settle(2020)
await revenue(2021, '2500.00', '100.00')
await posted('/v1/advances', { agreementId: id, fiscalYear: 2021, paidOn: '2021-06-30', amount: '50.00', documentNo: '预〔2021〕1号' }, 201)
const run2021 = await settle(2021)
await revenue(2021, '3000.00')
const supplementary1 = await settle(2021)
await revenue(2021, '3500.00')
const supplementary2 = await settle(2021)
await revenue(2022, '1800.00')
await settle(2022, false)

interface HistoryYear {
  fiscalYear: number, runId: number, kind: string, revenueTotal: string, base: string | null, increment: string | null, zoneShare: string, districtShare: string,
  advancesPaid: string, balanceDue: string, annualZoneShare: string, adjustmentTotal: string,
  supplementary: Array<{ runId: number, zoneShare: string, adjustment: string, balanceAdjustment: string }>
}
interface History { agreementId: number, zoneCode: string, zoneName: string, districtCode: string, districtName: string, documentNo: string, years: HistoryYear[] }

const key = async (body: Record<string, string>) => (await created(t, app, '/v1/api-keys', { label: 'history test', ...body })) as { token: string }
const tokens = {
  district214: (await key({ role: 'district', districtCode: '370214' })).token,
  district203: (await key({ role: 'district', districtCode: '370203' })).token,
  zoneH1: (await key({ role: 'zone', zoneCode: 'QD-H1' })).token,
  zoneH2: (await key({ role: 'zone', zoneCode: 'QD-H2' })).token,
}

t.test('every finalized year, by the last line of its chain, the figures as stored (§9)', async (t) => {
  const response = await get(app, `/v1/agreements/${id}/history`)
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-type'], /^application\/json/)
  const history = response.json() as History
  t.match(history, { agreementId: id, zoneCode: 'QD-H1', zoneName: '历史测试区', districtCode: '370214', districtName: '城阳区', documentNo: '历〔2020〕1号' })
  t.same(history.years.map((y) => y.fiscalYear), [2020, 2021], '2022 has only a draft run: absent')
  t.same(history.years[0], {
    fiscalYear: 2020, runId: run2020, kind: 'annual', revenueTotal: '2100.00', base: '1000.00', increment: '1000.00', zoneShare: '660.00', districtShare: '1440.00',
    advancesPaid: '100.00', balanceDue: '560.00', annualZoneShare: '660.00', adjustmentTotal: '0.00', supplementary: [],
  }, '2020: one annual line')
  t.same(history.years[1], {
    fiscalYear: 2021, runId: supplementary2, kind: 'supplementary', revenueTotal: '3600.00', base: '1000.00', increment: '2500.00', zoneShare: '1560.00',
    districtShare: '2040.00', advancesPaid: '50.00', balanceDue: '1510.00', annualZoneShare: '960.00', adjustmentTotal: '600.00',
    supplementary: [
      { runId: supplementary1, zoneShare: '1260.00', adjustment: '300.00', balanceAdjustment: '300.00' },
      { runId: supplementary2, zoneShare: '1560.00', adjustment: '300.00', balanceAdjustment: '300.00' },
    ],
  }, '2021: the second supplementary line, the annual zone share and both adjustments')

  // Against the stored rows: the last finalized line of each chain, and the sum of its groups' bases.
  const stored = await database.db.selectFrom('settlement_lines').selectAll().where('agreement_id', '=', id).where('finalized', '=', true).orderBy('run_id').execute()
  t.same(stored.map((l) => l.run_id), [run2020, run2021, supplementary1, supplementary2])
  for (const year of history.years) {
    const last = stored.find((l) => l.run_id === year.runId)
    t.ok(last !== undefined && !stored.some((l) => l.follows_run_id === last.run_id), `${year.fiscalYear}: no finalized line follows run ${year.runId}`)
    t.match(last, { fiscal_year: year.fiscalYear, revenue_total: year.revenueTotal, zone_share: year.zoneShare, district_share: year.districtShare, advances_paid: year.advancesPaid, balance_due: year.balanceDue })
    const groups = await database.db.selectFrom('settlement_groups').select(['name', 'base', 'increment']).where('run_id', '=', year.runId).where('agreement_id', '=', id).orderBy('position').execute()
    t.same(groups, [{ name: 'taxes', base: year.base, increment: year.increment }, { name: 'fees', base: null, increment: null }])
  }
  const annual2021 = stored.find((l) => l.run_id === run2021)
  t.equal(annual2021?.zone_share, history.years[1]?.annualZoneShare)
  t.same(stored.filter((l) => l.follows_run_id !== null).map((l) => [l.run_id, l.follows_run_id, l.adjustment, l.balance_adjustment]),
    [[supplementary1, run2021, '300.00', '300.00'], [supplementary2, supplementary1, '300.00', '300.00']], 'the chain as stored')
})

t.test('an agreement with nothing finalized has an empty history', async (t) => {
  const response = await get(app, `/v1/agreements/${other}/history`)
  t.equal(response.statusCode, 200)
  t.same((response.json() as History).years, [])
  const svg = await get(app, `/v1/agreements/${other}/history?format=svg`)
  t.equal(svg.statusCode, 200)
  t.ok(parseSvg(svg.body).texts.some((text) => text.includes('暂无已定稿的年度结算')), 'the chart says there is nothing yet')
})

t.test('scope: the keys that see the agreement (api-contract.md, Roles and scope); 404 as if it did not exist otherwise', async (t) => {
  for (const [who, status] of [['district214', 200], ['zoneH1', 200], ['district203', 404], ['zoneH2', 404]] as const) {
    for (const format of ['json', 'csv', 'svg']) {
      const response = await injectAs({ token: tokens[who] }, { method: 'GET', url: `/v1/agreements/${id}/history?format=${format}` })
      if (status === 404) expectProblem(t, response, 404)
      else t.equal(response.statusCode, 200, `${who} ${format}`)
    }
  }
  const seen = await injectAs({ token: tokens.zoneH1 }, { method: 'GET', url: `/v1/agreements/${id}/history` })
  t.equal((seen.json() as History).years.length, 2, 'the zone sees the same years')
})

t.test('bad requests: 404 for no such agreement, 400 naming the parameter, nothing changed', async (t) => {
  const missing = expectProblem(t, await get(app, '/v1/agreements/999999/history'), 404)
  t.match(missing.detail, /agreement 999999/)
  const badFormat = expectProblem(t, await get(app, `/v1/agreements/${id}/history?format=pdf`), 400)
  t.match(JSON.stringify(badFormat), /format/)
  expectProblem(t, await get(app, '/v1/agreements/abc/history'), 400)
  expectProblem(t, await get(app, `/v1/agreements/${id}/history?year=2021`), 400)
})

t.test('csv: a UTF-8 table with a BOM, one row per settled year, amounts as stored', async (t) => {
  const response = await get(app, `/v1/agreements/${id}/history?format=csv`)
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-type'], /^text\/csv; charset=utf-8/)
  t.match(response.headers['content-disposition'], `attachment; filename="agreement-${id}-history.csv"`)
  t.ok(response.body.startsWith('\uFEFF'), 'BOM')
  const lines = response.body.slice(1).trimEnd().split('\r\n')
  t.match(lines[0], /历史测试区—城阳区 分成办法 历〔2020〕1号 历年结算/)
  t.match(lines[1], /^年度 fiscal year,结算批次 run,结算类型 kind,收入 revenue,核定基数 base,增量 increment,/)
  t.equal(lines.length, 4, 'title, header, 2020, 2021')
  t.equal(lines[2], `2020,${run2020},年度结算 annual,2100.00,1000.00,1000.00,660.00,0.00,660.00,1440.00,100.00,560.00,`)
  t.equal(lines[3], `2021,${supplementary2},补充结算 supplementary,3600.00,1000.00,2500.00,960.00,600.00,1560.00,2040.00,50.00,1510.00,` +
    `run ${supplementary1}: 300.00 (应补(扣) 300.00); run ${supplementary2}: 300.00 (应补(扣) 300.00)`)
})

t.test('xlsx: the same table, amounts as numbers', async (t) => {
  const response = await get(app, `/v1/agreements/${id}/history?format=xlsx`)
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-type'], /^application\/vnd.openxmlformats-officedocument.spreadsheetml.sheet/)
  const workbook = new ExcelJS.Workbook()
  await workbook.xlsx.load(response.rawPayload as unknown as ArrayBuffer)
  const sheet = workbook.getWorksheet('历年结算')
  t.ok(sheet, 'the sheet 历年结算')
  t.equal(sheet?.getCell('A2').value, '年度 fiscal year')
  t.same(sheet?.getRow(4).values, [undefined, '2021', String(supplementary2), '补充结算 supplementary', 3600, 1000, 2500, 960, 600, 1560, 2040, 50, 1510,
    `run ${supplementary1}: 300.00 (应补(扣) 300.00); run ${supplementary2}: 300.00 (应补(扣) 300.00)`])
  t.strictSame([sheet?.getCell('A4').value, sheet?.getCell('B4').value], [2021, supplementary2], 'the year and the run are numbers a spreadsheet sorts as such (before, text: "number stored as text")')
})

t.test('svg: a chart of revenue, base and zone share by year, Chinese axis names and legend', async (t) => {
  const response = await get(app, `/v1/agreements/${id}/history?format=svg`)
  t.equal(response.statusCode, 200)
  t.equal(response.headers['content-type'], 'image/svg+xml; charset=utf-8')
  t.match(response.headers['content-security-policy'], /font-src 'self'/)
  const svg = parseSvg(response.body)
  t.match(svg.prolog, /<\?xml-stylesheet type="text\/css" href="\.\.\/\.\.\/\.\.\/assets\/statement-[0-9a-f]+\.css"\?>/, 'links the service\'s stylesheet and CJK font')
  t.equal(svg.elements[0]?.name, 'svg')
  for (const text of ['年度', '金额（元）', '收入', '核定基数', '功能区分成', '2020', '2021（含补充结算）']) t.ok(svg.texts.includes(text), `names ${text}`)
  t.ok(svg.texts.some((text) => text.includes('历年结算')), 'the title')
  for (const series of [0, 1, 2]) t.same(svg.points.get(series), [0, 1], `series ${series}: one point per year`)
  for (const label of ['2,100.00', '3,600.00', '1,000.00', '660.00', '1,560.00']) t.ok(svg.texts.includes(label), `the label ${label}, as the figure is written`)
  t.match(response.body, /Noto Sans SC/, 'names a CJK font')
})
