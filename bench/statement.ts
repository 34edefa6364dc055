import { execFile, fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { openDatabase } from '../src/db/connect.js'
import { migrate } from '../src/db/migrate.js'
import { money } from '../src/domain/money.js'
import { ALL } from '../src/domain/principal.js'
import { createRun } from '../src/services/settlements.js'
import { seedSettlementData } from './seed.js'
import { createScratchDatabase, median, memoryOf, ratio, serverFlags, startServer, stopServer, withClient } from './stats.js'

/*
 * `npm run bench:statement`: the settlement statement (结算单) of a national run, downloaded over
 * HTTP from the server as `npm start` runs it, on PostgreSQL. Seeds BENCH_AGREEMENTS (25,000)
 * agreements on a scratch database (`npm run bench:settle`'s data) and computes the year's run;
 * then, for BENCH_ROUNDS (3) rounds, each format (csv, xlsx, html) from a freshly started server,
 * with /health asked every 50 ms meanwhile by a process of its own (bench/health-poller.ts: this
 * process buffers the download, and would delay the answers it times), taking turns with the
 * floor: `psql \copy` of the statement's data (the run's lines joined with their groups, in the
 * statement's order) to /dev/null. Prints medians: seconds, the floor and the ratio, the file's
 * size, the slowest /health answer while the statement was written, and the server's peak RSS
 * (VmHWM).
 *
 * Environment: DATABASE_URL (the server for the scratch database; default
 * postgres://postgres@127.0.0.1:5432/test), BENCH_AGREEMENTS (25000), BENCH_ROUNDS (3).
 */

const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const agreements = Number(process.env.BENCH_AGREEMENTS ?? 25000)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const root = new URL('..', import.meta.url).pathname
const TOKEN = `bench-${randomBytes(16).toString('hex')}`
const FORMATS = ['csv', 'xlsx', 'html'] as const
const log = (text: string) => process.stdout.write(`${text}\n`)
const run = promisify(execFile)

interface Download { seconds: number, megabytes: number, slowestHealthMs: number, healthAnswers: number, peakRssMb: number }

/** One statement from a fresh server, with /health asked every 50 ms (from a process of its own) until it has arrived. */
async function download (databaseUrl: string, runId: number, format: typeof FORMATS[number], dataDir: string): Promise<Download> {
  const port = 3300 + Math.floor(Math.random() * 500)
  const base = `http://127.0.0.1:${port}`
  const server = await startServer([...serverFlags(), 'dist/src/server.js'], {
    DATABASE_URL: databaseUrl, PORT: String(port), HOST: '127.0.0.1', ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'warn', DATA_DIR: dataDir, RATE_LIMIT: '10000000',
  }, `${base}/health`)
  const poller = fork(new URL('./health-poller.ts', import.meta.url).pathname, [base], { execArgv: ['--import', 'tsx'], stdio: 'inherit' })
  try {
    const report = new Promise<{ slowest: number, answers: number }>((resolve, reject) => {
      poller.on('message', (m) => { if (m !== 'ready') resolve(m as { slowest: number, answers: number }) })
      poller.on('exit', (code) => reject(new Error(`the /health poller exited with ${code}`)))
    })
    // Settled below; should the download fail first, a poller that dies meanwhile is not unhandled.
    report.catch(() => {})
    await new Promise<void>((resolve) => poller.once('message', () => resolve()))
    const started = process.hrtime.bigint()
    const response = await fetch(`${base}/v1/settlement-runs/${runId}/statement?format=${format}`, { headers: { authorization: `Bearer ${TOKEN}` } })
    const body = await response.arrayBuffer()
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    poller.send('stop')
    const { slowest, answers } = await report
    if (response.status !== 200) throw new Error(`the ${format} statement answered ${response.status}: ${Buffer.from(body).toString('utf8', 0, 500)}`)
    return { seconds, megabytes: body.byteLength / 1e6, slowestHealthMs: slowest, healthAnswers: answers, peakRssMb: await memoryOf(server.pid, 'VmHWM') }
  } finally {
    poller.kill()
    await stopServer(server)
  }
}

async function main (): Promise<void> {
  log('building…')
  await run('npm', ['run', '-s', 'build'], { cwd: root })
  const name = `bench_statement_${randomBytes(4).toString('hex')}`
  await createScratchDatabase(serverUrl, name)
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  const databaseUrl = url.toString()
  const dataDir = await mkdtemp(join(tmpdir(), 'bench-statement-'))
  try {
    const database = openDatabase({ kind: 'postgres', url: databaseUrl, poolSize: 4 })
    let runId: number
    try {
      await migrate(database)
      log(`seeding ${agreements.toLocaleString('en')} agreements (${(agreements * 240).toLocaleString('en')} revenue rows)…`)
      await database.withScriptSession((script) => seedSettlementData(script, agreements, (step) => log(`  ${step}`)))
      log('computing the 2021 run…')
      const computed = await createRun({
        db: database.db, settings: { minZoneRate: money('0.60'), importLimit: 0, requireTwoAdmins: false }, actor: { principal: { role: 'admin', keyId: 'bench' }, scope: ALL, requestId: 'bench' },
      }, { fiscalYear: 2021 })
      runId = computed.run.id
    } finally {
      await database.close()
    }
    const floorQuery = `SELECT l.*, g.* FROM settlement_lines l JOIN settlement_groups g USING (run_id, agreement_id) WHERE l.run_id = ${runId}
      ORDER BY l.zone_code, l.district_code, l.agreement_id, g.position`
    const measured = new Map(FORMATS.map((f) => [f, [] as Download[]]))
    const floor: number[] = []
    for (let round = 1; round <= rounds; round++) {
      for (const format of FORMATS) {
        log(`round ${round}/${rounds}: the ${format} statement…`)
        const d = await download(databaseUrl, runId, format, dataDir)
        measured.get(format)?.push(d)
        log(`  ${d.seconds.toFixed(2)} s, ${d.megabytes.toFixed(1)} MB; slowest /health ${Math.round(d.slowestHealthMs)} ms; server peak ${Math.round(d.peakRssMb)} MB`)
      }
      log(`round ${round}/${rounds}: the floor (psql \\copy of the lines with their groups)…`)
      const started = process.hrtime.bigint()
      await run('psql', [databaseUrl, '-q', '-c', `\\copy (${floorQuery.replaceAll('\n', ' ')}) TO '/dev/null'`])
      floor.push(Number(process.hrtime.bigint() - started) / 1e9)
      log(`  ${floor.at(-1)?.toFixed(2)} s`)
    }
    const floorSeconds = median(floor)
    log('')
    log(`the statement of a ${agreements.toLocaleString('en')}-agreement run (${(agreements * 3 + 1).toLocaleString('en')} rows), median of ${rounds} rounds; the floor: ${floorSeconds.toFixed(2)} s (${floor.map((s) => s.toFixed(2)).join(' / ')})`)
    console.table(FORMATS.map((format) => {
      const ds = measured.get(format) ?? []
      const seconds = median(ds.map((d) => d.seconds))
      return {
        format, 'seconds (median)': seconds.toFixed(2), 'per round': ds.map((d) => d.seconds.toFixed(2)).join(' / '), 'of the floor': ratio(seconds, floorSeconds),
        MB: median(ds.map((d) => d.megabytes)).toFixed(1), 'slowest /health ms (median)': Math.round(median(ds.map((d) => d.slowestHealthMs))),
        'server peak RSS MB (max)': Math.round(Math.max(...ds.map((d) => d.peakRssMb))),
      }
    }))
  } finally {
    await rm(dataDir, { recursive: true, force: true })
    await withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
  }
}

await main()
