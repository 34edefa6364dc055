import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { InputError } from '../domain/errors.js'
import { GROWTH_PATTERN, MONEY_PATTERN, NON_NEGATIVE_MONEY_PATTERN, RATE_PATTERN } from '../domain/money.js'

/*
 * Every 4xx/5xx answer is RFC 9457 problem+json (api-contract.md, Errors). Handlers throw
 * HttpProblem (or a domain InputError); one error handler turns whatever was thrown into a
 * problem body. A 5xx never carries a stack trace or an internal message.
 */

export interface ProblemField {
  pointer: string
  message: string
}

export interface ProblemBody {
  type: string
  title: string
  status: number
  detail: string
  instance?: string
  requestId?: string
  errors?: ProblemField[]
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
}

/** A problem a handler chooses to answer with. `type` is a short slug, e.g. 'floor-violated'. */
export class HttpProblem extends Error {
  readonly status: number
  readonly type: string
  readonly errors: ProblemField[] | undefined
  readonly headers: Record<string, string>

  constructor (status: number, type: string, detail: string, errors?: ProblemField[], headers: Record<string, string> = {}) {
    super(detail)
    this.status = status
    this.type = type
    this.errors = errors
    this.headers = headers
  }
}

function problemType (slug: string): string {
  return `urn:problem-type:revenue-sharing:${slug}`
}

/** Text cut to the length the document promises, marked with an ellipsis when cut. */
function bounded (text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

/**
 * A problem body within the bounds the document gives every field (components.schemas.Problem):
 * a pointer or a message can echo a client's field name or value, which may be of any length.
 */
export function sendProblem (request: FastifyRequest, reply: FastifyReply, problem: Omit<ProblemBody, 'instance' | 'requestId'>): FastifyReply {
  const body: ProblemBody = {
    ...problem,
    detail: bounded(problem.detail, 10_000),
    instance: bounded(request.url.split('?')[0] ?? request.url, 2000),
    requestId: String(request.id),
    ...(problem.errors === undefined
      ? {}
      : { errors: problem.errors.slice(0, 1000).map((e) => ({ pointer: bounded(e.pointer, 500), message: bounded(e.message, 1000) })) }),
  }
  return reply.code(problem.status).type('application/problem+json; charset=utf-8').send(JSON.stringify(body))
}

/** What a value of each documented string format must look like, by its pattern. */
const FORMAT_MESSAGES: Record<string, string> = {
  [MONEY_PATTERN]: 'must be an amount in yuan written as a string with at most two decimals, e.g. "1000.00"',
  [NON_NEGATIVE_MONEY_PATTERN]: 'must be an amount of at least zero written as a string with at most two decimals, e.g. "0.00"',
  [RATE_PATTERN]: 'must be a rate between 0 and 1 written as a string with at most six decimals, e.g. "0.60"',
  [GROWTH_PATTERN]: 'must be a ratio written as a string with at most six decimals, e.g. "0.10"',
}

interface AjvError {
  keyword: string
  instancePath: string
  params: Record<string, unknown>
  message?: string
  parentSchema?: { pattern?: string, description?: string }
}

/**
 * Ajv's errors (verbose, so each carries the schema that failed) as one message per field,
 * each with a JSON pointer to it. A value that fits no branch of an anyOf gets one message
 * naming the alternatives instead of one per branch.
 */
function validationFields (error: FastifyError): ProblemField[] {
  const part = error.validationContext ?? 'body'
  const prefix = part === 'body' ? '' : `/${part}`
  const errors = (error.validation ?? []) as unknown as AjvError[]
  const alternatives = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath))
  const fields = new Map<string, string>()
  for (const e of errors) {
    let pointer = e.instancePath
    if (typeof e.params.missingProperty === 'string') pointer += `/${e.params.missingProperty}`
    if (typeof e.params.additionalProperty === 'string') pointer += `/${e.params.additionalProperty}`
    let message: string
    if (alternatives.has(e.instancePath) && e.keyword !== 'required' && e.keyword !== 'additionalProperties') {
      if (e.keyword !== 'anyOf') continue
      const expected = e.parentSchema?.description
      message = expected === undefined ? 'matches none of the allowed forms' : `matches none of the allowed forms: ${expected}`
    } else if (typeof e.params.additionalProperty === 'string') {
      message = 'is not a known field'
    } else {
      const format = e.parentSchema?.pattern === undefined ? undefined : FORMAT_MESSAGES[e.parentSchema.pattern]
      message = format === undefined
        ? e.message ?? 'is invalid'
        : e.keyword === 'type' ? `${format}; a JSON number is not accepted` : format
    }
    // One message per field: the first, most specific one.
    if (!fields.has(pointer)) fields.set(pointer, message)
  }
  return [...fields].map(([pointer, message]) => ({ pointer: `${prefix}${pointer}`, message }))
}

/** Retry-After, in seconds, of a 503 database-unavailable answer. */
export const RETRY_AFTER_SECONDS = '5'

/** Socket errors of a connection to the database that could not be made or broke. */
const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'])
/**
 * SQLSTATEs of a database that is going away or not taking connections: class 08 (connection
 * exception), 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up,
 * shutting down, in recovery) and 53300 too_many_connections.
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300'])
/** What pg and its pool say, with no code, when a connection ends or cannot be had in time. */
const CONNECTION_ERROR_MESSAGES = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error and is not queryable|Client was closed and is not queryable)/

/** Whether an error says the database could not be reached, rather than that a statement failed. */
export function isDatabaseUnavailable (error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 3) return false
  const { code, message, errors } = error as { code?: unknown, message?: unknown, errors?: unknown }
  if (typeof code === 'string' && (CONNECTION_ERROR_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true
  if (typeof message === 'string' && CONNECTION_ERROR_MESSAGES.test(message)) return true
  // Node answers an AggregateError when every address of a host name refused.
  return Array.isArray(errors) && errors.some((e) => isDatabaseUnavailable(e, depth + 1))
}

function titleFor (status: number): string {
  return TITLES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error')
}

/**
 * The detail of a 422 for broken rules names the first rule broken (calculation-rules.md §3: a rate
 * below the floor is rejected "with a detail that names the floor"), and how many more there are.
 */
function ruleViolatedDetail (issues: ReadonlyArray<{ message: string }>): string {
  const [first, ...more] = issues
  if (first === undefined) return 'The request breaks a rule of the calculation rules: see errors for each field.'
  const others = more.length === 0 ? '' : ` (and ${more.length} more)`
  return `The request breaks a rule of the calculation rules: ${first.message}${others}. See errors for each field.`
}

/** What the errors Fastify raises while routing, before any handler, mean to a client. */
const FRAMEWORK_DETAILS: Record<string, string> = {
  FST_ERR_BAD_URL: 'The URL is not valid: a percent-encoded sequence in it does not decode to UTF-8.',
  FST_ERR_MAX_PARAM_LENGTH: 'A path parameter of the URL is longer than any valid value.',
}

/**
 * Fastify's `frameworkErrors`: the errors raised while routing, before the error handler can see
 * them (a URL that does not decode, a path parameter over maxParamLength), as problems too.
 */
export function frameworkProblem (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400
  return sendProblem(request, reply, {
    type: problemType(error.code.toLowerCase().replaceAll('_', '-')), title: titleFor(status), status,
    detail: FRAMEWORK_DETAILS[error.code] ?? 'The request could not be routed.',
  })
}

export function registerProblemHandlers (app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    if (error instanceof HttpProblem) {
      reply.headers(error.headers)
      return sendProblem(request, reply, {
        type: problemType(error.type), title: titleFor(error.status), status: error.status, detail: error.message,
        ...(error.errors === undefined ? {} : { errors: error.errors }),
      })
    }
    if (error instanceof InputError) {
      const status = error.kind === 'malformed' ? 400 : 422
      return sendProblem(request, reply, {
        type: problemType(error.kind === 'malformed' ? 'invalid-input' : 'rule-violated'),
        title: titleFor(status),
        status,
        detail: error.kind === 'malformed'
          ? 'The request is not well-formed: see errors for each field.'
          : ruleViolatedDetail(error.issues),
        errors: [...error.issues],
      })
    }
    if (isDatabaseUnavailable(error)) {
      // Not a bug of the service: the database is down, restarting or unreachable. The client
      // may retry; /ready answers 503 as well until it is back.
      request.log.warn({ err: error }, 'database unavailable')
      reply.header('retry-after', RETRY_AFTER_SECONDS)
      return sendProblem(request, reply, {
        type: problemType('database-unavailable'), title: titleFor(503), status: 503,
        detail: 'The database is not available at the moment; try again shortly.',
      })
    }
    // A race that the explicit checks before a write could not see: the database's constraints decide.
    const databaseCode = (error as { code?: unknown }).code
    if (databaseCode === '23505') {
      return sendProblem(request, reply, { type: problemType('already-exists'), title: titleFor(409), status: 409, detail: 'A record with this key already exists.' })
    }
    if (databaseCode === '23503') {
      return sendProblem(request, reply, { type: problemType('unknown-reference'), title: titleFor(422), status: 422, detail: 'The request refers to a record that does not exist.' })
    }
    const fastifyError = error as FastifyError
    if (fastifyError.validation !== undefined) {
      return sendProblem(request, reply, {
        type: problemType('invalid-input'), title: titleFor(400), status: 400,
        detail: `The request ${fastifyError.validationContext ?? 'body'} does not match the schema: see errors for each field.`,
        errors: validationFields(fastifyError),
      })
    }
    const status = fastifyError.statusCode ?? 500
    if (status >= 400 && status < 500) {
      return sendProblem(request, reply, {
        type: problemType(fastifyError.code === undefined ? `http-${status}` : fastifyError.code.toLowerCase().replaceAll('_', '-')),
        title: titleFor(status), status, detail: fastifyError.message,
      })
    }
    request.log.error({ err: error }, 'unexpected error')
    return sendProblem(request, reply, {
      type: problemType('internal'), title: titleFor(500), status: 500,
      detail: `An unexpected error occurred; quote request id ${String(request.id)} to the operators.`,
    })
  })

  // While the server shuts down (SIGTERM), requests still arriving on keep-alive connections that
  // were busy at the signal get a 503 problem and Connection: close; new connections are refused
  // once the listener is closed. (Fastify's own 503 for this, return503OnClosing, is plain JSON:
  // app.ts turns it off in favour of this one.)
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onRequest', async (request, reply) => {
    if (!closing) return
    reply.header('connection', 'close').header('retry-after', RETRY_AFTER_SECONDS)
    return sendProblem(request, reply, {
      type: problemType('shutting-down'), title: titleFor(503), status: 503,
      detail: 'The service is shutting down; send the request again, it will reach a running instance.',
    })
  })

  app.setNotFoundHandler((request, reply) => sendProblem(request, reply, {
    type: problemType('not-found'), title: titleFor(404), status: 404, detail: `No route ${request.method} ${request.url.split('?')[0] ?? ''}.`,
  }))
}
