import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { HttpProblem } from './problem.js'

/*
 * Who is calling. Everything under /v1 goes through `authenticate`, registered once as an
 * onRequest hook of the /v1 scope: no route checks tokens itself. Today the only principal is
 * the bootstrap admin (ADMIN_TOKEN); scoped API keys (district, zone) plug in here.
 */

export type Role = 'admin' | 'district' | 'zone'

export interface Principal {
  role: Role
  /** 'bootstrap' for ADMIN_TOKEN. */
  keyId: string
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null
  }
}

function digest (token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest()
}

/** Compares a presented token with a known one in constant time (both hashed to equal length first). */
export function tokenMatches (presented: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(digest(presented), expectedDigest)
}

const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/

function unauthorized (detail: string): HttpProblem {
  return new HttpProblem(401, 'unauthorized', detail, undefined, { 'www-authenticate': 'Bearer realm="revenue-sharing"' })
}

export function registerAuthentication (app: FastifyInstance, adminToken: string): void {
  const adminDigest = digest(adminToken)
  app.decorateRequest('principal', null)
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const header = request.headers.authorization
    if (header === undefined) throw unauthorized('This endpoint needs "Authorization: Bearer <token>".')
    const match = BEARER.exec(header)
    if (match === null) throw unauthorized('The Authorization header must read "Bearer <token>".')
    if (!tokenMatches(match[1]!, adminDigest)) throw unauthorized('The bearer token is not valid (unknown or revoked).')
    request.principal = { role: 'admin', keyId: 'bootstrap' }
  })
}
