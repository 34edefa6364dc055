import { parse } from 'csv-parse/sync'
import ExcelJS from 'exceljs'
import { sql } from 'kysely'
import t from 'tap'
import { expectProblem, rowCount, testApp, testDatabase } from '../helpers.js'
import { buildWorld, created, get, injector, post } from '../world.js'

// The legacy debt register (api-contract.md, Legacy debts): register, transfer once,
// repay within what is outstanding, correct by reversal, balances as of any date, summaries,
// maturities, exports, and an append-only history.

const database = await testDatabase(t)
const app = await testApp(t, database)
const world = await buildWorld(t, app)
const injectAs = injector(app, world)
const loanBody = { zoneCode: 'QD-HT', reference: 'HT-2016-001', creditor: '示例银行', kind: 'bank_loan', principal: '3000.00', outstanding: '2000.00', interestRate: '0.049', incurredOn: '2016-05-01', maturityDate: '2026-05-01', registeredOn: '2020-12-31' }
let loan: { id: number }

t.test('register, transfer once, repay, and read the balances as of any date', async (t) => {
  loan = await created(t, app, '/v1/debts', loanBody)
  t.match(loan, { zoneCode: 'QD-HT', kind: 'bank_loan', principal: '3000.00', outstandingAtRegistration: '2000.00', interestRate: '0.049', status: 'zone', responsibleDistrictCode: null, outstanding: '2000.00', events: [] })
  expectProblem(t, await post(app, '/v1/debts', loanBody), 409)

  const transferred = await injectAs('admin', { method: 'POST', url: `/v1/debts/${loan.id}/transfer`, payload: { districtCode: '370214', transferredOn: '2021-03-31', documentNo: '青政办字〔2021〕8号' } })
  t.equal(transferred.statusCode, 200)
  t.match(transferred.json(), { status: 'transferred', responsibleDistrictCode: '370214' })
  expectProblem(t, await injectAs('admin', { method: 'POST', url: `/v1/debts/${loan.id}/transfer`, payload: { districtCode: '370203', transferredOn: '2021-04-01', documentNo: 'x' } }), 409)

  const early = expectProblem(t, await injectAs('district214', { method: 'POST', url: `/v1/debts/${loan.id}/repayments`, payload: { paidOn: '2021-03-30', principal: '100.00', interest: '0.00' } }), 422)
  t.equal(early.errors?.[0]?.pointer, '/paidOn', 'a repayment by the district before the transfer date')
  const first = await injectAs('district214', { method: 'POST', url: `/v1/debts/${loan.id}/repayments`, payload: { paidOn: '2021-06-30', principal: '500.00', interest: '12.00' } })
  t.equal(first.statusCode, 201)
  t.match(first.json(), { kind: 'repayment', occurredOn: '2021-06-30', principal: '500.00', interest: '12.00', keyId: world.keyIds.district214 })
  await created(t, app, `/v1/debts/${loan.id}/repayments`, { paidOn: '2021-12-20', principal: '300.00', interest: '8.00' })

  const asOf = async (day: string) => (await get(app, `/v1/debts/${loan.id}?asOf=${day}`)).json()
  t.match(await asOf('2020-12-30'), { status: 'not_registered', outstanding: '0.00' })
  t.match(await asOf('2021-03-30'), { status: 'zone', outstanding: '2000.00', responsibleDistrictCode: null })
  t.match(await asOf('2021-06-30'), { status: 'transferred', outstanding: '1500.00', principalRepaid: '500.00', interestPaid: '12.00' })
  t.match(await asOf('2021-12-31'), { outstanding: '1200.00', principalRepaid: '800.00', interestPaid: '20.00' })
  t.equal((await asOf('2021-12-31')).events.length, 3, 'the whole history')
})

t.test('principal never exceeds what is outstanding, then or later', async (t) => {
  const over = expectProblem(t, await post(app, `/v1/debts/${loan.id}/repayments`, { paidOn: '2022-01-10', principal: '1200.01', interest: '0.00' }), 422)
  t.match(over.detail, /more than the 1200\.00 outstanding/)
  // On 2021-07-01 1500.00 was outstanding, but 300.00 were repaid later: a backdated 1500.00 would take the balance below zero.
  const backdated = expectProblem(t, await post(app, `/v1/debts/${loan.id}/repayments`, { paidOn: '2021-07-01', principal: '1500.00', interest: '0.00' }), 422)
  t.match(backdated.errors?.[0]?.message, /at most 1200\.00/)
  t.equal(backdated.detail, 'Principal 1500.00 is more than can be repaid on 2021-07-01: 1500.00 is outstanding that day, but the events dated after it ' +
    'leave 1200.00 outstanding on 2021-12-20, and no balance may go below zero.', 'names the later day that binds (it said "the 1200.00 outstanding on 2021-07-01 (or after)"; found by a probe)')
  t.equal(over.detail, 'Principal 1200.01 is more than the 1200.00 outstanding on 2022-01-10.')
  t.equal((await post(app, `/v1/debts/${loan.id}/repayments`, { paidOn: '2022-01-10', principal: '1200.00', interest: '5.00' })).statusCode, 201)
  t.match((await get(app, `/v1/debts/${loan.id}?asOf=2022-12-31`)).json(), { status: 'repaid', outstanding: '0.00' })
})

t.test('corrections are reversing entries, and the history is append-only even in SQL', async (t) => {
  const events = (await get(app, `/v1/debts/${loan.id}`)).json().events as Array<{ id: number, kind: string, principal: string }>
  const last = events.filter((e) => e.kind === 'repayment').at(-1)!
  const reversal = await post(app, `/v1/debts/${loan.id}/repayments/${last.id}/reversal`, { reversedOn: '2022-01-15', reason: '重复录入' })
  t.equal(reversal.statusCode, 201)
  t.match(reversal.json(), { kind: 'reversal', principal: '-1200.00', interest: '-5.00', reversesEventId: last.id, note: '重复录入' })
  expectProblem(t, await post(app, `/v1/debts/${loan.id}/repayments/${last.id}/reversal`, { reversedOn: '2022-01-16', reason: 'again' }), 409)
  const transfer = events.find((e) => e.kind === 'transfer')!
  expectProblem(t, await post(app, `/v1/debts/${loan.id}/repayments/${transfer.id}/reversal`, { reversedOn: '2022-01-16', reason: 'x' }), 422)
  t.match((await get(app, `/v1/debts/${loan.id}?asOf=2022-01-14`)).json(), { outstanding: '0.00' }, 'before the reversal: as recorded then')
  t.match((await get(app, `/v1/debts/${loan.id}?asOf=2022-01-15`)).json(), { outstanding: '1200.00', status: 'transferred' })

  await t.rejects(sql`UPDATE debt_events SET principal = 0 WHERE debt_id = ${loan.id}`.execute(database.db), /append-only/)
  await t.rejects(sql`DELETE FROM debt_events WHERE debt_id = ${loan.id}`.execute(database.db), /append-only/)
  await t.rejects(sql`TRUNCATE debt_events`.execute(database.db), /append-only/)
  t.equal((await get(app, `/v1/debts/${loan.id}`)).json().events.length, 5)
})

t.test('bad input: each a clear 4xx that changes nothing', async (t) => {
  const before = await rowCount(database, 'debts')
  const cases: Array<[string, Record<string, unknown>, number, string]> = [
    ['an unknown kind', { ...loanBody, reference: 'X1', kind: 'mortgage' }, 400, '/kind'],
    ['a negative principal', { ...loanBody, reference: 'X2', principal: '-5.00' }, 422, '/principal'],
    ['a negative outstanding', { ...loanBody, reference: 'X3', outstanding: '-5.00' }, 400, '/outstanding'],
    ['outstanding above the principal', { ...loanBody, reference: 'X4', outstanding: '3000.01' }, 422, '/outstanding'],
    ['a date in the wrong format', { ...loanBody, reference: 'X5', maturityDate: '01/05/2026' }, 400, '/maturityDate'],
    ['an impossible date', { ...loanBody, reference: 'X6', registeredOn: '2021-02-30' }, 400, '/registeredOn'],
    ['an unknown zone', { ...loanBody, reference: 'X7', zoneCode: 'QD-NONE' }, 422, '/zoneCode'],
    ['an amount as a number', { ...loanBody, reference: 'X8', principal: 3000 }, 400, '/principal'],
  ]
  for (const [what, body, status, pointer] of cases) {
    const problem = expectProblem(t, await post(app, '/v1/debts', body), status)
    t.ok(problem.errors?.some((e) => e.pointer === pointer), `${what}: ${status} at ${pointer}`, { errors: problem.errors })
  }
  const zero = expectProblem(t, await post(app, `/v1/debts/${loan.id}/repayments`, { paidOn: '2022-02-01', principal: '0.00', interest: '0.00' }), 422)
  t.equal(zero.errors?.[0]?.pointer, '/principal')
  expectProblem(t, await post(app, `/v1/debts/${loan.id}/repayments`, { paidOn: '2022-02-01', principal: '-1.00', interest: '0.00' }), 400)
  expectProblem(t, await get(app, '/v1/debts/summary?asOf=2021-13-01'), 400)
  expectProblem(t, await get(app, '/v1/debts/summary?groupBy=creditor'), 400)
  expectProblem(t, await get(app, '/v1/debts/maturities?from=2022-01-01&to=2021-01-01'), 400)
  t.equal(await rowCount(database, 'debts'), before, 'nothing registered')
})

t.test('summary as of a date, grouped, totals to the cent; maturities; exports', async (t) => {
  await created(t, app, '/v1/debts', { zoneCode: 'QD-BL', reference: 'BL-1', creditor: '示例证券', kind: 'bond', principal: '1000.00', outstanding: '1000.00', maturityDate: '2023-12-31', registeredOn: '2021-01-01' })
  await created(t, app, '/v1/debts', { zoneCode: 'QD-BL', reference: 'BL-2', creditor: '=cmd|/c calc', kind: 'ppp', principal: '700.00', outstanding: '600.50', maturityDate: '2022-06-30', registeredOn: '2021-01-01', transfer: { districtCode: '370203', transferredOn: '2021-06-30', documentNo: 'x' } })
  const summary = (await get(app, '/v1/debts/summary?asOf=2021-12-31&groupBy=district')).json()
  t.same(summary.rows.map((r: { key: string | null, outstanding: string }) => [r.key, r.outstanding]), [[null, '1000.00'], ['370203', '600.50'], ['370214', '1200.00']])
  t.match(summary.total, { debts: 3, outstanding: '2800.50', registeredOutstanding: '3600.50', principalRepaid: '800.00', interestPaid: '20.00', transferred: 2, transferredOutstanding: '1800.50' })
  // The list as of a day is the register as it stood then, as the summary counts it (before, BL-1 and BL-2 were listed as not_registered; found by a probe).
  const registered = (await get(app, '/v1/debts?asOf=2020-12-31')).json() as { items: Array<{ reference: string, status: string }> }
  t.same(registered.items.map((d) => [d.reference, d.status]), [['HT-2016-001', 'zone']], 'BL-1 and BL-2, registered on 2021-01-01, are not listed as of 2020-12-31')
  t.equal((await get(app, '/v1/debts/summary?asOf=2020-12-31')).json().total.debts, registered.items.length, 'the summary of the day counts what the list shows')
  const byKind = (await get(app, '/v1/debts/summary?asOf=2021-12-31&groupBy=kind')).json()
  t.same(byKind.rows.map((r: { key: string }) => r.key), ['bank_loan', 'bond', 'ppp'])
  t.equal(byKind.total.outstanding, summary.total.outstanding, 'the same total, however grouped')

  const scoped = (await injectAs('district203', { method: 'GET', url: '/v1/debts/summary?asOf=2021-12-31' })).json()
  t.same(scoped.rows.map((r: { key: string }) => r.key), ['370203'], 'a district sees the debts transferred to it')
  t.same((await injectAs('zoneBL', { method: 'GET', url: '/v1/debts' })).json().items.map((d: { reference: string }) => d.reference), ['BL-1', 'BL-2'])

  const due = (await get(app, '/v1/debts/maturities?from=2022-01-01&to=2023-12-31')).json().items
  t.same(due.map((d: { reference: string, maturityDate: string }) => [d.reference, d.maturityDate]), [['BL-2', '2022-06-30'], ['BL-1', '2023-12-31']])
  // api-contract.md, Lists: the maturity schedule pages like every list (before, ?limit= was 400 and every debt came in one answer).
  const first = (await get(app, '/v1/debts/maturities?from=2022-01-01&to=2023-12-31&limit=1')).json()
  t.same(first.items.map((d: { reference: string }) => d.reference), ['BL-2'])
  t.type(first.nextCursor, 'string')
  const second = (await get(app, `/v1/debts/maturities?from=2022-01-01&to=2023-12-31&limit=1&cursor=${first.nextCursor as string}`)).json()
  t.same([second.items.map((d: { reference: string }) => d.reference), second.nextCursor], [['BL-1'], null], 'the next page, the last')
  expectProblem(t, await get(app, '/v1/debts/maturities?from=2022-01-01&to=2023-12-31&cursor=nonsense'), 400)
  // A cursor of the list's shape whose day is no day (found by review: 500 from the database, or an arbitrary page for 'infinity').
  for (const day of ['not a date', '2030-02-30', '', '2030-01-01 junk', 'infinity', 'epoch']) {
    const cursor = Buffer.from(JSON.stringify([day, 1]), 'utf8').toString('base64url')
    t.equal(expectProblem(t, await get(app, `/v1/debts/maturities?from=2022-01-01&to=2023-12-31&cursor=${cursor}`), 400).errors?.[0]?.pointer, '/querystring/cursor', JSON.stringify(day))
  }

  const csv = await get(app, '/v1/debts/summary?asOf=2021-12-31&groupBy=zone&format=csv')
  t.equal(csv.statusCode, 200)
  t.same([...csv.rawPayload.subarray(0, 3)], [0xef, 0xbb, 0xbf])
  t.match(csv.body, /合计 total,3,3600\.50,800\.00,20\.00,2800\.50,2,1800\.50/)
  // Kinds by their Chinese names, as a budget office reads them (before, the codes alone; found by an export review).
  const kindsCsv = parse((await get(app, '/v1/debts/summary?asOf=2021-12-31&groupBy=kind&format=csv')).body, { bom: true, relaxColumnCount: true }) as string[][]
  t.same(kindsCsv.slice(2).map((r) => r[0]), ['银行贷款 bank_loan', '债券 bond', 'PPP项目 ppp', '合计 total'])
  const xlsx = await get(app, '/v1/debts/summary?asOf=2021-12-31&groupBy=zone&format=xlsx')
  const workbook = new ExcelJS.Workbook()
  await workbook.xlsx.load(xlsx.rawPayload as unknown as ArrayBuffer)
  const sheet = workbook.getWorksheet('债务汇总')!
  const last = sheet.getRow(sheet.rowCount)
  t.equal(last.getCell(1).value, '合计 total')
  t.equal(last.getCell(6).value, 2800.5)
  t.strictSame([last.getCell(2).value, last.getCell(7).value], [3, 2], 'the counts (笔数, 已划转笔数) are numbers a spreadsheet adds up (before, text)')
  t.equal(last.font?.bold, true)
})

t.test('bulk registration by CSV: every bad line with its number, nothing registered unless all are good or ?partial=true', async (t) => {
  const header = 'zoneCode,reference,creditor,kind,principal,outstanding,interestRate,incurredOn,maturityDate,registeredOn,notes'
  const file = [
    header,
    'QD-HT,CSV-1,示例银行,bank_loan,1000.00,800.00,0.045,2017-01-01,2027-01-01,2020-12-31,',
    'QD-HT,CSV-2,示例银行,mortgage,1000.00,800.00,,,,2020-12-31,',
    'QD-HT,CSV-3,示例银行,bond,1000.00,1200.00,,,2027-02-30,,',
    'QD-HT,CSV-1,示例银行,bond,1.00,1.00,,,,,',
    'QD-BL,"CSV-5","示例, 证券",ppp,50.00,50.00,,,,2021-01-01,"含逗号, 的备注"',
  ].join('\n')
  const csv = (body: string, query = '') => injectAs('admin', { method: 'POST', url: `/v1/debts/import${query}`, headers: { 'content-type': 'text/csv' }, payload: body })
  const refused = expectProblem(t, await csv(file), 422)
  // CSV-1 on lines 2 and 5: both lines are bad, naming each other (before, line 5 alone, as if line 2's debt were registered, and ?partial=true registered line 2's).
  t.same(refused.errors, [
    { pointer: '/line/2/reference', message: 'line 2, reference: is repeated by line 5 (the same zone and reference: one debt per reference in a zone)' },
    { pointer: '/line/3/kind', message: 'line 3, kind: must be one of bank_loan, bond, project_payable, ppp, other' },
    { pointer: '/line/4/outstanding', message: 'line 4, outstanding: is more than the principal' },
    { pointer: '/line/4/maturityDate', message: refused.errors?.[3]?.message ?? '' },
    { pointer: '/line/5/reference', message: 'line 5, reference: repeats line 2 (the same zone and reference: one debt per reference in a zone)' },
  ])
  t.equal(String((await sql<{ n: string }>`SELECT count(*) AS n FROM debts WHERE reference LIKE 'CSV-%'`.execute(database.db)).rows[0]!.n), '0')
  const partial = await csv(file, '?partial=true')
  t.equal(partial.statusCode, 200)
  t.match(partial.json(), { rows: 5, registered: 1, rejected: 4 })
  const stored = await database.db.selectFrom('debts').select(['reference', 'creditor', 'notes']).where('reference', 'like', 'CSV-%').orderBy('reference').execute()
  t.same(stored, [{ reference: 'CSV-5', creditor: '示例, 证券', notes: '含逗号, 的备注' }], 'neither line of CSV-1 is chosen in silence')
  // The same reference in two zones is two debts; a repeat of a line bad for another reason is named by the good line.
  const two = [header, 'QD-HT,CSV-9,示例银行,bond,5.00,5.00,,,,,', 'QD-BL,CSV-9,示例银行,bond,5.00,5.00,,,,,', 'QD-BL,CSV-9,示例银行,nonsense,5.00,5.00,,,,,'].join('\n')
  t.same(expectProblem(t, await csv(two), 422).errors, [
    { pointer: '/line/3/reference', message: 'line 3, reference: is repeated by line 4 (the same zone and reference: one debt per reference in a zone)' },
    { pointer: '/line/4/kind', message: 'line 4, kind: must be one of bank_loan, bond, project_payable, ppp, other' },
  ])
  expectProblem(t, await csv('zone,reference\n'), 422)
  // A reference or creditor in quotes is taken without the spaces inside the quotes, as POST /v1/debts takes them (found by review:
  // "CSV-8 " escaped both the repeat check and the register's, and was stored beside CSV-8).
  const quoted = [header, 'QD-HT,CSV-8,示例银行,bond,5.00,5.00,,,,,', 'QD-HT,"CSV-8 ",示例银行,bond,5.00,5.00,,,,,', 'QD-BL," CSV-5",示例银行,bond,5.00,5.00,,,,,'].join('\n')
  t.same(expectProblem(t, await csv(quoted), 422).errors, [
    { pointer: '/line/2/reference', message: 'line 2, reference: is repeated by line 3 (the same zone and reference: one debt per reference in a zone)' },
    { pointer: '/line/3/reference', message: 'line 3, reference: repeats line 2 (the same zone and reference: one debt per reference in a zone)' },
    { pointer: '/line/4/reference', message: 'line 4, reference: zone QD-BL already has a debt CSV-5' },
  ])
  t.match((await csv([header, 'QD-HT,"CSV-10 ","  示例银行 ",bond,5.00,5.00,,,,,'].join('\n'))).json(), { registered: 1 })
  t.same(await database.db.selectFrom('debts').select(['reference', 'creditor']).where('reference', 'like', 'CSV-1_%').execute(), [{ reference: 'CSV-10', creditor: '示例银行' }])
})

t.test('a CSV saved in GBK is refused naming its first non-UTF-8 line, not loaded with its Chinese turned into U+FFFD', async (t) => {
  const header = 'zoneCode,reference,creditor,kind,principal,outstanding,interestRate,incurredOn,maturityDate,registeredOn,notes'
  // 示例银行 in GBK (what a spreadsheet often writes for "CSV") on line 3; line 2 is plain ASCII.
  const gbk = Buffer.from([0xca, 0xbe, 0xc0, 0xfd, 0xd2, 0xf8, 0xd0, 0xd0])
  const file = Buffer.concat([
    Buffer.from(`${header}\nQD-HT,GBK-1,bank,bank_loan,1.00,1.00,,,,,\nQD-HT,GBK-2,`), gbk, Buffer.from(',bank_loan,1.00,1.00,,,,,\n'),
  ])
  const response = await injectAs('admin', { method: 'POST', url: '/v1/debts/import?partial=true', headers: { 'content-type': 'text/csv' }, payload: file })
  const problem = expectProblem(t, response, 400)
  t.match(problem.detail, /not UTF-8 text \(line 3\)/)
  t.same(problem.errors, [{ pointer: '/line/3', message: 'holds bytes that are not UTF-8' }])
  t.equal(String((await sql<{ n: string }>`SELECT count(*) AS n FROM debts WHERE reference LIKE 'GBK-%'`.execute(database.db)).rows[0]!.n), '0', 'not even the good line, with ?partial=true')
  // The same file in UTF-8 loads.
  const utf8 = Buffer.from(`${header}\nQD-HT,GBK-1,bank,bank_loan,1.00,1.00,,,,,\nQD-HT,GBK-2,示例银行,bank_loan,1.00,1.00,,,,,\n`)
  const loaded = await injectAs('admin', { method: 'POST', url: '/v1/debts/import', headers: { 'content-type': 'text/csv' }, payload: utf8 })
  t.equal(loaded.statusCode, 200)
  t.match(loaded.json(), { registered: 2 })
})

t.test('a CSV saved in GBK whose bytes happen to be UTF-8 (医院, 学校) is refused at its line, not registered with creditors ҽԺ and ѧУ (found by a probe)', async (t) => {
  const header = 'zoneCode,reference,creditor,kind,principal,outstanding,interestRate,incurredOn,maturityDate,registeredOn,notes'
  const file = Buffer.concat([
    Buffer.from(`${header}\r\nQD-HT,GBK-U-1,`), Buffer.from('d2bdd4ba', 'hex'), Buffer.from(',project_payable,5000.00,5000.00,,,,,\r\nQD-HT,GBK-U-2,'), Buffer.from('d1a7d0a3', 'hex'), Buffer.from(',other,100.00,100.00,,,,,\r\n'),
  ])
  const before = await rowCount(database, 'debts')
  for (const query of ['', '?partial=true']) {
    const problem = expectProblem(t, await injectAs('admin', { method: 'POST', url: `/v1/debts/import${query}`, headers: { 'content-type': 'text/csv' }, payload: file }), 400)
    t.equal(problem.detail, 'The file reads as GBK or GB18030 text, not UTF-8 (line 2: "医院" in GBK would be stored as "ҽԺ"). Save it as "CSV UTF-8".', query)
  }
  t.equal(await rowCount(database, 'debts'), before, 'nothing registered')
  const utf8 = await injectAs('admin', { method: 'POST', url: '/v1/debts/import', headers: { 'content-type': 'text/csv' }, payload: `${header}\r\nQD-HT,GBK-U-1,医院,project_payable,5000.00,5000.00,,,,,\r\n` })
  t.match(utf8.json(), { registered: 1 }, 'the file saved as UTF-8 loads')
})

t.test('text a spreadsheet would run as a formula is neutralized in exports', async (t) => {
  const { neutralize } = await import('../../src/http/statement.js')
  t.equal(neutralize('=cmd|/c calc'), "'=cmd|/c calc")
  t.equal(neutralize('@SUM(A1)'), "'@SUM(A1)")
  t.equal(neutralize('示例银行'), '示例银行')
})

t.test('maturities: only debts with principal outstanding today, filtered before paging, so every page but the last is full', async (t) => {
  const debt = (reference: string, maturityDate: string) => created(t, app, '/v1/debts', { zoneCode: 'QD-HT', reference, creditor: '示例银行', kind: 'bank_loan', principal: '10.00', outstanding: '10.00', maturityDate, registeredOn: '2021-01-01' }) as Promise<{ id: number }>
  const repaid = await debt('M-REPAID', '2040-01-01')
  await created(t, app, `/v1/debts/${repaid.id}/repayments`, { paidOn: '2021-02-01', principal: '10.00', interest: '0.00' })
  await debt('M-1', '2040-02-01')
  await debt('M-2', '2040-03-01')
  const first = (await get(app, '/v1/debts/maturities?from=2040-01-01&to=2040-12-31&limit=1')).json()
  t.same(first.items.map((d: { reference: string }) => d.reference), ['M-1'], 'the repaid debt, first by maturity, is not on the page')
  const rest = (await get(app, `/v1/debts/maturities?from=2040-01-01&to=2040-12-31&limit=1&cursor=${first.nextCursor as string}`)).json()
  t.same([rest.items.map((d: { reference: string }) => d.reference), rest.nextCursor], [['M-2'], null])
})

t.test('the audit log traces every debt to whoever wrote it: a CSV import logs each debt it registers as a registration, and a repayment or reversal names the ledger event it made', async (t) => {
  type Event = { action: string, entityType: string, entityId: string, keyId: string, requestId: string, details: Record<string, unknown> | null }
  const eventsOf = async (query: string) => (await get(app, `/v1/audit-events?${query}`)).json().items as Event[]
  const file = 'zoneCode,reference,creditor,kind,principal,outstanding,interestRate,incurredOn,maturityDate,registeredOn,notes\n' +
    'QD-HT,AUDIT-1,示例银行,bank_loan,10.00,10.00,,,,2021-01-01,\nQD-HT,AUDIT-2,示例银行,bond,20.00,20.00,,,,2021-01-01,\n'
  const imported = await injectAs('admin', { method: 'POST', url: '/v1/debts/import', headers: { 'content-type': 'text/csv' }, payload: file })
  t.equal(imported.statusCode, 200)
  const ids = (await database.db.selectFrom('debts').select(['id', 'reference']).where('reference', 'like', 'AUDIT-%').orderBy('reference').execute())
  t.equal(ids.length, 2)
  for (const { id, reference } of ids) {
    const events = await eventsOf(`entityType=debt&entityId=${id}`)
    t.match(events, [{ action: 'register', entityType: 'debt', entityId: String(id), keyId: 'bootstrap', details: { reference, zoneCode: 'QD-HT' } }], `debt ${id} (${reference}): before, no event named it`)
    t.equal(events[0]?.requestId, (await eventsOf('entityType=debt_import&limit=1'))[0]?.requestId, 'the same request as the import\'s own event')
  }
  const [first] = ids
  const repaid = await created(t, app, `/v1/debts/${first!.id}/repayments`, { paidOn: '2021-06-30', principal: '1.00', interest: '0.00' }) as { id: number }
  const reversed = await created(t, app, `/v1/debts/${first!.id}/repayments/${repaid.id}/reversal`, { reversedOn: '2021-07-01', reason: '录入错误' }) as { id: number }
  const [reverse, repay] = await eventsOf(`entityType=debt&entityId=${first!.id}&limit=2`)
  t.match(repay, { action: 'repay', details: { eventId: repaid.id, principal: '1.00' } }, 'the repayment names the ledger event it made')
  t.match(reverse, { action: 'reverse', details: { eventId: repaid.id, reversalEventId: reversed.id } }, 'the reversal names the one it reverses and the one it made')
})

t.test('a transfer\'s reason is kept without the spaces around it, as a reversal\'s is (found by a probe)', async (t) => {
  const debt = await created(t, app, '/v1/debts', { ...loanBody, reference: 'HT-TRIM-1' }) as { id: number }
  const transferred = await post(app, `/v1/debts/${debt.id}/transfer`, { districtCode: '370203', transferredOn: '2021-03-31', documentNo: '青政办字〔2021〕9号', reason: '  市政府专题会议决定  ' })
  t.equal(transferred.statusCode, 200, transferred.body)
  const events = (await get(app, `/v1/debts/${debt.id}`)).json().events as Array<{ kind: string, note?: string }>
  t.equal(events.find((e) => e.kind === 'transfer')?.note, '市政府专题会议决定')
})
