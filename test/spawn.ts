import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import type { Test } from 'tap'
import { onPostgres, postgresDatabase, temporaryDirectory } from './helpers.js'

/* src/server.ts as a real process, for the tests that run its commands, signal, starve or kill it. */

const root = new URL('..', import.meta.url).pathname

export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

export interface ServerProcess {
  child: ChildProcess
  /** Everything the process wrote to stdout and stderr so far, in the order it came. */
  output: () => string
  /** What it wrote to stderr alone. */
  stderr: () => string
  /** What it wrote to stdout alone. */
  stdout: () => string
  /** Its exit code, once it has exited and its output is read to the end (null after a signal). */
  exited: Promise<number | null>
}

/**
 * Spawns `node --import tsx src/server.ts ...args` (no args: serve; `settle …`, `migrate`) from the
 * repository root, with `env` on top of this process's environment. DATABASE_URL only if `env`
 * gives it: a process meant to use the embedded database never inherits the PostgreSQL pass's server.
 */
export function spawnServer (args: string[] = [], env: Record<string, string> = {}): ServerProcess {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env }
  if (env.DATABASE_URL === undefined) delete childEnv.DATABASE_URL
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts', ...args], { cwd: root, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  let stderr = ''
  let stdout = ''
  child.stdout!.on('data', (c: Buffer) => { output += c.toString(); stdout += c.toString() })
  child.stderr!.on('data', (c: Buffer) => { output += c.toString(); stderr += c.toString() })
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)))
  return { child, output: () => output, stderr: () => stderr, stdout: () => stdout, exited }
}

export interface RunningServer extends ServerProcess {
  port: number
}

/**
 * How long a server may take to answer /health: PGlite's first start and the migrations take a few
 * seconds alone, and many times that while the rest of the suite runs beside them on two cores.
 * A server that exits is reported at once.
 */
const START_WITHIN_MS = 120_000

/** Serves with `env` (as spawnServer) on a free port, LOG_LEVEL info unless `env` says otherwise, and waits for /health. */
export async function startServer (env: Record<string, string>): Promise<RunningServer> {
  const port = await freePort()
  const server = spawnServer([], { PORT: String(port), LOG_LEVEL: 'info', ...env })
  for (const deadline = Date.now() + START_WITHIN_MS; Date.now() < deadline;) {
    if (await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false)) return { ...server, port }
    if (server.child.exitCode !== null) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  server.child.kill('SIGKILL')
  throw new Error(`the server did not start:\n${server.output()}`)
}

/**
 * The environment of a server process with a database of its own: a DATA_DIR (removed when the
 * test ends) and, in the PostgreSQL pass, DATABASE_URL of a new database (dropped).
 */
export async function serverEnvironment (t: Test, prefix: string): Promise<Record<string, string> & { DATA_DIR: string }> {
  const env: Record<string, string> & { DATA_DIR: string } = { DATA_DIR: await temporaryDirectory(t, prefix) }
  if (onPostgres) env.DATABASE_URL = (await postgresDatabase(t)).url
  return env
}

export interface Answer {
  /** 0 when no answer came at all: refused, reset, the process killed, or timeoutMs passed. */
  status: number
  headers: Record<string, string>
  body: string
  /** Why there was no answer. */
  error?: string
}

/** One request to a server process on 127.0.0.1, as the bearer of `token`, with a JSON body if one is given. */
export async function send (port: number, token: string, method: string, path: string,
  options: { body?: unknown, headers?: Record<string, string>, timeoutMs?: number } = {}): Promise<Answer> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...options.headers },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      ...(options.timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(options.timeoutMs) }),
    })
    return { status: response.status, headers: Object.fromEntries(response.headers.entries()), body: await response.text() }
  } catch (error) {
    return { status: 0, headers: {}, body: '', error: String(error) }
  }
}
