import { randomUUID } from 'node:crypto'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { DatabaseHandle } from './db/connect.js'
import { money } from './domain/money.js'
import { registerAuthentication } from './http/auth.js'
import { openapiOptions } from './http/openapi.js'
import { registerProblemHandlers } from './http/problem.js'
import { calculationRoutes } from './http/routes/calculations.js'
import { healthRoutes } from './http/routes/health.js'

export interface AppConfig {
  /** Opened (and migrated) by the caller, who also closes it after the app. */
  database: DatabaseHandle
  /** The bootstrap admin bearer token. */
  adminToken: string
  /** MIN_ZONE_RATE, calculation-rules.md §3, as a rate string ("0.60"). */
  minZoneRate: string
  /** Largest request body in bytes; larger answers 413. */
  bodyLimit?: number
  /** Longest time a request may take to arrive, in ms. */
  requestTimeoutMs?: number
  /** A pino logger to log requests with; none by default (tests). */
  logger?: FastifyBaseLogger
}

/**
 * Two validators: request bodies are checked exactly as sent (a JSON number is never coerced
 * into an amount string), while query strings, path parameters and headers, which are text by
 * nature, are coerced to the schema's types.
 */
function validatorCompilers () {
  const options = { allErrors: true, verbose: true, strict: false, removeAdditional: false, useDefaults: false } as const
  const exact = addFormats.default(new Ajv({ ...options, coerceTypes: false }))
  const coercing = addFormats.default(new Ajv({ ...options, coerceTypes: 'array' }))
  return ({ schema, httpPart }: { schema: object, httpPart?: string }) =>
    (httpPart === 'body' ? exact : coercing).compile(schema)
}

/** An isolated instance of the service: no module-level state, so every test builds its own. */
export async function buildApp (config: AppConfig): Promise<FastifyInstance> {
  const app = Fastify({
    ...(config.logger === undefined ? { logger: false } : { loggerInstance: config.logger }),
    bodyLimit: config.bodyLimit ?? 1024 * 1024,
    requestTimeout: config.requestTimeoutMs ?? 30_000,
    genReqId: () => randomUUID(),
  }).withTypeProvider<TypeBoxTypeProvider>()
  app.setValidatorCompiler(validatorCompilers())
  // Requests are JSON; a route that takes another type (CSV imports) registers its own parser.
  app.removeContentTypeParser('text/plain')
  registerProblemHandlers(app)
  app.addHook('onSend', async (request, reply) => { reply.header('x-request-id', request.id) })

  await app.register(swagger, openapiOptions)
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { persistAuthorization: true, displayRequestDuration: true, tryItOutEnabled: true },
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())

  await app.register(healthRoutes, { database: config.database, readyTimeoutMs: 2000 })
  await app.register(async (v1) => {
    registerAuthentication(v1, config.adminToken)
    await v1.register(calculationRoutes, { minZoneRate: money(config.minZoneRate) })
  }, { prefix: '/v1' })
  return app
}
