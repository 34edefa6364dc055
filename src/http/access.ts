import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Db } from '../db/database.js'
import { Problems } from '../domain/errors.js'
import { type Role, ROLES, scopeOf } from '../domain/principal.js'
import type { Actor } from '../services/context.js'
import { authenticator } from '../services/keys.js'

/*
 * Who is calling, and what they may do: the one mechanism every /v1 route goes through.
 *  1. authentication: the bearer token is the bootstrap ADMIN_TOKEN or an API key (stored as a
 *     SHA-256 hash, revocable at once) — 401 otherwise;
 *  2. the role check: every /v1 route declares `config.access.roles`; another role gets 403.
 *     A /v1 route without that declaration cannot be registered;
 *  3. the scope: `request.actor.scope` tells the services what the caller may see (404 outside it).
 */

export interface RouteAccess {
  /** The roles that may call the route at all. */
  roles: readonly Role[]
}

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor
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

const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/

export function registerAccessControl (app: FastifyInstance, options: { adminToken: string, db: Db }): void {
  const { authenticate } = authenticator(options.db, options.adminToken)

  app.decorateRequest('actor', null as never)
  app.addHook('onRoute', (route) => {
    if (route.config?.access === undefined) {
      throw new Error(`${String(route.method)} ${route.url}: every /v1 route declares config.access (the roles that may call it)`)
    }
  })
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const header = request.headers.authorization
    if (header === undefined) throw Problems.unauthorized('This endpoint needs "Authorization: Bearer <token>".')
    const match = BEARER.exec(header)
    if (match?.[1] === undefined) throw Problems.unauthorized('The Authorization header must read "Bearer <token>".')
    const principal = await authenticate(match[1])
    if (principal === undefined) throw Problems.unauthorized('The bearer token is not valid (unknown or revoked).')
    request.actor = { principal, scope: scopeOf(principal), requestId: String(request.id) }
    const access = request.routeOptions.config.access
    // A 404 (no route) has no access declaration: let it through to the not-found handler.
    if (access !== undefined && !access.roles.includes(principal.role)) {
      throw Problems.forbidden(principal.role, `${request.method} ${request.routeOptions.url ?? request.url}`, access.roles)
    }
  })
}
