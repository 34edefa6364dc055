/*
 * What an error from pg or PGlite means, told apart in one place: the database could not be
 * reached (a 503 the client may retry), or one of its constraints refused a write that the
 * checks before it could not see coming (a race).
 */

/** Socket errors of a connection to the database that could not be made or broke. */
const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'])
/**
 * SQLSTATEs of a database that is going away or not taking connections: class 08 (connection
 * exception), 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up,
 * shutting down, in recovery), 53300 too_many_connections, and 3D000 invalid_catalog_name (the
 * database was dropped or renamed under the service).
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '3D000'])
/**
 * Refusals of a connection being opened: class 28 (the login refused: a password changed, pg_hba.conf),
 * and 55000 when the database is not taking connections (ALTER DATABASE … ALLOW_CONNECTIONS false,
 * as during maintenance); 55000 is otherwise a statement's error, which stays one.
 */
const refusesConnections = (code: string, message: unknown): boolean =>
  /^28[0-9A-Z]{3}$/.test(code) || (code === '55000' && typeof message === 'string' && /is not currently accepting connections/.test(message))
/** 42P01 undefined_table: the service's tables are not there (a database re-created or restored under it). */
const UNDEFINED_TABLE_SQLSTATE = '42P01'
/** 57014 query_canceled: a statement ran past statement_timeout (or was cancelled by an operator). */
const TIMED_OUT_SQLSTATE = '57014'

/** The code of the error a query gets when the database sent nothing back in time (src/db/connect.ts). */
export const QUERY_TIMEOUT_CODE = 'QUERY_TIMEOUT'
/** What pg's pool says, with no code, when it found no connection within its wait: every one busy, or none could be opened. */
const NO_CONNECTION_IN_TIME = 'timeout exceeded when trying to connect'
/** What pg and its pool say, with no code, when a connection ends or cannot be had in time. */
const CONNECTION_ERROR_MESSAGES = new RegExp(`^(Connection terminated|${NO_CONNECTION_IN_TIME}|Client has encountered a connection error and is not queryable|Client was closed and is not queryable)`)

/** Whether the pool found no connection within its wait (NO_CONNECTION_IN_TIME). */
export const isNoConnectionInTime = (error: unknown): boolean => error instanceof Error && error.message.startsWith(NO_CONNECTION_IN_TIME)

/** Whether an error says the database could not be reached, rather than that a statement failed. */
export function isDatabaseUnavailable (error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 3) return false
  const { code, message, errors } = error as { code?: unknown, message?: unknown, errors?: unknown }
  if (typeof code === 'string' && (CONNECTION_ERROR_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code) || refusesConnections(code, message))) return true
  if (typeof message === 'string' && CONNECTION_ERROR_MESSAGES.test(message)) return true
  // Node answers an AggregateError when every address of a host name refused.
  return Array.isArray(errors) && errors.some((e) => isDatabaseUnavailable(e, depth + 1))
}

export type DatabaseErrorKind = 'unavailable' | 'undefined-table' | 'timed-out' | 'unique-violation' | 'foreign-key-violation'

/** What kind of database error `error` is, if it is one the service answers other than with a 500. */
export function classifyDatabaseError (error: unknown): DatabaseErrorKind | undefined {
  if (isDatabaseUnavailable(error)) return 'unavailable'
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined
  if (code === UNDEFINED_TABLE_SQLSTATE) return 'undefined-table'
  if (code === TIMED_OUT_SQLSTATE || code === QUERY_TIMEOUT_CODE) return 'timed-out'
  if (code === '23505') return 'unique-violation'
  if (code === '23503') return 'foreign-key-violation'
  return undefined
}

/**
 * A failure an operator acts on, told in its own words (the embedded database held by another
 * process, a migration file changed after it was applied): the process prints its message alone,
 * where a defect's stack trace is printed whole.
 */
export class OperatorError extends Error {
  override name = 'OperatorError'
}
