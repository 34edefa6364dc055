import { sql } from 'kysely'
import t from 'tap'
import { today } from '../../src/db/debts.js'
import { latestDayFor } from '../../src/domain/debt.js'
import { expectProblem, rowCount, testApp, testDatabase } from '../helpers.js'
import { buildWorld, created, get, injector, post } from '../world.js'

/*
 * The rules of a legacy debt's events (api-contract.md, Legacy debts; Roles and scope): nothing
 * about a debt — transfer, repayment, reversal — is dated before its registration; a transfer goes
 * to the zone's host district unless the request says why not; a district reverses only its own
 * repayments, never dated before them or the transfer; ?status= is filtered before paging.
 * The world: 城阳区 370214 hosts QD-HT, 市北区 370203 hosts QD-BL.
 */

const database = await testDatabase(t)
const app = await testApp(t, database)
const world = await buildWorld(t, app)
const injectAs = injector(app, world)
let n = 0
const debtBody = (overrides: Record<string, unknown> = {}) => ({
  zoneCode: 'QD-HT', reference: `R-${++n}`, creditor: '示例银行', kind: 'bank_loan', principal: '1000.00', outstanding: '1000.00', registeredOn: '2021-01-01', ...overrides,
})
const events = async () => rowCount(database, 'debt_events')

t.test('Legacy debts: a district reverses only its own repayments, dated on or after the repayment and the transfer', async (t) => {
  const debt = await created(t, app, '/v1/debts', debtBody({ registeredOn: '2020-12-31' })) as { id: number }
  // The zone repaid in January, before the transfer (recorded by the municipal bureau).
  const zoneRepayment = await created(t, app, `/v1/debts/${debt.id}/repayments`, { paidOn: '2021-01-15', principal: '100.00', interest: '5.00' }) as { id: number }
  t.equal((await post(app, `/v1/debts/${debt.id}/transfer`, { districtCode: '370214', transferredOn: '2021-03-31', documentNo: '划转1号' })).statusCode, 200)
  const own = await injectAs('district214', { method: 'POST', url: `/v1/debts/${debt.id}/repayments`, payload: { paidOn: '2021-06-30', principal: '200.00', interest: '8.00' } })
  t.equal(own.statusCode, 201)
  const ownId = (own.json() as { id: number }).id
  const balance = async (day: string) => ((await get(app, `/v1/debts/${debt.id}?asOf=${day}`)).json() as { outstanding: string }).outstanding
  t.equal(await balance('2021-02-01'), '900.00')
  const before = await events()

  const notOwn = expectProblem(t, await injectAs('district214', { method: 'POST', url: `/v1/debts/${debt.id}/repayments/${zoneRepayment.id}/reversal`, payload: { reversedOn: '2021-02-01', reason: '冲正' } }), 422)
  t.match(notOwn.detail, /made before the debt was transferred to 370214 on 2021-03-31: a district reverses only its own repayments/)
  t.equal(notOwn.errors?.[0]?.pointer, '/params/eventId')
  expectProblem(t, await injectAs('district214', { method: 'POST', url: `/v1/debts/${debt.id}/repayments/${zoneRepayment.id}/reversal`, payload: { reversedOn: '2021-07-01', reason: '冲正' } }), 422)
  t.equal(await balance('2021-02-01'), '900.00', 'the balance as of an earlier date did not change')

  const backdated = expectProblem(t, await injectAs('district214', { method: 'POST', url: `/v1/debts/${debt.id}/repayments/${ownId}/reversal`, payload: { reversedOn: '2021-03-30', reason: '冲正' } }), 422)
  t.equal(backdated.errors?.[0]?.pointer, '/reversedOn', 'its own repayment, but dated before it (and the transfer)')
  t.equal(await events(), before, 'nothing was recorded')

  const reversed = await injectAs('district214', { method: 'POST', url: `/v1/debts/${debt.id}/repayments/${ownId}/reversal`, payload: { reversedOn: '2021-07-05', reason: '重复录入' } })
  t.equal(reversed.statusCode, 201, 'its own repayment, on or after it')
  t.match(reversed.json(), { kind: 'reversal', principal: '-200.00', reversesEventId: ownId })
  const byAdmin = await post(app, `/v1/debts/${debt.id}/repayments/${zoneRepayment.id}/reversal`, { reversedOn: '2021-01-20', reason: '退回' })
  t.equal(byAdmin.statusCode, 201, 'the municipal bureau may reverse the zone\'s repayment')
  t.equal(await balance('2021-02-01'), '1000.00')
})

t.test('Legacy debts: one rule for every date — nothing is dated before the registration (transfers included)', async (t) => {
  const debt = await created(t, app, '/v1/debts', debtBody({ registeredOn: '2021-01-01' })) as { id: number }
  const before = await events()
  const transfer = expectProblem(t, await post(app, `/v1/debts/${debt.id}/transfer`, { districtCode: '370214', transferredOn: '2020-12-31', documentNo: 'x' }), 422)
  t.equal(transfer.errors?.[0]?.pointer, '/transferredOn')
  t.match(transfer.detail, /registered on 2021-01-01; nothing about it — a transfer included — is dated before/)
  const repayment = expectProblem(t, await post(app, `/v1/debts/${debt.id}/repayments`, { paidOn: '2020-12-31', principal: '1.00', interest: '0.00' }), 422)
  t.equal(repayment.errors?.[0]?.pointer, '/paidOn')
  t.equal(await events(), before, 'nothing was recorded')

  const debts = await rowCount(database, 'debts')
  const registered = expectProblem(t, await post(app, '/v1/debts', debtBody({ registeredOn: '2021-01-01', transfer: { districtCode: '370214', transferredOn: '2020-06-30', documentNo: 'x' } })), 422)
  t.equal(registered.errors?.[0]?.pointer, '/transfer/transferredOn', 'a debt registered with its transfer: the same rule')
  t.equal(await rowCount(database, 'debts'), debts, 'and the debt was not registered')

  t.equal((await post(app, `/v1/debts/${debt.id}/transfer`, { districtCode: '370214', transferredOn: '2021-01-01', documentNo: 'x' })).statusCode, 200, 'on the registration day itself: accepted')
})

t.test('Legacy debts: an admin records the zone\'s repayment made before the transfer, after the transfer is on record; a district repays from the transfer on', async (t) => {
  // A debt registered as history with its transfer; the zone's February repayment comes to light afterwards.
  const debt = await created(t, app, '/v1/debts', debtBody({ registeredOn: '2020-12-31', transfer: { districtCode: '370214', transferredOn: '2021-03-31', documentNo: '划转2号' } })) as { id: number }
  const byDistrict = expectProblem(t, await injectAs('district214', { method: 'POST', url: `/v1/debts/${debt.id}/repayments`, payload: { paidOn: '2021-02-15', principal: '100.00', interest: '4.00' } }), 422)
  t.equal(byDistrict.errors?.[0]?.pointer, '/paidOn', 'the district: not before the transfer to it')
  const zoneRepayment = await injectAs('admin', { method: 'POST', url: `/v1/debts/${debt.id}/repayments`, payload: { paidOn: '2021-02-15', principal: '100.00', interest: '4.00' } })
  t.equal(zoneRepayment.statusCode, 201, 'the municipal bureau records it (before, 422: "a repayment by the district cannot be dated before the transfer")')
  const asOf = async (day: string) => (await get(app, `/v1/debts/${debt.id}?asOf=${day}`)).json() as { status: string, outstanding: string, principalRepaid: string }
  t.match(await asOf('2021-02-28'), { status: 'zone', outstanding: '900.00', principalRepaid: '100.00' }, 'the zone carried 900.00 after it')
  t.match(await asOf('2021-03-31'), { status: 'transferred', outstanding: '900.00' }, 'and the district took 900.00 over')
})

t.test('Legacy debts: "today" is Beijing\'s date; repayments, reversals and registrations are dated today at the latest, transfers by the end of next year', async (t) => {
  const { rows: [clock] } = await sql<{ beijing: string }>`select to_char((now() at time zone 'UTC') + interval '8 hours', 'YYYY-MM-DD') as beijing`.execute(database.db)
  const day = await today(database.db)
  t.equal(day, clock?.beijing, 'today is the date in UTC+8 (before, current_date: UTC on PGlite, still yesterday in Qingdao until 08:00)')
  const nextDay = new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)
  const endOfNextYear = latestDayFor('transfer', day)
  t.equal(endOfNextYear, `${Number(day.slice(0, 4)) + 1}-12-31`)
  const after = new Date(Date.parse(`${endOfNextYear}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)

  const debt = await created(t, app, '/v1/debts', debtBody({ registeredOn: '2021-01-01' })) as { id: number }
  const before = await events()
  const typo = expectProblem(t, await post(app, `/v1/debts/${debt.id}/repayments`, { paidOn: '2062-06-30', principal: '100.00', interest: '0.00' }), 422)
  t.equal(typo.errors?.[0]?.pointer, '/paidOn', 'a repayment in 2062 (a typo for 2026) is refused: it would block the transfer until then')
  t.match(typo.detail, /is dated 2062-06-30, after \d{4}-\d{2}-\d{2}: a repayment is recorded once it is paid/)
  expectProblem(t, await post(app, `/v1/debts/${debt.id}/repayments`, { paidOn: nextDay, principal: '1.00', interest: '0.00' }), 422)
  const paid = await created(t, app, `/v1/debts/${debt.id}/repayments`, { paidOn: day, principal: '1.00', interest: '0.00' }) as { id: number }
  const reversal = expectProblem(t, await post(app, `/v1/debts/${debt.id}/repayments/${paid.id}/reversal`, { reversedOn: nextDay, reason: '冲正' }), 422)
  t.equal(reversal.errors?.[0]?.pointer, '/reversedOn')
  t.equal(await events(), before + 1, 'only the repayment dated today was recorded')

  const transfer = expectProblem(t, await post(app, `/v1/debts/${debt.id}/transfer`, { districtCode: '370214', transferredOn: after, documentNo: 'x' }), 422)
  t.equal(transfer.errors?.[0]?.pointer, '/transferredOn')
  t.match(transfer.detail, /a transfer decided ahead takes effect by the end of next year at the latest/)
  t.equal((await post(app, `/v1/debts/${debt.id}/transfer`, { districtCode: '370214', transferredOn: endOfNextYear, documentNo: '预定划转' })).statusCode, 200, 'a transfer decided ahead, to the end of next year')

  const debts = await rowCount(database, 'debts')
  const registered = expectProblem(t, await post(app, '/v1/debts', debtBody({ registeredOn: nextDay })), 422)
  t.equal(registered.errors?.[0]?.pointer, '/registeredOn')
  const withTransfer = expectProblem(t, await post(app, '/v1/debts', debtBody({ registeredOn: day, transfer: { districtCode: '370214', transferredOn: after, documentNo: 'x' } })), 422)
  t.equal(withTransfer.errors?.[0]?.pointer, '/transfer/transferredOn')
  const header = 'zoneCode,reference,creditor,kind,principal,outstanding,interestRate,incurredOn,maturityDate,registeredOn,notes'
  const imported = expectProblem(t, await injectAs('admin', { method: 'POST', url: '/v1/debts/import', headers: { 'content-type': 'text/csv' }, payload: `${header}\nQD-HT,AHEAD-1,某银行,bond,10.00,10.00,,,,${nextDay},\n` }), 422)
  t.match(imported.errors?.[0], { pointer: '/line/2/registeredOn' }, 'a CSV line registered ahead: rejected at its field')
  t.match(imported.errors?.[0]?.message, /^line 2, registeredOn: is after \d{4}-\d{2}-\d{2}: the outstanding figure registered is of a day that has come/,
    'said of the field, as the line\'s other problems are, not as a sentence of its own')
  t.equal(await rowCount(database, 'debts'), debts, 'nothing registered')
})

t.test('Legacy debts: a reversal says why and names a repayment; a CSV line counts characters as JSON does', async (t) => {
  const debt = await created(t, app, '/v1/debts', debtBody({ registeredOn: '2021-01-01' })) as { id: number }
  const paid = await created(t, app, `/v1/debts/${debt.id}/repayments`, { paidOn: '2021-02-01', principal: '10.00', interest: '0.00' }) as { id: number }
  const before = await events()
  const blank = expectProblem(t, await post(app, `/v1/debts/${debt.id}/repayments/${paid.id}/reversal`, { reversedOn: '2021-02-02', reason: '   ' }), 400)
  t.equal(blank.errors?.[0]?.pointer, '/reason', 'a reason of spaces says nothing (before, accepted)')
  t.equal((await post(app, `/v1/debts/${debt.id}/transfer`, { districtCode: '370214', transferredOn: '2021-03-01', documentNo: '划转' })).statusCode, 200)
  const transferEvent = ((await get(app, `/v1/debts/${debt.id}`)).json() as { events: Array<{ id: number, kind: string }> }).events.find((e) => e.kind === 'transfer')
  const notRepayment = expectProblem(t, await post(app, `/v1/debts/${debt.id}/repayments/${transferEvent?.id ?? 0}/reversal`, { reversedOn: '2021-03-02', reason: '冲正' }), 422)
  t.equal(notRepayment.errors?.[0]?.pointer, '/params/eventId', 'naming the event that is not a repayment (before, no pointer)')
  t.equal(await events(), before + 1, 'only the transfer was recorded')

  // 150 characters outside the Basic Multilingual Plane (rare CJK characters, two UTF-16 units each): within 200, in JSON and CSV alike.
  const creditor = '𠀀'.repeat(150)
  t.equal((await post(app, '/v1/debts', debtBody({ reference: 'WIDE-JSON', creditor }))).statusCode, 201)
  const header = 'zoneCode,reference,creditor,kind,principal,outstanding,interestRate,incurredOn,maturityDate,registeredOn,notes'
  const imported = await injectAs('admin', { method: 'POST', url: '/v1/debts/import', headers: { 'content-type': 'text/csv' }, payload: `${header}\nQD-HT,WIDE-CSV,${creditor},bond,10.00,10.00,,,,2021-01-01,\n` })
  t.equal(imported.statusCode, 200, 'the CSV line is registered too (before, "at most 200 characters")')
  t.match(imported.json(), { registered: 1 })
})

t.test('Legacy debts: a transfer to a district other than the zone\'s host needs a reason, shown on the debt', async (t) => {
  const debt = await created(t, app, '/v1/debts', debtBody()) as { id: number }
  const before = await events()
  const refused = expectProblem(t, await post(app, `/v1/debts/${debt.id}/transfer`, { districtCode: '370203', transferredOn: '2021-03-31', documentNo: '划转2号' }), 422)
  t.equal(refused.errors?.[0]?.pointer, '/reason')
  t.match(refused.detail, /zone QD-HT goes to its host district 370214; a transfer to 370203 needs a reason/)
  t.equal(await events(), before, 'nothing was recorded')

  const registered = expectProblem(t, await post(app, '/v1/debts', debtBody({ transfer: { districtCode: '370203', transferredOn: '2021-03-31', documentNo: 'x' } })), 422)
  t.equal(registered.errors?.[0]?.pointer, '/transfer/reason', 'registered with its transfer: the same rule')
  t.match(registered.detail, /^A debt of zone QD-HT goes to its host district 370214; a transfer to 370203 needs a reason/)

  const reason = '市政府决定由市北区承接（青政字〔2021〕9号）'
  const done = await post(app, `/v1/debts/${debt.id}/transfer`, { districtCode: '370203', transferredOn: '2021-03-31', documentNo: '划转2号', reason })
  t.equal(done.statusCode, 200)
  t.match(done.json(), { status: 'transferred', responsibleDistrictCode: '370203', events: [{ kind: 'transfer', districtCode: '370203', note: reason }] })
  t.match((await injectAs('district203', { method: 'GET', url: `/v1/debts/${debt.id}` })).json(), { events: [{ kind: 'transfer', note: reason }] }, 'the district sees why')

  const withReason = await created(t, app, '/v1/debts', debtBody({ zoneCode: 'QD-BL', transfer: { districtCode: '370214', transferredOn: '2021-02-01', documentNo: 'y', reason: '事权划转' } }))
  t.match(withReason, { responsibleDistrictCode: '370214', events: [{ kind: 'transfer', note: '事权划转' }] })
  const host = await created(t, app, '/v1/debts', debtBody({ transfer: { districtCode: '370214', transferredOn: '2021-02-01', documentNo: 'z' } }))
  t.match(host, { responsibleDistrictCode: '370214' }, 'to the host district no reason is needed')
})

t.test('Legacy debts: ?status= is filtered in the query — every page is full, the last ends the list — and agrees with each debt\'s own status', async (t) => {
  const own = await testDatabase(t)
  const ownApp = await testApp(t, own)
  await buildWorld(t, ownApp)
  const make = async (body: Record<string, unknown>, then: (id: number) => Promise<void> = async () => {}) => {
    const { id } = await created(t, ownApp, '/v1/debts', debtBody(body)) as { id: number }
    await then(id)
    return id
  }
  const repay = (id: number, paidOn: string, principal: string) => created(t, ownApp, `/v1/debts/${id}/repayments`, { paidOn, principal, interest: '0.00' })
  const transfer = (id: number, transferredOn: string) => created(t, ownApp, `/v1/debts/${id}/transfer`, { districtCode: '370214', transferredOn, documentNo: 'x' }, 200)
  // Many debts the zone still carries, between the few of each other state, so that filtering after paging gives short pages.
  const ids = []
  for (let i = 0; i < 4; i++) ids.push(await make({}))
  ids.push(await make({}, async (id) => { await transfer(id, '2021-06-30') }))
  ids.push(await make({}, async (id) => { await repay(id, '2021-06-30', '1000.00') }))
  for (let i = 0; i < 4; i++) ids.push(await make({}))
  ids.push(await make({}, async (id) => { await transfer(id, '2021-03-31'); await repay(id, '2021-06-30', '400.00') }))
  ids.push(await make({}, async (id) => {
    const { id: eventId } = await repay(id, '2021-05-01', '1000.00') as { id: number }
    await created(t, ownApp, `/v1/debts/${id}/repayments/${eventId}/reversal`, { reversedOn: '2021-09-01', reason: '退回' })
  }))
  ids.push(await make({ registeredOn: '2021-12-31' }))
  ids.push(await make({ outstanding: '0.00' }))
  for (let i = 0; i < 4; i++) ids.push(await make({}))

  for (const asOf of ['2021-01-01', '2021-03-31', '2021-06-30', '2021-08-31', '2021-09-01', '2021-12-31']) {
    const statuses = new Map<number, string>()
    for (const id of ids) statuses.set(id, ((await get(ownApp, `/v1/debts/${id}?asOf=${asOf}`)).json() as { status: string }).status)
    for (const status of ['zone', 'transferred', 'repaid']) {
      const expected = ids.filter((id) => statuses.get(id) === status)
      const seen: number[] = []
      let cursor: string | null = null
      let pages = 0
      do {
        const response = await get(ownApp, `/v1/debts?status=${status}&asOf=${asOf}&limit=2${cursor === null ? '' : `&cursor=${cursor}`}`)
        const page = response.json() as { items: Array<{ id: number, status: string }>, nextCursor: string | null }
        if (page.nextCursor !== null) t.equal(page.items.length, 2, `${asOf} ${status}: a page with a next one is full`)
        if (page.nextCursor === null && expected.length > 0) t.ok(page.items.length >= 1, `${asOf} ${status}: the last page is not empty`)
        seen.push(...page.items.map((d) => d.id))
        t.ok(page.items.every((d) => d.status === status), `${asOf} ${status}: every item is in that state`)
        cursor = page.nextCursor
        pages++
      } while (cursor !== null && pages < 50)
      t.same(seen, expected, `as of ${asOf}, ${status}: exactly the debts whose own status says so, in order`)
    }
  }
})

t.test('Legacy debts: a repayment keyed with a wrong date and reversed (冲正) does not stop the transfer being recorded on its own date', async (t) => {
  const debt = await created(t, app, '/v1/debts', debtBody({ registeredOn: '2021-01-01' })) as { id: number }
  const mistyped = await created(t, app, `/v1/debts/${debt.id}/repayments`, { paidOn: '2021-12-20', principal: '100.00', interest: '5.00' }) as { id: number }
  t.equal((await post(app, `/v1/debts/${debt.id}/repayments/${mistyped.id}/reversal`, { reversedOn: '2021-12-20', reason: '日期录错' })).statusCode, 201)
  t.equal((await post(app, `/v1/debts/${debt.id}/repayments`, { paidOn: '2021-02-20', principal: '100.00', interest: '5.00' })).statusCode, 201, 're-keyed on its real date')
  const early = expectProblem(t, await post(app, `/v1/debts/${debt.id}/transfer`, { districtCode: '370214', transferredOn: '2021-02-19', documentNo: '划转9号' }), 422)
  t.match(early.detail, /Repayments were recorded up to 2021-02-20; the transfer cannot be dated before them/, 'the repayment that stands still bounds it')
  const transfer = await post(app, `/v1/debts/${debt.id}/transfer`, { districtCode: '370214', transferredOn: '2021-03-31', documentNo: '划转9号' })
  t.equal(transfer.statusCode, 200, 'before, 422: "Repayments were recorded up to 2021-12-20", the reversed repayment\'s date')
  t.match(transfer.json(), { status: 'transferred', responsibleDistrictCode: '370214', outstanding: '900.00' })
})

t.test('Legacy debts: ?districtCode= lists the debts transferred to the district by asOf, as the summary of that day counts them', async (t) => {
  const debt = await created(t, app, '/v1/debts', debtBody({ zoneCode: 'QD-BL', registeredOn: '2021-01-01' })) as { id: number }
  t.equal((await post(app, `/v1/debts/${debt.id}/transfer`, { districtCode: '370203', transferredOn: '2021-06-30', documentNo: '划转10号' })).statusCode, 200)
  const listed = async (day: string) => ((await get(app, `/v1/debts?districtCode=370203&asOf=${day}&limit=1000`)).json() as { items: Array<{ id: number, status: string }> }).items
    .filter((d) => d.id === debt.id)
  t.same(await listed('2021-03-31'), [], 'not yet transferred on 2021-03-31 (before, listed with status zone)')
  t.match(await listed('2021-06-30'), [{ id: debt.id, status: 'transferred' }], 'listed from the day of the transfer')
  const summary = (await get(app, '/v1/debts/summary?asOf=2021-03-31&groupBy=district')).json() as { rows: Array<{ districtCode: string | null }> }
  t.notOk(summary.rows.some((r) => r.districtCode === '370203'), 'and the summary of 2021-03-31 has no row for the district either')
})

t.test('Legacy debts: a debt\'s days agree — incurred on or before the day its outstanding figure is of, maturing on or after it was incurred — in JSON (422 at the field) and in a CSV file (the line and the field)', async (t) => {
  const before = await rowCount(database, 'debts')
  const refused = [
    [{ incurredOn: '2025-01-01', registeredOn: '2021-01-01' }, '/incurredOn', /is after 2021-01-01, the day the outstanding figure is of \(registeredOn\)/],
    [{ incurredOn: '2199-01-01', registeredOn: undefined }, '/incurredOn', /\(registeredOn, today by default\)/],
    [{ incurredOn: '2021-01-01', maturityDate: '2000-01-01' }, '/maturityDate', /is before 2021-01-01, the day the debt was incurred/],
  ] as const
  for (const [days, pointer, says] of refused) {
    const problem = expectProblem(t, await post(app, '/v1/debts', debtBody(days)), 422)
    t.equal(problem.errors?.[0]?.pointer, pointer, JSON.stringify(days))
    t.match(problem.errors?.[0]?.message, says)
  }
  const header = 'zoneCode,reference,creditor,kind,principal,outstanding,interestRate,incurredOn,maturityDate,registeredOn,notes'
  const file = `${header}\nQD-HT,DAYS-1,c,bond,10.00,10.00,,2025-01-01,,2021-01-01,\nQD-HT,DAYS-2,c,bond,10.00,10.00,,2021-01-01,2000-01-01,2021-01-01,\n`
  const imported = expectProblem(t, await injectAs('admin', { method: 'POST', url: '/v1/debts/import', headers: { 'content-type': 'text/csv' }, payload: file }), 422)
  t.same(imported.errors?.map((e) => e.pointer), ['/line/2/incurredOn', '/line/3/maturityDate'])
  t.equal(await rowCount(database, 'debts'), before, 'none registered')
  t.equal((await post(app, '/v1/debts', debtBody({ incurredOn: '2021-01-01', maturityDate: '2021-01-01', registeredOn: '2021-01-01' }))).statusCode, 201, 'the same day for all three agrees')
})
