import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import autocannon from 'autocannon'
import { createScratchDatabase, withClient } from './stats.js'

/*
 * `npm run bench:soak` (issue 6, part 7): a mixed workload for SOAK_SECONDS (60) against the
 * built server on a scratch PostgreSQL database loaded with the demo data — reads, calculations
 * and revenue writes from autocannon's connections, and a settlement run of 2021 every
 * RUN_EVERY_SECONDS (10) beside them. Prints req/s, p99, errors, non-2xx by status, and the
 * server's resident memory after a warm-up and at the end.
 * Target: 0 errors, 0 5xx, RSS growth under 10 %.
 *
 * Environment: DATABASE_URL (a server to create a scratch database on; default
 * postgres://postgres@127.0.0.1:5432/test), SOAK_SECONDS, SOAK_CONNECTIONS (20), WARMUP_SECONDS (10).
 */

const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const seconds = Number(process.env.SOAK_SECONDS ?? 60)
const connections = Number(process.env.SOAK_CONNECTIONS ?? 20)
const warmupSeconds = Number(process.env.WARMUP_SECONDS ?? 10)
const runEverySeconds = Number(process.env.RUN_EVERY_SECONDS ?? 10)
const root = new URL('..', import.meta.url).pathname
const TOKEN = `soak-${randomBytes(16).toString('hex')}`
const log = (text: string) => process.stdout.write(`${text}\n`)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }

const CALCULATION = JSON.stringify({
  fiscalYear: 2021,
  groups: [
    { name: 'taxes', basis: 'increment', base: '1000000.00', actual: '1250000.00', rates: [{ upToGrowth: '0.10', rate: '0.60' }, { rate: '0.80' }], shortfall: 'carry_forward', carriedShortfall: '0.00' },
    { name: 'fees', basis: 'total', actual: '80000.00', rates: [{ rate: '0.60' }] },
  ],
  advancesPaid: '100000.00',
})

function rssOf (pid: number): Promise<number> {
  return readFile(`/proc/${pid}/status`, 'utf8').then((s) => Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0) / 1024, () => 0)
}

async function startServer (databaseUrl: string, port: number): Promise<ChildProcess> {
  const child = spawn('node', ['dist/src/server.js'], {
    cwd: root, stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env, DATABASE_URL: databaseUrl, PORT: String(port), HOST: '127.0.0.1', ADMIN_TOKEN: TOKEN,
      LOG_LEVEL: 'warn', DEMO_DATA: '1', RATE_LIMIT: '10000000', DATA_DIR: join(tmpdir(), 'bench-soak-data'),
    },
  })
  for (let i = 0; i < 600; i++) {
    if (await fetch(`http://127.0.0.1:${port}/ready`).then((r) => r.ok, () => false)) return child
    await sleep(100)
  }
  throw new Error('the server did not start')
}

/** Revenue writes: each changes one demo month's amount, so every write is a new revision. */
let revision = 0
function revenueWrite (): string {
  revision++
  const cents = 100_000_000n + BigInt(revision)
  return JSON.stringify({ records: [{ zoneCode: 'QD-HT', districtCode: '370214', category: '10101', year: 2021, month: 1 + (revision % 12), amount: `${cents / 100n}.${String(cents % 100n).padStart(2, '0')}` }] })
}

/** One settlement run of 2021 every few seconds, beside the load; answers its statuses. */
async function settlementRuns (port: number, until: number): Promise<Map<number, number>> {
  const statuses = new Map<number, number>()
  while (Date.now() < until) {
    const response = await fetch(`http://127.0.0.1:${port}/v1/settlement-runs`, { method: 'POST', headers, body: JSON.stringify({ fiscalYear: 2021 }) })
    await response.arrayBuffer()
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
    await sleep(runEverySeconds * 1000)
  }
  return statuses
}

async function load (port: number, duration: number, progress: boolean): Promise<autocannon.Result> {
  let finish: (result: autocannon.Result) => void = () => {}
  let fail: (error: Error) => void = () => {}
  const finished = new Promise<autocannon.Result>((resolve, reject) => { finish = resolve; fail = reject })
  const instance = autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration,
    headers,
    requests: [
      { method: 'GET', path: '/v1/agreements' },
      { method: 'POST', path: '/v1/calculations', body: CALCULATION },
      { method: 'GET', path: '/v1/debts/summary?asOf=2021-12-31&groupBy=district' },
      { method: 'POST', path: '/v1/revenues', setupRequest: (request) => ({ ...request, body: revenueWrite() }) },
      { method: 'GET', path: '/v1/settlement-runs/1' },
      { method: 'GET', path: '/v1/advances?fiscalYear=2021' },
    ],
  }, (error, result) => { if (error !== null && error !== undefined) fail(error); else finish(result) })
  if (progress) {
    let done = 0
    const timer = setInterval(() => { done += 10; log(`  ${done} s of ${duration} s…`) }, 10_000)
    instance.on('done', () => clearInterval(timer))
  }
  return finished
}

async function main (): Promise<void> {
  log('building…')
  await promisify(execFile)('npm', ['run', '-s', 'build'], { cwd: root })
  const name = `bench_soak_${randomBytes(4).toString('hex')}`
  await createScratchDatabase(serverUrl, name)
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  let server: ChildProcess | undefined
  try {
    const port = 3700 + Math.floor(Math.random() * 500)
    server = await startServer(url.toString(), port)
    log(`warming up for ${warmupSeconds} s…`)
    await load(port, warmupSeconds, false)
    const rssStart = await rssOf(server.pid!)
    let rssPeak = rssStart
    const sampler = setInterval(() => { void rssOf(server!.pid!).then((r) => { rssPeak = Math.max(rssPeak, r) }) }, 250)
    log(`soaking for ${seconds} s with ${connections} connections and a settlement run every ${runEverySeconds} s…`)
    const runs = settlementRuns(port, Date.now() + seconds * 1000)
    const result = await load(port, seconds, true)
    const runStatuses = await runs
    clearInterval(sampler)
    const rssEnd = await rssOf(server.pid!)

    const byStatus = Object.entries(result.statusCodeStats ?? {}).map(([status, { count }]) => `${status}: ${count}`).join(', ')
    const fivexx = Object.entries(result.statusCodeStats ?? {}).filter(([status]) => status.startsWith('5')).reduce((n, [, { count }]) => n + (count ?? 0), 0)
    const growth = 100 * (rssEnd - rssStart) / rssStart
    log('')
    log(`requests:        ${result.requests.total.toLocaleString('en')} in ${seconds} s`)
    log(`req/s:           mean ${result.requests.average.toFixed(0)}, median ${result.requests.p50.toFixed(0)}`)
    log(`latency:         p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms`)
    log(`errors:          ${result.errors} (timeouts ${result.timeouts})`)
    log(`by status:       ${byStatus}`)
    log(`non-2xx:         ${result.non2xx}`)
    log(`settlement runs: ${[...runStatuses].map(([s, n]) => `${s}: ${n}`).join(', ')}`)
    log(`RSS:             ${rssStart.toFixed(0)} MB after warm-up, ${rssPeak.toFixed(0)} MB peak, ${rssEnd.toFixed(0)} MB at the end (${growth >= 0 ? '+' : ''}${growth.toFixed(1)} %)`)
    const runFailures = [...runStatuses].filter(([s]) => s >= 500).length
    const met = result.errors === 0 && fivexx === 0 && runFailures === 0 && growth < 10
    log(`target (0 errors, 0 5xx, RSS growth < 10 %): ${met ? 'met' : 'NOT met'}`)
    process.exitCode = met ? 0 : 1
  } finally {
    server?.kill('SIGTERM')
    await new Promise((resolve) => server === undefined ? resolve(undefined) : server.once('exit', resolve))
    await withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
  }
}

await main()
