import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { type Kysely, sql, type Transaction } from 'kysely'
import type { Database } from '../db/database.js'
import { HttpProblem } from './problem.js'

/*
 * Every write runs through `runWrite`: one transaction holding the change, its audit events
 * and, when the caller sent an Idempotency-Key, the first response to replay to retries
 * (api-contract.md, Idempotency). A retry with the same key and body gets the stored response
 * and changes nothing; the same key with another body is 422; a retry while the first is still
 * running is 409 (a transaction-scoped advisory lock on the key).
 */

export interface AuditEntry {
  action: string
  entityType: string
  entityId: string
  details?: unknown
}

export interface WriteOutcome<T> {
  status: number
  body: T
  audit: AuditEntry[]
}

export type Tx = Transaction<Database>

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/

/** Thrown inside the transaction to roll back work whose request turned out to be a replay. */
class Replay extends Error {
  constructor (readonly status: number, readonly body: string) { super('replay') }
}

export function hashOf (...parts: string[]): string {
  const hash = createHash('sha256')
  for (const part of parts) hash.update(part).update('\u0000')
  return hash.digest('hex')
}

export interface RunWriteOptions {
  /** For streamed bodies: the body's hash, known only after `fn` has read it. */
  lateBodyHash?: () => string
}

export async function runWrite<T> (
  db: Kysely<Database>, request: FastifyRequest, reply: FastifyReply,
  fn: (tx: Tx) => Promise<WriteOutcome<T>>, options: RunWriteOptions = {},
): Promise<FastifyReply> {
  const header = request.headers['idempotency-key']
  let idempotencyKey: string | undefined
  if (header !== undefined) {
    if (typeof header !== 'string' || !IDEMPOTENCY_KEY.test(header)) {
      throw new HttpProblem(400, 'invalid-input', 'Idempotency-Key must be 1 to 255 printable characters without spaces.',
        [{ pointer: '/headers/idempotency-key', message: 'must be 1 to 255 printable characters' }])
    }
    idempotencyKey = header
  }
  const { principal } = request
  const requestHash = () => hashOf(request.method, request.routeOptions.url ?? request.url, JSON.stringify(request.params ?? {}),
    options.lateBodyHash === undefined ? JSON.stringify(request.body ?? null) : options.lateBodyHash())

  try {
    const { status, text } = await db.transaction().execute(async (tx) => {
      let stored: { request_hash: string, response_status: number, response_body: string } | undefined
      if (idempotencyKey !== undefined) {
        const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(hashtextextended(${`${principal.keyId}|${idempotencyKey}`}, 7301)) as locked`.execute(tx)
        if (rows[0]?.locked !== true) {
          throw new HttpProblem(409, 'idempotency-key-in-use', `A request with Idempotency-Key "${idempotencyKey}" is still running; retry when it has finished.`)
        }
        stored = await tx.selectFrom('idempotency_keys').select(['request_hash', 'response_status', 'response_body'])
          .where('key_id', '=', principal.keyId).where('idempotency_key', '=', idempotencyKey).executeTakeFirst()
        if (stored !== undefined && options.lateBodyHash === undefined) replayOrConflict(stored, requestHash(), idempotencyKey)
      }
      const outcome = await fn(tx)
      if (stored !== undefined) replayOrConflict(stored, requestHash(), idempotencyKey!)
      const text = String(reply.code(outcome.status).serialize(outcome.body))
      if (idempotencyKey !== undefined) {
        await tx.insertInto('idempotency_keys').values({
          key_id: principal.keyId, idempotency_key: idempotencyKey, request_hash: requestHash(),
          response_status: outcome.status, response_body: text,
        }).execute()
      }
      if (outcome.audit.length > 0) {
        await tx.insertInto('audit_events').values(outcome.audit.map((a) => ({
          key_id: principal.keyId, role: principal.role, action: a.action, entity_type: a.entityType, entity_id: a.entityId,
          request_id: String(request.id), details: a.details === undefined ? null : JSON.stringify(a.details),
        }))).execute()
      }
      return { status: outcome.status, text }
    })
    return reply.code(status).type('application/json; charset=utf-8').send(text)
  } catch (error) {
    if (error instanceof Replay) {
      return reply.code(error.status).header('idempotent-replayed', 'true').type('application/json; charset=utf-8').send(error.body)
    }
    throw error
  }
}

function replayOrConflict (stored: { request_hash: string, response_status: number, response_body: string }, hash: string, key: string): never {
  if (stored.request_hash !== hash) {
    throw new HttpProblem(422, 'idempotency-key-reused', `Idempotency-Key "${key}" was used before with another request body; use a new key for a new request.`,
      [{ pointer: '/headers/idempotency-key', message: 'already used with another body' }])
  }
  throw new Replay(stored.response_status, stored.response_body)
}

/** Removes idempotency records older than the retention (at least 24 h, api-contract.md). */
export async function pruneIdempotencyKeys (db: Kysely<Database>, olderThanHours = 72): Promise<void> {
  await db.deleteFrom('idempotency_keys').where('created_at', '<', sql<Date>`now() - make_interval(hours => ${olderThanHours})`).execute()
}
