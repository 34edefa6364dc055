import ExcelJS from 'exceljs'
import { sql } from 'kysely'
import t from 'tap'
import { expectProblem, onPostgres, testApp, testDatabase } from '../helpers.js'
import { agreementBody, buildWorld, created, get, injector, linesOf, post } from '../world.js'

// Annual settlement runs (api-contract.md, Settlement runs; calculation-rules.md §4–§6):
// draft, carry-forward, finalize, immutability, supplementary settlement and statements.
// The world's agreements (2020 on, base year 2019): taxes = 10101 + 10104, increment, base 1000.00,
// bands [≤ 10% at 0.60, rest at 0.80], carry_forward; fees = 10304, total at 0.60.

const database = await testDatabase(t)
const app = await testApp(t, database)
const world = await buildWorld(t, app)
const injectAs = injector(app, world)
const record = (records: Array<[string, string, number, number, string]>) => created(t, app, '/v1/revenues',
  { records: records.map(([zoneCode, category, year, month, amount]) => ({ zoneCode, category, year, month, amount })) }, 200)
type Line = { agreementId: number, zoneCode: string, districtCode: string, kind: string, zoneShare: string, previousZoneShare?: string, adjustment?: string, groups: Array<Record<string, unknown>>, reviews: unknown }
const lineOf = (run: { lines: Line[] }, agreementId: number) => run.lines.find((l) => l.agreementId === agreementId)!
/** A run as answered (its line count and totals), with its lines read a page at a time. */
const withLines = async (run: { id: number, totals: Record<string, string> }, headers: Record<string, string> = {}) => ({ ...run, lines: await linesOf(injectAs, run.id, 'admin', headers) as unknown as Line[] })
const runOf = async (fiscalYear: number) => withLines(await created(t, app, '/v1/settlement-runs', { fiscalYear }))

await record([
  ['QD-HT', '10101', 2020, 1, '600.00'], ['QD-HT', '10101', 2020, 2, '300.00'], ['QD-HT', '10104', 2020, 1, '50.00'], ['QD-HT', '10304', 2020, 6, '100.00'],
  ['QD-BL', '10101', 2020, 1, '1200.00'],
])
await created(t, app, '/v1/advances', { agreementId: world.agreements.ht, fiscalYear: 2020, paidOn: '2020-06-30', amount: '20.00', documentNo: 'x' })

let run2020: { id: number, lines: Line[], totals: Record<string, string> }

t.test('a draft run: one line per agreement, every figure from the engine of /v1/calculations', async (t) => {
  run2020 = await runOf(2020)
  t.match(run2020, { fiscalYear: 2020, status: 'draft', minimumRate: '0.60', finalizedAt: null, lineCount: 2 })
  const ht = lineOf(run2020, world.agreements.ht)
  t.match(ht, { zoneCode: 'QD-HT', districtCode: '370214', kind: 'annual', revenueTotal: '1050.00', zoneShare: '60.00', districtShare: '990.00', advancesPaid: '20.00', balanceDue: '40.00' })
  t.match(ht.groups[0], { name: 'taxes', base: '1000.00', actual: '950.00', increment: '-50.00', shareable: '-50.00', zoneShare: '0.00', carriedShortfallOut: '50.00', bands: [] })
  const bl = lineOf(run2020, world.agreements.bl)
  t.match(bl, { revenueTotal: '1200.00', zoneShare: '140.00', balanceDue: '140.00' })
  t.same(run2020.totals, { revenueTotal: '2250.00', zoneShare: '200.00', districtShare: '2050.00', advancesPaid: '20.00', balanceDue: '180.00', adjustment: '0.00', balanceAdjustment: '0.00' })

  // The same inputs through POST /v1/calculations give the same figures and the same explanation.
  const taxes = agreementBody('QD-HT', '370214').groups[0]!
  const calculation = (await post(app, '/v1/calculations', {
    fiscalYear: 2020,
    groups: [
      { name: 'taxes', basis: 'increment', base: { amount: '1000.00', baseYear: 2019, mode: 'fixed' }, actual: '950.00', rates: taxes.rates, shortfall: 'carry_forward' },
      { name: 'fees', basis: 'total', actual: '100.00', rates: [{ rate: '0.60' }] },
    ],
    advancesPaid: '20.00',
  })).json()
  const { fiscalYear: _y, minimumRate: _m, groups: calculatedGroups, ...calculatedTotals } = calculation
  const { agreementId: _a, zoneCode: _z, districtCode: _d, kind: _k, groups: lineGroups, reviews: _r, calculationRequest, ...lineTotals } = ht as Line & { calculationRequest: unknown, reviews: unknown }
  t.same(lineTotals, calculatedTotals, 'line totals = calculation totals')
  t.same(calculationRequest, {
    fiscalYear: 2020, minimumRate: '0.60', advancesPaid: '20.00',
    groups: [
      { name: 'taxes', basis: 'increment', base: { amount: '1000.00', baseYear: 2019, mode: 'fixed', adjustments: [] }, actual: '950.00', rates: taxes.rates, shortfall: 'carry_forward', carriedShortfall: '0.00' },
      { name: 'fees', basis: 'total', actual: '100.00', rates: [{ rate: '0.60' }] },
    ],
  }, 'the line shows that very request')
  t.same(lineGroups, calculatedGroups, 'groups = calculation groups, explanation included')
  const english = await withLines(run2020, { 'accept-language': 'en' })
  t.match(lineOf(english, world.agreements.ht).groups[0]!.explanation, [/^Base \(fixed\)/])
})

t.test('carry-forward: settling a year before the previous one is finalized is 409, naming agreement and year', async (t) => {
  await record([['QD-HT', '10101', 2021, 1, '1250.00']])
  const problem = expectProblem(t, await post(app, '/v1/settlement-runs', { fiscalYear: 2021 }), 409)
  t.match(problem.detail, new RegExp(`^The year cannot be settled yet: agreement ${world.agreements.ht} .*2020 is not finalized: finalize the 2020 settlement first \\(and 1 more\\)\\. See errors for each\\.$`),
    'a sentence, not the first conflict in lower case (found by a review)')
  t.equal(await database.db.selectFrom('settlement_runs').select('id').where('fiscal_year', '=', 2021).executeTakeFirst(), undefined, 'nothing stored')
})

t.test('finalize: admin only, once; the shortfall carried out of 2020 goes into 2021', async (t) => {
  const finalized = await post(app, `/v1/settlement-runs/${run2020.id}/finalize`, undefined)
  t.equal(finalized.statusCode, 200)
  t.equal(finalized.json().status, 'finalized')
  t.type(finalized.json().finalizedAt, 'string')
  expectProblem(t, await post(app, `/v1/settlement-runs/${run2020.id}/finalize`, undefined), 409)
  expectProblem(t, await post(app, '/v1/settlement-runs/999999/finalize', undefined), 404)

  const run2021 = await runOf(2021)
  const taxes = lineOf(run2021, world.agreements.ht).groups[0]!
  t.match(taxes, { base: '1000.00', actual: '1250.00', increment: '250.00', carriedShortfallIn: '50.00', shareable: '200.00', zoneShare: '140.00', carriedShortfallOut: '0.00' },
    'S = 250.00 − 50.00 = 200.00 → 100.00 × 0.60 + 100.00 × 0.80')
})

t.test('a finalized run cannot change by any path, the database included', async (t) => {
  const id = run2020.id
  const refused = async (statement: string, query: ReturnType<typeof sql>) => {
    await t.rejects(query.execute(database.db), /finalized|cannot be truncated/, statement)
  }
  await refused('UPDATE a finalized run', sql`UPDATE settlement_runs SET status = 'draft', finalized_at = NULL WHERE id = ${id}`)
  await refused('DELETE a finalized run', sql`DELETE FROM settlement_runs WHERE id = ${id}`)
  await refused('UPDATE its lines', sql`UPDATE settlement_lines SET zone_share = 0 WHERE run_id = ${id}`)
  await refused('DELETE its lines', sql`DELETE FROM settlement_lines WHERE run_id = ${id}`)
  await refused('UPDATE its groups', sql`UPDATE settlement_groups SET zone_share = 0 WHERE run_id = ${id}`)
  await refused('DELETE its groups', sql`DELETE FROM settlement_groups WHERE run_id = ${id}`)
  await refused('TRUNCATE', sql`TRUNCATE settlement_groups`)
  await refused('TRUNCATE … CASCADE', sql`TRUNCATE settlement_runs CASCADE`)
  const again = await withLines((await get(app, `/v1/settlement-runs/${id}`)).json())
  t.same(again.lines, run2020.lines, 'still as finalized')
  // A draft is not protected that way: it is a working copy.
  const draft = await database.db.selectFrom('settlement_runs').select('id').where('status', '=', 'draft').executeTakeFirstOrThrow()
  const touched = await sql`UPDATE settlement_lines SET zone_share = zone_share WHERE run_id = ${draft.id}`.execute(database.db)
  t.equal(touched.numAffectedRows, 2n, 'a draft line can be touched: the UPDATE refused on the finalized run changes both lines of the draft')
})

t.test('an agreement a finalized settlement used is not edited into that year', async (t) => {
  const adjustment = expectProblem(t, await post(app, `/v1/agreements/${world.agreements.ht}/base-adjustments`, { group: 'taxes', fromYear: 2020, amount: '1.00', reason: 'x', documentNo: 'x' }), 409)
  t.equal(adjustment.errors?.[0]?.pointer, '/fromYear')
  const end = await injectAs('admin', { method: 'PATCH', url: `/v1/agreements/${world.agreements.ht}`, payload: { effectiveTo: 2019 } })
  expectProblem(t, end, 400 <= end.statusCode && end.statusCode < 500 ? end.statusCode : 409)
})

t.test('supplementary settlement (补充结算): revised revenue for a finalized year; the first run stays as it was', async (t) => {
  const staleDraft = await database.db.selectFrom('settlement_runs').select('id').where('fiscal_year', '=', 2021).where('status', '=', 'draft').executeTakeFirstOrThrow()
  await record([['QD-HT', '10104', 2020, 1, '150.00']])
  const supplementary = await runOf(2020)
  const ht = lineOf(supplementary, world.agreements.ht)
  t.match(ht, { kind: 'supplementary', zoneShare: '90.00', previousZoneShare: '60.00', adjustment: '30.00', follows: run2020.id, balanceAdjustment: '30.00' },
    'taxes now 1050.00: S 50.00 → 30.00; fees 60.00; it follows the finalized 2020 line (calculation-rules.md §9)')
  t.match(lineOf(supplementary, world.agreements.bl), { kind: 'supplementary', previousZoneShare: '140.00', adjustment: '0.00', follows: run2020.id, balanceAdjustment: '0.00' })
  t.equal(supplementary.totals.adjustment, '30.00')
  const finalized = await post(app, `/v1/settlement-runs/${supplementary.id}/finalize`, undefined)
  t.equal(finalized.statusCode, 200)
  t.same((await withLines(run2020)).lines, run2020.lines, 'the first run is untouched')
  const stale = expectProblem(t, await post(app, `/v1/settlement-runs/${staleDraft.id}/finalize`, undefined), 409)
  t.match(stale.detail, /revenue of 2021 changed|changed after run/, 'the 2021 draft read 2020\'s carried shortfall before the revision: it must be run again')

  // 2021 again: now the carried shortfall is the supplementary settlement's (none).
  const rerun = await runOf(2021)
  t.match(lineOf(rerun, world.agreements.ht).groups[0], { carriedShortfallIn: '0.00', shareable: '250.00', zoneShare: '180.00' })
})

t.test('one finalized annual settlement per agreement and year', async (t) => {
  const a = await created(t, app, '/v1/settlement-runs', { fiscalYear: 2021 })
  const b = await created(t, app, '/v1/settlement-runs', { fiscalYear: 2021 })
  t.equal((await post(app, `/v1/settlement-runs/${a.id}/finalize`, undefined)).statusCode, 200)
  const problem = expectProblem(t, await post(app, `/v1/settlement-runs/${b.id}/finalize`, undefined), 409)
  t.match(problem.detail, /already has a finalized 2021 settlement/)
  const annual = await database.db.selectFrom('settlement_lines').select(['agreement_id']).where('fiscal_year', '=', 2021)
    .where('finalized', '=', true).where('kind', '=', 'annual').execute()
  t.equal(annual.length, 2, 'one per agreement')
})

t.test('bad requests: unknown agreements, years with nothing in force, prior_year without last year\'s revenue', async (t) => {
  const unknown = expectProblem(t, await post(app, '/v1/settlement-runs', { fiscalYear: 2022, agreementIds: [world.agreements.ht, 999999] }), 422)
  t.same(unknown.errors?.map((e) => e.pointer), ['/agreementIds/1'])
  expectProblem(t, await post(app, '/v1/settlement-runs', { fiscalYear: 2019 }), 422)
  expectProblem(t, await post(app, '/v1/settlement-runs', { fiscalYear: '2021' }), 400)
  await created(t, app, '/v1/zones', { code: 'QD-PY', name: '测试', hostDistrictCode: '370214' })
  const prior = await created(t, app, '/v1/agreements', agreementBody('QD-PY', '370214', {
    effectiveFrom: 2030, baseYear: 2029,
    groups: [{ name: 'taxes', basis: 'increment', categories: ['10101'], base: { mode: 'prior_year' }, rates: [{ rate: '0.60' }] }],
  }))
  const problem = expectProblem(t, await post(app, '/v1/settlement-runs', { fiscalYear: 2030, agreementIds: [prior.id] }), 422)
  t.same(problem.errors?.map((e) => e.pointer), [`/agreements/${prior.id}/groups/0`])
  t.match(problem.detail, /2029's revenue, and none is recorded/)
})

t.test('runs at once never corrupt or double anything', async (t) => {
  const answers = await Promise.all([1, 2, 3].map(() => post(app, '/v1/settlement-runs', { fiscalYear: 2022 })))
  t.ok(answers.every((a) => a.statusCode === 201 || a.statusCode === 409), 'each is a run or told another is running')
  const runs = await database.db.selectFrom('settlement_runs').select('id').where('fiscal_year', '=', 2022).execute()
  t.equal(runs.length, answers.filter((a) => a.statusCode === 201).length, 'one run stored per 201')
  for (const run of runs) {
    const lines = await database.db.selectFrom('settlement_lines').select('agreement_id').where('run_id', '=', run.id).execute()
    t.equal(lines.length, 2, `run ${run.id} has all its lines`)
  }
})

t.test('the statement: CSV with a BOM and xlsx, one row per agreement and group, totals to the cent', async (t) => {
  const csv = await get(app, `/v1/settlement-runs/${run2020.id}/statement?format=csv`)
  t.equal(csv.statusCode, 200)
  t.match(csv.headers['content-type'], /^text\/csv; charset=utf-8/)
  t.match(csv.headers['content-disposition'], /attachment; filename="settlement-2020-run-\d+\.csv"/)
  t.same([...csv.rawPayload.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 BOM')
  t.match(csv.rawPayload.subarray(3).toString('utf8'), /^"?2020年度结算单/, 'then the title')
  const rows = csv.body.trim().split('\r\n').map((line) => line.split(','))
  t.match(rows[1]![0], /^行类型/)
  t.ok(rows[1]!.includes('功能区分成 zone share'))
  const zoneShareColumn = rows[1]!.indexOf('功能区分成 zone share')
  const groupRows = rows.filter((r) => r[0]!.startsWith('口径组'))
  t.equal(groupRows.length, 4, 'two agreements × two groups')
  const totalRow = rows.find((r) => r[0]!.startsWith('合计'))!
  t.equal(totalRow[zoneShareColumn], '200.00')
  const cents = groupRows.reduce((acc, r) => acc + BigInt(r[zoneShareColumn]!.replace('.', '')), 0n)
  t.equal(cents, 20000n, 'the group rows add up to the total, to the cent')

  const xlsx = await get(app, `/v1/settlement-runs/${run2020.id}/statement?format=xlsx`)
  t.equal(xlsx.statusCode, 200)
  t.match(xlsx.headers['content-type'], /spreadsheetml/)
  const workbook = new ExcelJS.Workbook()
  await workbook.xlsx.load(xlsx.rawPayload as unknown as ArrayBuffer)
  const sheet = workbook.getWorksheet('结算单')!
  t.match(sheet.views[0], { state: 'frozen', ySplit: 2 }, 'title and header frozen')
  t.equal(sheet.getRow(2).getCell(1).value, '行类型 row')
  t.equal(sheet.getRow(2).font?.bold, true)
  const zoneShareCell = STATEMENT_ZONE_SHARE_INDEX + 1
  const last = sheet.getRow(sheet.rowCount)
  t.equal(last.getCell(1).value, '合计 total')
  t.equal(last.getCell(zoneShareCell).value, 200, 'a number a spreadsheet can add')
  t.equal(sheet.getColumn(zoneShareCell).width, 22, 'in a column wide enough for "-1,234,567,890,123.45", a city\'s total (at 18 it showed #####; found by a probe of the spreadsheets)')
  t.equal(last.getCell(zoneShareCell).numFmt, '#,##0.00;[Red]-#,##0.00', 'yuan to the cent')
  t.equal(last.font?.bold, true)
  // Each cell carries its row's font and its column's format (cells share one style per column and kind of row).
  t.equal(last.getCell(zoneShareCell).font?.bold, true, 'the total: bold, to its amounts')
  const subtotal = sheet.getRow(rows.findIndex((r) => r[0]!.startsWith('小计')) + 1)
  t.equal(subtotal.getCell(1).value, '小计 subtotal')
  t.equal(subtotal.getCell(zoneShareCell).font?.italic, true, 'a subtotal: italic')
  t.equal(subtotal.getCell(zoneShareCell).numFmt, '#,##0.00;[Red]-#,##0.00')
  const group = sheet.getRow(rows.indexOf(groupRows[0]!) + 1)
  t.equal(group.getCell(1).value, '口径组 group')
  t.equal(group.getCell(zoneShareCell).font?.bold, undefined, 'a group row: plain')
  t.equal(group.getCell(zoneShareCell).font?.italic, undefined)
  t.equal(group.getCell(zoneShareCell).numFmt, '#,##0.00;[Red]-#,##0.00')
  t.equal(group.getCell(1).numFmt, undefined, 'text columns: no number format')
})

const STATEMENT_ZONE_SHARE_INDEX = 13

// On PostgreSQL a second run can meet the first one still running: hold the year as a first run would.
if (onPostgres) t.test('a run for a year while another runs answers 409 at once', async (t) => {
  await database.db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(hashtextextended(${'settlement-year:2022'}, 7303))`.execute(tx)
    const problem = expectProblem(t, await post(app, '/v1/settlement-runs', { fiscalYear: 2022 }), 409)
    t.match(problem.detail, /in progress/)
  })
  t.equal((await post(app, '/v1/settlement-runs', { fiscalYear: 2022 })).statusCode, 201, 'and runs once the first has finished')
})

t.test('§3 MIN_ZONE_RATE raised after agreements were registered: a year\'s first run refuses the bands below it (422 at each) and stores nothing; a supplementary run of a year finalized under the old floor still runs', async (t) => {
  // The same database under a deployment whose floor is now 0.65: the world's bands at 0.60 no longer meet it.
  const raised = await testApp(t, database, { minZoneRate: '0.65' })
  const runCount = async () => (await database.db.selectFrom('settlement_runs').select('id').execute()).length
  const runsBefore = await runCount()
  const problem = expectProblem(t, await post(raised, '/v1/settlement-runs', { fiscalYear: 2022, agreementIds: [world.agreements.ht] }), 422)
  t.same(problem.errors?.map((e) => e.pointer), [`/agreements/${world.agreements.ht}/groups/0/rates/0/rate`, `/agreements/${world.agreements.ht}/groups/1/rates/0/rate`],
    'the first band below 0.65 of each group (taxes ≤ 10% at 0.60, fees at 0.60)')
  t.match(problem.errors?.[0]?.message, /group "taxes": rate 0\.60 is below the floor of 0\.65 .*register a version whose bands meet 0\.65/)
  t.equal(await runCount(), runsBefore, 'no run stored')
  // Before, the run was stored with minimumRate 0.65 and lines on 0.60 bands, whose calculationRequest POST /v1/calculations refused (found by a probe of the API).
  const calculation = expectProblem(t, await post(raised, '/v1/calculations', { fiscalYear: 2022, groups: [{ name: 'fees', basis: 'total', actual: '100.00', rates: [{ rate: '0.60' }] }] }), 422)
  t.match(calculation.errors?.[0]?.message, /rate 0\.60 is below the floor of 0\.65/, 'the same refusal as a calculation\'s')

  // 2020 was finalized under 0.60 and no new version can cover a settled year: its supplementary settlement is not refused.
  const supplementary = await withLines(await created(t, raised, '/v1/settlement-runs', { fiscalYear: 2020, agreementIds: [world.agreements.ht] }))
  t.match(lineOf(supplementary, world.agreements.ht), { kind: 'supplementary', zoneShare: '90.00', previousZoneShare: '90.00', adjustment: '0.00' },
    'settled on the bands 2020 was finalized with: the revised revenue, nothing more to adjust')
  // It prints the floor 2020 was settled under, 0.60, beside its 0.60 bands; before, the raised floor (0.65), and its calculationRequest
  // held 0.65 with bands of 0.60 (found by a probe of the writes and the review of 24d879b). The run itself records the floor it was computed under.
  t.equal((supplementary as unknown as { minimumRate: string }).minimumRate, '0.65', 'the run: the floor it was computed under')
  const request = (lineOf(supplementary, world.agreements.ht) as { calculationRequest?: { minimumRate: string, groups: Array<{ rates: Array<{ rate: string }> }> } }).calculationRequest
  t.equal(request?.minimumRate, '0.60', 'the line\'s calculationRequest: the floor of its year\'s first settlement')
  t.equal(request?.groups[1]?.rates[0]?.rate, '0.60', 'beside its bands')
  t.match((await post(app, '/v1/calculations', request)).json(), { zoneShare: '90.00', minimumRate: '0.60' }, 'which give the line\'s figures back under 0.60')
  const html = (await get(raised, `/v1/settlement-runs/${supplementary.id}/statement?format=html`)).body
  t.match(html, /<th>分成比例下限<\/th><td>60%<\/td>/, 'the statement prints 60%')
  t.notMatch(html, /65%/, 'and never the raised floor beside the 0.60 bands')
  t.match(html, `<p class="meta">结算批次 ${supplementary.id} · 2020年度 · 含补充结算</p>`, 'its totals page says it holds supplementary lines, as the CSV\'s title does (found by a probe)')
  t.equal((await post(raised, `/v1/settlement-runs/${supplementary.id}/finalize`, undefined)).statusCode, 200, 'and finalized')

  // A draft computed under 0.60 before the floor was raised is not finalized under 0.65 (before, it was: found by review of 24d879b).
  const draft = await created(t, app, '/v1/settlement-runs', { fiscalYear: 2022, agreementIds: [world.agreements.ht] })
  const stale = expectProblem(t, await post(raised, `/v1/settlement-runs/${draft.id}/finalize`, undefined), 409)
  t.equal(stale.detail, `Settlement run ${draft.id} was computed under the floor of 0.60, and the floor (MIN_ZONE_RATE) is now 0.65 (calculation-rules.md §3). ` +
    'Create a new run and finalize that one: it refuses a year\'s first settlement of an agreement whose bands are below 0.65.')
  t.match((await get(app, `/v1/settlement-runs/${draft.id}`)).json(), { status: 'draft', finalizedAt: null }, 'still a draft')
})
