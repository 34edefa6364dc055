import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Db } from '../db/database.js'
import { Problems } from '../domain/errors.js'
import { type Role, ROLES, scopeOf } from '../domain/principal.js'
import type { Actor } from '../services/context.js'
import { authenticator } from '../services/keys.js'
import { timesGiven } from './json-bodies.js'

/*
 * Who is calling, and what they may do: the one mechanism every /v1 route goes through.
 *  1. authentication: the bearer token is the bootstrap ADMIN_TOKEN or an API key (stored as a
 *     SHA-256 hash, revocable at once) — 401 otherwise; an address that failed more often than its
 *     budget allows is answered 429 until its window ends (no lookup is spent on its tokens);
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

/** RFC 9110 §11.1: the scheme name is case-insensitive (`Bearer`, `bearer`, `BEARER`); the token is not. RFC 6750 §2.1: one space or more before it. */
const BEARER = /^[Bb][Ee][Aa][Rr][Ee][Rr] +([\x21-\x7e]{1,512})$/

/** Failed authentications an address may make per window before it is answered 429 (per instance). */
export interface AuthFailureBudget {
  max: number
  timeWindowMs: number
}

export const DEFAULT_AUTH_FAILURE_BUDGET: AuthFailureBudget = { max: 30, timeWindowMs: 60_000 }

/** Addresses tracked at most; beyond it the oldest windows are forgotten first. */
const TRACKED_ADDRESSES = 100_000

/** Failed authentications per address in fixed windows. */
function failureCounter (budget: AuthFailureBudget) {
  const windows = new Map<string, { failures: number, resetAt: number }>()
  const current = (address: string, now: number) => {
    const window = windows.get(address)
    if (window === undefined || window.resetAt <= now) return undefined
    return window
  }
  return {
    /** Seconds until the address may try again, when it has used up its budget. */
    exhausted (address: string): number | undefined {
      const now = Date.now()
      const window = current(address, now)
      return window !== undefined && window.failures >= budget.max ? Math.max(1, Math.ceil((window.resetAt - now) / 1000)) : undefined
    },
    fail (address: string): void {
      const now = Date.now()
      const window = current(address, now) ?? { failures: 0, resetAt: now + budget.timeWindowMs }
      window.failures++
      windows.delete(address)
      windows.set(address, window)
      while (windows.size > TRACKED_ADDRESSES) {
        const oldest = windows.keys().next()
        if (oldest.done === true) break
        windows.delete(oldest.value)
      }
    },
  }
}

export function registerAccessControl (app: FastifyInstance, options: { adminToken: string, db: Db, authFailures: AuthFailureBudget | false }): void {
  const { authenticate } = authenticator(options.db, options.adminToken)
  const failures = options.authFailures === false ? undefined : failureCounter(options.authFailures)
  const budget = options.authFailures === false ? undefined : options.authFailures

  app.decorateRequest('actor', null as never)
  app.addHook('onRoute', (route) => {
    if (route.config?.access === undefined) {
      throw new Error(`${String(route.method)} ${route.url}: every /v1 route declares config.access (the roles that may call it)`)
    }
  })
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const header = request.headers.authorization
    if (header === undefined) throw Problems.unauthorized('This endpoint needs "Authorization: Bearer <token>".')
    // Found by a probe of the keys: of an admin's header and a zone's, the first counted, whichever the client or a proxy meant.
    const times = timesGiven(request, 'authorization')
    if (times > 1) throw Problems.authorizationRepeated(times)
    const match = BEARER.exec(header)
    // A malformed header costs no lookup: refused as it is, and not counted.
    if (match?.[1] === undefined) throw Problems.unauthorized('The Authorization header must read "Bearer <token>".')
    const retryAfter = failures?.exhausted(request.ip)
    const result = await authenticate(match[1], { lookUp: retryAfter === undefined })
    if (result.kind !== 'ok') {
      if (retryAfter !== undefined && budget !== undefined) throw Problems.authenticationFailuresExceeded(budget.max, Math.round(budget.timeWindowMs / 1000), retryAfter)
      failures?.fail(request.ip)
      throw Problems.unauthorized('The bearer token is not valid (unknown or revoked).')
    }
    const principal = result.principal
    request.actor = { principal, scope: scopeOf(principal), requestId: String(request.id) }
    const access = request.routeOptions.config.access
    // A 404 (no route) has no access declaration: let it through to the not-found handler.
    if (access !== undefined && !access.roles.includes(principal.role)) {
      throw Problems.forbidden(principal.role, `${request.method} ${request.routeOptions.url ?? request.url}`, access.roles)
    }
  })
}
