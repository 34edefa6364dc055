import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { DatabaseHandle, ScriptRunner } from './connect.js'
import { classifyDatabaseError, OperatorError } from './errors.js'

/*
 * Plain, numbered SQL migrations from sql/ (001_name.sql, 002_name.sql, …), applied in order,
 * each in its own transaction together with its row in schema_migrations, under an advisory
 * lock so that two processes starting at once do not both apply one. An applied file whose
 * text has changed is an error: migrations are frozen in time.
 */

const MIGRATION_LOCK = 7301202001
const FILE_PATTERN = /^(\d{3,})_[a-z0-9_]+\.sql$/

/** sql/ beside package.json, found from this module whether it runs from src/ or dist/src/. */
export function defaultMigrationsDir (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'sql'))) return join(dir, 'sql')
    const parent = resolve(dir, '..')
    if (parent === dir) throw new OperatorError('migrations: no sql/ folder found beside package.json')
    dir = parent
  }
}

export interface MigrationFile {
  name: string
  text: string
  checksum: string
}

export async function readMigrations (dir: string): Promise<MigrationFile[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort()
  const bad = names.filter((n) => !FILE_PATTERN.test(n))
  if (bad.length > 0) throw new OperatorError(`migrations: badly named file(s) in ${dir}: ${bad.join(', ')} (want 001_name.sql)`)
  return Promise.all(names.map(async (name) => {
    const text = await readFile(join(dir, name), 'utf8')
    return { name, text, checksum: createHash('sha256').update(text).digest('hex') }
  }))
}

/**
 * Earlier texts of applied files that make the same schema as the file does now, by checksum: a
 * database that applied one of them is up to date with the file. 012 was reworded in a comment
 * after it was applied (ccd5ccc), and a database migrated before that was refused at every start.
 * (003, 010 and 011 were changed too, before they landed; their earlier texts make another schema.)
 * Test test/db/migrations.test.ts pins every file's checksum, so that no applied file changes again.
 */
const SAME_SCHEMA_AS: Readonly<Record<string, readonly string[]>> = {
  '012_settlement_lines_order.sql': ['59cbb94cfc80f6622946e56a1b78121c190a159a4a16b05a8238df3307dfa1b8'],
}

/** The name of the last migration in `dir`: a database without it is not this service's (/ready). */
export async function latestMigration (dir: string = defaultMigrationsDir()): Promise<string> {
  // The names alone: every app reads it once, and migrate() checks the files themselves.
  const last = (await readdir(dir)).filter((n) => FILE_PATTERN.test(n)).sort().at(-1)
  if (last === undefined) throw new OperatorError(`migrations: no migration in ${dir}`)
  return last
}

function literal (value: string): string {
  return `'${value.replaceAll("'", "''")}'`
}

async function applyPending (run: ScriptRunner, files: MigrationFile[]): Promise<string[]> {
  await run(`CREATE TABLE IF NOT EXISTS schema_migrations (
    name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
  const applied = new Map((await run('SELECT name, checksum FROM schema_migrations'))
    .map((row) => [String(row.name), String(row.checksum)]))
  // A database a newer release migrated holds rows this build did not write and rules it does not
  // know (016's write-offs, for one): it would print other figures than that release signed.
  const known = new Set(files.map((f) => f.name))
  const unknown = [...applied.keys()].filter((name) => !known.has(name)).sort()
  if (unknown.length > 0) throw new OperatorError(`migrations: the database has ${unknown.join(', ')}, which this build does not have; a newer release migrated it. Start that release or a later one`)
  const done: string[] = []
  for (const file of files) {
    const checksum = applied.get(file.name)
    if (checksum !== undefined) {
      if (checksum !== file.checksum && SAME_SCHEMA_AS[file.name]?.includes(checksum) !== true) throw new OperatorError(`migrations: ${file.name} was changed after it was applied; add a new migration instead`)
      continue
    }
    // One simple-protocol script runs as one implicit transaction: all of it, or none of it.
    try {
      await run(`${file.text}\n;\nINSERT INTO schema_migrations (name, checksum) VALUES (${literal(file.name)}, ${literal(file.checksum)});`)
    } catch (error) {
      throw migrationFailed(file.name, error)
    }
    done.push(file.name)
  }
  return done
}

/** SQLSTATEs of a script that creates what is there already: a table, a function, a trigger or index, a schema. */
const ALREADY_THERE = new Set(['42P07', '42723', '42710', '42P06'])

/**
 * A migration the database refused, named (found by a probe of backups: a partial restore stopped
 * the start with a stack trace from pg that named no migration). A database that cannot be reached
 * or answers too late is not the migration's fault: that error goes on as it is.
 */
function migrationFailed (name: string, error: unknown): unknown {
  const kind = classifyDatabaseError(error)
  if (kind === 'unavailable' || !(error instanceof Error)) return error
  const code = (error as { code?: unknown }).code
  const hint = typeof code === 'string' && ALREADY_THERE.has(code)
    ? '. The database holds what it creates but schema_migrations does not record it (a partial restore, or rows removed from that table): ' +
      'restore a whole dump into an empty database (README, Backups)'
    : ''
  return new OperatorError(`migrations: ${name} failed, and nothing of it was applied: ${error.message}${hint}`, { cause: error })
}

/** Applies every pending migration; answers the names it applied, in order. */
export async function migrate (handle: DatabaseHandle, dir: string = defaultMigrationsDir()): Promise<string[]> {
  const files = await readMigrations(dir)
  return handle.withScriptSession(async (run) => {
    await run(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`)
    try {
      return await applyPending(run, files)
    } finally {
      await run(`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`)
    }
  })
}
