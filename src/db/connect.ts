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

function openPostgres (url: string, poolSize: number): DatabaseHandle {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5000 })
  // A connection that breaks while idle must not crash the process; the pool replaces it.
  pool.on('error', () => {})
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
