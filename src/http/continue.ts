import type { IncomingMessage } from 'node:http'
import { errorCodes, type FastifyInstance, type FastifyRequest } from 'fastify'
import { Problems } from '../domain/errors.js'
import { consumedTypes } from './json-bodies.js'
import { routeNotFoundProblem } from './problem.js'

/*
 * Expect: 100-continue (RFC 9110 §10.1.1): a client asks before it sends a body (curl does for
 * every body over 1 MiB). Node answered 100 Continue at once, whatever came after, so a file over
 * the import limit was sent whole, or until the 413 cut it off. Here the request first goes through
 * what can be told from its headers (the key, the route, the body's declared length against the
 * operation's limit), and 100 Continue is sent only when its body is to be read: a file too large
 * is refused before a byte of it is sent, and so is a key that is refused or a path no route takes.
 * What is checked after the body is read (the query string, Idempotency-Key, the body itself) is
 * checked after it as without the header.
 */
export function meetExpectContinue (app: FastifyInstance, limits: { importLimit: number }): void {
  // Node emits 'checkContinue' in place of 'request' for these, and sends nothing itself.
  const awaiting = new WeakSet<IncomingMessage>()
  app.server.on('checkContinue', (request: IncomingMessage, response) => {
    awaiting.add(request)
    app.server.emit('request', request, response)
  })
  // Hooks of every route, the 404 handler's too, run before the route's own (the CSV spool). A
  // callback, not an async function: on every request's path, it makes no promise.
  app.addHook('preParsing', (request, reply, payload, done) => {
    if (!awaiting.has(request.raw)) {
      done(null, payload)
      return
    }
    awaiting.delete(request.raw)
    // No route takes it: 404 now, as it is whatever the body (a body the JSON parser would read
    // first, never told to come, would hold the client until the request timed out).
    if (request.is404) {
      reply.header('connection', 'close')
      done(routeNotFoundProblem(request))
      return
    }
    const tooLarge = declaredTooLarge(request, limits.importLimit)
    if (tooLarge !== undefined) {
      // The body is never read: the connection ends with the answer.
      reply.header('connection', 'close')
      done(tooLarge)
      return
    }
    reply.raw.writeContinue()
    done(null, payload)
  })
}

/**
 * The refusal of a body whose declared length is over what its operation takes: a CSV file to an
 * import over the import limit, JSON over the route's body limit. A body of a type the operation
 * does not take is left to be refused as it is without the header (415), and a GET's or a HEAD's
 * body is not read at all.
 */
function declaredTooLarge (request: FastifyRequest, importLimit: number): Error | undefined {
  if (request.method === 'GET' || request.method === 'HEAD') return undefined
  const declared = Number(request.headers['content-length'])
  if (!Number.isSafeInteger(declared)) return undefined
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
  const taken = consumedTypes(request) ?? ['application/json']
  if (type === undefined || !taken.includes(type)) return undefined
  if (type === 'text/csv') return declared > importLimit ? Problems.fileTooLarge(importLimit) : undefined
  const limit = request.routeOptions.bodyLimit
  return limit !== undefined && declared > limit ? new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE() : undefined
}
