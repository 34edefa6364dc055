import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { spawn } from 'node:child_process'
import { promisify } from 'node:util'
import { sql } from 'kysely'
import { openDatabase } from '../src/db/connect.js'
import { migrate } from '../src/db/migrate.js'
import { money } from '../src/domain/money.js'
import { ALL } from '../src/domain/principal.js'
import { createRun } from '../src/services/settlements.js'
import { seedSettlementData } from './seed.js'
import { cpuMeter, createScratchDatabase, median, ratio, watchPeak, withClient } from './stats.js'

/*
 * `npm run bench:settle`: national scale on PostgreSQL. For each size (default 250, 2,500 and
 * 25,000 zone–district agreements; 20 categories × 12 months of revenue each, so 2,500 is
 * 600,000 rows) it times one settlement run with its lines persisted (median of BENCH_RUNS),
 * beside a single SQL aggregate over the same rows (the floor: reading the data once), the two
 * taking turns, and the peak resident memory (VmHWM) of `npm run settle` doing the same run as
 * its own process. Target (issue 16): 2,500 agreements ≤ 2× the aggregate; 25,000 ≤ 2.5× and
 * peak RSS ≤ 300 MB; time linear in the number of agreements. Each run is also split into its
 * phases (medians): until its first agreement is computed, until its last, and after it, and into
 * the CPU it took: this process's (the service computing and storing lines) and the rest of the
 * machine's (PostgreSQL, on the same cores).
 *
 * Environment: DATABASE_URL (server for scratch databases; default
 * postgres://postgres@127.0.0.1:5432/test), BENCH_SIZES (250,2500,25000), BENCH_RUNS (3),
 * BENCH_WARMUP (1: rounds run first, as the others, printed and not counted).
 */

const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const sizes = (process.env.BENCH_SIZES ?? '250,2500,25000').split(',').map(Number)
const runs = Number(process.env.BENCH_RUNS ?? 3)
const warmup = Number(process.env.BENCH_WARMUP ?? 1)
const root = new URL('..', import.meta.url).pathname
const log = (text: string) => process.stdout.write(`${text}\n`)

async function peakRssOfCli (url: string): Promise<{ mb: number, seconds: number }> {
  await promisify(execFile)('npm', ['run', '-s', 'build'], { cwd: root })
  const child = spawn('node', ['dist/src/server.js', 'settle', '--year', '2021'], { cwd: root, env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'warn' }, stdio: 'ignore' })
  const started = process.hrtime.bigint()
  const peak = watchPeak(child.pid, 20)
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  const mb = peak.stop()
  if (code !== 0) throw new Error(`npm run settle exited with ${code}`)
  return { mb, seconds: Number(process.hrtime.bigint() - started) / 1e9 }
}

interface Row {
  agreements: number, revenueRows: number, 'aggregate ms': number, 'run ms': number, 'run / aggregate': string, 'ms per 1,000 agreements': number, 'runs (ms)': string,
  'npm run settle peak RSS MB': number, 'before first line / computing / after last (ms)': string, 'CPU ms: service / rest of machine': string,
}

/**
 * One round, in ms: the aggregate, then the run, with where its time went — until its first
 * agreement is computed (the reads it waits for), from the first to the last agreement computed
 * (the chunks that follow are read and stored meanwhile), and after the last (what is left to
 * store, the totals, the commit) — and the CPU it took, this process's and the rest of the machine's.
 */
interface Round { aggregate: number, run: number, beforeFirst: number, computing: number, afterLast: number, processMs: number, restMs: number }

/** The medians of `keys` over the rounds, rounded, as one cell: "122 / 244 / 53". */
const medians = (rounds: readonly Round[], keys: ReadonlyArray<keyof Round>): string => keys.map((k) => Math.round(median(rounds.map((r) => r[k])))).join(' / ')

async function measure (agreements: number): Promise<Row> {
  const name = `bench_settle_${randomBytes(4).toString('hex')}`
  await createScratchDatabase(serverUrl, name)
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  const database = openDatabase({ kind: 'postgres', url: url.toString(), poolSize: 4 })
  try {
    await migrate(database)
    process.stdout.write(`  ${agreements.toLocaleString('en')} agreements: seeding ${(agreements * 240).toLocaleString('en')} revenue rows… `)
    await database.withScriptSession((run) => seedSettlementData(run, agreements, (step) => process.stdout.write(`${step}; `)))
    process.stdout.write('\n')
    const ms = (from: bigint, to: bigint) => Number(to - from) / 1e6
    const rounds: Round[] = []
    for (let i = -warmup; i < runs; i++) {
      let started = process.hrtime.bigint()
      await sql`SELECT zone_code, district_code, category_code, sum(amount) FROM revenue_records WHERE year = 2021 GROUP BY 1, 2, 3`.execute(database.db)
      const aggregate = ms(started, process.hrtime.bigint())
      // Started before the clock, so that reading /proc is not in the run's time.
      const meter = await cpuMeter()
      started = process.hrtime.bigint()
      // When the first and the last agreement were computed (the run reports each as it goes).
      let first: bigint | undefined
      let last = started
      await createRun({
        db: database.db, settings: { minZoneRate: money('0.60'), importLimit: 0, requireTwoAdmins: false }, actor: { principal: { role: 'admin', keyId: 'bench' }, scope: ALL, requestId: 'bench' },
        readsBesideWrites: database.readsBesideWrites,
      }, { fiscalYear: 2021 }, () => { last = process.hrtime.bigint(); first ??= last })
      const ended = process.hrtime.bigint()
      const { processMs, restMs } = await meter.stop()
      const firstAt = first ?? last
      const round = { aggregate, run: ms(started, ended), beforeFirst: ms(started, firstAt), computing: ms(firstAt, last), afterLast: ms(last, ended), processMs, restMs }
      rounds.push(round)
      process.stdout.write(`${i < 0 ? 'warm-up' : `round ${i + 1}`}: aggregate ${round.aggregate.toFixed(0)} ms, run ${round.run.toFixed(0)} ms; `)
    }
    // The warm-up rounds (the first run compiles the code it runs; the first aggregate reads cold pages) are printed, not counted.
    const counted = rounds.slice(warmup)
    const lines = await database.db.selectFrom('settlement_lines').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
    if (Number(lines.n) !== agreements * (warmup + runs)) throw new Error(`expected ${agreements * (warmup + runs)} lines, found ${lines.n}`)
    const cli = await peakRssOfCli(url.toString())
    process.stdout.write(`npm run settle: ${cli.seconds.toFixed(1)} s, peak ${cli.mb.toFixed(0)} MB\n`)
    const runMs = median(counted.map((r) => r.run))
    const aggregateMs = median(counted.map((r) => r.aggregate))
    return {
      agreements, revenueRows: agreements * 240, 'aggregate ms': Math.round(aggregateMs), 'run ms': Math.round(runMs),
      'run / aggregate': ratio(runMs, aggregateMs), 'ms per 1,000 agreements': Math.round(runMs / agreements * 1000),
      'runs (ms)': counted.map((r) => `${Math.round(r.run)} (agg ${Math.round(r.aggregate)})`).join(' / '), 'npm run settle peak RSS MB': Math.round(cli.mb),
      'before first line / computing / after last (ms)': medians(counted, ['beforeFirst', 'computing', 'afterLast']),
      'CPU ms: service / rest of machine': medians(counted, ['processMs', 'restMs']),
    }
  } finally {
    await database.close()
    await withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
  }
}

log(`settlement runs on PostgreSQL, median of ${runs}; sizes ${sizes.join(', ')}`)
const rows: Row[] = []
for (const size of sizes) rows.push(await measure(size))
console.table(rows)
log(`median of ${runs} alternating rounds (aggregate, run) after ${warmup} warm-up round(s) not counted; peak RSS is the VmHWM of \`node dist/src/server.js settle --year 2021\``)
log('targets (issue 16): 2,500 agreements ≤ 2× the aggregate; 25,000 ≤ 2.5× and peak RSS ≤ 300 MB; ms per 1,000 agreements flat across sizes')
