import { sql } from 'kysely'
import type { Db } from './database.js'

/*
 * Reads that must see one state of the records (a scenario reads an agreement, its revenue over
 * many years and finalized lines): one read-only transaction, REPEATABLE READ, so that every
 * statement sees the same snapshot and nothing can be written through it.
 */

/** Runs `work` in a read-only snapshot transaction, or in the caller's transaction when `db` already is one. */
export async function readOnly<T> (db: Db, work: (tx: Db) => Promise<T>): Promise<T> {
  if (db.isTransaction) return work(db)
  return db.transaction().setIsolationLevel('repeatable read').execute(async (tx) => {
    await sql`SET TRANSACTION READ ONLY`.execute(tx)
    return work(tx)
  })
}
