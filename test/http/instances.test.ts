import { sql } from 'kysely'
import t from 'tap'
import type { DatabaseHandle } from '../../src/db/connect.js'
import { holdKey } from '../../src/db/keys.js'
import { LockSpace, lockSettlementInputs } from '../../src/db/locks.js'
import { migrate } from '../../src/db/migrate.js'
import { Decimal } from '../../src/domain/money.js'
import { recordRevenue } from '../../src/services/revenue.js'
import { expectProblem, onPostgres, postgresDatabase, rowCount, sessionsWaitingOnLock, testApp, testDatabase } from '../helpers.js'
import { agreementBody, injector } from '../world.js'

/*
 * Several instances of the service on one database (README, Operations): what they share goes
 * through PostgreSQL — the data, the Idempotency-Key records and locks, the settlement year's lock,
 * the API keys (a revocation on one instance is refused by every other at once) — and what is per
 * instance stays per instance (the rate limit). Two apps, each with a pool of its own on the same
 * PostgreSQL database; in the PGlite pass two apps share the one embedded database of the process.
 */

let first: DatabaseHandle
let second: DatabaseHandle
if (onPostgres) {
  const database = await postgresDatabase(t)
  first = database.open(4)
  await migrate(first)
  second = database.open(4)
} else {
  first = await testDatabase(t)
  second = first
}
const a = injector(await testApp(t, first))
const b = injector(await testApp(t, second))
/** The statements a revocation and a write with the key wait in for the key's turn (src/db/keys.ts). */
const revocationTurn = `select pg_advisory_xact_lock(hashtextextended($1, ${LockSpace.apiKey}))`
const writeTurn = `select pg_advisory_xact_lock_shared(hashtextextended($1, ${LockSpace.apiKey}))`

t.test('an Idempotency-Key retried against the other instance replays the first answer and changes nothing', async (t) => {
  const request = { method: 'POST' as const, url: '/v1/districts', headers: { 'idempotency-key': 'two-instances' }, payload: { code: '370214', name: '城阳区' } }
  const onA = await a('admin', request)
  t.equal(onA.statusCode, 201)
  const onB = await b('admin', request)
  t.equal(onB.statusCode, 201)
  t.equal(onB.headers['idempotent-replayed'], 'true', 'B replays what A answered')
  t.equal(onB.body, onA.body)
  t.equal(await rowCount(first, 'districts'), 1, 'one district')
  expectProblem(t, await b('admin', { ...request, payload: { code: '370203', name: '市北区' } }), 422)
})

t.test('a key revoked on one instance is refused by the other at once', async (t) => {
  const key = (await a('admin', { method: 'POST', url: '/v1/api-keys', payload: { role: 'district', districtCode: '370214', label: '城阳区财政局' } })).json() as { id: string, token: string }
  for (let i = 0; i < 3; i++) t.equal((await b({ token: key.token }, { method: 'GET', url: '/v1/districts' })).statusCode, 200, 'B authenticates the key A issued')
  t.equal((await a('admin', { method: 'DELETE', url: `/v1/api-keys/${key.id}` })).statusCode, 200, 'revoked on A')
  expectProblem(t, await b({ token: key.token }, { method: 'GET', url: '/v1/districts' }), 401)
  expectProblem(t, await a({ token: key.token }, { method: 'GET', url: '/v1/districts' }), 401)
})

t.test('the rate limit is per instance: a token over its budget on one instance is still served by the other', async (t) => {
  const limitedA = injector(await testApp(t, first, { rateLimit: { max: 2, timeWindowMs: 60_000 } }))
  const limitedB = injector(await testApp(t, second, { rateLimit: { max: 2, timeWindowMs: 60_000 } }))
  for (let i = 0; i < 2; i++) t.equal((await limitedA('admin', { method: 'GET', url: '/v1/districts' })).statusCode, 200)
  expectProblem(t, await limitedA('admin', { method: 'GET', url: '/v1/districts' }), 429)
  t.equal((await limitedB('admin', { method: 'GET', url: '/v1/districts' })).statusCode, 200, 'B keeps its own count')
})

// PGlite is one connection inside one process: two of its apps take turns, so a run is never under
// way on one while the other starts one. On PostgreSQL they run side by side.
if (onPostgres) {
  t.test('a settlement run under way on one instance makes a run for the same year on the other 409', async (t) => {
    await a('admin', { method: 'POST', url: '/v1/zones', payload: { code: 'QD-HT', name: '青岛高新区', hostDistrictCode: '370214' } })
    t.equal((await a('admin', { method: 'POST', url: '/v1/agreements', payload: agreementBody('QD-HT', '370214') })).statusCode, 201)
    const runs = await rowCount(first, 'settlement_runs')
    // A third session holds the runs table, so that A's run, once it holds the year, waits to store itself.
    let running: Promise<{ statusCode: number, body: string }> | undefined
    await first.db.transaction().execute(async (tx) => {
      await sql`LOCK TABLE settlement_runs IN EXCLUSIVE MODE`.execute(tx)
      running = a('admin', { method: 'POST', url: '/v1/settlement-runs', payload: { fiscalYear: 2020 } })
      // Wait until A's run is blocked on the table: it holds the year's lock by then.
      await sessionsWaitingOnLock(second, 'insert into "settlement_runs"')
      const onB = expectProblem(t, await b('admin', { method: 'POST', url: '/v1/settlement-runs', payload: { fiscalYear: 2020 } }), 409)
      t.match(onB.type, /settlement-running$/)
      t.match(onB.detail, /A settlement run for 2020 is in progress/)
    })
    const onA = await running!
    t.equal(onA.statusCode, 201, 'A\'s run completes once the table is free')
    t.equal(await rowCount(first, 'settlement_runs'), runs + 1, 'one run: the one of A')
  })
}

// Limits checked before a write hold against writers on other instances: each writer of one agreement's base adjustments,
// transfers or advances, and each writer of the debt register, waits for the one before it between check and insert.
// Without that, several concurrent writers each passed the check (found by a concurrency probe).
if (onPostgres) {
  t.test('limits hold under concurrent writers on two instances: 100 adjustments and 100 transfers a group, a year\'s advances and the debt register within 18 integer digits', async (t) => {
    const LARGEST = '999999999999999.99'
    await a('admin', { method: 'POST', url: '/v1/zones', payload: { code: 'QD-LIM', name: '限额测试区', hostDistrictCode: '370214' } })
    const agreement = await a('admin', { method: 'POST', url: '/v1/agreements', payload: { ...agreementBody('QD-LIM', '370214'), documentNo: '限〔2020〕1号' } })
    t.equal(agreement.statusCode, 201, agreement.body)
    const id = (agreement.json() as { id: number }).id
    const eight = (request: (i: number) => Parameters<typeof a>[1]) =>
      Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b)('admin', request(i)))).then((answers) => answers.map((r) => r.statusCode).sort())

    const adjustment = (i: number) => ({ method: 'POST' as const, url: `/v1/agreements/${id}/base-adjustments`, payload: { group: 'taxes', fromYear: 2021, amount: '1.00', reason: '财随事走', documentNo: `调〔2021〕${i}号` } })
    for (let i = 0; i < 97; i++) t.equal((await a('admin', adjustment(100 + i))).statusCode, 201)
    t.same(await eight(adjustment), [201, 201, 201, 422, 422, 422, 422, 422], 'three more adjustments, to 100')
    t.equal(await rowCount(first, 'base_adjustments'), 100)

    const transfer = (i: number) => ({ method: 'POST' as const, url: '/v1/responsibility-transfers', payload: {
      agreementId: id, group: 'taxes', function: `事权${i}`, direction: 'to_district', fromYear: 2021, documentNo: `划〔2021〕${i}号`, funding: { method: 'fixed', amount: '1.00' },
    } })
    for (let i = 0; i < 97; i++) t.equal((await a('admin', transfer(100 + i))).statusCode, 201)
    t.same(await eight(transfer), [201, 201, 201, 422, 422, 422, 422, 422], 'three more transfers, to 100')
    t.equal(await rowCount(first, 'responsibility_transfers'), 100)

    // 999 of the largest advances leave room for one more (Σ ≤ 999,999,999,999,999,999.99), not two.
    await sql`INSERT INTO advances (agreement_id, fiscal_year, paid_on, amount, document_no)
      SELECT ${id}, 2021, DATE '2021-06-30', ${LARGEST}::numeric, '预拨' || n FROM generate_series(1, 999) AS n`.execute(first.db)
    const advance = (i: number) => ({ method: 'POST' as const, url: '/v1/advances', payload: { agreementId: id, fiscalYear: 2021, paidOn: '2021-07-01', amount: LARGEST, documentNo: `预〔2021〕${i}号` } })
    t.same(await eight(advance), [201, 422, 422, 422, 422, 422, 422, 422], 'one more advance')
    const [advances] = (await sql<{ total: string }>`SELECT sum(amount)::text AS total FROM advances WHERE agreement_id = ${id}`.execute(first.db)).rows
    t.equal(advances?.total, '999999999999999990.00')

    const header = 'zoneCode,reference,creditor,kind,principal,outstanding,interestRate,incurredOn,maturityDate,registeredOn,notes'
    const lines = Array.from({ length: 999 }, (_, i) => `QD-LIM,LIM-${i},示例银行,bank_loan,${LARGEST},${LARGEST},,,,2021-01-01,`)
    const imported = await a('admin', { method: 'POST', url: '/v1/debts/import', headers: { 'content-type': 'text/csv' }, payload: [header, ...lines].join('\n') + '\n' })
    t.equal(imported.statusCode, 200, imported.body)
    const debt = (i: number) => ({ method: 'POST' as const, url: '/v1/debts', payload: {
      zoneCode: 'QD-LIM', reference: `RACE-${i}`, creditor: '示例银行', kind: 'bank_loan', principal: LARGEST, outstanding: LARGEST, registeredOn: '2021-01-01',
    } })
    t.same(await eight(debt), [201, 422, 422, 422, 422, 422, 422, 422], 'one more debt')
    const summary = (await a('admin', { method: 'GET', url: '/v1/debts/summary?asOf=2021-12-31' })).json() as { total: { registeredOutstanding: string, debts: number } }
    t.match(summary.total, { debts: 1000, registeredOutstanding: '999999999999999990.00' }, 'the summary prints 18 integer digits')
  })
}

// A revocation answers once no write with the key is under way, and no write with the key commits after it (README, Roles
// and keys: revoked at once, on every instance). Before, a write that had authenticated and then waited (here on the
// settlement-inputs lock, as it would behind a finalize) committed after the revocation had answered.
if (onPostgres) {
  t.test('a revocation waits for a write under way with the key on the other instance; the key writes nothing after it', async (t) => {
    const key = (await a('admin', { method: 'POST', url: '/v1/api-keys', payload: { role: 'district', districtCode: '370214', label: '城阳区财政局（撤销测试）' } })).json() as { id: string, token: string }
    const district = { token: key.token }
    const record = (amount: string) => ({ method: 'POST' as const, url: '/v1/revenues', payload: { records: [{ zoneCode: 'QD-HT', category: '10101', year: 2020, month: 11, amount }] } })
    let write: Promise<{ statusCode: number }> | undefined
    let revoke: Promise<{ statusCode: number }> | undefined
    let revoked = false
    await first.db.transaction().execute(async (tx) => {
      await lockSettlementInputs(tx)
      write = b(district, record('11.00'))
      t.ok(await sessionsWaitingOnLock(first, 'select pg_advisory_xact_lock_shared') >= 1, 'the write waits on the settlement inputs, the key held')
      revoke = a('admin', { method: 'DELETE', url: `/v1/api-keys/${key.id}` })
      void revoke.then(() => { revoked = true })
      t.ok(await sessionsWaitingOnLock(first, revocationTurn) >= 1, 'the revocation waits for the write')
      t.notOk(revoked, 'and has not answered')
    })
    t.equal((await write!).statusCode, 200, 'the write under way commits')
    t.equal((await revoke!).statusCode, 200, 'then the revocation answers')
    expectProblem(t, await b(district, record('12.00')), 401)
    const amounts = await first.db.selectFrom('revenue_records').select('amount').where('zone_code', '=', 'QD-HT').where('month', '=', 11).execute()
    t.same(amounts.map((r) => r.amount), ['11.00'], 'one revision: the one before the revocation')
  })

  // A revocation waiting for the writes under way is not overtaken by the writes that come after it: before, each new
  // write shared the key's row with those under way, ahead of the revocation's UPDATE, and a key that kept writing was
  // never revoked (found by a probe: 318 writes answered 200 over the 3.7 s its revocation waited).
  t.test('a revocation waiting for a write under way is not overtaken: a write that comes after it waits for it and is 401', async (t) => {
    const key = (await a('admin', { method: 'POST', url: '/v1/api-keys', payload: { role: 'district', districtCode: '370214', label: '城阳区财政局（连续写入）' } })).json() as { id: string, token: string }
    let revoke: Promise<{ statusCode: number }> | undefined
    let after: ReturnType<typeof b> | undefined
    await first.db.transaction().execute(async (tx) => {
      t.same(await holdKey(tx, key.id), { revoked: false }, 'a write under way with the key')
      revoke = a('admin', { method: 'DELETE', url: `/v1/api-keys/${key.id}` })
      t.ok(await sessionsWaitingOnLock(first, revocationTurn) >= 1, 'the revocation waits for it')
      after = b({ token: key.token }, { method: 'POST', url: '/v1/revenues', payload: { records: [{ zoneCode: 'QD-HT', category: '10101', year: 2020, month: 8, amount: '8.00' }] } })
      t.ok(await sessionsWaitingOnLock(first, writeTurn) >= 1, 'the write that came after waits behind the revocation')
    })
    t.equal((await revoke!).statusCode, 200, 'the revocation answers once the write under way is done')
    expectProblem(t, await after!, 401)
    t.equal(await first.db.selectFrom('revenue_records').select('amount').where('zone_code', '=', 'QD-HT').where('month', '=', 8).executeTakeFirst(), undefined, 'it stored nothing')
  })
}

// A revocation is a write with the revoking key too (README, Roles and keys): when that key is revoked while its revocation
// of another waits, either its revocation waits for it, or it finds its key revoked (401) and revokes nothing. Before, a
// revocation did not hold its own key, and committed after its key's revocation had answered. Which of the two happens
// depends on the order of the two keys' ids (the rows are held in that order): both orders are tried.
if (onPostgres) {
  /** Waits (up to 4 s) until `n` revocations wait for the turn of the key they revoke; answers how many do. */
  const revocationsWaiting = async (n: number) => {
    let waiting = 0
    for (let i = 0; i < 200 && waiting < n; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      waiting = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND query = ${revocationTurn}`.execute(first.db)).rows[0]?.n ?? 0
    }
    return waiting
  }
  const issued = async (payload: object) => (await a('admin', { method: 'POST', url: '/v1/api-keys', payload: { label: '撤销顺序测试', ...payload } })).json() as { id: string, token: string }
  for (const order of ['revoker first', 'revoked first'] as const) {
    t.test(`an admin key revoked while its own revocation of another key waits commits nothing after its revocation answered (${order} by id)`, async (t) => {
      let revoker: { id: string, token: string }
      let target: { id: string, token: string }
      do {
        revoker = await issued({ role: 'admin' })
        target = await issued({ role: 'district', districtCode: '370214' })
      } while ((revoker.id < target.id) !== (order === 'revoker first'))
      const answered: string[] = []
      let revocation: Promise<{ statusCode: number }> | undefined
      await first.db.transaction().execute(async (tx) => {
        await lockSettlementInputs(tx)
        const write = b({ token: target.token }, { method: 'POST', url: '/v1/revenues', payload: { records: [{ zoneCode: 'QD-HT', category: '10101', year: 2020, month: 9, amount: '9.00' }] } })
        void write
        t.ok(await sessionsWaitingOnLock(first, 'select pg_advisory_xact_lock_shared') >= 1, 'the target key\'s write waits, holding its key')
        revocation = b({ token: revoker.token }, { method: 'DELETE', url: `/v1/api-keys/${target.id}` })
        void revocation.then(() => answered.push('its revocation of the other key'))
        // Revoker first: it holds its own key, then waits for the other's turn; else it waits for the other's turn first.
        t.ok(await sessionsWaitingOnLock(first, revocationTurn) >= 1, 'the revocation waits for that write')
        const withdrawn = a('admin', { method: 'DELETE', url: `/v1/api-keys/${revoker.id}` })
        void withdrawn.then(() => answered.push('the revoking key\'s revocation'))
        if (order === 'revoked first') t.equal((await withdrawn).statusCode, 200, 'the revoking key is revoked while its revocation waits')
        else t.equal(await revocationsWaiting(2), 2, 'the revoking key\'s revocation waits for its revocation under way')
      })
      const status = (await revocation!).statusCode
      while (answered.length < 2) await new Promise((resolve) => setTimeout(resolve, 10))
      if (order === 'revoker first') {
        t.equal(status, 200, 'the revocation under way commits')
        t.same(answered, ['its revocation of the other key', 'the revoking key\'s revocation'], 'then the revoking key\'s revocation answers')
      } else {
        t.equal(status, 401, 'the revocation finds its key revoked and revokes nothing')
        const row = await first.db.selectFrom('api_keys').select('revoked_at').where('id', '=', target.id).executeTakeFirst()
        t.equal(row?.revoked_at, null, 'the other key is not revoked')
      }
    })
  }

  t.test('two admins revoking each other\'s keys at once, and a key revoking itself twice at once: no deadlock, no 5xx', async (t) => {
    const [x, y] = [await issued({ role: 'admin' }), await issued({ role: 'admin' })]
    const both = await Promise.all([
      a({ token: x.token }, { method: 'DELETE', url: `/v1/api-keys/${y.id}` }),
      b({ token: y.token }, { method: 'DELETE', url: `/v1/api-keys/${x.id}` }),
    ])
    t.same(both.map((r) => r.statusCode).sort(), [200, 401], 'one revokes the other; the other finds its own key revoked')
    const self = await issued({ role: 'admin' })
    const twice = await Promise.all([a, b].map((on) => on({ token: self.token }, { method: 'DELETE', url: `/v1/api-keys/${self.id}` })))
    t.same(twice.map((r) => r.statusCode).sort(), [200, 401], 'the first revokes the key; the second is a request of a revoked key')
  })
}

// The other order: the revocation commits after a request authenticated with the key and before its write begins (the
// request was waiting for a connection, say). The write service reads the key again and refuses, changing nothing.
t.test('a write that authenticated before a revocation and begins after it is 401 and stores nothing', async (t) => {
  const key = (await a('admin', { method: 'POST', url: '/v1/api-keys', payload: { role: 'district', districtCode: '370214', label: '城阳区财政局（撤销后写入）' } })).json() as { id: string }
  const ctx = {
    db: second.db,
    actor: { principal: { role: 'district' as const, keyId: key.id, districtCode: '370214' }, scope: { kind: 'district' as const, districtCode: '370214' }, requestId: 'after-revocation' },
    settings: { minZoneRate: new Decimal('0.60'), importLimit: 1_000_000, requireTwoAdmins: false }
  }
  const records = [{ zoneCode: 'QD-HT', category: '10101', year: 2020, month: 10, amount: '13.00' }]
  t.equal((await a('admin', { method: 'DELETE', url: `/v1/api-keys/${key.id}` })).statusCode, 200)
  await t.rejects(recordRevenue(ctx, records), { name: 'Problem', message: 'The bearer token is not valid (unknown or revoked).', status: 401 } as Error)
  t.equal(await first.db.selectFrom('revenue_records').select('amount').where('month', '=', 10).executeTakeFirst(), undefined, 'nothing stored')
})
