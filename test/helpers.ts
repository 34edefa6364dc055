import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import type { Test } from 'tap'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { buildApp, type AppConfig } from '../src/app.js'
import { type DatabaseHandle, openDatabase } from '../src/db/connect.js'
import { migrate } from '../src/db/migrate.js'
import { contractViolation } from './contract.js'

/*
 * Every test file gets a database of its own, so files run in parallel:
 * with DATABASE_URL, a new PostgreSQL database on that server (dropped afterwards);
 * without it, an in-memory PGlite. Open one per file (PGlite takes ~2 s to start), not per test.
 */

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef'
export const onPostgres = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== ''

/** Creates an empty database named for this test file; answers its URL and how to drop it. */
export async function createPostgresDatabase (): Promise<{ url: string, drop: () => Promise<void> }> {
  const serverUrl = process.env.DATABASE_URL!
  const name = `t_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async drop () {
      const client = new pg.Client({ connectionString: serverUrl })
      await client.connect()
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await client.end()
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
  const { url, drop } = await createPostgresDatabase()
  const handle = openDatabase({ kind: 'postgres', url, poolSize: 4 })
  t.teardown(async () => { await handle.close(); await drop() })
  return handle
}

/** A migrated database for this file. */
export async function testDatabase (t: Test): Promise<DatabaseHandle> {
  const handle = await emptyDatabase(t)
  await migrate(handle)
  return handle
}

/** An app on the given database, closed when the test ends. */
export async function testApp (t: Test, database: DatabaseHandle, overrides: Partial<AppConfig> = {}) {
  // Rate limiting stays on (its headers are part of every answer) with a budget no test reaches.
  // Load shedding is off: an in-memory PGlite starting inside a test blocks the event loop for
  // seconds, which would shed the next requests; test/http/defences.test.ts turns it on.
  const app = await buildApp({
    database, adminToken: ADMIN_TOKEN, minZoneRate: '0.60',
    rateLimit: { max: 1_000_000, timeWindowMs: 60_000 },
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
