import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Db } from '../db/database.js'
import type { PageRequest } from '../db/pagination.js'
import { Problems } from '../domain/errors.js'
import type { Context, Settings } from '../services/context.js'
import { Replay, type WriteTurns } from '../services/write.js'
import { CHART_CSP, SVG_TYPE } from './charts.js'
import { timesGiven } from './json-bodies.js'
import { security } from './schemas/common.js'

/*
 * What every route repeats, said once: the service context of a request, a write answered with
 * the bytes its Idempotency-Key replays, a page request, a file download, and the tag and
 * security every operation of a plugin carries in the document.
 */

/** What the route plugins are given: the database and the deployment's settings. */
export interface RouteDeps {
  db: Db
  settings: Settings
  /** The instance's turns for write transactions (PostgreSQL: src/services/write.ts). */
  writeTurns?: WriteTurns | undefined
  /** Whether a write may read on another connection beside its transaction (src/services/context.ts). */
  readsBesideWrites?: boolean | undefined
}

/**
 * The routes that answer pages or charts linking the statement stylesheet (its CJK web font),
 * given as a file name under /assets/ for each route to reach relatively (so a proxy may mount the
 * service under a prefix).
 */
export interface StylesheetRouteDeps extends RouteDeps {
  statementStylesheet: string
}

/** The service context of a request: its database, its caller (set by src/http/access.ts), the settings. */
export function contextOf (request: FastifyRequest, deps: RouteDeps): Context {
  return { db: deps.db, actor: request.actor, settings: deps.settings, writeTurns: deps.writeTurns, readsBesideWrites: deps.readsBesideWrites }
}

/** ?limit=&cursor= (api-contract.md, Lists: 100 by default). */
export function pageOf (query: { limit?: number | undefined, cursor?: string | undefined }): PageRequest {
  return { limit: query.limit ?? 100, cursor: query.cursor }
}

/**
 * An Idempotency-Key (api-contract.md: 1–255 characters): printable ASCII, spaces allowed between
 * the first and the last (`import 2021-12`). A control character, or a byte outside ASCII, which
 * HTTP gives no one reading, is refused.
 */
const IDEMPOTENCY_KEY = /^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$/

function hashOf (...parts: string[]): string {
  const hash = createHash('sha256')
  for (const part of parts) hash.update(part).update('\u0000')
  return hash.digest('hex')
}

/** The presentation of a value the response schema serializes as it is. */
export const asIs = <T>(value: T): T => value

const JSON_TYPE = 'application/json; charset=utf-8'

/**
 * A JSON value written with the keys of every object in order, so that two bodies that say the same
 * thing (`{"a":1,"b":2}` and `{"b":2,"a":1}`) have one text. Arrays keep their order.
 */
export function canonicalJson (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value ?? null)
}

/**
 * What an Idempotency-Key binds a request to (api-contract.md, Idempotency): its method, its route
 * with the path parameters, its query and its body — the query and the body as parsed, in canonical
 * form, so that the same request written with its keys in another order is the same request, and a
 * request with another query string (`?partial=true`) is another one. A streamed body (CSV) is its bytes' digest.
 */
export function requestHashOf (request: FastifyRequest, streamedBodyDigest?: string): string {
  const head = hashOf(request.method, request.routeOptions.url ?? request.url.split('?')[0] ?? '', canonicalJson(request.params ?? {}), canonicalJson(request.query ?? {}))
  return `${head}:${hashOf(streamedBodyDigest ?? canonicalJson(request.body ?? null))}`
}

export interface AnswerOptions<T> {
  /**
   * What the stored answer, and so every replay of it, holds instead of `present(value)`: for an
   * answer with a secret shown once (a new API key's token), which is never stored.
   */
  replay?: (value: T) => unknown
}

/**
 * Runs a write and answers `status` with `present(value)`. With an Idempotency-Key, the write stores the
 * very bytes sent (api-contract.md, Idempotency), or those of `options.replay(value)`, and a retry gets them again.
 */
export async function answerWrite<T> (
  request: FastifyRequest, reply: FastifyReply, deps: RouteDeps, status: number,
  write: (ctx: Context) => Promise<T>, present: (value: T) => unknown, options: AnswerOptions<T> = {},
): Promise<FastifyReply> {
  const header = request.headers['idempotency-key']
  // Given twice, it was refused before validation (refuseRepeatedIdempotencyKey).
  if (header !== undefined && (typeof header !== 'string' || !IDEMPOTENCY_KEY.test(header))) throw Problems.idempotencyKeyMalformed()
  let text: string | undefined
  const answer = (value: T) => (text ??= String(reply.code(status).serialize(present(value))))
  const stored = (value: T) => options.replay === undefined ? answer(value) : String(reply.code(status).serialize(options.replay(value)))
  const ctx: Context = {
    ...contextOf(request, deps),
    idempotency: header === undefined
      ? undefined
      : {
          key: header,
          requestHash: (streamedBodyDigest) => requestHashOf(request, streamedBodyDigest),
          answer: (value) => ({ status, text: stored(value as T) }),
        },
  }
  try {
    const value = await write(ctx)
    return reply.code(status).type(JSON_TYPE).send(answer(value))
  } catch (error) {
    if (error instanceof Replay) return reply.code(error.status).header('idempotent-replayed', 'true').type(JSON_TYPE).send(error.text)
    throw error
  }
}

export const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'

/** A table as a download: CSV (the default) or xlsx, named `filename` with its extension. */
export async function sendTable (reply: FastifyReply, format: 'csv' | 'xlsx', filename: string, files: { csv: () => Promise<Buffer>, xlsx: () => Promise<Buffer> }): Promise<FastifyReply> {
  if (format === 'xlsx') {
    return reply.type(XLSX_TYPE).header('content-disposition', `attachment; filename="${filename}.xlsx"`).send(await files.xlsx() as unknown as string)
  }
  return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${filename}.csv"`).send(await files.csv() as unknown as string)
}

/** A chart (src/http/charts.ts) as the answer: SVG, allowed to load only the stylesheet and font it links, from this origin. */
export function sendChart (reply: FastifyReply, svg: string): FastifyReply {
  return reply.type(SVG_TYPE).header('content-security-policy', CHART_CSP).send(svg)
}

/** The schema key that marks a body as optional: the document says requestBody.required: false. */
export const OPTIONAL_BODY = 'x-optional-body'

/**
 * For an operation whose whole body is optional (POST …/finalize without an override): a request
 * without a body is read as {} (Fastify validates a body schema against whatever arrived). Its
 * schema carries [OPTIONAL_BODY]: true so that the document says so.
 */
export async function emptyBodyIsObject (request: FastifyRequest): Promise<void> {
  // Only a body that is not there: a JSON `null` is a body, and not the object the schema wants (400).
  if (request.body === undefined) request.body = {}
}

/**
 * Every operation the plugin registers is tagged `tag` and needs a bearer token, in the document; one
 * that takes no query parameters says so, so that a stray one (?fiscalYear= on a POST, a typo) is a
 * 400 naming it, as on every other operation, not dropped in silence.
 */
export function documentOperations (app: FastifyInstance, tag: string): void {
  app.addHook('onRoute', (route) => {
    if (route.schema === undefined) return
    route.schema.tags ??= [tag]
    route.schema.security ??= security
    route.schema.querystring ??= NO_QUERY
    const headers = route.schema.headers as { properties?: Record<string, unknown> } | undefined
    if (headers?.properties?.['idempotency-key'] !== undefined) route.preValidation = [refuseRepeatedIdempotencyKey, ...[route.preValidation ?? []].flat()]
  })
}

/**
 * Node joins a header given twice with ", ": two keys would be taken for one, "a, b". Refused before
 * the schema sees them, so that two long keys are told they are two, not that one is too long.
 */
async function refuseRepeatedIdempotencyKey (request: FastifyRequest): Promise<void> {
  if (request.headers['idempotency-key'] === undefined) return
  const times = timesGiven(request, 'idempotency-key')
  if (times > 1) throw Problems.idempotencyKeyRepeated(times)
}

const NO_QUERY = { type: 'object', properties: {}, additionalProperties: false }
