import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { classifyDatabaseError } from '../db/errors.js'
import { counted, type InputIssue, MAX_PROBLEM_ERRORS, Problem, Problems } from '../domain/errors.js'
import { DAY_PATTERN } from '../domain/days.js'
import { GROWTH_PATTERN, MONEY_PATTERN, NON_NEGATIVE_MONEY_PATTERN, RATE_PATTERN } from '../domain/money.js'
import { saysSomething } from '../domain/text.js'
import { consumedTypes } from './json-bodies.js'
import { CATEGORY_CODE_PATTERN, DISTRICT_CODE_PATTERN, ID_PATTERN, NAME_PATTERN, NOT_BLANK_PATTERN, ZONE_CODE_PATTERN } from './schemas/common.js'

/*
 * Every 4xx/5xx answer is RFC 9457 problem+json (api-contract.md, Errors). Services and the
 * domain throw the named problems of src/domain/errors.ts; this is the one place that turns
 * whatever was thrown into a problem body. A 5xx never carries a stack trace or an internal message.
 */

export interface ProblemBody {
  type: string
  title: string
  status: number
  detail: string
  instance?: string
  requestId?: string
  errors?: InputIssue[]
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
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
}

function problemType (slug: string): string {
  return `urn:problem-type:revenue-sharing:${slug}`
}

function titleFor (status: number): string {
  return TITLES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error')
}

/** Text cut to the length the document promises, marked with an ellipsis when cut. */
function bounded (text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

/**
 * A problem as its body, within the bounds the document gives every field
 * (components.schemas.Problem): a pointer or a message can echo a client's field name or value,
 * which may be of any length.
 */
function problemBody (problem: Problem, request?: { url: string, id: unknown }): ProblemBody {
  return {
    type: problemType(problem.type),
    title: titleFor(problem.status),
    status: problem.status,
    detail: bounded(problem.message, 10_000),
    ...(request === undefined ? {} : { instance: bounded(request.url.split('?')[0] ?? request.url, 2000), requestId: String(request.id) }),
    ...(problem.errors === undefined
      ? {}
      : { errors: problem.errors.slice(0, MAX_PROBLEM_ERRORS).map((e) => ({ pointer: bounded(e.pointer, 500), message: bounded(e.message, 1000) })) }),
  }
}

const PROBLEM_TYPE = 'application/problem+json; charset=utf-8'

export function sendProblem (request: FastifyRequest, reply: FastifyReply, problem: Problem): FastifyReply {
  // A problem's title and detail are English whatever Accept-Language asks (README, Errors): said so.
  return reply.code(problem.status).headers(problem.headers).header('content-language', 'en').type(PROBLEM_TYPE).send(JSON.stringify(problemBody(problem, request)))
}

/** What the HTTP parser refuses before there is a request at all, by Node's error code. */
const CLIENT_ERRORS: Record<string, { status: number, detail: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, detail: 'The request\'s URL and headers are larger than the server accepts (16 KiB in all, the URL included).' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, detail: 'The request did not arrive in full within the time allowed (REQUEST_TIMEOUT_MS).' },
  ERR_HTTP_REQUEST_HEADERS_TIMEOUT: { status: 408, detail: 'The request\'s headers did not arrive in full within the time allowed.' },
}

/**
 * Fastify's `clientErrorHandler`: a request the HTTP parser refuses (headers too large, a request
 * that never arrives in full, bytes that are not HTTP) gets a problem+json answer like every other
 * error (api-contract.md, Errors) instead of Fastify's plain JSON, and the connection is closed.
 */
export function clientErrorProblem (error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const known = CLIENT_ERRORS[error.code ?? '']
  const problem = Problems.unacceptedRequest(known?.status ?? 400, error.code ?? 'HTTP_400', known?.detail ?? 'The request is not valid HTTP.')
  if (socket.writable) {
    const body = JSON.stringify(problemBody(problem))
    socket.write(`HTTP/1.1 ${problem.status} ${titleFor(problem.status)}\r\nContent-Type: ${PROBLEM_TYPE}\r\nContent-Language: en\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
  }
  socket.destroy(error)
}

/**
 * The server's `checkExpectation` listener: a request whose Expect header is not 100-continue gets a
 * problem+json 417 like every other refusal, where Node answered a plain 417 with no body. The
 * request never reaches the app (its body is not read), so the connection is closed after it.
 */
export function expectationProblem (request: IncomingMessage, response: ServerResponse): void {
  const expect = request.headers.expect ?? ''
  const problem = Problems.unacceptedRequest(417, 'EXPECTATION_FAILED',
    `The request's Expect header ${JSON.stringify(expect.slice(0, 100))} asks for what this service does not do: it meets "100-continue" alone. Send the request without the header.`)
  const body = JSON.stringify(problemBody(problem))
  response.writeHead(problem.status, { 'content-type': PROBLEM_TYPE, 'content-language': 'en', 'content-length': Buffer.byteLength(body), connection: 'close' }).end(body)
}

/** What a value of each documented string format must look like, by its pattern. */
const FORMAT_MESSAGES: Record<string, string> = {
  [MONEY_PATTERN]: 'must be an amount in yuan written as a string with at most 15 integer digits and two decimals, e.g. "1000.00"',
  [NON_NEGATIVE_MONEY_PATTERN]: 'must be an amount of at least zero written as a string with at most 15 integer digits and two decimals, e.g. "0.00"',
  [RATE_PATTERN]: 'must be a rate between 0 and 1 written as a string with at most six decimals, e.g. "0.60"',
  [GROWTH_PATTERN]: 'must be a ratio written as a string with at most 3 integer digits and six decimals, e.g. "0.10"',
  [DAY_PATTERN]: 'must be a day written YYYY-MM-DD, from 1900-01-01 to 2199-12-31',
  [ID_PATTERN]: 'must be a record id: a whole number from 1 to 2147483647, written without leading zeros',
  [NOT_BLANK_PATTERN]: 'must not be blank: white space alone says nothing',
  [NAME_PATTERN]: 'must be a name on one line: no tab, line break, line separator or other control character, no bidirectional mark, override or isolate (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069)',
  [DISTRICT_CODE_PATTERN]: 'must be a 6-digit division code (GB/T 2260), e.g. "370214"',
  [ZONE_CODE_PATTERN]: 'must be a zone code of at most 32 letters, digits, "-" and "_", starting with a letter or digit, e.g. "QD-HT"',
  [CATEGORY_CODE_PATTERN]: 'must be a revenue category code of at most 32 letters, digits, "." and "-", starting with a letter or digit, e.g. "10101"',
}

/**
 * The patterns whose words say how long a value may be (an amount's 15 digits, calculation-rules.md §1;
 * a rate's six decimals; a code's length): a value too long is told its format, not a count of characters.
 */
const LENGTH_WORDED_PATTERNS = new Set([MONEY_PATTERN, NON_NEGATIVE_MONEY_PATTERN, RATE_PATTERN, GROWTH_PATTERN, ID_PATTERN, DISTRICT_CODE_PATTERN, ZONE_CODE_PATTERN, CATEGORY_CODE_PATTERN])

/** JSON types as a clerk names them. */
const TYPE_WORDS: Record<string, string> = {
  integer: 'a whole number', number: 'a number', string: 'a string', boolean: 'true or false', object: 'an object', array: 'a list', null: 'null',
}

/** A bound as words: ">=" 1990 is "1990 or more". */
const LIMIT_WORDS: Record<string, (limit: string) => string> = {
  '>=': (limit) => `must be ${limit} or more`, '<=': (limit) => `must be ${limit} or less`,
  '>': (limit) => `must be more than ${limit}`, '<': (limit) => `must be less than ${limit}`,
}

/** Ajv's words for a keyword, where they say too little to a clerk ("must be equal to one of the allowed values"). */
function keywordMessage (e: AjvError, part: string): string | undefined {
  const { params } = e
  switch (e.keyword) {
    case 'enum': return Array.isArray(params.allowedValues) ? `must be one of ${params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}` : undefined
    case 'maxLength': return `must be at most ${String(params.limit)} characters`
    case 'minLength': return params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters`
    case 'minItems': return `must list at least ${counted(Number(params.limit), 'item')}`
    case 'maxItems': return `must list at most ${counted(Number(params.limit), 'item')}`
    case 'minimum': case 'maximum': case 'exclusiveMinimum': case 'exclusiveMaximum': return LIMIT_WORDS[String(params.comparison)]?.(String(params.limit))
    case 'required': return 'is required'
    case 'uniqueItems': return `must not list the same value twice (items ${Math.min(Number(params.i), Number(params.j))} and ${Math.max(Number(params.i), Number(params.j))} are the same)`
    case 'type': {
      // A query parameter given twice arrives as a list.
      if (part === 'querystring' && Array.isArray(e.data) && params.type !== 'array') return `is given ${e.data.length} times: give it once`
      const types = String(params.type).split(',').map((type) => TYPE_WORDS[type] ?? type)
      return `must be ${types.join(' or ')}`
    }
    default: return undefined
  }
}

interface AjvError {
  keyword: string
  instancePath: string
  params: Record<string, unknown>
  message?: string
  data?: unknown
  parentSchema?: { pattern?: string, description?: string }
}

/**
 * Ajv's errors (verbose, so each carries the schema that failed) as one message per field,
 * each with a JSON pointer to it. A value that fits no branch of an anyOf gets one message
 * naming the alternatives instead of one per branch.
 */
function validationFields (error: FastifyError): InputIssue[] {
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
      // A format's words for the value's shape; a string too long is told so, unless its format names its limit (an amount's 15 digits, §1).
      const pattern = e.parentSchema?.pattern
      // Text that is not a string at all is told so: "must not be blank" would not say what is wrong with 5.
      // A query parameter given twice (a list where one is wanted) is told so, whatever its format (found by review: ?from= twice was told the format of a day).
      const givenTwice = e.keyword === 'type' && part === 'querystring' && Array.isArray(e.data)
      const format = pattern === undefined || givenTwice || (e.keyword === 'maxLength' && !LENGTH_WORDED_PATTERNS.has(pattern)) || (e.keyword === 'type' && (pattern === NOT_BLANK_PATTERN || pattern === NAME_PATTERN))
        ? undefined
        // A name that says nothing is told so, as any text is; one that does, what it may not hold.
        : pattern === NAME_PATTERN && typeof e.data === 'string' && !saysSomething(e.data) ? FORMAT_MESSAGES[NOT_BLANK_PATTERN] : FORMAT_MESSAGES[pattern]
      message = format === undefined
        ? keywordMessage(e, part) ?? e.message ?? 'is invalid'
        : e.keyword === 'type' && typeof e.data === 'number' ? `${format}; a JSON number is not accepted` : format
    }
    // One message per field: the first, most specific one.
    if (!fields.has(pointer)) fields.set(pointer, message)
  }
  return [...fields].map(([pointer, message]) => ({ pointer: `${prefix}${pointer}`, message }))
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
  return sendProblem(request, reply, Problems.unacceptedRequest(status, error.code, FRAMEWORK_DETAILS[error.code] ?? 'The request could not be routed.'))
}

/** What the 4xx errors plugins raise mean to a client, where the plugin's own message says too little. */
const PLUGIN_DETAILS = new Map<string, (request: FastifyRequest) => string>([
  ['FST_STATIC_FORBIDDEN_PATH', (request) => forbiddenStaticPath(request.url.split('?')[0] ?? '')],
  // Fastify's own says "Request body is too large": not how large a body may be.
  ['FST_ERR_CTP_BODY_TOO_LARGE', (request) => `The body is too large for this operation: at most ${request.routeOptions.bodyLimit ?? 'BODY_LIMIT'} bytes (BODY_LIMIT).`],
])

/**
 * Why @fastify/static refused a path (its message is 'Forbidden' alone): a '..' segment, even one
 * that stays in its folder, or a path not written as the file's (an empty or '.' segment, a
 * backslash, a name spelled otherwise).
 */
function forbiddenStaticPath (path: string): string {
  let decoded = path
  try {
    decoded = decodeURIComponent(path)
  } catch {
    // Escapes that do not decode: the path as sent.
  }
  const quoted = JSON.stringify(path.slice(0, 200))
  return /(^|[/\\])\.\.([/\\]|$)/.test(decoded)
    ? `The path ${quoted} has a '..' segment: the documentation's files are served only at paths without one.`
    : `The path ${quoted} is not written as a file's path: the documentation's files are served only at paths without empty or '.' segments or backslashes, their names spelled as they are.`
}

/**
 * What a 415 says: the content type sent, and the one the operation takes. A CSV import (POST
 * /v1/revenues/import) names the operation that takes the same records as JSON (POST /v1/revenues).
 */
function unsupportedMediaType (request: FastifyRequest): Problem {
  const contentType = request.headers['content-type']
  const sent = contentType === undefined ? 'no content type' : `the content type ${JSON.stringify(contentType.slice(0, 100))}`
  const route = request.routeOptions.url
  const takes = consumedTypes(request)?.includes('text/csv') === true && route !== undefined
    ? `send the file as text/csv, in UTF-8 (as JSON, ${route.endsWith('/debts/import') ? 'one debt at a time goes' : 'the same records go'} to POST ${route.replace(/\/import$/, '')}).`
    : 'send JSON as application/json (the CSV imports, POST /v1/revenues/import and POST /v1/debts/import, take text/csv).'
  return Problems.unacceptedRequest(415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE', `The body has ${sent}, which this operation does not take: ${takes}`)
}

/** The problem an error thrown while answering stands for; undefined for a defect (a 500). */
function problemOf (error: FastifyError | Error, request: FastifyRequest): Problem | undefined {
  if (error instanceof Problem) return error
  const code = (error as FastifyError).code
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return unsupportedMediaType(request)
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    // Its size is not what is wrong with it: no route takes the request (404 whatever its body), or its
    // operation does not take JSON whatever its size (the CSV imports, 415), as the smaller body is told.
    if (request.is404) return routeNotFoundProblem(request)
    if (consumedTypes(request)?.includes('application/json') === false) return unsupportedMediaType(request)
  }
  switch (classifyDatabaseError(error)) {
    // Not a bug of the service: the database is down, restarting or unreachable. The client
    // may retry; /ready answers 503 as well until it is back.
    case 'unavailable': return Problems.databaseUnavailable()
    // A statement that ran past its time limit, or a database that sent nothing back in time
    // (src/db/connect.ts): the connection is gone, and the client may retry.
    case 'timed-out': return Problems.databaseTimedOut()
    // A table that is not there: the database was re-created or restored under the service (a
    // statement naming a table that no migration makes would fail every test that runs it).
    case 'undefined-table': return Problems.databaseUnmigrated()
    // A race that the explicit checks before a write could not see: the database's constraints decide.
    case 'unique-violation': return Problems.duplicateKey()
    case 'foreign-key-violation': return Problems.danglingReference()
    case undefined: break
  }
  const fastifyError = error as FastifyError
  if (fastifyError.validation !== undefined) return Problems.schemaMismatch(fastifyError.validationContext ?? 'body', validationFields(fastifyError))
  const status = fastifyError.statusCode ?? 500
  if (status >= 400 && status < 500) {
    const detail = PLUGIN_DETAILS.get(fastifyError.code)?.(request) ?? fastifyError.message
    return Problems.unacceptedRequest(status, fastifyError.code ?? `HTTP_${status}`, detail)
  }
  return undefined
}

export function registerProblemHandlers (app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    const problem = problemOf(error, request)
    if (problem !== undefined) {
      if (problem.type === 'database-unavailable') request.log.warn({ err: error }, 'database unavailable')
      return sendProblem(request, reply, problem)
    }
    request.log.error({ err: error }, 'unexpected error')
    return sendProblem(request, reply, Problems.defect(String(request.id)))
  })

  app.setNotFoundHandler(routeNotFound)
}

/**
 * While the server shuts down (SIGTERM), requests still arriving on keep-alive connections that
 * were busy at the signal get a 503 problem and Connection: close; new connections are refused
 * once the listener is closed. (Fastify's own 503 for this, return503OnClosing, is plain JSON:
 * app.ts turns it off in favour of this one.) Registered after the defences, so that the answer
 * carries their security and CORS headers as every other does.
 */
export function refuseWhileClosing (app: FastifyInstance): void {
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onRequest', async (request, reply) => {
    if (closing) return sendProblem(request, reply.header('connection', 'close'), Problems.shuttingDown())
  })
}

/**
 * The answer to a request no route takes: 404 problem+json. Set at the root and again for /v1,
 * whose hooks then run first: a /v1 request without a valid token is 401 whatever its path, as
 * api-contract.md says of everything under /v1, and tells nothing of which paths exist.
 */
export function routeNotFound (request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendProblem(request, reply, routeNotFoundProblem(request))
}

/** The 404 of a request no route takes: its method and path, without the query string. */
export const routeNotFoundProblem = (request: FastifyRequest) => Problems.routeNotFound(request.method, request.url.split('?')[0] ?? '')
