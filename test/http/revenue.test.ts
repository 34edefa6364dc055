import { sql } from 'kysely'
import t from 'tap'
import { expectProblem, testApp, testDatabase } from '../helpers.js'
import { buildWorld, type Caller, created, get, injector, post } from '../world.js'

// Revenue records and advances (api-contract.md, Revenue; Advances): batches, revisions,
// history, CSV imports with bad lines, and what a district key may record.

const database = await testDatabase(t)
const app = await testApp(t, database)
const world = await buildWorld(t, app)
const injectAs = injector(app, world)
const csv = (text: string, query = '', who: Caller = 'admin') =>
  injectAs(who, { method: 'POST', url: `/v1/revenues/import${query}`, headers: { 'content-type': 'text/csv' }, payload: text })
const stored = async () => (await database.db.selectFrom('revenue_records').selectAll()
  .orderBy('zone_code').orderBy('district_code').orderBy('category_code').orderBy('year').orderBy('month').execute())
  .map((r) => `${r.zone_code} ${r.district_code} ${r.category_code} ${r.year}-${r.month} ${r.amount} r${r.revision}`)

t.test('a batch records months; a new amount is a new revision and the old one stays readable', async (t) => {
  const first = await created(t, app, '/v1/revenues', { records: [
    { zoneCode: 'QD-HT', category: '10101', year: 2021, month: 1, amount: '1000.00' },
    { zoneCode: 'QD-HT', districtCode: '370214', category: '10104', year: 2021, month: 1, amount: '-20.50' },
  ] }, 200)
  t.same(first, { records: 2, created: 2, revised: 0, unchanged: 0 })
  const second = await created(t, app, '/v1/revenues', { records: [
    { zoneCode: 'QD-HT', category: '10101', year: 2021, month: 1, amount: '1100.00' },
    { zoneCode: 'QD-HT', category: '10104', year: 2021, month: 1, amount: '-20.50' },
  ] }, 200)
  t.same(second, { records: 2, created: 0, revised: 1, unchanged: 1 })
  t.same(await stored(), ['QD-HT 370214 10101 2021-1 1100.00 r2', 'QD-HT 370214 10104 2021-1 -20.50 r1'], 'districtCode defaulted to the host')

  const history = (await get(app, '/v1/revenues/QD-HT/370214/10101/2021/1/history')).json().items
  t.same(history.map((h: { revision: number, amount: string }) => [h.revision, h.amount]), [[1, '1000.00'], [2, '1100.00']])
  const listed = (await get(app, '/v1/revenues?zoneCode=QD-HT&year=2021&category=10101')).json()
  t.match(listed, { items: [{ zoneCode: 'QD-HT', districtCode: '370214', category: '10101', year: 2021, month: 1, amount: '1100.00', revision: 2 }], nextCursor: null })
  expectProblem(t, await get(app, '/v1/revenues/QD-HT/370214/10101/2021/2/history'), 404)
})

t.test('writes of one month at once all land, each as its own revision (found by the soak bench)', async (t) => {
  const amounts = Array.from({ length: 8 }, (_, i) => `${5000 + i}.00`)
  const answers = await Promise.all(amounts.map((amount) => post(app, '/v1/revenues', { records: [{ zoneCode: 'QD-HT', category: '10101', year: 2021, month: 11, amount }] })))
  t.same(answers.map((a) => a.statusCode), amounts.map(() => 200), 'no write refused as a conflict')
  const history = (await get(app, '/v1/revenues/QD-HT/370214/10101/2021/11/history')).json().items as Array<{ revision: number, amount: string }>
  t.same(history.map((h) => h.revision), [1, 2, 3, 4, 5, 6, 7, 8], 'revisions 1 to 8, none lost or repeated')
  t.same(new Set(history.map((h) => h.amount)), new Set(amounts), 'every amount sent is in the history')
  const current = (await get(app, '/v1/revenues?zoneCode=QD-HT&year=2021&category=10101')).json().items.find((r: { month: number }) => r.month === 11)
  t.match(current, { revision: 8, amount: history[7]!.amount }, 'the current amount is the last revision')

  // api-contract.md, Lists: the revisions page like every list (before, ?limit= was ignored and every revision came at once).
  const pages: number[][] = []
  for (let cursor: string | null | undefined; cursor !== null;) {
    const page = (await get(app, `/v1/revenues/QD-HT/370214/10101/2021/11/history?limit=3${cursor === undefined ? '' : `&cursor=${cursor}`}`)).json() as { items: Array<{ revision: number }>, nextCursor: string | null }
    pages.push(page.items.map((h) => h.revision))
    cursor = page.nextCursor
  }
  t.same(pages, [[1, 2, 3], [4, 5, 6], [7, 8]], 'three at a time, oldest first, the last page ending the list')
  expectProblem(t, await get(app, '/v1/revenues/QD-HT/370214/10101/2021/11/history?cursor=abc'), 400)
})

t.test('one bad record rejects the whole batch with a pointer to it', async (t) => {
  const before = await stored()
  const problem = expectProblem(t, await post(app, '/v1/revenues', { records: [
    { zoneCode: 'QD-HT', category: '10101', year: 2021, month: 2, amount: '1.00' },
    { zoneCode: 'QD-NONE', category: '10101', year: 2021, month: 2, amount: '1.00' },
    { zoneCode: 'QD-HT', category: '99999', year: 2021, month: 2, amount: '1.00' },
  ] }), 422)
  t.same(problem.errors?.map((e) => e.pointer), ['/records/1/zoneCode', '/records/2/category'])
  const malformed = expectProblem(t, await post(app, '/v1/revenues', { records: [{ zoneCode: 'QD-HT', category: '10101', year: 2021, month: 13, amount: 5 }] }), 400)
  t.same(malformed.errors?.map((e) => e.pointer).sort(), ['/records/0/amount', '/records/0/month'])
  expectProblem(t, await post(app, '/v1/revenues', { records: [] }), 400)
  t.same(await stored(), before, 'nothing was recorded')
})

t.test('a district key records revenue for its own district only; a zone key records nothing', async (t) => {
  const own = await injectAs('district214', { method: 'POST', url: '/v1/revenues', payload: { records: [{ zoneCode: 'QD-HT', category: '10106', year: 2021, month: 3, amount: '5.00' }] } })
  t.equal(own.statusCode, 200)
  const other = expectProblem(t, await injectAs('district214', { method: 'POST', url: '/v1/revenues', payload: { records: [{ zoneCode: 'QD-BL', category: '10106', year: 2021, month: 3, amount: '5.00' }] } }), 422)
  t.equal(other.errors?.[0]?.pointer, '/records/0/zoneCode', 'a zone the key may not see, as if it did not exist')
  expectProblem(t, await injectAs('zoneHT', { method: 'POST', url: '/v1/revenues', payload: { records: [{ zoneCode: 'QD-HT', category: '10106', year: 2021, month: 3, amount: '5.00' }] } }), 403)
  const revisions = await database.db.selectFrom('revenue_revisions').select(['key_id', 'request_id']).where('category_code', '=', '10106').execute()
  t.same(revisions.map((r) => r.key_id), [world.keyIds.district214], 'the revision names the key that recorded it')
  t.equal(revisions[0]!.request_id, own.headers['x-request-id'])
})

const header = 'zoneCode,districtCode,category,year,month,amount'

t.test('CSV import: every bad line reported with its line number, nothing loaded; ?partial=true loads the good lines', async (t) => {
  const before = await stored()
  const file = [
    header,
    'QD-HT,370214,10101,2022,1,100.00',
    'QD-HT,,10101,2022,2,200.00',
    'QD-HT,370214,10101,2022,13,1.00',
    'QD-NONE,370214,10101,2022,1,1.00',
    'QD-HT,370214,10101,2022,3,1.005',
    'QD-HT,370214,10101,2022,4',
    '',
    'QD-BL,370203,10304,2022,1,"3,000.00"',
    'QD-BL,370203,10304,2022,2,3000.00',
  ].join('\r\n')
  const refused = await csv(file)
  const problem = expectProblem(t, refused, 422)
  t.same(problem.errors?.map((e) => e.pointer), ['/line/4/month', '/line/5/zoneCode', '/line/6/amount', '/line/7/line', '/line/9/amount'],
    'line numbers as a spreadsheet shows them (the header is line 1; the blank line 8 is skipped but counted)')
  t.match(problem.detail, /5 of 8 lines are bad; nothing was loaded/)
  t.same(await stored(), before, 'nothing was loaded')

  const partial = await csv(file, '?partial=true')
  t.equal(partial.statusCode, 200)
  t.match(partial.json(), { rows: 8, loaded: 3, rejected: 5, created: 3, revised: 0, unchanged: 0 })
  t.same(partial.json().errors.map((e: { line: number }) => e.line), [4, 5, 6, 7, 9])
  const added = (await stored()).filter((r) => !before.includes(r))
  t.same(added, ['QD-BL 370203 10304 2022-2 3000.00 r1', 'QD-HT 370214 10101 2022-1 100.00 r1', 'QD-HT 370214 10101 2022-2 200.00 r1'])
})

t.test('CSV import: header, BOM, empty files and revisions (a month given twice in one file: test/http/semantics.test.ts)', async (t) => {
  expectProblem(t, await csv('zone,district,category,year,month,amount\nQD-HT,,10101,2022,1,1.00\n'), 422)
  expectProblem(t, await csv(''), 422)
  const withBom = await csv(`\uFEFF${header}\nQD-HT,,10101,2022,1,160.00\n`)
  t.equal(withBom.statusCode, 200)
  t.match(withBom.json(), { rows: 1, loaded: 1, created: 0, revised: 1, unchanged: 0 })
  t.same((await get(app, '/v1/revenues/QD-HT/370214/10101/2022/1/history')).json().items.map((h: { amount: string }) => h.amount), ['100.00', '160.00'])
  const json = await injectAs('admin', { method: 'POST', url: '/v1/revenues/import', headers: { 'content-type': 'application/json' }, payload: { records: [] } })
  expectProblem(t, json, 415)
  // A CSV file sent as application/json is the same 415, not 400 "not valid JSON" (found by a probe of the writes); so is the debt import.
  for (const url of ['/v1/revenues/import', '/v1/debts/import']) {
    const mislabelled = expectProblem(t, await injectAs('admin', { method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: `${header}\nQD-HT,,10101,2022,1,1.00\n` }), 415)
    t.equal(mislabelled.detail, 'The body has the content type "application/json", which this operation does not take: ' +
      `send the file as text/csv, in UTF-8 (as JSON, ${url.startsWith('/v1/debts') ? 'one debt at a time goes' : 'the same records go'} to POST ${url.replace('/import', '')}).`, `${url}: the advice of a CSV import, not "send JSON" (found by a probe)`)
  }
  const outOfScope = expectProblem(t, await csv(`${header}\nQD-BL,370203,10101,2022,5,1.00\n`, '', 'district214'), 422)
  t.same(outOfScope.errors?.map((e) => e.message), ['line 2, zoneCode: no zone QD-BL in this key\'s scope', 'line 2, districtCode: no district 370203 in this key\'s scope'])
})

t.test('CSV import: a file that is not CSV is a 400, a line holding U+0000 a bad line (api-contract.md, Revenue; Errors; found by the fuzzer)', async (t) => {
  const before = await stored()
  for (const text of ['{"records":[]}', '<?xml version="1.0"?><x/>', `${header}\nQD-HT,,10101,2022,1,"1.00\n`]) {
    const problem = expectProblem(t, await csv(text), 400)
    t.match(problem.detail, /not valid CSV \(line \d+\)/)
  }
  const nul = expectProblem(t, await csv(`${header}\nQD-HT,,10101,2022,2,1.00\nQD-HT,,10101\u0000,2022,3,1.00\n`), 422)
  t.same(nul.errors?.map((e) => e.pointer), ['/line/3/line'])
  t.equal(nul.errors?.[0]?.message, 'line 3: contains the NUL character (U+0000)', 'a problem of the line as a whole is said of the line, not of a column "line" (found by a probe)')
  t.same(await stored(), before, 'nothing loaded')
  const partial = await csv(`${header}\nQD-HT,,10101,2022,2,1.00\nQD-HT,,10101\u0000,2022,3,1.00\n`, '?partial=true')
  t.match(partial.json(), { rows: 2, loaded: 1, rejected: 1 })
})

t.test('an import over the size limit answers 413 and loads nothing', async (t) => {
  const injectAsSmall = injector(await testApp(t, database, { importLimit: 200 }))
  const before = await stored()
  const lines = [header, ...Array.from({ length: 20 }, (_, i) => `QD-HT,,10101,2023,${(i % 12) + 1},${i}.00`)]
  expectProblem(t, await injectAsSmall('admin', { method: 'POST', url: '/v1/revenues/import', headers: { 'content-type': 'text/csv' }, payload: lines.join('\n') }), 413)
  t.same(await stored(), before)
})

t.test('advances: recorded against an agreement in force, listed in scope', async (t) => {
  const advance = await created(t, app, '/v1/advances', { agreementId: world.agreements.ht, fiscalYear: 2021, paidOn: '2021-06-30', amount: '100000.00', documentNo: '青财预〔2021〕45号' })
  t.match(advance, { agreementId: world.agreements.ht, fiscalYear: 2021, paidOn: '2021-06-30', amount: '100000.00' })
  const byDistrict = await injectAs('district214', { method: 'POST', url: '/v1/advances', payload: { agreementId: world.agreements.ht, fiscalYear: 2021, paidOn: '2021-09-30', amount: '50000.00', documentNo: 'x' } })
  t.equal(byDistrict.statusCode, 201)
  const other = expectProblem(t, await injectAs('district214', { method: 'POST', url: '/v1/advances', payload: { agreementId: world.agreements.bl, fiscalYear: 2021, paidOn: '2021-09-30', amount: '1.00', documentNo: 'x' } }), 422)
  t.equal(other.errors?.[0]?.pointer, '/agreementId')
  const early = expectProblem(t, await post(app, '/v1/advances', { agreementId: world.agreements.ht, fiscalYear: 2019, paidOn: '2019-06-30', amount: '1.00', documentNo: 'x' }), 422)
  t.equal(early.errors?.[0]?.pointer, '/fiscalYear')
  const badDate = expectProblem(t, await post(app, '/v1/advances', { agreementId: world.agreements.ht, fiscalYear: 2021, paidOn: '2021-02-30', amount: '1.00', documentNo: 'x' }), 400)
  t.equal(badDate.errors?.[0]?.pointer, '/paidOn')
  const listed = (await get(app, `/v1/advances?agreementId=${world.agreements.ht}&fiscalYear=2021`)).json().items
  t.same(listed.map((a: { amount: string }) => a.amount), ['100000.00', '50000.00'])
  t.same((await injectAs('zoneBL', { method: 'GET', url: '/v1/advances' })).json().items, [], 'a zone sees only its own agreements\' advances')
  const sum = await sql<{ total: string }>`select sum(amount)::text as total from advances`.execute(database.db)
  t.equal(sum.rows[0]!.total, '150000.00')
})

t.test('a CSV cell of any length is quoted shortened, so every bad line is reported within the documented 500 characters ' +
  '(api-contract.md, Revenue; found by the fuzzer, FUZZ_SEED=974394029)', async (t) => {
  const long = 'x'.repeat(2000)
  const partial = await csv(`zoneCode,districtCode,category,year,month,amount\n${long},${long},${long},2021,1,1.00\n`, '?partial=true')
  t.equal(partial.statusCode, 200, 'answered, and the answer holds to the document (testApp checks it)')
  const errors = partial.json().errors as Array<{ field: string, message: string }>
  t.same(errors.map((e) => e.field), ['zoneCode', 'districtCode', 'category'])
  t.ok(errors.every((e) => e.message.length <= 100 && e.message.includes(`${'x'.repeat(64)}…`)), 'each names the first 64 characters of the cell')
})

t.test('calculation-rules.md §1: a CSV amount beyond 15 integer digits is refused at its line, naming the limit; nothing loaded', async (t) => {
  const before = await stored()
  const problem = expectProblem(t, await csv(`${header}\nQD-HT,370214,10101,2022,5,1234567890123456.00\n`), 422)
  t.same(problem.errors, [{ pointer: '/line/2/amount', message: 'line 2, amount: must be an amount in yuan with at most 15 integer digits and two decimals, e.g. 1000.00' }])
  t.same(await stored(), before, 'nothing was loaded')
})
