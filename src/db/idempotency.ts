import { sql } from 'kysely'
import type { Db } from './database.js'
import { LockSpace, tryLock } from './locks.js'

/* The first answer to each Idempotency-Key, per API key (api-contract.md, Idempotency). */

export interface StoredAnswer {
  requestHash: string
  status: number
  body: string
}

/** Only one request with a key runs at a time: false when another holds it. */
export function tryLockIdempotencyKey (tx: Db, keyId: string, key: string): Promise<boolean> {
  return tryLock(tx, LockSpace.idempotency, `${keyId}|${key}`)
}

export async function findStoredAnswer (tx: Db, keyId: string, key: string): Promise<StoredAnswer | undefined> {
  const row = await tx.selectFrom('idempotency_keys').select(['request_hash', 'response_status', 'response_body'])
    .where('key_id', '=', keyId).where('idempotency_key', '=', key).executeTakeFirst()
  return row === undefined ? undefined : { requestHash: row.request_hash, status: row.response_status, body: row.response_body }
}

export async function storeAnswer (tx: Db, keyId: string, key: string, answer: StoredAnswer): Promise<void> {
  await tx.insertInto('idempotency_keys').values({
    key_id: keyId, idempotency_key: key, request_hash: answer.requestHash, response_status: answer.status, response_body: answer.body,
  }).execute()
}

/** Removes idempotency records older than the retention (at least 24 h, api-contract.md). */
export async function pruneIdempotencyKeys (db: Db, olderThanHours = 72): Promise<void> {
  await db.deleteFrom('idempotency_keys').where('created_at', '<', sql<Date>`now() - make_interval(hours => ${olderThanHours})`).execute()
}
