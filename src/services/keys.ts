import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
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
 * only as its SHA-256 hash; revoked at once. The bootstrap ADMIN_TOKEN is compared in constant time.
 */

export function tokenHash (token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

export interface Authenticator {
  /** The principal a bearer token stands for, or undefined when it is unknown or revoked. */
  authenticate: (token: string) => Promise<Principal | undefined>
}

export function authenticator (db: Db, adminToken: string): Authenticator {
  const adminDigest = createHash('sha256').update(adminToken, 'utf8').digest()
  return {
    async authenticate (token) {
      if (timingSafeEqual(createHash('sha256').update(token, 'utf8').digest(), adminDigest)) return { role: 'admin', keyId: 'bootstrap' }
      const key = await findActiveKey(db, tokenHash(token))
      if (key === undefined) return undefined
      switch (key.role) {
        case 'admin': return { role: 'admin', keyId: key.id }
        case 'district': return key.district_code === null ? undefined : { role: 'district', keyId: key.id, districtCode: key.district_code }
        case 'zone': return key.zone_code === null ? undefined : { role: 'zone', keyId: key.id, zoneCode: key.zone_code }
      }
    },
  }
}

export interface NewApiKey {
  role: Role
  districtCode?: string | undefined
  zoneCode?: string | undefined
  label: string
}

/** Issues a key; the answer carries its token, which is never shown again. */
export function issueKey (ctx: Context, request: NewApiKey): Promise<ApiKey & { token: string }> {
  return inWriteTransaction(ctx, async (tx) => {
    const { role, districtCode, zoneCode, label } = request
    if ((role === 'district') !== (districtCode !== undefined)) throw Problems.scopeFieldMismatch('districtCode', role)
    if ((role === 'zone') !== (zoneCode !== undefined)) throw Problems.scopeFieldMismatch('zoneCode', role)
    if (districtCode !== undefined && await findDistrict(tx, ALL, districtCode) === undefined) throw Problems.districtNotRegistered(districtCode, '/districtCode')
    if (zoneCode !== undefined && await findZone(tx, ALL, zoneCode) === undefined) throw Problems.zoneNotRegistered(zoneCode, '/zoneCode')
    const token = `rss_${randomBytes(32).toString('base64url')}`
    const key = await insertApiKey(tx, {
      id: `key_${randomBytes(8).toString('hex')}`, role, districtCode: districtCode ?? null, zoneCode: zoneCode ?? null, label,
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
    const key = await revokeApiKey(tx, id)
    if (key === undefined) throw Problems.notFound(`API key ${id}`)
    return { value: key, audit: [{ action: 'revoke', entityType: 'api_key', entityId: key.id }] }
  })
}
