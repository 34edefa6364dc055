import { resolve } from 'node:path'
import { distance } from 'fastest-levenshtein'
import { money, RATE_PATTERN } from './domain/money.js'
import { parse as parseConnectionString } from 'pg-connection-string'

/*
 * The service's settings (api-contract.md, Running), parsed once from an environment given as
 * a plain record. Only src/server.ts passes process.env in; everything else receives values.
 */

export interface ServerConfig {
  port: number
  host: string
  /** PostgreSQL connection string; undefined runs the embedded PGlite in dataDir. */
  databaseUrl: string | undefined
  dataDir: string
  adminToken: string | undefined
  minZoneRate: string
  demoData: boolean
  logLevel: string
  bodyLimit: number
  /** Requests per minute per bearer token; 0 turns rate limiting off. */
  rateLimitPerMinute: number
  /** Failed authentications per minute per address before 429; 0 turns the budget off. */
  authFailuresPerMinute: number
  /** Longest time a request may take to arrive, in ms. */
  requestTimeoutMs: number
  /** How long a connection may stay without moving while an answer is sent, in ms, before it is closed. */
  sendTimeoutMs: number
  /** PostgreSQL statement_timeout of the service's connections, in ms (a query with no answer 5 s later loses its connection); 0 turns both off. */
  statementTimeoutMs: number
  /** The origin browsers may call the API from: "*" or one https?:// origin. */
  corsOrigin: string
  /** REQUIRE_TWO_ADMINS=1: the admin key that finalizes a settlement run must not be the one that computed it. */
  requireTwoAdmins: boolean
}

/** Every environment variable the service reads (README, Configuration). */
export const SETTINGS = [
  'PORT', 'HOST', 'DATABASE_URL', 'DATA_DIR', 'ADMIN_TOKEN', 'MIN_ZONE_RATE', 'DEMO_DATA', 'REQUIRE_TWO_ADMINS', 'LOG_LEVEL',
  'BODY_LIMIT', 'RATE_LIMIT', 'CORS_ORIGIN', 'REQUEST_TIMEOUT_MS', 'SEND_TIMEOUT_MS', 'AUTH_FAILURE_LIMIT', 'DB_STATEMENT_TIMEOUT_MS',
] as const

/** An admin token, in ADMIN_TOKEN or DATA_DIR/admin-token: 16 to 512 printable characters without spaces. */
export const ADMIN_TOKEN_PATTERN = /^[\x21-\x7e]{16,512}$/

/**
 * Variables of the environment that are not settings but are a setting's name mistyped
 * (`DATABSE_URL`, `DATADIR`, `LOGLEVEL`): the setting itself keeps its default, and a mistyped
 * DATABASE_URL would serve an embedded database in place of PostgreSQL. Near means at most one
 * edit in four characters (so `HOME` is not taken for `HOST`), ignoring case.
 */
export function mistypedSettings (env: Record<string, string | undefined>): Array<{ given: string, meant: string }> {
  const found: Array<{ given: string, meant: string }> = []
  for (const given of Object.keys(env)) {
    if ((SETTINGS as readonly string[]).includes(given)) continue
    const upper = given.toUpperCase()
    const meant = SETTINGS.find((name) => upper === name || distance(upper, name) <= Math.max(1, Math.floor(name.length / 4)))
    if (meant !== undefined && env[meant] === undefined) found.push({ given, meant })
  }
  return found
}

export class ConfigError extends Error {
  constructor (readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`)
    this.name = 'ConfigError'
  }
}

function integer (problems: string[], name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined || text === '') return fallback
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    problems.push(`${name} must be a whole number from ${min} to ${max}, got "${text}"`)
    return fallback
  }
  return Number(text)
}

export function parseConfig (env: Record<string, string | undefined>): ServerConfig {
  const problems: string[] = []
  const minZoneRate = env.MIN_ZONE_RATE === undefined || env.MIN_ZONE_RATE === '' ? '0.60' : env.MIN_ZONE_RATE
  if (!new RegExp(RATE_PATTERN).test(minZoneRate)) {
    problems.push(`MIN_ZONE_RATE must be a rate between 0 and 1 with at most six decimals, e.g. "0.60", got "${minZoneRate}"`)
  } else if (money(minZoneRate).lessThan('0.60')) {
    problems.push(`MIN_ZONE_RATE must be 0.60 or more: the zone's share is no less than 60% (不低于60%, calculation-rules.md §3); a deployment may raise the floor, never lower it, got "${minZoneRate}"`)
  }
  const demo = env.DEMO_DATA ?? '0'
  if (!['0', '1', ''].includes(demo)) problems.push(`DEMO_DATA must be 0 or 1, got "${demo}"`)
  const twoAdmins = env.REQUIRE_TWO_ADMINS ?? '0'
  if (!['0', '1', ''].includes(twoAdmins)) problems.push(`REQUIRE_TWO_ADMINS must be 0 or 1, got "${twoAdmins}"`)
  const adminToken = env.ADMIN_TOKEN === '' ? undefined : env.ADMIN_TOKEN
  if (adminToken !== undefined && !ADMIN_TOKEN_PATTERN.test(adminToken)) {
    problems.push('ADMIN_TOKEN must be 16 to 512 printable characters without spaces')
  }
  // Set but empty (a variable that did not expand) is not unset: the embedded database would be served in place of PostgreSQL.
  const databaseUrl = env.DATABASE_URL
  if (databaseUrl === '') {
    problems.push('DATABASE_URL is set but empty: give a postgres:// connection string, or unset it to use the embedded database in DATA_DIR')
  } else if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL must be a postgres:// or postgresql:// connection string')
  } else if (databaseUrl !== undefined) {
    // Read as pg reads it (a socket's folder in ?host= too); not echoed: it may hold a password.
    try {
      parseConnectionString(databaseUrl)
    } catch (error) {
      problems.push(`DATABASE_URL cannot be read as a connection string (${error instanceof Error ? error.message : String(error)}): ` +
        'postgres://user:password@host:5432/database, a port from 1 to 65535, and #, / or ? in a password percent-encoded')
    }
  }
  const config: ServerConfig = {
    port: integer(problems, 'PORT', env.PORT, 3000, 0, 65535),
    host: env.HOST === undefined || env.HOST === '' ? '127.0.0.1' : env.HOST,
    databaseUrl,
    dataDir: resolve(env.DATA_DIR === undefined || env.DATA_DIR === '' ? './data' : env.DATA_DIR),
    adminToken,
    minZoneRate,
    demoData: demo === '1',
    logLevel: env.LOG_LEVEL === undefined || env.LOG_LEVEL === '' ? 'info' : env.LOG_LEVEL,
    bodyLimit: integer(problems, 'BODY_LIMIT', env.BODY_LIMIT, 1024 * 1024, 1024, 1024 * 1024 * 1024),
    rateLimitPerMinute: integer(problems, 'RATE_LIMIT', env.RATE_LIMIT, 1200, 0, 10_000_000),
    authFailuresPerMinute: integer(problems, 'AUTH_FAILURE_LIMIT', env.AUTH_FAILURE_LIMIT, 30, 0, 10_000_000),
    corsOrigin: env.CORS_ORIGIN === undefined || env.CORS_ORIGIN === '' ? '*' : env.CORS_ORIGIN,
    requestTimeoutMs: integer(problems, 'REQUEST_TIMEOUT_MS', env.REQUEST_TIMEOUT_MS, 120_000, 1000, 3_600_000),
    sendTimeoutMs: integer(problems, 'SEND_TIMEOUT_MS', env.SEND_TIMEOUT_MS, 60_000, 1000, 3_600_000),
    requireTwoAdmins: twoAdmins === '1',
    statementTimeoutMs: integer(problems, 'DB_STATEMENT_TIMEOUT_MS', env.DB_STATEMENT_TIMEOUT_MS, 120_000, 0, 86_400_000),
  }
  if (!/^(\*|https?:\/\/[^\s/]+)$/.test(config.corsOrigin)) {
    problems.push(`CORS_ORIGIN must be "*" or one origin such as https://czj.qingdao.gov.cn, got "${config.corsOrigin}"`)
  }
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(config.logLevel)) {
    problems.push(`LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "${config.logLevel}"`)
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return config
}
