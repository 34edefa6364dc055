import type { IncomingMessage } from 'node:http'
import { errorCodes, type FastifyInstance } from 'fastify'
import { Problems } from '../domain/errors.js'
import { consumedTypes } from './json-bodies.js'

/*
 * Expect: 100-continue (RFC 9110 §10.1.1): a client asks before it sends a body (curl does for
 * every body over 1 MiB). Node answered 100 Continue at once, whatever came after, so a file over
 * the import limit was sent whole, or until the 413 cut it off. Here the request first goes through
 * what can be told from its headers (the key, the route, the body's declared length against the
 * operation's limit), and 100 Continue is sent only when its body is to be read: a file too large
 * is refused before a byte of it is sent, and so is a key that is refused or a path no route takes.
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
    // No route takes it: the 404 is answered without its body, and the connection ends with it.
    if (request.is404) {
      reply.header('connection', 'close')
      done(null, payload)
      return
    }
    const declared = Number(request.headers['content-length'])
    // A CSV file to an import is held to the import limit; everything else to the route's body limit
    // (JSON to an import is 415 whatever its size, as it is when read).
    const csv = /^text\/csv\b/i.test(request.headers['content-type'] ?? '') && consumedTypes(request)?.includes('text/csv') === true
    const limit = csv ? limits.importLimit : request.routeOptions.bodyLimit
    if (limit !== undefined && Number.isSafeInteger(declared) && declared > limit) {
      // The body is never read: the connection ends with the answer.
      reply.header('connection', 'close')
      done(csv ? Problems.fileTooLarge(limit) : new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE())
      return
    }
    reply.raw.writeContinue()
    done(null, payload)
  })
}
