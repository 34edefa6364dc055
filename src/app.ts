import { randomUUID } from 'node:crypto'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { CONNECT_TIMEOUT_MS, type DatabaseHandle } from './db/connect.js'
import { pruneIdempotencyKeys } from './db/idempotency.js'
import { money } from './domain/money.js'
import { type AuthFailureBudget, DEFAULT_AUTH_FAILURE_BUDGET, registerAccessControl } from './http/access.js'
import { meetExpectContinue } from './http/continue.js'
import { DEFAULT_PRESSURE, DEFAULT_RATE_LIMIT, type PressureConfig, type RateLimitConfig, registerDefences } from './http/defences.js'
import { acceptJsonBodies, refuseAmbiguousBodies } from './http/json-bodies.js'
import { openapiOptions } from './http/openapi.js'
import { clientErrorProblem, expectationProblem, frameworkProblem, refuseWhileClosing, registerProblemHandlers, routeNotFound } from './http/problem.js'
import { accessRoutes } from './http/routes/access.js'
import { assetRoutes } from './http/routes/assets.js'
import { advanceRoutes } from './http/routes/advances.js'
import { agreementRoutes } from './http/routes/agreements.js'
import { calculationRoutes } from './http/routes/calculations.js'
import { debtRoutes } from './http/routes/debts.js'
import { healthRoutes } from './http/routes/health.js'
import { registryRoutes } from './http/routes/registry.js'
import { revenueRoutes } from './http/routes/revenues.js'
import { scenarioRoutes } from './http/routes/scenarios.js'
import { settlementRoutes } from './http/routes/settlements.js'
import { loadStatementAssets } from './http/statement-html.js'
import { transferRoutes } from './http/routes/transfers.js'
import { validatorCompiler } from './http/validation.js'
import { WriteTurns } from './services/write.js'

export interface AppConfig {
  /** Opened (and migrated) by the caller, who also closes it after the app. */
  database: DatabaseHandle
  /** The bootstrap admin bearer token. */
  adminToken: string
  /** MIN_ZONE_RATE, calculation-rules.md §3, as a rate string ("0.60"). */
  minZoneRate: string
  /** Largest request body in bytes; larger answers 413. */
  bodyLimit?: number
  /** Largest CSV import in bytes; larger answers 413. */
  importLimit?: number
  /** Longest time a request may take to arrive, in ms. */
  requestTimeoutMs?: number
  /** SEND_TIMEOUT_MS: a connection on which nothing moves this long while an answer is sent is closed; default 60 s. */
  sendTimeoutMs?: number
  /** Requests per token per window; false turns rate limiting off. Default DEFAULT_RATE_LIMIT. */
  rateLimit?: RateLimitConfig | false
  /** Failed authentications per address per window before 429; false turns it off. Default DEFAULT_AUTH_FAILURE_BUDGET. */
  authFailures?: AuthFailureBudget | false
  /** The origin browsers may call the API from (Access-Control-Allow-Origin); default "*". */
  corsOrigin?: string
  /** When to shed load with 503. Default DEFAULT_PRESSURE. */
  pressure?: PressureConfig
  /** REQUIRE_TWO_ADMINS: finalizing needs another admin key than the one that computed the run; default false. */
  requireTwoAdmins?: boolean
  /** A pino logger to log requests with; none by default (tests). */
  logger?: FastifyBaseLogger
  /** How often expired Idempotency-Key records are pruned while the service runs, in ms; 0 never. Default hourly. */
  idempotencyPruneEveryMs?: number
}

/** Expired Idempotency-Key records go every hour while the service runs, not only at start. */
export const IDEMPOTENCY_PRUNE_EVERY_MS = 60 * 60 * 1000

/** An isolated instance of the service: no module-level state, so every test builds its own. */
export async function buildApp (config: AppConfig): Promise<FastifyInstance> {
  const requestTimeout = config.requestTimeoutMs ?? 120_000
  const importLimit = config.importLimit ?? 512 * 1024 * 1024
  const app = Fastify({
    ...(config.logger === undefined ? { logger: false } : { loggerInstance: config.logger }),
    bodyLimit: config.bodyLimit ?? 1024 * 1024,
    requestTimeout,
    // Given to Node's server as it is made, too: Fastify sets it on the server afterwards, and then
    // Node never answered 408 to a request whose body stopped arriving (the headers' own deadline
    // stayed 60 s, the body had none). Node looks for late requests every 30 s by default: every
    // second here, so that 408 comes within a second of REQUEST_TIMEOUT_MS.
    http: { requestTimeout, connectionsCheckingInterval: 1000 },
    genReqId: () => randomUUID(),
    // A path parameter is checked by its route's schema (400 at /params/…, naming it), however long:
    // the router's own limit (100 characters) answered 414 naming none. The URL is bounded anyway (16 KiB with the headers).
    routerOptions: { maxParamLength: 16 * 1024 },
    // Requests that arrive while closing get a problem+json 503 instead (src/http/problem.ts).
    return503OnClosing: false,
    frameworkErrors: frameworkProblem,
    // A request the HTTP parser refuses (431, 408, 400) is answered problem+json too.
    clientErrorHandler: clientErrorProblem,
  }).withTypeProvider<TypeBoxTypeProvider>()
  app.setValidatorCompiler(validatorCompiler())
  // An Expect header other than 100-continue is refused problem+json too (Node's own 417 is plain).
  app.server.on('checkExpectation', expectationProblem)
  // Requests are JSON, in UTF-8; a route that takes another type (CSV imports) registers its own parser.
  app.removeContentTypeParser('text/plain')
  acceptJsonBodies(app)
  refuseAmbiguousBodies(app)
  registerProblemHandlers(app)
  app.addHook('onSend', async (request, reply) => { reply.header('x-request-id', request.id) })
  await registerDefences(app, { rateLimit: config.rateLimit ?? DEFAULT_RATE_LIMIT, pressure: config.pressure ?? DEFAULT_PRESSURE, corsOrigin: config.corsOrigin ?? '*', sendTimeoutMs: config.sendTimeoutMs ?? 60_000 })
  refuseWhileClosing(app)
  // Expect: 100-continue is answered once the request's headers have passed every check (src/http/continue.ts).
  meetExpectContinue(app, { importLimit })

  await app.register(swagger, openapiOptions)
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { persistAuthorization: true, displayRequestDuration: true, tryItOutEnabled: true },
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())

  await app.register(healthRoutes, { database: config.database, readyTimeoutMs: 2000 })
  const statementAssets = await loadStatementAssets()
  await app.register(assetRoutes, { assets: statementAssets })
  const deps = {
    db: config.database.db,
    settings: { minZoneRate: money(config.minZoneRate), importLimit, requireTwoAdmins: config.requireTwoAdmins ?? false },
    // PostgreSQL: writes waiting on one another's locks never hold every connection of the pool.
    writeTurns: config.database.poolSize === undefined ? undefined : WriteTurns.forPool(config.database.poolSize, CONNECT_TIMEOUT_MS),
    readsBesideWrites: config.database.readsBesideWrites,
  }
  await app.register(async (v1) => {
    registerAccessControl(v1, { adminToken: config.adminToken, db: deps.db, authFailures: config.authFailures ?? DEFAULT_AUTH_FAILURE_BUDGET })
    v1.setNotFoundHandler(routeNotFound)
    await v1.register(calculationRoutes, deps)
    await v1.register(registryRoutes, deps)
    await v1.register(agreementRoutes, { ...deps, statementStylesheet: statementAssets.stylesheet })
    await v1.register(revenueRoutes, deps)
    await v1.register(advanceRoutes, deps)
    await v1.register(settlementRoutes, { ...deps, statementStylesheet: statementAssets.stylesheet })
    await v1.register(debtRoutes, deps)
    await v1.register(accessRoutes, deps)
    await v1.register(transferRoutes, deps)
    await v1.register(scenarioRoutes, { ...deps, statementStylesheet: statementAssets.stylesheet })
  }, { prefix: '/v1' })
  prunePeriodically(app, config.database, config.idempotencyPruneEveryMs ?? IDEMPOTENCY_PRUNE_EVERY_MS)
  return app
}

/**
 * Prunes expired idempotency records every `everyMs` while the app is open (each instance does;
 * the delete is the same whoever runs it). A failure (the database away) is logged and tried again next time.
 */
function prunePeriodically (app: FastifyInstance, database: DatabaseHandle, everyMs: number): void {
  if (everyMs <= 0) return
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> = Promise.resolve()
  app.addHook('onReady', async () => {
    timer = setInterval(() => {
      running = pruneIdempotencyKeys(database.db).catch((error: unknown) => { app.log.warn({ err: error }, 'pruning idempotency records failed') })
    }, everyMs)
    timer.unref()
  })
  app.addHook('onClose', async () => {
    clearInterval(timer)
    await running
  })
}
