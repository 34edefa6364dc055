import { existsSync } from 'node:fs'
import { mkdir, stat } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import closeWithGrace from 'close-with-grace'
import { type Logger, pino } from 'pino'
import { resolveAdminToken } from './admin-token.js'
import { asksForHelp, INTERRUPTED, settleCommand, settleRequest, USAGE } from './cli/settle.js'
import { ConfigError, mistypedSettings, parseConfig, type ServerConfig } from './config.js'
import { type DatabaseHandle, openDatabase } from './db/connect.js'
import { isDatabaseUnavailable, OperatorError } from './db/errors.js'
import { migrate } from './db/migrate.js'
import { pruneIdempotencyKeys } from './db/idempotency.js'
import { InputError } from './domain/errors.js'
import { money } from './domain/money.js'
import { parse as parseConnectionString } from 'pg-connection-string'

/*
 * The process entry point, and the only module that reads the environment.
 *   node dist/src/server.js           migrate, then serve the API
 *   node dist/src/server.js migrate   apply pending migrations and exit
 *   node dist/src/server.js settle --year 2021 [--finalize]   the annual settlement (npm run settle)
 *   node dist/src/server.js pglite-template   write the template a new embedded database starts from (npm run build)
 */


/** How much longer than the statement timeout a query waits for any answer before its connection is destroyed. */
const ANSWER_GRACE_MS = 5000

function open (config: ServerConfig): DatabaseHandle {
  return config.databaseUrl === undefined
    ? openDatabase({ kind: 'pglite', dataDir: join(config.dataDir, 'pglite') })
    : openDatabase({
      kind: 'postgres',
      url: config.databaseUrl,
      timeouts: { statementMs: config.statementTimeoutMs, answerMs: config.statementTimeoutMs === 0 ? 0 : config.statementTimeoutMs + ANSWER_GRACE_MS },
    })
}

/** The setting that names the database, as an error at start says it: user, host, port and database of the URL, or the folder. */
function databaseSetting (config: ServerConfig): string {
  if (config.databaseUrl === undefined) return `DATA_DIR (the embedded database in ${join(config.dataDir, 'pglite')})`
  // Who, where and which database: never the password (in the URL's user part or in ?password=).
  const { user, host, port, database } = parseConnectionString(config.databaseUrl)
  return `DATABASE_URL (${user ?? ''}@${host ?? ''}${port === undefined || port === null || port === '' ? '' : `:${port}`}/${database ?? ''})`
}

async function runMigrations (log: Logger, database: DatabaseHandle, config: ServerConfig): Promise<void> {
  let applied
  try {
    applied = await migrate(database)
  } catch (error) {
    // The database out of reach, refusing the login or not there: the operator mends the setting that names it.
    if (error instanceof Error && isUnreachable(error)) throw new OperatorError(`${databaseSetting(config)}: ${error.message}`)
    throw error
  }
  log.info({ database: database.kind }, applied.length === 0 ? 'database schema is up to date' : `applied migrations: ${applied.join(', ')}`)
  // Idempotency keys are kept at least 24 hours (api-contract.md); older ones go at each start.
  await pruneIdempotencyKeys(database.db)
}

/**
 * The data directory holds the embedded database and the admin token: made readable by this user
 * alone (0700), and every file the service writes from now on likewise (umask 077). A directory
 * that already exists keeps its mode, which may be the operator's choice: it is only warned of
 * when other users may read it.
 */
async function keepDataDirPrivate (log: Logger, dataDir: string): Promise<void> {
  process.umask(0o077)
  let mode
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 })
    mode = (await stat(dataDir)).mode
  } catch (error) {
    // A file in its place, a folder that cannot be made: the operator's to mend, said in a line.
    throw new OperatorError(`DATA_DIR ${dataDir} cannot be used: ${error instanceof Error ? error.message : String(error)}`)
  }
  if ((mode & 0o077) !== 0) log.warn(`DATA_DIR ${dataDir} can be read by other users of this machine (mode ${(mode & 0o777).toString(8)}): the service keeps its embedded database and its admin token there; chmod 700 it unless that is meant`)
}

/** Where Swagger UI answers on the address the service listens on (the port it was given when PORT is 0; this machine for "any address"). */
function docsUrl (address: AddressInfo | string | null): string | undefined {
  if (address === null || typeof address === 'string') return undefined
  const host = address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '::1' : address.address
  return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}/docs`
}

async function serve (log: Logger, config: ServerConfig): Promise<void> {
  // DATA_DIR holds the embedded database and the generated admin token: untouched when it holds neither.
  if (config.databaseUrl === undefined || config.adminToken === undefined) await keepDataDirPrivate(log, config.dataDir)
  const database = open(config)
  let admin
  // Nothing may keep a process that failed to start alive: the database is closed on every failure (the embedded one held its lock, and the process, open).
  try {
    await runMigrations(log, database, config)
    admin = await resolveAdminToken(config.dataDir, config.adminToken)
    if (admin.origin === 'generated') {
      // Logged once, whatever LOG_LEVEL hides: at error or silent the operator was never told it.
      log.child({}, { level: 'warn' }).warn(`generated the admin token (kept in ${admin.file}; set ADMIN_TOKEN to choose your own): ${admin.token}`)
    } else if (admin.origin === 'file') {
      log.info(`admin token read from ${admin.file}`)
    }
    if (config.demoData) {
      const { loadDemoData } = await import('./demo.js')
      let loaded
      try {
        loaded = await loadDemoData(database.db, money(config.minZoneRate))
      } catch (error) {
        // The data set's agreements are signed at 0.60: a raised floor refuses them, and nothing of the set is stored.
        if (error instanceof InputError && money(config.minZoneRate).greaterThan('0.60')) throw new OperatorError(`DEMO_DATA=1: the illustrative data set was not loaded (nothing of it is stored) under MIN_ZONE_RATE ${config.minZoneRate}: ${error.message} Start it with the default floor.`)
        throw error
      }
      log.warn(loaded
        ? 'DEMO_DATA=1: loaded the illustrative data set (示例数据: two districts, three zones, agreements, 2020–2024 revenue, advances, settlement runs 1–6 (2020–2023 finalized, 2024 a draft), legacy debts)'
        : 'DEMO_DATA=1: the database already holds districts, so the illustrative data set was not loaded')
    }
  } catch (error) {
    await database.close()
    throw error
  }
  // The HTTP layer is loaded only to serve: `migrate` and `settle` do without it (about 50 MB less).
  const { buildApp } = await import('./app.js')
  const app = await buildApp({
    database,
    adminToken: admin.token,
    minZoneRate: config.minZoneRate,
    bodyLimit: config.bodyLimit,
    requestTimeoutMs: config.requestTimeoutMs,
    sendTimeoutMs: config.sendTimeoutMs,
    corsOrigin: config.corsOrigin,
    requireTwoAdmins: config.requireTwoAdmins,
    rateLimit: config.rateLimitPerMinute === 0 ? false : { max: config.rateLimitPerMinute, timeWindowMs: 60_000 },
    authFailures: config.authFailuresPerMinute === 0 ? false : { max: config.authFailuresPerMinute, timeWindowMs: 60_000 },
    logger: log,
  })
  try {
    await app.listen({ port: config.port, host: config.host })
  } catch (error) {
    // Nothing may keep a process that failed to start alive.
    await app.close()
    await database.close()
    if (error instanceof Error && isListenError(error)) throw new OperatorError(`HOST ${config.host}, PORT ${config.port}: ${error.message}`)
    throw error
  }
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err !== undefined) app.log.error({ err }, 'shutting down after an error')
    else app.log.info({ signal }, 'shutting down: finishing requests in flight')
    await app.close()
    await database.close()
  })
  app.log.info(`Swagger UI at ${docsUrl(app.server.address()) ?? `http://${config.host}:${config.port}/docs`}`)
}

/** The commands (COMMANDS says what each is). */
const COMMAND_NAMES = ['serve', 'migrate', 'settle', 'pglite-template']

/** What the commands are, for `help` and a usage error. */
const COMMANDS = 'commands: serve (the default), migrate, settle --year 2021 [--finalize] [--agreement ID …], pglite-template; ' +
  'each is configured by its environment (PORT, DATA_DIR, DATABASE_URL, …: README, Configuration)'

async function main (): Promise<void> {
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`usage: node dist/src/server.js [command]\n${COMMANDS}\n`)
    return
  }
  // A usage error, as settle's are (exit 2), before anything is configured or opened.
  if (!COMMAND_NAMES.includes(command)) {
    process.stderr.write(`unknown command "${command.slice(0, 100)}": use "serve" (the default), "migrate", "settle" or "pglite-template" ("help" lists them)\n`)
    process.exitCode = 2
    return
  }
  // Only settle takes arguments: `serve --port 3424` listened on PORT and said nothing of it.
  const extra = process.argv.slice(3)
  if (command !== 'settle' && extra.length > 0) {
    process.stderr.write(`${command}: takes no arguments (given ${JSON.stringify(extra.join(' ').slice(0, 200))})\n${COMMANDS}\n`)
    process.exitCode = 2
    return
  }
  // Asked for, the usage is shown whatever the settings (a bad one is told when the command runs).
  if (command === 'settle' && asksForHelp(extra)) {
    process.stdout.write(USAGE)
    return
  }
  const config = parseConfig(process.env)
  // settle writes its table on standard output, for a job to keep: its log lines go to standard error.
  const log = command === 'settle' ? pino({ level: config.logLevel }, pino.destination({ dest: 2, sync: true })) : pino({ level: config.logLevel })
  for (const { given, meant } of mistypedSettings(process.env)) {
    log.warn(`${given} is not a setting of this service, and is ignored: did you mean ${meant}? (${meant} keeps its default; README, Configuration)`)
  }
  if (command === 'migrate') {
    // A new embedded database is what a fresh checkout asks for; in a DATA_DIR mistyped it is not, so it is said.
    const embedded = join(config.dataDir, 'pglite')
    const made = config.databaseUrl === undefined && !existsSync(embedded)
    if (config.databaseUrl === undefined) await keepDataDirPrivate(log, config.dataDir)
    const database = open(config)
    try {
      await runMigrations(log, database, config)
    } finally {
      await database.close()
    }
    if (made) process.stderr.write(`migrate: there was no embedded database in ${embedded}; made a new one (set DATA_DIR if the service's data is elsewhere)\n`)
  } else if (command === 'settle') {
    // A run holds one chunk of agreements at a time (about 50 MB live at 25,000 agreements), but
    // V8 may let the heap grow to up to four times what survived its last full collection before the next
    // one: a batch job grows it by half instead (read at each collection; no limit is set).
    setFlagsFromString('--heap-growing-percent=50')
    const output = { write: (text: string) => process.stdout.write(text), error: (text: string) => process.stderr.write(text), isTTY: process.stdout.isTTY === true }
    // Usage first: a mistyped argument is told as such, whatever the state of the database.
    const request = settleRequest(process.argv.slice(3), output)
    if (request === 2) {
      process.exitCode = 2
      return
    }
    // Settling an embedded database that is not there would make an empty one and settle nothing:
    // a DATA_DIR mistyped, or the command run from another directory (./data by default).
    const embedded = join(config.dataDir, 'pglite')
    if (config.databaseUrl === undefined && !existsSync(embedded)) {
      throw new OperatorError(`there is no embedded database in ${embedded}: set DATA_DIR to the service's data directory, or DATABASE_URL to its PostgreSQL database`)
    }
    // Ctrl-C (or a job's SIGTERM) stops the run where what is stored can be told (settleCommand); a second one exits at once.
    const interruption = new AbortController()
    const interrupt = (signal: NodeJS.Signals) => {
      if (interruption.signal.aborted) {
        process.stderr.write(`\nsettle: ${signal} again: exiting now; what the database committed stands (GET /v1/settlement-runs)\n`)
        process.exit(INTERRUPTED)
      }
      process.stderr.write(`\nsettle: ${signal} received: stopping… (send it again to exit at once)\n`)
      interruption.abort()
    }
    process.on('SIGINT', interrupt)
    process.on('SIGTERM', interrupt)
    const database = open(config)
    try {
      await runMigrations(log, database, config)
      process.exitCode = await settleCommand(database, request, { minZoneRate: money(config.minZoneRate), importLimit: 0, requireTwoAdmins: config.requireTwoAdmins }, output, interruption.signal)
    } finally {
      await database.close()
    }
  } else if (command === 'pglite-template') {
    // `npm run build`: the data directory a new embedded database starts from (src/db/pglite-template.ts).
    const { PGLITE_TEMPLATE, templateIsCurrent, writePgliteTemplate } = await import('./db/pglite-template.js')
    if (!templateIsCurrent()) process.stderr.write(`wrote ${await writePgliteTemplate()}\n`)
    else log.debug(`${PGLITE_TEMPLATE} is current`)
  } else {
    await serve(log, config)
  }
}

/** An address the service cannot listen on (taken, not this machine's, not allowed, no such host). */
const LISTEN_ERROR_CODES = new Set(['EADDRINUSE', 'EADDRNOTAVAIL', 'EACCES', 'ENOTFOUND', 'EAI_AGAIN'])

/**
 * Whether a failure is the operator's to act on, and its message says all there is to say: the
 * configuration, the database out of reach or refusing the login (SQLSTATE class 28), an address
 * that cannot be listened on, an OperatorError. Anything else is a defect, printed with its stack.
 */
function operatorFacing (error: unknown): error is Error {
  if (!(error instanceof Error)) return false
  return error instanceof ConfigError || error instanceof OperatorError || isUnreachable(error) || isListenError(error)
}

/** The database out of reach, not there, or refusing the login (SQLSTATE class 28). */
function isUnreachable (error: Error): boolean {
  const code = (error as { code?: unknown }).code
  return isDatabaseUnavailable(error) || (typeof code === 'string' && /^28[0-9A-Z]{3}$/.test(code))
}

function isListenError (error: Error): boolean {
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' && LISTEN_ERROR_CODES.has(code)
}

const command = process.argv[2] ?? 'serve'
main().catch((error: unknown) => {
  if (error instanceof ConfigError) process.stderr.write(`${error.message}\n`)
  else {
    // Named for what failed: a command that is not the service did not "fail to start".
    const what = command === 'migrate' || command === 'settle' ? command : 'failed to start'
    process.stderr.write(`${what}: ${operatorFacing(error) ? error.message : error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  }
  process.exitCode = 1
})
