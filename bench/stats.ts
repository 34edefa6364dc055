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

/** /proc counts CPU time in clock ticks: 100 a second on Linux (`getconf CLK_TCK`). */
const TICK_MS = 10

/** CPU time (ms) process `pid` has used, all its threads: utime + stime of /proc/<pid>/stat; 0 once it is gone. */
async function processCpuMs (pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
  // The fields after the command name (which may hold spaces), from the third (state): utime and stime are the 14th and 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) * TICK_MS
}

/** CPU time (ms) the whole machine has spent busy (anything but idle and waiting for I/O), all cores together: /proc/stat. */
async function machineBusyMs (): Promise<number> {
  const [, ...ticks] = ((await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '').trim().split(/\s+/).map(Number)
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = ticks
  return (user + nice + system + irq + softirq + steal) * TICK_MS
}

/** What a stretch of a benchmark cost in CPU: the process measured, the rest of the machine, and the wall time, all in ms. */
export interface CpuSpent { processMs: number, restMs: number, wallMs: number }

/**
 * Starts measuring the CPU used by process `pid` (this process when omitted: process.cpuUsage,
 * every thread) and by the rest of the machine (the load generator, PostgreSQL, anything else
 * running), so that a figure can say whether the machine's cores were what bounded it.
 */
export async function cpuMeter (pid?: number): Promise<{ stop: () => Promise<CpuSpent> }> {
  const ownMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 }
  const processMs = () => pid === undefined ? Promise.resolve(ownMs()) : processCpuMs(pid)
  const [process0, machine0] = await Promise.all([processMs(), machineBusyMs()])
  const started = process.hrtime.bigint()
  return {
    async stop () {
      const [process1, machine1] = await Promise.all([processMs(), machineBusyMs()])
      const spent = process1 - process0
      return { processMs: spent, restMs: Math.max(0, machine1 - machine0 - spent), wallMs: Number(process.hrtime.bigint() - started) / 1e6 }
    },
  }
}

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
