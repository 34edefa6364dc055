import { once } from 'node:events'
import { sql } from 'kysely'
import t from 'tap'
import { seedSettlementData } from '../bench/seed.js'
import { migrate } from '../src/db/migrate.js'
import { onPostgres, postgresDatabase, rowCount, testApp, testDatabase } from './helpers.js'
import { send, startServer } from './spawn.js'
import { post } from './world.js'

// A settlement run (api-contract.md, Settlement runs; calculation-rules.md §9) is one
// transaction, so a process killed in the middle of one leaves nothing half-written, and the
// run can simply be repeated. On PostgreSQL, with a real process and SIGKILL while the run
// holds its year (the embedded database dies with its process).

const TOKEN = 'crash-drill-token-0123456789'
const AGREEMENTS = 1500

/** A request to the drill's server; no answer at all (the process was killed) is status 0. */
const call = (port: number, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  send(port, TOKEN, method, path, { body, headers })

t.test('a run that fails after storing some of its lines leaves none of them', async (t) => {
  // 1,200 agreements: the first thousand lines are stored before the last agreement, a prior_year
  // base with no revenue the year before, makes the run fail.
  const database = await testDatabase(t)
  await database.withScriptSession((run) => seedSettlementData(run, 1200))
  await sql`UPDATE agreement_groups SET base_mode = 'prior_year', base_amount = NULL, growth_rate = NULL
    WHERE position = 0 AND agreement_id = (SELECT max(id) FROM agreements)`.execute(database.db)
  const app = await testApp(t, database)
  const response = await post(app, '/v1/settlement-runs', { fiscalYear: 2021 })
  t.equal(response.statusCode, 422)
  t.match(response.json().detail, /2020's revenue, and none is recorded/)
  const counts = await Promise.all((['settlement_runs', 'settlement_lines', 'settlement_groups'] as const).map((table) => rowCount(database, table)))
  t.same(counts, [0, 0, 0], 'the transaction took the stored lines back')
})

if (onPostgres) t.test('SIGKILL during a settlement run: after a restart no partial run is visible, and the run repeats', async (t) => {
  const { url, open } = await postgresDatabase(t)
  const database = open(2)
  await migrate(database)
  await database.withScriptSession((run) => seedSettlementData(run, AGREEMENTS))
  await database.close()
  // One connection that watches the server process's work from outside.
  const watcher = open(1)
  const counts = async () => {
    const found: number[] = []
    for (const table of ['settlement_runs', 'settlement_lines', 'settlement_groups', 'idempotency_keys'] as const) found.push(await rowCount(watcher, table))
    return found
  }
  // Locks in this test's database only: other test files share the server.
  const locks = async (where: string) => Number((await sql<{ n: string }>`SELECT count(*) AS n FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation
    WHERE l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND l.pid <> pg_backend_pid() AND ${sql.raw(where)}`.execute(watcher.db)).rows[0]!.n)
  // The client sends an Idempotency-Key, as a careful client of a yearly job does, and will retry with it.
  const key = { 'idempotency-key': 'settle-2021-crash-drill' }

  const first = await startServer({ DATABASE_URL: url, ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'warn' })
  t.teardown(() => { first.child.kill('SIGKILL') })
  const answered = call(first.port, 'POST', '/v1/settlement-runs', { fiscalYear: 2021 }, key)
  // Kill it while its transaction is storing lines: the run's backend holds a row lock on settlement_lines.
  let writing = false
  for (let i = 0; i < 5000 && !writing; i++) {
    writing = await locks(`c.relname = 'settlement_lines' AND l.mode = 'RowExclusiveLock' AND l.granted`) > 0
  }
  t.ok(writing, 'caught the run in the middle, while it was storing its lines')
  first.child.kill('SIGKILL')
  await once(first.child, 'exit')
  t.equal((await answered).status, 0, 'the caller got no answer')
  // PostgreSQL rolls the transaction back when it notices its connection is gone.
  let released = false
  for (let i = 0; i < 200 && !released; i++) {
    released = await locks(`(l.locktype = 'advisory' OR c.relname LIKE 'settlement%')`) === 0
    if (!released) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.ok(released, 'the killed run\'s transaction ended and let go of its locks')
  t.same(await counts(), [0, 0, 0, 0], 'nothing of the run is stored, nor its idempotency key')

  const second = await startServer({ DATABASE_URL: url, ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'warn' })
  t.teardown(() => { second.child.kill('SIGKILL') })
  const listed = await call(second.port, 'GET', '/v1/settlement-runs?fiscalYear=2021')
  t.equal(listed.status, 200)
  t.same(JSON.parse(listed.body).items, [], 'after the restart the API lists no run for the year')

  const rerun = await call(second.port, 'POST', '/v1/settlement-runs', { fiscalYear: 2021 }, key)
  t.equal(rerun.status, 201, 'the run repeats, with the same Idempotency-Key')
  t.equal(rerun.headers['idempotent-replayed'], undefined, 'as a new run, not a replay of something half-done')
  const run = JSON.parse(rerun.body) as { id: number, status: string, lineCount: number }
  t.equal(run.status, 'draft')
  t.equal(run.lineCount, AGREEMENTS, 'one line per agreement')
  const again = await call(second.port, 'POST', '/v1/settlement-runs', { fiscalYear: 2021 }, key)
  t.equal(again.status, 201)
  t.equal(again.headers['idempotent-replayed'], 'true', 'a further retry replays it')
  t.equal(JSON.parse(again.body).id, run.id)
  const after = JSON.parse((await call(second.port, 'GET', '/v1/settlement-runs?fiscalYear=2021')).body) as { items: Array<{ id: number }> }
  t.same(after.items.map((r) => r.id), [run.id], 'exactly one run for the year')
  const fetched = await call(second.port, 'GET', `/v1/settlement-runs/${run.id}`)
  t.equal(JSON.parse(fetched.body).lineCount, AGREEMENTS, 'with all its lines')
  t.same(await counts(), [1, AGREEMENTS, 2 * AGREEMENTS, 1])
})
