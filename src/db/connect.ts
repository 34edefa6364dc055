import { mkdir } from 'node:fs/promises'
import { PGlite } from '@electric-sql/pglite'
import { Kysely, PGliteDialect, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import type { Database } from './database.js'

/** Where the data lives: PostgreSQL by URL, or the embedded PGlite in a folder (or in memory). */
export type DatabaseTarget =
  | { kind: 'postgres', url: string, poolSize?: number }
  | { kind: 'pglite', dataDir?: string }

/** Runs a script of several statements on one connection and gives the last statement's rows. */
export type ScriptRunner = (script: string) => Promise<Array<Record<string, unknown>>>

export interface DatabaseHandle {
  kind: DatabaseTarget['kind']
  db: Kysely<Database>
  /** One connection for `fn`'s whole run, for multi-statement scripts (migrations) and session locks. */
  withScriptSession: <T>(fn: (run: ScriptRunner) => Promise<T>) => Promise<T>
  /** Answers whether the database responds, within `timeoutMs`. */
  ping: (timeoutMs: number) => Promise<boolean>
  close: () => Promise<void>
}

type Rows = Array<Record<string, unknown>>

/** How long a request waits for a PostgreSQL connection before it is answered 503. */
export const CONNECT_TIMEOUT_MS = 2000

function openPostgres (url: string, poolSize: number): DatabaseHandle {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    // When the database is down or unreachable, or every connection is busy, a request waits at
    // most this long for a connection, then answers 503 database-unavailable (src/http/problem.ts).
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    // A peer that vanished without closing (a dead host, a cut network) is noticed eventually.
    // Until then a query on a connection already open to a frozen database waits: there is no
    // per-query client timeout (pg's query_timeout leaves the connection busy behind it).
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  })
  // A connection that breaks while idle in the pool must not crash the process; the pool drops
  // it and opens a new one on the next request.
  pool.on('error', () => {})
  // Nor may one that breaks while checked out but between two queries (inside a transaction,
  // say): pg emits 'error' on the client then, with no listener of the pool's attached. The
  // query that runs next on it fails, and the pool discards the broken client on release.
  pool.on('connect', (client) => { client.on('error', () => {}) })
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
  return {
    kind: 'postgres',
    db,
    async withScriptSession (fn) {
      const client = await pool.connect()
      try {
        return await fn(async (script) => {
          const result = await client.query(script) as unknown as pg.QueryResult | pg.QueryResult[]
          const last = Array.isArray(result) ? result[result.length - 1] : result
          return (last?.rows ?? []) as Rows
        })
      } finally {
        client.release()
      }
    },
    ping: (timeoutMs) => pingWith(db, timeoutMs),
    close: () => db.destroy(),
  }
}

function openPglite (dataDir: string | undefined): DatabaseHandle {
  // Created on first use: a handle that never queries (the OpenAPI generator) costs nothing.
  let instance: Promise<PGlite> | undefined
  const create = async () => {
    if (dataDir === undefined) return PGlite.create()
    await mkdir(dataDir, { recursive: true })
    return PGlite.create({ dataDir })
  }
  const pglite = () => (instance ??= create())
  let sessions: Promise<void> = Promise.resolve()
  const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) })
  return {
    kind: 'pglite',
    db,
    withScriptSession (fn) {
      // PGlite has one connection, so a session lock taken there is shared by every caller:
      // sessions take turns instead.
      const turn = sessions.then(async () => {
        const p = await pglite()
        return fn(async (script) => {
          const results = await p.exec(script)
          return (results[results.length - 1]?.rows ?? []) as Rows
        })
      })
      sessions = turn.then(() => undefined, () => undefined)
      return turn
    },
    ping: (timeoutMs) => pingWith(db, timeoutMs),
    async close () {
      await db.destroy()
      if (instance !== undefined) {
        const p = await instance
        if (!p.closed) await p.close()
      }
    },
  }
}

async function pingWith (db: Kysely<Database>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs) })
  try {
    return await Promise.race([sql`select 1`.execute(db).then(() => true, () => false), timeout])
  } finally {
    clearTimeout(timer)
  }
}

export function openDatabase (target: DatabaseTarget): DatabaseHandle {
  return target.kind === 'postgres' ? openPostgres(target.url, target.poolSize ?? 10) : openPglite(target.dataDir)
}
