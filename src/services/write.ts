import type { AuditEntry } from '../db/audit.js'
import { insertAuditEvents } from '../db/audit.js'
import type { Db } from '../db/database.js'
import { findStoredAnswer, type StoredAnswer, storeAnswer, tryLockIdempotencyKey } from '../db/idempotency.js'
import { holdKey, lockKeyForRevocation } from '../db/keys.js'
import { Problems } from '../domain/errors.js'
import type { Context } from './context.js'

/*
 * Every write is one transaction holding the change, its audit events and, when the caller sent
 * an Idempotency-Key, the first answer to replay to retries (api-contract.md, Idempotency). A
 * retry with the same key and request gets the stored answer and changes nothing; the same key
 * with another request is 422; a retry while the first is still running is 409 (an advisory lock
 * on the key, held by the transaction; retries that meet one another after the first has finished
 * are each answered from the stored answer).
 */

export type { AuditEntry } from '../db/audit.js'

/** What a write produced, and what the audit log says of it. */
export interface Outcome<T> {
  value: T
  audit: readonly AuditEntry[]
}

/** Thrown out of a write whose request is a retry: the answer stored for it, to send again. */
export class Replay {
  constructor (readonly status: number, readonly text: string) {}
}

export interface WriteOptions {
  /**
   * For streamed bodies (CSV imports): the digest of the bytes once the write has read them all, and a
   * way to read them to the end without the write (a retry answered from the stored answer).
   */
  streamedBody?: { digest: () => string, readToEnd: () => Promise<string> }
  /**
   * The key a revocation revokes. A revocation holds its own key's row as every write does, and
   * the row it revokes, the two in the order of their ids: two admins revoking each other's keys
   * at once then take turns (the second finds its own key revoked, 401) instead of each waiting
   * for the other's row.
   */
  revokes?: string
}

/**
 * The write transactions of one instance at a time, fewer than its connections (PostgreSQL): writes
 * wait for one another on locks (behind a finalize, every writer of the settlement inputs), each
 * holding a connection while it waits; were they all the pool's, reads and /ready would find no
 * connection and answer 503 while nothing is wrong. A write waits for a turn as long as it would
 * have waited for a connection, then answers 503 database-unavailable with Retry-After, as then.
 */
export class WriteTurns {
  private free: number
  private readonly waiting: Array<{ go: () => void }> = []

  constructor (readonly turns: number, private readonly waitMs: number) {
    this.free = turns
  }

  /** Turns for a pool of `poolSize` connections: all but two, which reads and /ready always find. */
  static forPool (poolSize: number, waitMs: number): WriteTurns {
    return new WriteTurns(Math.max(1, poolSize - 2), waitMs)
  }

  async run<T> (fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) {
      this.free--
    } else {
      await new Promise<void>((resolve, reject) => {
        const waiter = { go: () => { clearTimeout(timer); resolve() } }
        const timer = setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(waiter), 1)
          reject(Problems.databaseUnavailable('Every connection for writes is busy (writes wait for one another, e.g. behind a settlement being finalized); try again shortly.'))
        }, this.waitMs)
        this.waiting.push(waiter)
      })
    }
    try {
      return await fn()
    } finally {
      const next = this.waiting.shift()
      if (next === undefined) this.free++
      else next.go()
    }
  }
}

function replayOrConflict (stored: StoredAnswer, hash: string, key: string): never {
  if (stored.requestHash !== hash) throw Problems.idempotencyKeyReused(key)
  throw new Replay(stored.status, stored.body)
}

/** The head of a request hash (method, route, parameters, query): known before a streamed body is read. */
const headOf = (hash: string) => hash.split(':')[0]

/**
 * Runs `work` in a transaction of its own, or in the caller's when `ctx.db` already is one (the
 * demo loader loads everything in one), with the audit events and the idempotency record.
 */
export async function inWriteTransaction<T> (ctx: Context, work: (tx: Db) => Promise<Outcome<T>>, options: WriteOptions = {}): Promise<T> {
  const { actor, idempotency } = ctx
  const keyId = actor.principal.keyId
  const run = async (tx: Db): Promise<T> => {
    // The key was valid when the request came in; a revocation that committed since stops the write, and one that
    // comes while it is under way waits for it to commit (README, Roles and keys: revoked at once).
    // A revocation holds the two keys in the order of their ids: the key it revokes first when that comes first (or is
    // its own: two requests holding it to share would each wait for the other), else after its own.
    const revokes = options.revokes
    if (revokes !== undefined && revokes <= keyId) await lockKeyForRevocation(tx, revokes)
    if ((await holdKey(tx, keyId))?.revoked === true) throw Problems.unauthorized('The bearer token is not valid (unknown or revoked).')
    if (revokes !== undefined && revokes > keyId) await lockKeyForRevocation(tx, revokes)
    if (idempotency !== undefined) {
      // The key's lock is held by the first request while it runs, and by each retry while it reads the stored answer:
      // a retry that finds it held is told "still running" only when no answer has been stored (committed) for the key.
      const locked = await tryLockIdempotencyKey(tx, keyId, idempotency.key)
      const stored = await findStoredAnswer(tx, keyId, idempotency.key)
      if (stored === undefined && !locked) throw Problems.idempotencyKeyInUse(idempotency.key)
      if (stored !== undefined) {
        // A retry is answered from the stored answer, without running the write again (an imported file's lines would
        // find their own references taken). A streamed body is read to its end for its digest; another method, route
        // or query is known to differ before it.
        const { streamedBody } = options
        if (streamedBody !== undefined && headOf(stored.requestHash) !== headOf(idempotency.requestHash(''))) throw Problems.idempotencyKeyReused(idempotency.key)
        replayOrConflict(stored, idempotency.requestHash(streamedBody === undefined ? undefined : await streamedBody.readToEnd()), idempotency.key)
      }
    }
    const outcome = await work(tx)
    if (idempotency !== undefined) {
      const requestHash = idempotency.requestHash(options.streamedBody?.digest())
      const { status, text } = idempotency.answer(outcome.value)
      await storeAnswer(tx, keyId, idempotency.key, { requestHash, status, body: text })
    }
    await insertAuditEvents(tx, { keyId, role: actor.principal.role, requestId: actor.requestId }, outcome.audit)
    return outcome.value
  }
  if (ctx.db.isTransaction) return run(ctx.db)
  const transaction = () => ctx.db.transaction().execute(run)
  return ctx.writeTurns === undefined ? transaction() : ctx.writeTurns.run(transaction)
}
