import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { sql } from 'kysely'
import pg from 'pg'
import t from 'tap'
import { seedSettlementData } from '../bench/seed.js'
import { openDatabase } from '../src/db/connect.js'
import { migrate } from '../src/db/migrate.js'
import { auth, createPostgresDatabase, onPostgres, testApp, testDatabase } from './helpers.js'

// Issue 4: a run is one transaction, so a process killed in the middle of one leaves nothing
// half-written, and the run can simply be repeated. On PostgreSQL, with a real process and
// SIGKILL while the run holds its year (the embedded database dies with its process).

const root = new URL('..', import.meta.url).pathname
const TOKEN = 'crash-drill-token-0123456789'
const AGREEMENTS = 1500

async function freePort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

async function startServer (url: string) {
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root, stdio: 'ignore', env: { ...process.env, DATABASE_URL: url, PORT: String(port), ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'warn' },
  })
  for (let i = 0; i < 300; i++) {
    if (await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false)) return { child, port }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  child.kill('SIGKILL')
  throw new Error('the server did not start')
}

function postRun (port: number): Promise<{ status: number, body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/v1/settlement-runs', method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } }, (res) => {
      let body = ''
      res.on('data', (c: Buffer) => { body += c.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', () => resolve({ status: 0, body: '' }))
    req.end(JSON.stringify({ fiscalYear: 2021 }))
  })
}

t.test('a run that fails after storing some of its lines leaves none of them', async (t) => {
  // 1,200 agreements: the first thousand lines are stored before the last agreement, a prior_year
  // base with no revenue the year before, makes the run fail.
  const database = await testDatabase(t)
  await database.withScriptSession((run) => seedSettlementData(run, 1200))
  await sql`UPDATE agreement_groups SET base_mode = 'prior_year', base_amount = NULL, growth_rate = NULL
    WHERE position = 0 AND agreement_id = (SELECT max(id) FROM agreements)`.execute(database.db)
  const app = await testApp(t, database)
  const response = await app.inject({ method: 'POST', url: '/v1/settlement-runs', headers: auth, payload: { fiscalYear: 2021 } })
  t.equal(response.statusCode, 422)
  t.match(response.json().detail, /2020's revenue, and none is recorded/)
  const counts = await Promise.all(['settlement_runs', 'settlement_lines', 'settlement_groups'].map(async (table) =>
    Number((await sql<{ n: string }>`SELECT count(*) AS n FROM ${sql.table(table)}`.execute(database.db)).rows[0]!.n)))
  t.same(counts, [0, 0, 0], 'the transaction took the stored lines back')
})

if (onPostgres) t.test('SIGKILL during a settlement run: nothing half-written, and the run repeats', async (t) => {
  const { url, drop } = await createPostgresDatabase()
  t.teardown(drop)
  const database = openDatabase({ kind: 'postgres', url, poolSize: 2 })
  await migrate(database)
  await database.withScriptSession((run) => seedSettlementData(run, AGREEMENTS))
  await database.close()
  const watcher = new pg.Client({ connectionString: url })
  await watcher.connect()
  t.teardown(() => watcher.end())
  const count = async (table: string) => Number((await watcher.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n)

  const first = await startServer(url)
  const answered = postRun(first.port)
  // The run holds its year with a transaction-scoped advisory lock: once it is held, the run is under way.
  let held = false
  for (let i = 0; i < 2000 && !held; i++) {
    held = Number((await watcher.query(`SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted`)).rows[0].n) > 0
  }
  t.ok(held, 'caught the run in the middle')
  first.child.kill('SIGKILL')
  await once(first.child, 'exit')
  t.equal((await answered).status, 0, 'the caller got no answer')
  // PostgreSQL rolls the transaction back when its connection drops.
  for (let i = 0; i < 100 && Number((await watcher.query(`SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory'`)).rows[0].n) > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.same([await count('settlement_runs'), await count('settlement_lines'), await count('settlement_groups')], [0, 0, 0], 'no partial run is visible')

  const second = await startServer(url)
  t.teardown(() => { second.child.kill('SIGKILL') })
  const rerun = await postRun(second.port)
  t.equal(rerun.status, 201, 'the run repeats')
  t.equal(JSON.parse(rerun.body).lines.length, AGREEMENTS)
  t.same([await count('settlement_runs'), await count('settlement_lines'), await count('settlement_groups')], [1, AGREEMENTS, 2 * AGREEMENTS])
})
