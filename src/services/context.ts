import type { Db } from '../db/database.js'
import type { WriteTurns } from './write.js'
import type { Decimal } from '../domain/money.js'
import type { Principal, Scope } from '../domain/principal.js'

/*
 * What every service call is given: the database (or, for the demo loader, a transaction that
 * the call's writes join), who acts, the deployment's settings and, for writes that a client may
 * retry, its Idempotency-Key. The HTTP layer, `npm run settle` and the demo loader each build one.
 */

export interface Actor {
  principal: Principal
  /** What the principal may see (api-contract.md, Roles and scope). */
  scope: Scope
  /** The request id (or the command run) that audit events name. */
  requestId: string
}

export interface Settings {
  /** MIN_ZONE_RATE, the deployment's floor (calculation-rules.md §3). */
  minZoneRate: Decimal
  /** Largest CSV import in bytes (413 above). */
  importLimit: number
  /** REQUIRE_TWO_ADMINS: the admin key that finalizes a run must not be the one that computed it (four eyes). */
  requireTwoAdmins: boolean
}

/**
 * An Idempotency-Key sent with a write (api-contract.md, Idempotency): the hash of the request it
 * came with, and the answer to store for replays, as the caller will send it.
 */
export interface Idempotency {
  key: string
  /**
   * The request's hash, `<head>:<body>`: the head covers the method, the route and its parameters and
   * the query, the body part the body; a streamed body's digest is known only once the write has read it.
   */
  requestHash: (streamedBodyDigest?: string) => string
  answer: (value: unknown) => { status: number, text: string }
}

export interface Context {
  db: Db
  actor: Actor
  settings: Settings
  idempotency?: Idempotency | undefined
  /** The instance's turns for write transactions (PostgreSQL), so that reads always find a connection. */
  writeTurns?: WriteTurns | undefined
  /**
   * The database has connections besides a write's own (PostgreSQL's pool; PGlite has one): a write
   * may read committed records on another connection while its transaction goes on.
   */
  readsBesideWrites?: boolean | undefined
}
