import { sql } from 'kysely'
import type { Db } from './database.js'

/*
 * Transaction-scoped advisory locks: held until the transaction that took them ends, so a crash
 * or a rollback can never leave one behind. Each kind of lock has its own namespace.
 */

export const LockSpace = {
  idempotency: 7301,
  agreementPair: 7302,
  settlementYear: 7303,
  revenueMerge: 7304,
} as const

/** Waits for the lock. */
export async function lock (tx: Db, space: number, name: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${name}, ${sql.lit(space)}))`.execute(tx)
}

/** Takes the lock if it is free: false when another transaction holds it. */
export async function tryLock (tx: Db, space: number, name: string): Promise<boolean> {
  const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(hashtextextended(${name}, ${sql.lit(space)})) as locked`.execute(tx)
  return rows[0]?.locked === true
}
