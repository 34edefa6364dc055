import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger'
import { BEARER_CHALLENGE } from '../domain/errors.js'
import { CORS_HEADERS, RATE_LIMIT_HEADERS, RETRY_HEADERS } from './defences.js'
import { OPTIONAL_BODY } from './routing.js'
import { problemResponses } from './schemas/common.js'

type RouteSchema = Record<string, unknown> & { response?: Record<string, Record<string, unknown>>, body?: unknown, consumes?: unknown, params?: unknown, querystring?: unknown, headers?: unknown }

/** The header a replayed answer carries (api-contract.md, Idempotency; src/http/routing.ts sends it). */
const REPLAY_HEADERS = {
  'Idempotent-Replayed': { type: 'string', enum: ['true'], description: '重放 "true" when this is the stored first answer to the request\'s Idempotency-Key (a retry); absent otherwise' },
} as const

/** The header a 401 carries (RFC 9110 §11.6.1; Problems.unauthorized sends it). */
const CHALLENGE_HEADERS = {
  'WWW-Authenticate': { type: 'string', enum: [BEARER_CHALLENGE], description: '认证方式 the token the request lacks: Authorization: Bearer <token>' },
} as const

/** The header a file answer (CSV, xlsx) carries: routing.ts sendTable names the file. */
const FILE_HEADERS = {
  'Content-Disposition': { type: 'string', maxLength: 200, pattern: '^attachment; filename="[^"]+\\.(csv|xlsx)"$', description: '附件文件名 with a CSV or xlsx answer: attachment; filename="….csv" (absent from JSON, HTML and SVG answers)' },
} as const

/**
 * What every operation can answer besides what its route declares, for the document: the
 * problems the shared machinery gives (a bad token, a bad body, the rate limit, an unavailable
 * database or shed load, a defect), and the rate-limit headers that come with every 2xx and 4xx
 * (neither on the probes, which are not rate-limited).
 */
function documentSharedResponses (schema: RouteSchema, url: string, method: string, rateLimited: boolean): RouteSchema {
  const response: Record<string, Record<string, unknown>> = { ...(schema.response ?? {}) }
  const statuses = rateLimited ? [429, 500, 503] : [500, 503]
  if (url.startsWith('/v1/')) statuses.push(401)
  // A method that may carry a body gets it parsed, whether or not the operation reads one.
  if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) statuses.push(400, 413, 415)
  if (schema.querystring !== undefined || schema.headers !== undefined) statuses.push(400)
  // Idempotency-Key (api-contract.md, Idempotency): reused with another body 422, still running 409.
  const idempotent = (schema.headers as { properties?: Record<string, unknown> } | undefined)?.properties?.['idempotency-key'] !== undefined
  if (idempotent) statuses.push(409, 422)
  // A path parameter longer than the router takes (16 KiB, app.ts) is 414 before validation sees it; over HTTP the headers limit (431) comes first.
  if (schema.params !== undefined) statuses.push(400, 414)
  for (const [status, entry] of Object.entries(problemResponses(...statuses))) {
    response[status] ??= entry as Record<string, unknown>
  }
  for (const [status, entry] of Object.entries(response)) {
    response[status] = {
      ...entry,
      headers: {
        ...CORS_HEADERS,
        ...(rateLimited && /^[24]/.test(status) ? RATE_LIMIT_HEADERS : {}),
        ...(status === '429' || status === '503' ? RETRY_HEADERS : {}),
        ...(idempotent && /^2/.test(status) ? REPLAY_HEADERS : {}),
        ...(status === '401' ? CHALLENGE_HEADERS : {}),
        ...(/^2/.test(status) && producesFiles(schema) ? FILE_HEADERS : {}),
      },
    }
  }
  return { ...schema, response }
}

/** Whether a route answers a CSV or xlsx file (its `produces`). */
function producesFiles (schema: RouteSchema): boolean {
  const produces = (schema as { produces?: unknown }).produces
  return Array.isArray(produces) && produces.some((media) => media === 'text/csv' || String(media).startsWith('application/vnd.openxmlformats'))
}

type Json = Record<string, unknown>
type DocumentResponse = { content?: Record<string, { schema?: unknown, example?: unknown }>, headers?: Record<string, unknown> }

/** What a file answer is, by its media type (a route's `produces` beside application/json). */
const FILE_ANSWERS: Record<string, string> = {
  'text/csv': 'the table as a CSV file (UTF-8)',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'the table as an xlsx workbook',
  'image/svg+xml': 'the chart as an SVG image',
  'text/html': 'the page as HTML',
}

/**
 * A route that answers JSON or a file (`?format=`) has one response schema, its JSON's, which
 * @fastify/swagger gives every media type it produces. The document describes each file for what
 * it is instead: a string (binary for xlsx), with no JSON example. A route that only ever answers
 * a file (the statement) declares a string already: its xlsx is marked binary, and only its
 * default file (CSV) keeps the example, which is a CSV.
 */
function describeFileAnswers (content: NonNullable<DocumentResponse['content']>): void {
  const [answered] = Object.keys(content)
  for (const [media, { schema, example, ...rest }] of Object.entries(content)) {
    const what = FILE_ANSWERS[media]
    if (what === undefined) continue
    // A route that only answers files declares its file's string; one that answers JSON too, its JSON's schema.
    const file = (schema as { type?: unknown } | undefined)?.type === 'string' ? schema as Json : { type: 'string', maxLength: 1024 * 1024 * 1024, description: what }
    // The route's example is of its first (default) answer. The media types may share one entry object: each gets its own.
    content[media] = {
      ...rest,
      schema: media.startsWith('application/') ? { ...file, format: 'binary' } : file,
      ...(media === answered && example !== undefined ? { example } : {}),
    }
  }
}

/**
 * The document with what every operation shares stated once: the problem body as
 * components.schemas.Problem and the shared headers as components.headers, referred to from
 * each response instead of being repeated in every one of them; and file answers as files.
 */
function shareCommonParts (document: Json): Json {
  const components = (document.components ?? {}) as { schemas?: Json, headers?: Json }
  const schemas: Json = { ...(components.schemas ?? {}) }
  const headers: Json = { ...(components.headers ?? {}) }
  const shared = new Set(Object.keys({ ...CORS_HEADERS, ...RATE_LIMIT_HEADERS, ...RETRY_HEADERS, ...REPLAY_HEADERS, ...CHALLENGE_HEADERS, ...FILE_HEADERS }))
  const paths = document.paths as Record<string, Record<string, { responses?: Record<string, DocumentResponse>, requestBody?: { required?: boolean }, [OPTIONAL_BODY]?: boolean }>>
  for (const operations of Object.values(paths)) {
    for (const operation of Object.values(operations)) {
      // A body the operation reads if one is sent (routing.ts, optionalBody).
      if (operation[OPTIONAL_BODY] === true && operation.requestBody !== undefined) operation.requestBody.required = false
      delete operation[OPTIONAL_BODY]
      for (const response of Object.values(operation.responses ?? {})) {
        if (response.content !== undefined) describeFileAnswers(response.content)
        const problem = response.content?.['application/problem+json']
        if (problem?.schema !== undefined) {
          schemas.Problem ??= problem.schema
          problem.schema = { $ref: '#/components/schemas/Problem' }
        }
        const own = response.headers ?? {}
        for (const name of Object.keys(own)) {
          if (!shared.has(name)) continue
          headers[name] ??= own[name]
          own[name] = { $ref: `#/components/headers/${name}` }
        }
      }
    }
  }
  return { ...document, components: { ...components, schemas, headers } }
}

/** The OpenAPI 3.1 document's frame; the paths come from the route schemas. */
export const openapiOptions: FastifyDynamicSwaggerOptions = {
  transformObject: (documentObject) => shareCommonParts(('openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject) as Json) as never,
  transform: ({ schema, url, route }) => ({
    schema: (schema === undefined || (schema as { hide?: boolean }).hide === true
      ? schema
      // A route that opts out of the rate limit (the probes) answers no 429 and carries no X-RateLimit-* headers.
      : documentSharedResponses(schema as RouteSchema, url, String(route.method), (route.config as { rateLimit?: unknown } | undefined)?.rateLimit !== false)) as never,
    url,
  }),
  openapi: {
    openapi: '3.1.0',
    info: {
      title: '功能区财政分成结算服务 Revenue-sharing settlement service',
      version: '1.0.0',
      description: [
        'Computes how a functional zone (功能区) and its host district (属地政府) split revenue under',
        '"核定基数、增量分成" (a verified base stays with the district; the zone\'s increment and its administrative',
        'fees come back to the zone at no less than 60%). Amounts are strings in yuan with at most two decimals.',
        'Every error is RFC 9457 problem+json. Everything under /v1 needs `Authorization: Bearer <token>`.',
      ].join(' '),
    },
    tags: [
      { name: 'calculations', description: '试算 stateless calculations' },
      { name: 'registry', description: '登记 revenue categories, districts and zones' },
      { name: 'agreements', description: '分成办法 agreements, base adjustments and responsibility transfers (事权划转)' },
      { name: 'revenue', description: '实际收入 monthly revenue records, their revisions and CSV imports' },
      { name: 'advances', description: '预拨 advances paid to zones' },
      { name: 'settlements', description: '年度结算 annual settlement runs and statements' },
      { name: 'scenarios', description: '测算 an agreement as it is and as changed, year by year, on recorded and projected revenue' },
      { name: 'debts', description: '历史遗留债务 the legacy debt register: transfers, repayments, balances as of any date' },
      { name: 'access', description: '权限 API keys and the audit log' },
      { name: 'operations', description: '运行 health and readiness' },
    ],
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: '令牌 ADMIN_TOKEN or an API key' },
      },
    },
  },
}
