import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { cpuMeter, median, memoryOf, ratio, serverFlags, startServer as start, stopServer as stop } from './stats.js'

/*
 * `npm run bench`: POST /v1/calculations with a three-group body against a bare Fastify
 * "hello world", both on this machine, driven by autocannon with the same connections,
 * duration and pipelining. The two alternate for several rounds; medians, their ratio, the peak
 * resident memory (VmHWM) of each server, and the CPU cores the server and the rest of the machine
 * (mostly autocannon, on the same cores) kept busy print. Target (issue 16): with every defence
 * on, the calculation at ≥ 0.2× hello-world req/s and p99 < 20 ms at 100 connections.
 *
 * Options (environment): BENCH_ROUNDS (3), BENCH_SECONDS (10), BENCH_CONNECTIONS (100),
 * BENCH_LOG_LEVEL (the app's LOG_LEVEL, default warn: request logging is measured separately),
 * BENCH_RATE_LIMIT (the app's RATE_LIMIT: by default a budget the run cannot reach, so that the
 * limiter's cost is measured without refusals; 0 takes the limiter out), BENCH_SERVER_FLAGS (node
 * flags for the app's server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
 */

const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const seconds = Number(process.env.BENCH_SECONDS ?? 10)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 100)
const logLevel = process.env.BENCH_LOG_LEVEL ?? 'warn'
const TOKEN = 'bench-admin-token-0123456789abcdef'
const root = new URL('..', import.meta.url).pathname

const body = JSON.stringify({
  fiscalYear: 2022,
  groups: [
    { name: 'taxes', basis: 'increment', base: '1000000.00', actual: '1250000.00', rates: [{ upToGrowth: '0.10', rate: '0.60' }, { rate: '0.80' }], shortfall: 'carry_forward', carriedShortfall: '12345.67' },
    { name: 'fees', basis: 'total', actual: '80000.00', rates: [{ rate: '0.60' }] },
    { name: 'escalating', basis: 'increment', base: { amount: '500000.00', baseYear: 2019, mode: 'escalating', growthRate: '0.05', adjustments: [{ fromYear: 2021, amount: '-20000.00' }] }, actual: '560000.00', rates: [{ rate: '0.65' }], shortfall: 'deduct' },
  ],
  advancesPaid: '100000.00',
})

interface Sample { reqPerSec: number, p99: number, non2xx: number, errors: number, peakRssMb?: number, serverCores: number, restCores: number }

/** Drives the server `pid` listens on: a warm-up, then the measured run, during which the CPU it and the rest of the machine use is measured. */
async function drive (pid: number | undefined, options: autocannon.Options): Promise<Sample> {
  if (pid === undefined) throw new Error('the server under test has no pid')
  await autocannon({ ...options, duration: 2 }) // warm-up: JIT, connection pools
  const cpu = await cpuMeter(pid)
  const result = await autocannon({ ...options, duration: seconds })
  const spent = await cpu.stop()
  return {
    reqPerSec: result.requests.average, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors,
    serverCores: spent.processMs / spent.wallMs, restCores: spent.restMs / spent.wallMs,
  }
}


async function main (): Promise<void> {
  process.stdout.write(`building… `)
  await new Promise<void>((resolve, reject) => spawn('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' }).on('exit', (c) => c === 0 ? resolve() : reject(new Error('build failed'))))
  const dataDir = await mkdtemp(join(tmpdir(), 'bench-'))
  const hello: Sample[] = []
  const echo: Sample[] = []
  const calc: Sample[] = []
  try {
    for (let round = 1; round <= rounds; round++) {
      process.stdout.write(`\nround ${round}/${rounds}: hello world… `)
      const h = await start(['--import', 'tsx', 'bench/hello-server.ts'], { PORT: '3101' }, 'http://127.0.0.1:3101/')
      try {
        hello.push(await drive(h.pid, { url: 'http://127.0.0.1:3101/', connections, pipelining: 1 }))
        process.stdout.write(`${Math.round(hello.at(-1)?.reqPerSec ?? 0)} req/s; bare POST… `)
        echo.push(await drive(h.pid, { url: 'http://127.0.0.1:3101/echo', method: 'POST', connections, pipelining: 1, body, headers: { 'content-type': 'application/json' } }))
        const helloPeak = await memoryOf(h.pid, 'VmHWM')
        for (const s of [hello.at(-1), echo.at(-1)]) if (s !== undefined) s.peakRssMb = helloPeak
      } finally {
        await stop(h)
      }
      process.stdout.write(`${Math.round(echo.at(-1)?.reqPerSec ?? 0)} req/s; calculations… `)
      const app = await start([...serverFlags(), 'dist/src/server.js'], { PORT: '3102', HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_TOKEN: TOKEN, LOG_LEVEL: logLevel, RATE_LIMIT: process.env.BENCH_RATE_LIMIT ?? '10000000' }, 'http://127.0.0.1:3102/health')
      try {
        calc.push(await drive(app.pid, {
          url: 'http://127.0.0.1:3102/v1/calculations', method: 'POST', connections, pipelining: 1, body,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        }))
        const last = calc.at(-1)
        if (last !== undefined) last.peakRssMb = await memoryOf(app.pid, 'VmHWM')
      } finally {
        await stop(app)
      }
      process.stdout.write(`${Math.round(calc.at(-1)?.reqPerSec ?? 0)} req/s, p99 ${calc.at(-1)?.p99 ?? 0} ms`)
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true })
  }
  const row = (name: string, s: Sample[]) => ({
    target: name,
    'req/s (median)': Math.round(median(s.map((x) => x.reqPerSec))),
    'p99 ms (median)': median(s.map((x) => x.p99)),
    'of hello world': ratio(median(s.map((x) => x.reqPerSec)), median(hello.map((x) => x.reqPerSec))),
    'req/s per round': s.map((x) => Math.round(x.reqPerSec)).join(' / '),
    'p99 per round': s.map((x) => x.p99).join(' / '),
    'peak RSS MB': Math.round(Math.max(...s.map((x) => x.peakRssMb ?? 0))),
    'CPU cores: server / rest of machine': `${median(s.map((x) => x.serverCores)).toFixed(2)} / ${median(s.map((x) => x.restCores)).toFixed(2)}`,
    'non-2xx': s.reduce((a, x) => a + x.non2xx, 0),
    errors: s.reduce((a, x) => a + x.errors, 0),
  })
  process.stdout.write(`\n\n${connections} connections, pipelining 1, ${seconds} s per run, ${rounds} alternating rounds, app LOG_LEVEL=${logLevel}; ` +
    `${availableParallelism()} cores, shared by the server and autocannon (the rest of the machine; medians of the measured runs)\n`)
  console.table([
    row('GET / (bare Fastify hello world)', hello),
    row('POST /echo (bare Fastify, same body parsed)', echo),
    row('POST /v1/calculations (3 groups)', calc),
  ])
  const rate = (s: Sample[]) => median(s.map((x) => x.reqPerSec))
  const p99 = median(calc.map((x) => x.p99))
  process.stdout.write(`ratio calculations / hello world: ${(rate(calc) / rate(hello) * 100).toFixed(1)}% (target ≥ 20%); ` +
    `calculations / bare POST: ${(rate(calc) / rate(echo) * 100).toFixed(1)}%; calculations p99 ${p99} ms (target < 20 ms)\n`)
  if (calc.some((x) => x.non2xx > 0 || x.errors > 0)) { process.stdout.write('calculations answered non-2xx or errors\n'); process.exitCode = 1 }
}

await main()
