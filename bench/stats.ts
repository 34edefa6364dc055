import { type ChildProcess, spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import pg from 'pg'

/* What every benchmark prints the same way: medians of alternating rounds, and a process's memory. */

export const median = (xs: readonly number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

/** A field of /proc/<pid>/status in MB (VmRSS: resident now; VmHWM: the peak resident so far); 0 once the process is gone. */
export async function memoryOf (pid: number | undefined, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  if (pid === undefined) return 0
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024
}

/**
 * Watches a process's peak resident memory: its VmHWM (the kernel's own high-water mark) read
 * every `everyMs` while it lives, so that the last reading before it exits is kept.
 */
export function watchPeak (pid: number | undefined, everyMs = 50): { stop: () => number } {
  let peak = 0
  const timer = setInterval(() => { void memoryOf(pid, 'VmHWM').then((mb) => { peak = Math.max(peak, mb) }) }, everyMs)
  return { stop: () => { clearInterval(timer); return peak } }
}

export const ratio = (x: number, baseline: number): string => `${(x / baseline).toFixed(2)}×`

/** Node flags for the server under test, from BENCH_SERVER_FLAGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"). */
export const serverFlags = (): string[] => (process.env.BENCH_SERVER_FLAGS ?? '').split(' ').filter((f) => f !== '')

const root = new URL('..', import.meta.url).pathname

/** Starts `node <args>` in the project with `env` added, and resolves once `readyUrl` answers 2xx (up to 2 minutes: PGlite migrates first, slowly on a busy machine). */
export async function startServer (args: string[], env: Record<string, string>, readyUrl: string): Promise<ChildProcess> {
  const child = spawn('node', args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] })
  let exited: string | undefined
  child.once('exit', (code, signal) => { exited = signal === null ? `exit code ${code}` : `signal ${signal}` })
  // What the last attempt got, so that a server that never became ready says how (a status, a refused connection).
  let last = 'no answer yet'
  for (let i = 0; i < 1200 && exited === undefined; i++) {
    const answer = await fetch(readyUrl).then((r) => r.ok ? undefined : `HTTP ${r.status}`, (e: unknown) => `${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`)
    if (answer === undefined) return child
    last = answer
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  child.kill('SIGKILL')
  throw new Error(exited === undefined
    ? `${args.join(' ')} did not answer at ${readyUrl} within 2 minutes (last: ${last}); killed`
    : `${args.join(' ')} ended (${exited}) before it answered at ${readyUrl} (last: ${last}); its standard error is above`)
}

/** Stops a server started by startServer (SIGTERM) and waits for it to exit. */
export async function stopServer (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  await new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill('SIGTERM') })
}

/** `fn` with a connection of its own to `url`, closed afterwards. */
export async function withClient<T> (url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try { return await fn(client) } finally { await client.end() }
}

/** The scratch databases a benchmark made, each on its server: dropped should it be interrupted (Ctrl-C, SIGTERM). */
const scratch = new Map<string, string>()

/**
 * Creates a scratch database `name` on the server of `serverUrl`; an interrupted benchmark drops it
 * before it exits (its own `finally` drops it otherwise), so that no `bench_*` database is left behind.
 */
export async function createScratchDatabase (serverUrl: string, name: string): Promise<void> {
  await withClient(serverUrl, (c) => c.query(`CREATE DATABASE ${name}`))
  if (scratch.size === 0) {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        process.stdout.write(`\n${signal}: dropping ${[...scratch.keys()].join(', ')}…\n`)
        void Promise.allSettled([...scratch].map(([db, url]) => withClient(url, (c) => c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`))))
          .then(() => process.exit(130))
      })
    }
  }
  scratch.set(name, serverUrl)
}
