import { hash } from 'node:crypto'
import cors from '@fastify/cors'
import helmet, { type HelmetOptions } from 'helmet'
import rateLimit from '@fastify/rate-limit'
import underPressure from '@fastify/under-pressure'
import { Socket } from 'node:net'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Problems, SHED_RETRY_AFTER_SECONDS } from '../domain/errors.js'

/*
 * What stands between the routes and a hostile or overloaded world: security headers (helmet),
 * a request budget per bearer token (rate limit), and load shedding (under-pressure). Every
 * refusal is the same problem+json as any other error, with Retry-After.
 */

export interface RateLimitConfig {
  /** Requests a token (or, without one, an address) may make per window. */
  max: number
  timeWindowMs: number
}

export interface PressureConfig {
  /** Event-loop delay, in ms, above which requests are shed with 503; 0 turns the check off. */
  maxEventLoopDelayMs: number
  /** Heap in use, in bytes, above which requests are shed with 503; 0 turns the check off. */
  maxHeapUsedBytes: number
}

export const DEFAULT_RATE_LIMIT: RateLimitConfig = { max: 1200, timeWindowMs: 60_000 }
export const DEFAULT_PRESSURE: PressureConfig = { maxEventLoopDelayMs: 1000, maxHeapUsedBytes: 0 }

/** The headers the service answers with that a page on another origin may read (CORS lets it read Content-Type and a few others anyway). */
export const EXPOSED_HEADERS = ['Idempotent-Replayed', 'Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'Content-Disposition', 'X-Request-Id', 'WWW-Authenticate'] as const

/** The headers every answer carries, for the document. */
export const CORS_HEADERS = {
  'Access-Control-Allow-Origin': { type: 'string', maxLength: 200, pattern: '^(\\*|https?://[^\\s]+)$', description: '跨域来源 the origin browsers may call from (CORS_ORIGIN)' },
  'Access-Control-Expose-Headers': { type: 'string', enum: [EXPOSED_HEADERS.join(', ')], description: '可读响应头 the headers of the answer a page on another origin may read' },
  'X-Request-Id': { type: 'string', format: 'uuid', maxLength: 36, description: '请求编号 the id the log gives this request: quote it when reporting a problem' },
} as const

/** The headers a refusal that should be retried later carries (429, 503). */
export const RETRY_HEADERS = {
  'Retry-After': { type: 'integer', format: 'int32', minimum: 1, maximum: 86400, description: '重试等待 seconds to wait before retrying' },
} as const

/** The response headers every rate-limited answer carries (documented on every 2xx and 4xx). */
export const RATE_LIMIT_HEADERS = {
  'X-RateLimit-Limit': { type: 'integer', format: 'int32', minimum: 1, maximum: 2147483647, description: '限额 requests allowed per window for this token' },
  'X-RateLimit-Remaining': { type: 'integer', format: 'int32', minimum: 0, maximum: 2147483647, description: '剩余 requests left in this window' },
  'X-RateLimit-Reset': { type: 'integer', format: 'int32', minimum: 0, maximum: 2147483647, description: '重置 seconds until the window starts again' },
} as const

/**
 * The budget is kept per bearer token, so that two offices behind one address do not share it;
 * a request without a token counts against its address. Only a digest of the token is kept.
 */
function rateLimitKey (request: FastifyRequest): string {
  const header = request.headers.authorization
  if (typeof header === 'string' && /^Bearer\s+\S/i.test(header)) {
    return `token:${hash('sha256', header.slice(7).trim(), 'base64url').slice(0, 22)}`
  }
  return `address:${request.ip}`
}

/** helmet's options: what every answer carries. */
const HELMET: HelmetOptions = {
  // Swagger UI (/docs) loads its own scripts and styles from this origin and shows inline images.
  contentSecurityPolicy: {
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      frameAncestors: ["'none'"],
      upgradeInsecureRequests: null,
    },
  },
  // A JSON API on plain HTTP behind the office's own proxy: HSTS is the proxy's to send.
  strictTransportSecurity: false,
}

/**
 * The headers helmet sets and removes, taken once from helmet itself (on a response that records
 * them), instead of running it on every request: none of them depends on the request.
 */
function securityHeaders (): { set: Array<[string, string]>, removed: string[] } {
  const set: Array<[string, string]> = []
  const removed: string[] = []
  const recorder = {
    setHeader: (name: string, value: string) => { set.push([name, value]) },
    removeHeader: (name: string) => { removed.push(name) },
  }
  helmet(HELMET)(...([{}, recorder, () => {}] as unknown as Parameters<ReturnType<typeof helmet>>))
  return { set, removed }
}

export async function registerDefences (app: FastifyInstance, options: { rateLimit: RateLimitConfig | false, pressure: PressureConfig, corsOrigin: string, sendTimeoutMs: number }): Promise<void> {
  closeStalledConnections(app, options.sendTimeoutMs)
  // Tokens travel in the Authorization header, never in cookies, so a page on another origin
  // can call the service only with a token its user gave it: no credentials are allowed.
  // A preflight allows every method an operation has (the plugin's default allows GET, HEAD and POST
  // alone: PATCH of an agreement and DELETE of a key were refused to pages on another origin), and a
  // page may read the headers the service answers with beyond those CORS lets it read anyway.
  await app.register(cors, {
    origin: options.corsOrigin,
    credentials: false,
    strictPreflight: false,
    // Strings: the plugin joins a list anew for every answer.
    methods: 'GET, HEAD, POST, PATCH, DELETE',
    exposedHeaders: EXPOSED_HEADERS.join(', '),
  })
  // helmet's headers do not depend on the request: computed once, each answer gets the same.
  // They go into Fastify's own reply headers, which it hands to writeHead whole; one header set
  // on the raw response instead makes Node take every header of the answer one by one.
  const headers = securityHeaders()
  const securityHeaderFields = Object.fromEntries(headers.set.map(([name, value]) => [name.toLowerCase(), value]))
  app.addHook('onRequest', (_request, reply, done) => {
    for (const name of headers.removed) reply.raw.removeHeader(name)
    reply.headers(securityHeaderFields)
    done()
  })

  if (options.rateLimit !== false) {
    const { max, timeWindowMs } = options.rateLimit
    await app.register(rateLimit, {
      // Not a hook on each route (those run after /v1's authentication): the one hook below.
      global: false,
      max,
      timeWindow: timeWindowMs,
      keyGenerator: rateLimitKey,
      errorResponseBuilder: (request, context) => Problems.rateLimited(context.max, Math.round(timeWindowMs / 1000), context.after, Math.max(1, Math.ceil(context.ttl / 1000)),
        rateLimitKey(request).startsWith('token:') ? 'token' : 'address'),
    })
    // Counted before /v1's authentication (README, Limits): a request refused 401 or 403 is counted
    // too, and carries the X-RateLimit headers as every other answer does; /health and /ready
    // (config.rateLimit false) are not.
    const limit = app.rateLimit()
    app.addHook('onRequest', async (request, reply) => {
      if (request.routeOptions.config.rateLimit === false) return
      await limit.call(app, request, reply)
    })
  }

  await app.register(underPressure, {
    maxEventLoopDelay: options.pressure.maxEventLoopDelayMs,
    maxHeapUsedBytes: options.pressure.maxHeapUsedBytes,
    retryAfter: SHED_RETRY_AFTER_SECONDS,
    // A rejected promise reaches the error handler, which answers problem+json.
    pressureHandler: async (_request, _reply, type, value) => {
      throw Problems.overloaded(type, pressureText(type, value, options.pressure.maxEventLoopDelayMs))
    },
  })
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** under-pressure calls a route's own handler, when it has one, in place of the 503. */
    pressureHandler?: (request: FastifyRequest, reply: FastifyReply, type: string, value: number | undefined) => Promise<void> | void
  }
}

/**
 * A route's pressureHandler that lets the request through: the liveness probe's. A process busy
 * past the limits (a large import holds PGlite's thread for tens of seconds) is alive, and a probe
 * answered 503 would have it restarted, losing the import in progress; /ready still answers as the
 * database does, and every other route sheds load.
 */
export function answerUnderPressure (): void {}

/** A JSON answer shorter than this fits the socket's buffers whole: no reader can stall on it. */
const FITS_SOCKET_BUFFERS = 64 * 1024

/**
 * SEND_TIMEOUT_MS: a connection on which nothing moves for `ms` while an answer is being sent is
 * closed. Once an answer outgrows the socket's buffers, the rest of it waits in memory (a
 * statement's pages, a file's bytes) for the client to read on; a client that never does held it
 * until it went away. The clock starts when the answer does, so computing it (a settlement run)
 * is not counted, and every byte the client takes starts it again, so a slow line is not cut.
 * When the answer is sent, Node sets the keep-alive timeout in its place. The calculation path's
 * answers are small strings, and are left without a timer.
 */
function closeStalledConnections (app: FastifyInstance, ms: number): void {
  app.addHook('onSend', (request, reply, payload, done) => {
    const socket = request.raw.socket
    // Injected requests (tests) have no socket to close.
    if ((typeof payload !== 'string' || payload.length >= FITS_SOCKET_BUFFERS) && socket instanceof Socket) {
      reply.raw.setTimeout(ms, () => {
        request.log.warn({ sendTimeoutMs: ms }, 'the client read nothing of the answer for SEND_TIMEOUT_MS: connection closed')
        socket.destroy()
      })
    }
    done()
  })
}

/**
 * What under-pressure measured, as a 503 says it: the event-loop delay in milliseconds, or, when no
 * sample landed in its window (it reports Infinity: the loop was held all that time), over the limit.
 */
export function pressureText (type: string, value: number | undefined, maxEventLoopDelayMs: number): string {
  if (type !== 'eventLoopDelay') return String(value)
  return value !== undefined && Number.isFinite(value) ? `${Math.round(value)} ms` : `over ${maxEventLoopDelayMs} ms`
}
