import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import pg from 'pg'
import type { Test } from 'tap'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { buildApp, type AppConfig } from '../src/app.js'
import { type DatabaseHandle, openDatabase } from '../src/db/connect.js'
import type { Database } from '../src/db/database.js'
import { migrate } from '../src/db/migrate.js'
import { contractViolation } from './contract.js'

/*
 * Every test file gets a database of its own, so files run in parallel:
 * with DATABASE_URL, a new PostgreSQL database on that server (dropped afterwards);
 * without it, an in-memory PGlite. Open one per file (PGlite takes ~2 s to start), not per test.
 */

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef'
export const onPostgres = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== ''

/**
 * In the PostgreSQL pass, an empty database of its own on DATABASE_URL's server: its URL, for a
 * server process, and `open` for handles on it in this process. When the test ends the handles
 * are closed (closing one earlier is fine) and the database is dropped.
 */
export async function postgresDatabase (t: Test): Promise<{ url: string, open: (poolSize: number) => DatabaseHandle }> {
  const serverUrl = process.env.DATABASE_URL!
  const name = `t_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  const handles: DatabaseHandle[] = []
  t.teardown(async () => {
    for (const handle of handles) await handle.close()
    const client = new pg.Client({ connectionString: serverUrl })
    await client.connect()
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await client.end()
  })
  return {
    url: url.toString(),
    open (poolSize) {
      const handle = openDatabase({ kind: 'postgres', url: url.toString(), poolSize })
      handles.push(handle)
      return handle
    },
  }
}

/** A new folder under the system's temporary one, removed with everything in it when the test ends. */
export async function temporaryDirectory (t: Test, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** An empty, unmigrated database for this file, closed (and dropped) when the test ends. */
export async function emptyDatabase (t: Test): Promise<DatabaseHandle> {
  if (!onPostgres) {
    const handle = openDatabase({ kind: 'pglite' })
    t.teardown(() => handle.close())
    return handle
  }
  return (await postgresDatabase(t)).open(4)
}

/** A migrated database for this file. */
export async function testDatabase (t: Test): Promise<DatabaseHandle> {
  const handle = await emptyDatabase(t)
  await migrate(handle)
  return handle
}

/**
 * Waits (up to 4 s) until a session of `database` is waiting on a lock while running a statement
 * that begins with `statementStart` (PostgreSQL only); answers how many such sessions there are.
 */
export async function sessionsWaitingOnLock (database: DatabaseHandle, statementStart: string): Promise<number> {
  let waiting = 0
  for (let i = 0; i < 200 && waiting === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    waiting = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE ${`${statementStart}%`}`.execute(database.db)).rows[0]?.n ?? 0
  }
  return waiting
}

/** How many rows a table holds. */
export async function rowCount (database: DatabaseHandle, table: keyof Database): Promise<number> {
  const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM ${sql.table(table)}`.execute(database.db)
  return Number(rows[0]!.n)
}

/** An app on the given database, closed when the test ends. */
export async function testApp (t: Test, database: DatabaseHandle, overrides: Partial<AppConfig> = {}) {
  // Rate limiting stays on (its headers are part of every answer) with a budget no test reaches.
  // Load shedding is off: an in-memory PGlite starting inside a test blocks the event loop for
  // seconds, which would shed the next requests; test/http/defences.test.ts turns it on.
  const app = await buildApp({
    database, adminToken: ADMIN_TOKEN, minZoneRate: '0.60',
    rateLimit: { max: 1_000_000, timeWindowMs: 60_000 },
    authFailures: { max: 1_000_000, timeWindowMs: 60_000 },
    pressure: { maxEventLoopDelayMs: 0, maxHeapUsedBytes: 0 },
    ...overrides,
  })
  holdToContract(app)
  t.teardown(() => app.close())
  await app.ready()
  return app
}

/**
 * Every response app.inject gives is checked against the committed OpenAPI document
 * (test/contract.ts); a response that breaks it rejects, failing the test that sent it.
 */
export function holdToContract (app: FastifyInstance): void {
  const inject = app.inject.bind(app) as (options: InjectOptions) => Promise<LightMyRequestResponse>
  app.inject = (async (options: InjectOptions | string) => {
    const opts: InjectOptions = typeof options === 'string' ? { url: options } : options
    const response = await inject(opts)
    const url = typeof opts.url === 'string' ? opts.url : String(opts.path ?? '')
    const violation = contractViolation(opts.method ?? 'GET', url, response)
    if (violation !== undefined) throw new Error(`response breaks openapi/openapi.json: ${violation}`)
    return response
  }) as typeof app.inject
}

/** Asserts an RFC 9457 problem body with the status, and answers it. */
export function expectProblem (t: Test, response: { statusCode: number, headers: Record<string, unknown>, body: string }, status: number) {
  t.equal(response.statusCode, status, `status ${status}`)
  t.match(String(response.headers['content-type']), /^application\/problem\+json/, 'problem+json')
  const body = JSON.parse(response.body) as { type: string, title: string, status: number, detail: string, requestId?: string, errors?: Array<{ pointer: string, message: string }> }
  t.equal(body.status, status, 'status in the body')
  t.type(body.title, 'string')
  t.type(body.detail, 'string')
  t.notMatch(response.body, /at .+\.(ts|js):\d+/, 'no stack trace')
  return body
}

/** The curl commands, in order, of README.md's first shell block after `marker` (the README's flows run as tests). */
export async function readmeCurls (marker: string): Promise<string[]> {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
  const at = readme.indexOf(marker)
  const block = at === -1 ? undefined : /```sh\n([\s\S]*?)```/.exec(readme.slice(at))?.[1]
  if (block === undefined) throw new Error(`README.md: no shell block after "${marker}"`)
  return block.split('\n').filter((line) => line.startsWith('curl '))
}
