import { hash, randomBytes, timingSafeEqual } from 'node:crypto'
import { type ApiKey, findActiveKey, insertApiKey, listApiKeys, revokeApiKey } from '../db/keys.js'
import type { Db } from '../db/database.js'
import type { PageRequest } from '../db/pagination.js'
import { findDistrict, findZone } from '../db/registry.js'
import { Problems } from '../domain/errors.js'
import { ALL, type Principal, type Role } from '../domain/principal.js'
import type { Context } from './context.js'
import { inWriteTransaction } from './write.js'

/*
 * API keys (api-contract.md, Roles and scope): a token of 256 random bits, shown once and kept
 * only as its SHA-256 hash (never in an idempotency record either: a replay answers the key
 * without it); revoked at once, on every instance. The bootstrap ADMIN_TOKEN is compared in constant time.
 */

export function tokenHash (token: string): string {
  return hash('sha256', token, 'hex')
}

/** What authenticating a bearer token came to. */
export type Authentication =
  | { kind: 'ok', principal: Principal }
  /** Unknown or revoked. */
  | { kind: 'invalid' }
  /** Not looked up: the caller said not to spend a lookup on a token not known to be good. */
  | { kind: 'not-looked-up' }

export interface Authenticator {
  /**
   * The principal a bearer token stands for. `lookUp: false` (an address over its budget of failed
   * authentications) spends no database lookup on a token this instance has not recently seen valid.
   */
  authenticate: (token: string, options?: { lookUp?: boolean }) => Promise<Authentication>
}

export interface KeyCacheOptions {
  /** Token hashes remembered as not authenticating (unknown or revoked). */
  negativeEntries?: number
  /** Token hashes remembered as recently valid, and for how long (only a hint; never trusted to authenticate). */
  recentEntries?: number
  recentMs?: number
}

/** A set of strings holding at most `max`, forgetting the oldest first. */
class BoundedSet {
  private readonly entries = new Map<string, number>()
  constructor (private readonly max: number) {}
  has (value: string, now = 0): boolean {
    const until = this.entries.get(value)
    if (until === undefined) return false
    if (until !== 0 && until < now) {
      this.entries.delete(value)
      return false
    }
    return true
  }

  add (value: string, until = 0): void {
    this.entries.delete(value)
    this.entries.set(value, until)
    if (this.entries.size > this.max) {
      const oldest = this.entries.keys().next()
      if (oldest.done !== true) this.entries.delete(oldest.value)
    }
  }
}

/**
 * Authentication with a cache of key lookups. A token that does not authenticate (unknown or
 * revoked) is remembered and refused again without a lookup: that answer never changes, since a
 * revoked key stays revoked and a new key's token is random and never shown before its key exists.
 * A token that does authenticate is looked up every time (one indexed read): instances share only
 * PostgreSQL, so a revocation committed by any instance is refused by every instance at once,
 * with nothing to invalidate. Tokens seen valid recently are remembered only as a hint that a
 * lookup is worth spending on them while their address is over its budget of failures.
 */
export function authenticator (db: Db, adminToken: string, options: KeyCacheOptions = {}): Authenticator {
  const adminDigest = hash('sha256', adminToken, 'buffer')
  const invalid = new BoundedSet(options.negativeEntries ?? 100_000)
  const recent = new BoundedSet(options.recentEntries ?? 10_000)
  const recentMs = options.recentMs ?? 24 * 60 * 60_000
  const principalOf = (key: NonNullable<Awaited<ReturnType<typeof findActiveKey>>>): Principal | undefined => {
    switch (key.role) {
      case 'admin': return { role: 'admin', keyId: key.id }
      case 'district': return key.district_code === null ? undefined : { role: 'district', keyId: key.id, districtCode: key.district_code }
      case 'zone': return key.zone_code === null ? undefined : { role: 'zone', keyId: key.id, zoneCode: key.zone_code }
    }
  }
  return {
    async authenticate (token, { lookUp = true } = {}) {
      const digest = hash('sha256', token, 'buffer')
      if (timingSafeEqual(digest, adminDigest)) return { kind: 'ok', principal: { role: 'admin', keyId: 'bootstrap' } }
      const tokenHash = digest.toString('hex')
      if (invalid.has(tokenHash)) return { kind: 'invalid' }
      if (!lookUp && !recent.has(tokenHash, Date.now())) return { kind: 'not-looked-up' }
      const key = await findActiveKey(db, tokenHash)
      const principal = key === undefined ? undefined : principalOf(key)
      if (principal === undefined) {
        invalid.add(tokenHash)
        return { kind: 'invalid' }
      }
      recent.add(tokenHash, Date.now() + recentMs)
      return { kind: 'ok', principal }
    },
  }
}

export interface NewApiKey {
  role: Role
  districtCode?: string | undefined
  zoneCode?: string | undefined
  label: string
}

/**
 * Issues a key; the answer carries its token, which is never shown again. `id`: the key's id when it
 * must be known beforehand (the demo data's key that the document's revocation example revokes).
 */
export function issueKey (ctx: Context, request: NewApiKey, id = `key_${randomBytes(8).toString('hex')}`): Promise<ApiKey & { token: string }> {
  return inWriteTransaction(ctx, async (tx) => {
    const { role, districtCode, zoneCode, label } = request
    if ((role === 'district') !== (districtCode !== undefined)) throw Problems.scopeFieldMismatch('districtCode', role)
    if ((role === 'zone') !== (zoneCode !== undefined)) throw Problems.scopeFieldMismatch('zoneCode', role)
    if (districtCode !== undefined && await findDistrict(tx, ALL, districtCode) === undefined) throw Problems.districtNotRegistered(districtCode, '/districtCode')
    if (zoneCode !== undefined && await findZone(tx, ALL, zoneCode) === undefined) throw Problems.zoneNotRegistered(zoneCode, '/zoneCode')
    const token = `rss_${randomBytes(32).toString('base64url')}`
    const key = await insertApiKey(tx, {
      id, role, districtCode: districtCode ?? null, zoneCode: zoneCode ?? null, label,
      tokenHash: tokenHash(token), createdBy: ctx.actor.principal.keyId,
    })
    return { value: { ...key, token }, audit: [{ action: 'create', entityType: 'api_key', entityId: key.id, details: { role, districtCode, zoneCode, label } }] }
  })
}

export function keys (ctx: Context, page: PageRequest) {
  return listApiKeys(ctx.db, page)
}

export function revokeKey (ctx: Context, id: string): Promise<ApiKey> {
  return inWriteTransaction(ctx, async (tx) => {
    const revoked = await revokeApiKey(tx, id)
    if (revoked === undefined) throw Problems.notFound(`API key ${id}`)
    // Revoking a revoked key changes nothing, and the audit log says nothing of it.
    return { value: revoked.key, audit: revoked.revokedNow ? [{ action: 'revoke', entityType: 'api_key', entityId: revoked.key.id }] : [] }
  }, { revokes: id })
}
