import { readFileSync, readlinkSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { hostname, uptime } from 'node:os'
import { chmod, mkdir, readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { setTimeout as delay } from 'node:timers/promises'
import { PGlite, type Transaction as PGliteTransaction } from '@electric-sql/pglite'
import { Kysely, PGliteDialect, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { copyStatement } from './copy.js'
import type { Database } from './database.js'
import { classifyDatabaseError, OperatorError, QUERY_TIMEOUT_CODE } from './errors.js'
import { builtTemplate, isNewDataDir, readTemplate } from './pglite-template.js'

/** Where the data lives: PostgreSQL by URL, or the embedded PGlite in a folder (or in memory). */
export type DatabaseTarget =
  | { kind: 'postgres', url: string, poolSize?: number, timeouts?: QueryTimeouts }
  | { kind: 'pglite', dataDir?: string, template?: string | false }

/** How long a statement may run on PostgreSQL; 0 turns a bound off. */
export interface QueryTimeouts {
  /** PostgreSQL's statement_timeout for the service's connections (57014 beyond it: 503). */
  statementMs: number
  /**
   * How long a query waits for the database to answer at all before its connection is destroyed
   * (503): what bounds a query on a database that froze without closing its connections.
   */
  answerMs: number
}

/** Statements are bounded at 2 minutes; a query with no answer 5 s after that loses its connection. */
export const DEFAULT_TIMEOUTS: QueryTimeouts = { statementMs: 120_000, answerMs: 125_000 }

/** Runs a script of several statements on one connection and gives the last statement's rows. */
export type ScriptRunner = (script: string) => Promise<Array<Record<string, unknown>>>

export interface DatabaseHandle {
  kind: DatabaseTarget['kind']
  db: Kysely<Database>
  /** PostgreSQL: the connections of the pool (PGlite has one, shared by every caller). */
  poolSize?: number
  /**
   * A write's transaction may read committed records on another connection while it goes on: a
   * pool of two or more (PostgreSQL). PGlite's one connection is the transaction's until it ends.
   */
  readsBesideWrites: boolean
  /** One connection for `fn`'s whole run, for multi-statement scripts (migrations) and session locks. */
  withScriptSession: <T>(fn: (run: ScriptRunner) => Promise<T>) => Promise<T>
  /**
   * Whether the database answers within `timeoutMs` with the schema of this service: `migration`
   * (the last file of sql/) applied. A database re-created or restored under a running service
   * answers, but without it.
   */
  readiness: (timeoutMs: number, migration: string) => Promise<Readiness>
  close: () => Promise<void>
}

type Rows = Array<Record<string, unknown>>

/** How long a request waits for a PostgreSQL connection before it is answered 503. */
export const CONNECT_TIMEOUT_MS = 2000

/**
 * Bounds every query of a client: when the database sends nothing back within `ms`, the query
 * fails with QUERY_TIMEOUT and the connection is destroyed (pg's own query_timeout leaves the
 * connection busy behind the abandoned query); the pool discards the client when it is released.
 * Scripts (migrations) may lift the bound on their session.
 */
function boundQueries (client: pg.PoolClient, ms: number): void {
  if (ms <= 0) return
  const bounded = client as pg.PoolClient & { unbounded?: boolean }
  const query = client.query.bind(client) as (...args: unknown[]) => unknown
  ;(client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const result = query(...args)
    if (bounded.unbounded === true || !(result instanceof Promise)) return result
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(Object.assign(new Error(`the database sent nothing back within ${ms} ms; the connection was closed`), { code: QUERY_TIMEOUT_CODE }))
        // With a query under way, end() destroys the socket at once and marks the client ending,
        // so the pool discards it when it comes back instead of lending it again.
        client.end().catch(() => {})
      }, ms)
    })
    return Promise.race([result, timeout]).finally(() => clearTimeout(timer))
  }
}

/**
 * COPY … FROM STDIN with its data as the parameter (src/db/copy.ts) streams the data to the server
 * through pg-copy-streams, with backpressure; a failure on either side sends CopyFail, so the
 * statement fails and the connection is ready for the transaction's ROLLBACK. Answers as a query.
 */
function copyThrough (client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown
  ;(client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const copy = copyStatement(args[0], args[1])
    if (copy === undefined) return query(...args)
    return (async () => {
      const stream = query(copyFrom(copy.statement)) as ReturnType<typeof copyFrom>
      await pipeline(Readable.from(copy.data.chunks), stream)
      return { command: 'COPY', rowCount: stream.rowCount, rows: [], fields: [] }
    })()
  }
}

/** The same on PGlite: each chunk is one COPY … FROM '/dev/blob', so only a chunk is ever held. */
function copyThroughBlobs<T extends Pick<PGliteTransaction, 'query'>> (target: T): T {
  const query = target.query.bind(target)
  target.query = (async (text: string, params?: unknown[], options?: Parameters<PGliteTransaction['query']>[2]) => {
    const copy = copyStatement(text, params)
    if (copy === undefined) return query(text, params, options)
    const statement = copy.statement.replace(/FROM\s+STDIN$/i, "FROM '/dev/blob'")
    let affectedRows = 0
    for await (const chunk of copy.data.chunks) affectedRows += (await query(statement, [], { blob: new Blob([chunk]) })).affectedRows ?? 0
    return { rows: [], fields: [], affectedRows }
  }) as T['query']
  return target
}

/** What the service's sessions read dates and times in, whatever the server's defaults (see openPostgres). */
const SESSION_SETTINGS = "SET DateStyle TO 'ISO, YMD'; SET IntervalStyle TO 'postgres'"

function openPostgres (url: string, poolSize: number, timeouts: QueryTimeouts): DatabaseHandle {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    // Every statement is bounded on the server (57014 beyond it: 503 database-unavailable).
    ...(timeouts.statementMs > 0 ? { statement_timeout: timeouts.statementMs } : {}),
    // When the database is down or unreachable, or every connection is busy, a request waits at
    // most this long for a connection, then answers 503 database-unavailable (src/http/problem.ts).
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    // A peer that vanished without closing (a dead host, a cut network) is noticed eventually;
    // a query on a connection to a frozen database is bounded by boundQueries below.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  })
  // A connection that breaks while idle in the pool must not crash the process; the pool drops
  // it and opens a new one on the next request.
  pool.on('error', () => {})
  // Nor may one that breaks while checked out but between two queries (inside a transaction,
  // say): pg emits 'error' on the client then, with no listener of the pool's attached. The
  // query that runs next on it fails, and the pool discards the broken client on release.
  pool.on('connect', (client) => {
    client.on('error', () => {})
    boundQueries(client, timeouts.answerMs)
    copyThrough(client)
    // Dates and times are read in ISO style (pg parses timestamptz; dates are read as text):
    // whatever the database, the role or DATABASE_URL sets, e.g. DateStyle 'SQL, DMY' (31/12/2021),
    // under which every read of a run, debt or advance failed. Queued ahead of the client's first
    // query. Should it fail, the connection is closed, so that its queries fail (503) and the pool
    // lends it no more, rather than read dates in another style.
    client.query(SESSION_SETTINGS).catch(() => { client.end().catch(() => {}) })
  })
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
  return {
    kind: 'postgres',
    db,
    poolSize,
    readsBesideWrites: poolSize >= 2,
    async withScriptSession (fn) {
      const client = await pool.connect()
      // A migration may rewrite large tables: its session is not bounded (reset before the pool reuses it).
      const session = client as pg.PoolClient & { unbounded?: boolean }
      session.unbounded = true
      let lifted = false
      try {
        if (timeouts.statementMs > 0) {
          await client.query('SET statement_timeout = 0')
          lifted = true
        }
        return await fn(async (script) => {
          const result = await client.query(script) as unknown as pg.QueryResult | pg.QueryResult[]
          const last = Array.isArray(result) ? result[result.length - 1] : result
          return (last?.rows ?? []) as Rows
        })
      } finally {
        session.unbounded = false
        // A session whose bound could not be put back is not reused.
        const reset = lifted ? await client.query('RESET statement_timeout').then(() => undefined, (error: unknown) => error as Error) : undefined
        client.release(reset)
      }
    },
    readiness: (timeoutMs, migration) => readinessOf(db, timeoutMs, migration),
    close: () => db.destroy(),
  }
}

/**
 * A new database's folders and files as this user's alone (0700, 0600): PGlite writes its files
 * 0666 and its folders 0755 whatever the umask, from the template or not (968 of about 1,000 files,
 * readable and writable by every user of the machine wherever the data directory itself was not
 * 0700). A link is left as it is; a file system that takes no modes (a mount of another kind) is
 * left as it is too: the database works there as before.
 */
async function keepPrivate (dataDir: string): Promise<void> {
  const entries = [{ path: dataDir, folder: true }, ...(await readdir(dataDir, { recursive: true, withFileTypes: true }))
    .filter((entry) => !entry.isSymbolicLink())
    .map((entry) => ({ path: join(entry.parentPath, entry.name), folder: entry.isDirectory() }))]
  for (const { path, folder } of entries) await chmod(path, folder ? 0o700 : 0o600).catch(() => {})
}

/**
 * `template`: the data directory a new database starts from (src/db/pglite-template.ts); by
 * default the one `npm run build` wrote, if any; false: PGlite's own initdb.
 */
function openPglite (dataDir: string | undefined, template: string | false | undefined): DatabaseHandle {
  // Created on first use: a handle that never queries (the OpenAPI generator) costs nothing.
  let instance: Promise<PGlite> | undefined
  let unlock: (() => void) | undefined
  const open = async () => {
    if (dataDir !== undefined) {
      await mkdir(dataDir, { recursive: true })
      unlock = await lockDataDir(dataDir)
    }
    const fresh = isNewDataDir(dataDir)
    const from = template === false || !fresh ? undefined : template ?? builtTemplate()
    const loadDataDir = from === undefined ? undefined : await readTemplate(from)
    const created = await PGlite.create({ ...(dataDir === undefined ? {} : { dataDir }), ...(loadDataDir === undefined ? {} : { loadDataDir }) })
    if (dataDir !== undefined && fresh) await keepPrivate(dataDir)
    return created
  }
  const create = async () => {
    const p = copyThroughBlobs(await open())
    // Kysely's transactions run their statements on the transaction PGlite hands out.
    const transaction = p.transaction.bind(p)
    p.transaction = (callback) => transaction((tx) => callback(copyThroughBlobs(tx)))
    return p
  }
  const pglite = () => (instance ??= create())
  let sessions: Promise<void> = Promise.resolve()
  const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) })
  return {
    kind: 'pglite',
    db,
    readsBesideWrites: false,
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
    readiness: (timeoutMs, migration) => readinessOf(db, timeoutMs, migration),
    async close () {
      await db.destroy()
      if (instance !== undefined) {
        const p = await instance.catch(() => undefined)
        if (p !== undefined && !p.closed) await p.close()
      }
      unlock?.()
    },
  }
}

/** The lock files (lockDataDir) this process holds. */
const heldDataDirs = new Set<string>()

/** How often a held lock says that its process lives (the lock file's modification time). */
export const LOCK_REFRESH_MS = 2_000
/** How long without a word before a lock taken in another process namespace is held to be left behind. */
export const LOCK_STALE_MS = 15_000

/** The process namespace this process sees others in (Linux; '' elsewhere, where processes are all in one). */
function pidNamespace (): string {
  try {
    return readlinkSync('/proc/self/ns/pid')
  } catch {
    return ''
  }
}

/**
 * PGlite is a database inside one process: a second process opening the same directory (a settle
 * command while the service runs) writes where the first does not look, and one of the two loses
 * what it wrote. The directory is taken with a file beside it naming the process, its host and its
 * process namespace (`<dir>.lock`), which the holder touches every LOCK_REFRESH_MS while it holds it.
 *
 * A holder in this process namespace is asked directly whether it lives: another process, or
 * another handle of this one, is refused while it does, and a lock left by one that is gone (killed)
 * is taken over. A holder in another namespace (another container on the same volume: each is
 * process 1 there, and none can see whether another lives, whatever their host names) is refused
 * while it touches the file, and its lock taken over once LOCK_STALE_MS pass without a word (a
 * container that was killed, or restarted: a new container is a new namespace). A lock written by
 * an earlier version names the process alone, and is read as one of this namespace. Answers how to
 * let it go.
 */
async function lockDataDir (dataDir: string): Promise<() => void> {
  const path = resolve(`${dataDir}.lock`)
  const host = hostname()
  const namespace = pidNamespace()
  const directory = directoryIdentity(dataDir)
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n${host}\n${namespace}\n${directory}\n`, { flag: 'wx' })
      heldDataDirs.add(path)
      const touching = setInterval(() => {
        const now = new Date()
        try {
          utimesSync(path, now, now)
        } catch {
          // Deleted by hand: there is nothing to touch, and the handle goes on as it is.
        }
      }, LOCK_REFRESH_MS)
      touching.unref()
      return () => {
        clearInterval(touching)
        heldDataDirs.delete(path)
        rmSync(path, { force: true })
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error
    }
    const written = readFileSync(path, 'utf8')
    const [pidText = '', holderHost, holderNamespace, holderDirectory] = written.split('\n').map((part) => part.trim())
    const holder = Number(pidText)
    // A lock that names another directory came with a copy of DATA_DIR (a backup taken while the
    // service ran, restored): its holder holds the original, not this one (found by a probe of
    // backups: the copy was refused, naming the process that served the original). Some file
    // systems number a directory differently on each host that mounts it (CIFS with noserverino,
    // sshfs): such a lock is still touched by its holder, and is judged as any other (found by review).
    if (holderDirectory !== undefined && holderDirectory !== '' && directory !== '' && holderDirectory !== directory && await untouchedFor(path, LOCK_REFRESH_MS * 1.5)) {
      removeIfUnchanged(path, written)
      continue
    }
    // Named by host alone (written before namespaces were named): another host is another namespace.
    const elsewhere = holderNamespace === undefined || holderNamespace === '' ? holderHost !== undefined && holderHost !== '' && holderHost !== host : holderNamespace !== namespace
    if (elsewhere) {
      const silentMs = Date.now() - statSync(path).mtimeMs
      if (silentMs < LOCK_STALE_MS) {
        throw new OperatorError(`The embedded database in ${dataDir} is in use by process ${pidText} on host ${holderHost ?? ''} (another container on the same volume?), ` +
          `whose lock was touched ${Math.max(0, Math.round(silentMs / 1000))} s ago: stop it first (PGlite is one process's database). ` +
          `A lock that goes ${LOCK_STALE_MS / 1000} s untouched was left by a process that is gone (a container killed or restarted) and is taken over.`)
      }
    } else {
      // This process's own number in a lock it does not hold: left by an earlier process that had the
      // same number (a container restarted in a namespace it shares: its service is process 1 each time).
      // A lock last touched before this machine started was left by a process of an earlier boot,
      // whatever process has its number now (found by a probe: after a reboot, another program had
      // it, and the service would not start until the lock was removed by hand).
      const beforeBoot = statSync(path).mtimeMs < Date.now() - uptime() * 1000
      const held = !beforeBoot && (holder === process.pid ? heldDataDirs.has(path) : Number.isInteger(holder) && holder > 0 && processIsAlive(holder))
      if (held) {
        throw new OperatorError(`The embedded database in ${dataDir} is in use by process ${holder}${holder === process.pid ? ' (this one)' : ''}, ` +
          'the service or a command such as settle: stop it first (PGlite is one process\'s database), or run both against PostgreSQL with DATABASE_URL.')
      }
    }
    removeIfUnchanged(path, written)
  }
}

/** Whether the lock at `path` goes `ms` untouched: waits for what is left of `ms` since it was last touched, and looks again. */
async function untouchedFor (path: string, ms: number): Promise<boolean> {
  let touched: number
  try {
    touched = statSync(path).mtimeMs
  } catch {
    // Gone already: its holder let it go.
    return true
  }
  const left = touched + ms - Date.now()
  if (left > 0) await delay(left)
  try {
    return statSync(path).mtimeMs === touched
  } catch {
    return true
  }
}

/**
 * Removes the lock at `path` if it still holds what was judged left behind: another process that
 * took it over meanwhile wrote its own, which is not removed (the one that comes second is then
 * refused, where both could have opened the directory).
 */
function removeIfUnchanged (path: string, judged: string): void {
  let now: string
  try {
    now = readFileSync(path, 'utf8')
  } catch {
    return
  }
  if (now === judged) rmSync(path, { force: true })
}

/**
 * The data directory's identity in a lock: its inode, which a copy does not keep and a
 * path does not give (one volume is mounted at different paths in two containers). '' when unknown.
 */
function directoryIdentity (dataDir: string): string {
  try {
    const { ino } = statSync(dataDir)
    return `inode ${ino}`
  } catch {
    return ''
  }
}

function processIsAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it lives, as another user's.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** 'unavailable': no answer in time, or an error; 'unmigrated': an answer without the schema. */
export type Readiness = 'ready' | 'unavailable' | 'unmigrated'

async function readinessOf (db: Kysely<Database>, timeoutMs: number, migration: string): Promise<Readiness> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<Readiness>((resolve) => { timer = setTimeout(() => resolve('unavailable'), timeoutMs) })
  const applied = sql<{ applied: boolean }>`SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = ${migration}) AS applied`.execute(db).then(
    ({ rows }) => rows[0]?.applied === true ? 'ready' as const : 'unmigrated' as const,
    (error: unknown) => classifyDatabaseError(error) === 'undefined-table' ? 'unmigrated' as const : 'unavailable' as const)
  try {
    return await Promise.race([applied, timeout])
  } finally {
    clearTimeout(timer)
  }
}

export function openDatabase (target: DatabaseTarget): DatabaseHandle {
  return target.kind === 'postgres' ? openPostgres(target.url, target.poolSize ?? 10, target.timeouts ?? DEFAULT_TIMEOUTS) : openPglite(target.dataDir, target.template)
}
