import { sql } from 'kysely'
import t from 'tap'
import type { DatabaseHandle } from '../../src/db/connect.js'
import { migrate } from '../../src/db/migrate.js'
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
