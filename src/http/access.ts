import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { DatabaseHandle } from '../db/connect.js'
import type { Scope } from '../db/scope.js'
import { HttpProblem } from './problem.js'

/*
 * Who is calling, and what they may do: the one mechanism every /v1 route goes through.
 *  1. authentication: the bearer token is the bootstrap ADMIN_TOKEN or an API key (stored as a
 *     SHA-256 hash, revocable at once) — 401 otherwise;
 *  2. the role check: every /v1 route declares `config.access.roles`; another role gets 403.
 *     A /v1 route without that declaration cannot be registered;
 *  3. the scope: `request.scope` tells repositories what the caller may see (404 outside it).
 */

export type Role = 'admin' | 'district' | 'zone'
export const ROLES: readonly Role[] = ['admin', 'district', 'zone']

export interface Principal {
  role: Role
  /** 'bootstrap' for ADMIN_TOKEN, else the API key's id. */
  keyId: string
  districtCode?: string
  zoneCode?: string
}

export interface RouteAccess {
  /** The roles that may call the route at all. */
  roles: readonly Role[]
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal
    scope: Scope
  }
  interface FastifyContextConfig {
    access?: RouteAccess
  }
}

/** Read routes: every role, each within its scope. */
export const EVERY_ROLE: RouteAccess = { roles: ROLES }
export const ADMIN_ONLY: RouteAccess = { roles: ['admin'] }
/** Recording revenue and advances: admins anywhere, district bureaus for their own district. */
export const ADMIN_OR_DISTRICT: RouteAccess = { roles: ['admin', 'district'] }

export function tokenHash (token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

export function scopeOf (principal: Principal): Scope {
  if (principal.role === 'district') return { kind: 'district', districtCode: principal.districtCode! }
  if (principal.role === 'zone') return { kind: 'zone', zoneCode: principal.zoneCode! }
  return { kind: 'all' }
}

const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/

function unauthorized (detail: string): HttpProblem {
  return new HttpProblem(401, 'unauthorized', detail, undefined, { 'www-authenticate': 'Bearer realm="revenue-sharing"' })
}

export function registerAccessControl (app: FastifyInstance, options: { adminToken: string, database: DatabaseHandle }): void {
  const adminDigest = createHash('sha256').update(options.adminToken, 'utf8').digest()
  const { db } = options.database

  async function authenticate (token: string): Promise<Principal | undefined> {
    // The bootstrap token is compared in constant time; API keys are found by their hash.
    if (timingSafeEqual(createHash('sha256').update(token, 'utf8').digest(), adminDigest)) return { role: 'admin', keyId: 'bootstrap' }
    const key = await db.selectFrom('api_keys').select(['id', 'role', 'district_code', 'zone_code'])
      .where('token_hash', '=', tokenHash(token)).where('revoked_at', 'is', null).executeTakeFirst()
    if (key === undefined) return undefined
    return {
      role: key.role,
      keyId: key.id,
      ...(key.district_code === null ? {} : { districtCode: key.district_code }),
      ...(key.zone_code === null ? {} : { zoneCode: key.zone_code }),
    }
  }

  app.decorateRequest('principal', null as never)
  app.decorateRequest('scope', null as never)
  app.addHook('onRoute', (route) => {
    if (route.config?.access === undefined) {
      throw new Error(`${String(route.method)} ${route.url}: every /v1 route declares config.access (the roles that may call it)`)
    }
  })
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const header = request.headers.authorization
    if (header === undefined) throw unauthorized('This endpoint needs "Authorization: Bearer <token>".')
    const match = BEARER.exec(header)
    if (match === null) throw unauthorized('The Authorization header must read "Bearer <token>".')
    const principal = await authenticate(match[1]!)
    if (principal === undefined) throw unauthorized('The bearer token is not valid (unknown or revoked).')
    request.principal = principal
    request.scope = scopeOf(principal)
    const access = request.routeOptions.config.access
    // A 404 (no route) has no access declaration: let it through to the not-found handler.
    if (access !== undefined && !access.roles.includes(principal.role)) {
      throw new HttpProblem(403, 'forbidden', `A ${principal.role} key may not ${request.method} ${request.routeOptions.url ?? request.url}; ` +
        `it is for ${access.roles.join(' or ')} keys.`)
    }
  })
}
