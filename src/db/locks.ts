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
  settlementInputs: 7305,
  agreement: 7306,
  debtRegister: 7307,
  apiKey: 7308,
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

/**
 * What a settlement reads (revenue, advances, agreements and their base adjustments, finalized
 * lines) changes only under this lock: every writer of those holds it shared until it commits,
 * and finalizing a run holds it exclusively while it checks the run against them
 * (calculation-rules.md §9). So no write can commit between the check and the finalization,
 * and a write that started before the run and commits after it is seen by the check.
 */
export async function holdSettlementInputs (tx: Db): Promise<void> {
  await sql`select pg_advisory_xact_lock_shared(hashtextextended('settlement-inputs', ${sql.lit(LockSpace.settlementInputs)}))`.execute(tx)
}

/**
 * One agreement's own records (its base adjustments, responsibility transfers and advances): a
 * writer that checks a limit over them (how many a group holds, what a year's advances add up to)
 * takes this first, so that writers of the same agreement take turns between check and insert.
 */
export async function lockAgreement (tx: Db, agreementId: number): Promise<void> {
  await lock(tx, LockSpace.agreement, String(agreementId))
}

/**
 * The debt register's sums (what was outstanding at registration, the interest repaid) bound every
 * figure it prints: registrations, imports and repayments take turns between checking them and
 * writing. Taken before any debt's row.
 */
export async function lockDebtRegister (tx: Db): Promise<void> {
  await lock(tx, LockSpace.debtRegister, 'debt-register')
}

export async function lockSettlementInputs (tx: Db): Promise<void> {
  await lock(tx, LockSpace.settlementInputs, 'settlement-inputs')
}
