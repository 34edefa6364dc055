import t from 'tap'
import { loadDemoData } from '../../src/demo.js'
import { rowCount, testApp, testDatabase } from '../helpers.js'
import { get, injector } from '../world.js'

// DEMO_DATA=1 (api-contract.md, Running): an illustrative data set on an empty database, on which
// every example of the OpenAPI document runs as it is in Swagger UI.

const database = await testDatabase(t)
const app = await testApp(t, database)
const injectAs = injector(app)

t.test('the demo data loads once, on an empty database, labelled as illustrative', async (t) => {
  t.equal(await loadDemoData(database.db), true)
  t.equal(await loadDemoData(database.db), false, 'not again on a database that holds districts')
  const counts = await Promise.all((['districts', 'zones', 'agreements', 'revenue_records', 'advances'] as const).map((table) => rowCount(database, table)))
  t.same(counts,
    [2, 3, 3, 3 * 5 * 4 * 12, 3 * 4 * 4])
  const runs = await database.db.selectFrom('settlement_runs').select(['id', 'fiscal_year', 'status']).orderBy('id').execute()
  t.same(runs, [
    { id: 1, fiscal_year: 2020, status: 'finalized' }, { id: 2, fiscal_year: 2021, status: 'finalized' }, { id: 3, fiscal_year: 2022, status: 'finalized' },
    { id: 4, fiscal_year: 2023, status: 'finalized' }, { id: 5, fiscal_year: 2021, status: 'finalized' }, { id: 6, fiscal_year: 2024, status: 'draft' },
  ], '2020–2023 finalized, 2021 settled again (补充结算), 2024 a draft')
  const zones = await database.db.selectFrom('zones').select('name').execute()
  t.ok(zones.every((z) => z.name.includes('示例数据')), 'every zone says it is illustrative')
  const rates = await database.db.selectFrom('agreement_bands').select('rate').execute()
  t.ok(rates.every((r) => Number(r.rate) >= 0.6), 'every band at or above the 60% floor')
  const agreement = (await get(app, '/v1/agreements/1?year=2021')).json()
  t.match(agreement, { zoneCode: 'QD-HT', districtCode: '370214', inForce: true })
  t.equal(agreement.groups[0].baseForYear, '97160000.00', '100000000.00 fixed, −5000000.00 from 2021, + 12 staff × 180000.00 of 卫生健康 from 2021')
  const [transfer] = (await get(app, '/v1/responsibility-transfers?agreementId=1')).json().items
  t.match(transfer, { group: 'taxes', direction: 'to_district', fromYear: 2021, funding: { method: 'headcount', headcount: 12, unitCost: '180000.00' } })
  t.match(transfer.function, /^卫生健康/)
  const [line] = (await get(app, '/v1/settlement-runs/2/lines?zoneCode=QD-HT')).json().items
  t.match(line.groups[0].explanation[0], / \+ 事权划转 2160000\.00（「卫生健康（示例数据）」划归属地，示例〔2021〕5号（示例数据），F\(2021\) = 12人 × 180000\.00 = 2160000\.00）/,
    'the 2021 line cites the transfer with its document and F(2021)')
})

t.test('the demo\'s 2020 is a finalized, reviewed year (api-contract.md, Settlement runs: review, finalize, verification)', async (t) => {
  const run = (await get(app, '/v1/settlement-runs/1')).json()
  t.match(run, { fiscalYear: 2020, status: 'finalized', digest: /^[0-9a-f]{64}$/, overrideReason: null, lineCount: 2 })
  const lines = (await get(app, '/v1/settlement-runs/1/lines')).json().items as Array<{ zoneCode: string, reviews: Record<string, { decision: string, byRole: string, byLabel: string | null } | null> }>
  t.same(lines.map((l) => [l.zoneCode, l.reviews.district?.decision, l.reviews.district?.byRole, l.reviews.zone?.decision, l.reviews.zone?.byRole]), [
    ['QD-BS', 'confirm', 'admin', 'confirm', 'zone'],
    ['QD-HT', 'confirm', 'district', 'confirm', 'zone'],
  ], 'both lines confirmed by both parties (黄岛区\'s recorded by the city on its behalf)')
  t.match(lines[1]?.reviews.district?.byLabel, /^城阳区财政局/, 'by the key labelled for 城阳区财政局')
  const history = await database.db.selectFrom('settlement_reviews').select(['agreement_id', 'party', 'decision']).where('run_id', '=', 1).orderBy('id').execute()
  t.same(history.map((r) => `${r.party} ${r.decision}`), ['district confirm', 'zone confirm', 'zone dispute', 'zone confirm', 'district confirm'], 'QD-BS\'s dispute is kept in the history')
  t.match((await get(app, '/v1/settlement-runs/1/verification')).json(), { runId: 1, digestMatches: true, linesChecked: 2, mismatchCount: 0, mismatches: [] }, 'and it verifies')
  const keys = await database.db.selectFrom('api_keys').select(['label', 'revoked_at']).execute()
  t.ok(keys.length === 3 && keys.every((k) => k.revoked_at !== null), 'the keys that recorded the reviews are revoked')
  t.match((await get(app, '/v1/settlement-runs/6')).json(), { fiscalYear: 2024, status: 'draft', digest: null })
})

t.test('the demo has years enough for a trend: QD-HT\'s history, 2021 settled again (api-contract.md, Scenarios: history; calculation-rules.md §9)', async (t) => {
  const history = (await get(app, '/v1/agreements/1/history')).json() as { years: Array<Record<string, unknown>> }
  t.same(history.years.map((y) => [y.fiscalYear, y.runId, y.kind]), [[2020, 1, 'annual'], [2021, 5, 'supplementary'], [2022, 3, 'annual'], [2023, 4, 'annual']],
    '2020–2023, 2021 by its supplementary line; the 2024 draft absent')
  t.match(history.years[1], {
    annualZoneShare: '15870008.38', zoneShare: '16830008.38', adjustmentTotal: '960000.00',
    supplementary: [{ runId: 5, adjustment: '960000.00', balanceAdjustment: '960000.00' }],
  }, '1200000.00 of 2021 revenue booked late, shared at the 0.80 band: 960000.00 more to the zone')
  const revenue = history.years.map((y) => Number(y.revenueTotal))
  t.ok(revenue.every((r, i) => i === 0 || r > (revenue[i - 1] ?? 0)), 'revenue grows year on year')
  const chart = await get(app, '/v1/agreements/1/history?format=svg')
  t.equal(chart.statusCode, 200)
  t.match(chart.body, /金额（万元）/, 'in 万元: the figures are large')
})

type Parameter = { in: string, name: string, required?: boolean, example?: unknown, schema?: { examples?: unknown[] } }
type Operation = { operationId: string, parameters?: Parameter[], requestBody?: { content: Record<string, { example?: unknown }> } }

t.test('every example in the OpenAPI document runs as-is on the demo data', async (t) => {
  const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, Operation>> }
  let ran = 0
  // In document order, but reviewing a line of the demo's 2024 draft run and then finalizing it last
  // (a finalized run takes no reviews): every other example writes what only other years read, so
  // the draft is still what it would be computed as (calculation-rules.md §9, README).
  const last = ['reviewSettlementLine', 'finalizeSettlementRun']
  const rank = (op: Operation) => last.indexOf(op.operationId)
  const operations = Object.entries(document.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => [path, method, op] as const))
    .sort(([, , a], [, , b]) => rank(a) - rank(b))
  {
    for (const [path, method, op] of operations) {
      let url = path
      const query: string[] = []
      for (const p of op.parameters ?? []) {
        const example = p.example ?? p.schema?.examples?.[0]
        if (p.in === 'path') {
          if (example === undefined) t.fail(`${method.toUpperCase()} ${path}: path parameter ${p.name} has no example`)
          url = url.replace(`{${p.name}}`, String(example))
        } else if (p.in === 'query' && p.required === true) {
          if (example === undefined) t.fail(`${method.toUpperCase()} ${path}: required query parameter ${p.name} has no example`)
          query.push(`${p.name}=${encodeURIComponent(String(example))}`)
        }
      }
      if (query.length > 0) url += `?${query.join('&')}`
      const [contentType, media] = Object.entries(op.requestBody?.content ?? {})[0] ?? []
      const response = await injectAs('admin', {
        method: method.toUpperCase() as 'GET', url, ...(contentType === undefined ? {} : { headers: { 'content-type': contentType } }),
        ...(media?.example === undefined ? {} : { payload: (typeof media.example === 'string' ? media.example : JSON.stringify(media.example)) }),
      })
      t.ok(response.statusCode >= 200 && response.statusCode < 300, `${method.toUpperCase()} ${url} → ${response.statusCode}`,
        response.statusCode >= 300 ? { body: response.body } : {})
      ran++
    }
  }
  t.ok(ran >= 20, `ran ${ran} examples`)
})
