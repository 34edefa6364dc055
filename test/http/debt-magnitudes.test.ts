import { sql } from 'kysely'
import t from 'tap'
import { expectProblem, rowCount, testApp, testDatabase } from '../helpers.js'
import { buildWorld, created, get, injector, post } from '../world.js'

// calculation-rules.md §1: an amount given has at most 15 integer digits, a figure printed at most 18; what would print a
// longer one is refused with 422 naming the input. In the debt register (api-contract.md, Legacy debts) every figure a
// summary prints is at most Σ outstanding at registration over all debts, or Σ interest over all repayments: a
// registration, an imported line or a repayment that would take either sum past 999,999,999,999,999,999.99 is refused.
// The largest amount, 999,999,999,999,999.99, fits 1,000 times: 999,999,999,999,999,990.00; the 1,001st does not.

const database = await testDatabase(t)
const app = await testApp(t, database)
const world = await buildWorld(t, app)
const injectAs = injector(app, world)
const LARGEST = '999999999999999.99'
const header = 'zoneCode,reference,creditor,kind,principal,outstanding,interestRate,incurredOn,maturityDate,registeredOn,notes'
const line = (reference: string, outstanding = LARGEST) => `QD-HT,${reference},示例银行,bank_loan,${LARGEST},${outstanding},,,,2021-01-01,`

const importCsv = (lines: string[], query = '') =>
  injectAs('admin', { method: 'POST', url: `/v1/debts/import${query}`, headers: { 'content-type': 'text/csv' }, payload: [header, ...lines].join('\n') + '\n' })

t.test('§1 the register\'s outstanding: 1,000 of the largest debts fit, the next is refused where it is given', async (t) => {
  const references = Array.from({ length: 999 }, (_, i) => `BIG-${i}`)
  const loaded = await importCsv(references.map((r) => line(r)))
  t.equal(loaded.statusCode, 200, loaded.body)
  t.match(loaded.json(), { registered: 999, rejected: 0 })

  // A file of two more: the first fits (the 1,000th), the second would not; all or nothing refuses the file, and
  // ?partial=true registers the first and names the second's line (line 3: the header is line 1).
  const two = [line('BIG-999'), line('BIG-1000')]
  const whole = expectProblem(t, await importCsv(two), 422)
  t.equal(await rowCount(database, 'debts'), 999, 'all or nothing: nothing registered')
  t.match(JSON.stringify(whole), /beyond 18 integer digits/)
  const partial = await importCsv(two, '?partial=true')
  t.equal(partial.statusCode, 200, partial.body)
  t.match(partial.json(), { registered: 1, rejected: 1, errors: [{ line: 3, field: 'outstanding', message: /at most 9\.99 more can be registered/ }] })
  t.equal(await rowCount(database, 'debts'), 1000)

  // A reference given twice takes no room: neither of its lines registers, and a line after them that fits does
  // (found by the review of 12d2e87: the repeats took the room first, and the last line was told at most 9.99 - 6.00).
  const repeats = [line('REP-1', '6.00'), line('REP-1', '1.00'), line('FITS', '9.00')]
  const afterRepeats = await importCsv(repeats, '?partial=true')
  t.match(afterRepeats.json(), { rows: 3, registered: 1, rejected: 2, errors: [{ line: 2, field: 'reference' }, { line: 3, field: 'reference' }] }, afterRepeats.body)
  t.equal(afterRepeats.json().errors.length, 2, 'the fitting line is not refused')
  await sql`DELETE FROM debts WHERE reference = 'FITS'`.execute(database.db)
  t.equal(await rowCount(database, 'debts'), 1000)

  const one = { zoneCode: 'QD-HT', reference: 'ONE-MORE', creditor: '示例银行', kind: 'bank_loan', principal: '10.00', outstanding: '10.00', registeredOn: '2021-01-01' }
  const refused = expectProblem(t, await post(app, '/v1/debts', one), 422)
  t.match(refused.detail, /would have more than 18 integer digits \(calculation-rules\.md §1\).*At most 9\.99 more/)
  t.same(refused.errors, [{ pointer: '/outstanding', message: 'at most 9.99' }])
  t.equal(await rowCount(database, 'debts'), 1000, 'nothing registered')
  await created(t, app, '/v1/debts', { ...one, principal: '9.99', outstanding: '9.99' })

  const summary = (await get(app, '/v1/debts/summary?asOf=2021-12-31')).json()
  t.equal(summary.total.registeredOutstanding, '999999999999999999.99', 'the largest figure the register can print: 18 integer digits')
  t.equal(summary.total.debts, 1001)
})

t.test('§1 the register\'s interest: a repayment whose interest would take the sum past 18 integer digits is refused', async (t) => {
  const debt = await created(t, app, '/v1/debts', {
    zoneCode: 'QD-HT', reference: 'INTEREST', creditor: '示例银行', kind: 'bank_loan', principal: '100.00', outstanding: '0.00', registeredOn: '2021-01-01',
  })
  // Given: 1,000 repayments of the largest interest already on record (as 1,000 requests would leave them).
  await sql`INSERT INTO debt_events (debt_id, kind, occurred_on, interest, key_id)
    SELECT ${debt.id}, 'repayment', DATE '2021-06-30', ${LARGEST}::numeric, 'seed' FROM generate_series(1, 1000)`.execute(database.db)
  const before = await rowCount(database, 'debt_events')
  const refused = expectProblem(t, await post(app, `/v1/debts/${debt.id}/repayments`, { paidOn: '2021-07-01', principal: '0.00', interest: '10.00' }), 422)
  t.same(refused.errors, [{ pointer: '/interest', message: 'at most 9.99' }])
  t.equal(await rowCount(database, 'debt_events'), before, 'nothing recorded')
  await created(t, app, `/v1/debts/${debt.id}/repayments`, { paidOn: '2021-07-01', principal: '0.00', interest: '9.99' })
  t.match((await get(app, `/v1/debts/${debt.id}?asOf=2021-12-31`)).json(), { interestPaid: '999999999999999999.99' })
})
