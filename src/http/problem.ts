import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { InputError } from '../domain/errors.js'

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

export function sendProblem (request: FastifyRequest, reply: FastifyReply, problem: Omit<ProblemBody, 'instance' | 'requestId'>): FastifyReply {
  const body: ProblemBody = { ...problem, instance: request.url.split('?')[0] ?? request.url, requestId: String(request.id) }
  return reply.code(problem.status).type('application/problem+json; charset=utf-8').send(JSON.stringify(body))
}

/** Ajv's errors as JSON pointers to the offending field. */
function validationFields (error: FastifyError): ProblemField[] {
  const part = error.validationContext ?? 'body'
  const prefix = part === 'body' ? '' : `/${part}`
  return (error.validation ?? []).map((v) => {
    const params = v.params as Record<string, unknown>
    let pointer = v.instancePath
    if (typeof params.missingProperty === 'string') pointer += `/${params.missingProperty}`
    if (typeof params.additionalProperty === 'string') pointer += `/${params.additionalProperty}`
    let message = v.message ?? 'is invalid'
    if (typeof params.additionalProperty === 'string') message = 'is not a known field'
    if (v.keyword === 'pattern' && typeof params.pattern === 'string' && params.pattern.includes('\\d{1,2}')) {
      message = 'must be an amount in yuan written as a string with at most two decimals, e.g. "1000.00"'
    }
    if (v.keyword === 'type' && params.type === 'string' && /(amount|actual|base|Shortfall|advances)/i.test(pointer)) {
      message = 'must be a string: amounts are written "1000.00", never as JSON numbers'
    }
    return { pointer: `${prefix}${pointer}`, message }
  })
}

function titleFor (status: number): string {
  return TITLES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error')
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
          : 'The request breaks a rule of the calculation rules: see errors for each field.',
        errors: [...error.issues],
      })
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

  app.setNotFoundHandler((request, reply) => sendProblem(request, reply, {
    type: problemType('not-found'), title: titleFor(404), status: 404, detail: `No route ${request.method} ${request.url.split('?')[0] ?? ''}.`,
  }))
}
