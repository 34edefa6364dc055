import { type ChildProcess, execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createScratchDatabase, median, memoryOf, ratio, serverFlags, startServer, stopServer, withClient } from './stats.js'

/*
 * `npm run bench:import`: a 600,000-row revenue CSV (2,500 zone–district pairs × 20 categories
 * × 12 months) streamed to POST /v1/revenues/import of a server on PostgreSQL, beside
 * PostgreSQL's own `\copy` of the same file into a bare table (the floor), taking turns for
 * BENCH_ROUNDS rounds on an empty revenue table each time. Beside them, for reference, `\copy`
 * into a table like revenue_records (its key, indexes and checks; no triggers, no history), and
 * that time plus `\copy` into a table like revenue_revisions (each row is stored twice: the month's
 * amount and its first revision): what PostgreSQL alone takes to store the rows where the service
 * keeps them. Prints rows/s of each (medians),
 * each one's share of the floor's rate, and the server's resident memory before, at
 * its peak (VmHWM) and after. Target (issue 16): ≥ 25% of the floor's rows/s, memory flat in the
 * file's size.
 *
 * Environment: DATABASE_URL (a server to create a scratch database on; default
 * postgres://postgres@127.0.0.1:5432/test), BENCH_ZONES (2500), BENCH_ROUNDS (3),
 * BENCH_SERVER_FLAGS (node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
 */

const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const zones = Number(process.env.BENCH_ZONES ?? 2500)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const root = new URL('..', import.meta.url).pathname
const TOKEN = `bench-${randomBytes(16).toString('hex')}`
const CATEGORIES = ['10101', '1010101', '10102', '10103', '10104', '10105', '10106', '10107', '10109', '10110',
  '10111', '10112', '10113', '10114', '10118', '10119', '10302', '10304', '10305', '10307']
const log = (text: string) => process.stdout.write(`${text}\n`)
const run = promisify(execFile)

/** Whole cents as a yuan string, without a JavaScript number in sight of the amount. */
function amountFor (i: bigint): string {
  const cents = (i * 7919n) % 100_000_000n + 100n
  return `${cents / 100n}.${(cents % 100n).toString().padStart(2, '0')}`
}

async function writeCsv (file: string): Promise<number> {
  const out = createWriteStream(file)
  out.write('zoneCode,districtCode,category,year,month,amount\n')
  let rows = 0
  for (let z = 0; z < zones; z++) {
    const zone = `Z${String(z).padStart(5, '0')}`
    const district = String(110101 + (z % 50))
    let chunk = ''
    for (const category of CATEGORIES) {
      for (let month = 1; month <= 12; month++) {
        chunk += `${zone},${district},${category},2021,${month},${amountFor(BigInt(rows))}\n`
        rows++
      }
    }
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()))
    if (z % 500 === 499) process.stdout.write(`  generated ${rows.toLocaleString('en')} rows\n`)
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => error ? reject(error) : resolve()))
  return rows
}

async function upload (file: string, port: number, size: number): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port, path: '/v1/revenues/import', method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/csv', 'content-length': size },
    }, (res) => {
      let body = ''
      res.on('data', (c: Buffer) => { body += c.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    let sent = 0
    let shown = -10
    const stream = createReadStream(file)
    stream.on('data', (chunk) => {
      sent += chunk.length
      const percent = Math.floor(100 * sent / size)
      if (percent >= shown + 10) {
        shown = percent
        process.stdout.write(`  sent ${percent}% of ${(size / 1e6).toFixed(1)} MB\n`)
      }
    })
    stream.pipe(req)
  })
}

async function main (): Promise<void> {
  log('building…')
  await run('npm', ['run', '-s', 'build'], { cwd: root })
  const name = `bench_import_${randomBytes(4).toString('hex')}`
  await createScratchDatabase(serverUrl, name)
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  const databaseUrl = url.toString()
  const dir = await mkdtemp(join(tmpdir(), 'bench-import-'))
  const file = join(dir, 'revenue.csv')
  let server: ChildProcess | undefined
  try {
    log(`generating ${(zones * CATEGORIES.length * 12).toLocaleString('en')} rows…`)
    const rows = await writeCsv(file)
    const { size } = await stat(file)

    const port = 3200 + Math.floor(Math.random() * 500)
    // It migrates the scratch database.
    server = await startServer([...serverFlags(), 'dist/src/server.js'], {
      DATABASE_URL: databaseUrl, PORT: String(port), HOST: '127.0.0.1', ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'warn', DATA_DIR: join(tmpdir(), 'bench-import-data'),
    }, `http://127.0.0.1:${port}/health`)
    const pid = server.pid
    await withClient(databaseUrl, async (c) => {
      await c.query(`INSERT INTO districts (code, name) SELECT (110101 + i)::text, 'bench ' || i FROM generate_series(0, 49) i`)
      await c.query(`INSERT INTO zones (code, name, host_district_code) SELECT 'Z' || lpad(i::text, 5, '0'), 'bench zone ' || i, (110101 + i % 50)::text FROM generate_series(0, ${zones - 1}) i`)
      await c.query(`CREATE TABLE copy_floor (zone_code text, district_code text, category_code text, year int, month int, amount numeric(17,2))`)
      await c.query('CREATE TABLE copy_keyed (LIKE revenue_records INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)')
      await c.query('ALTER TABLE copy_keyed ALTER revision SET DEFAULT 1')
      await c.query('CREATE TABLE copy_history (LIKE revenue_revisions INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)')
      await c.query(`ALTER TABLE copy_history ALTER revision SET DEFAULT 1, ALTER key_id SET DEFAULT 'bench', ALTER request_id SET DEFAULT 'bench'`)
    })
    const rssBefore = await memoryOf(pid, 'VmRSS')

    // The API and the floor take turns, on an empty revenue table each time (every row is created).
    const api: number[] = []
    const floor: number[] = []
    const keyed: number[] = []
    const history: number[] = []
    const copyInto = async (table: string, columns: string, times: number[]) => {
      const copyStarted = process.hrtime.bigint()
      await run('psql', [databaseUrl, '-q', '-c', `\\copy ${table} ${columns} FROM '${file}' WITH (FORMAT csv, HEADER true)`])
      times.push(Number(process.hrtime.bigint() - copyStarted) / 1e9)
      log(`  ${times.at(-1)?.toFixed(2)} s`)
    }
    for (let round = 1; round <= rounds; round++) {
      // revenue_revisions refuses TRUNCATE (sql/017): its trigger is set aside for the statement, in
      // one transaction of the scratch database (its owner may; no superuser needed).
      await withClient(databaseUrl, (c) => c.query('BEGIN; ALTER TABLE revenue_revisions DISABLE TRIGGER revenue_revisions_no_truncate; ' +
        'TRUNCATE revenue_records, revenue_revisions, copy_floor, copy_keyed, copy_history; ' +
        'ALTER TABLE revenue_revisions ENABLE TRIGGER revenue_revisions_no_truncate; COMMIT'))
      log(`round ${round}/${rounds}: importing through the API…`)
      const started = process.hrtime.bigint()
      const answer = await upload(file, port, size)
      api.push(Number(process.hrtime.bigint() - started) / 1e9)
      if (answer.status !== 200) throw new Error(`the import answered ${answer.status}: ${answer.body.slice(0, 500)}`)
      const result = JSON.parse(answer.body) as { loaded: number, created: number }
      if (result.created !== rows || result.loaded !== rows) throw new Error(`expected ${rows} loaded and created, got ${result.loaded} and ${result.created}`)
      log(`  ${api.at(-1)?.toFixed(2)} s; PostgreSQL's own \\copy of the same file into a bare table…`)
      await copyInto('copy_floor', '', floor)
      log('  and into a table like revenue_records…')
      await copyInto('copy_keyed', '(zone_code, district_code, category_code, year, month, amount)', keyed)
      log('  and into a table like revenue_revisions…')
      await copyInto('copy_history', '(zone_code, district_code, category_code, year, month, amount)', history)
    }
    const rssAfter = await memoryOf(pid, 'VmRSS')
    const rssPeak = await memoryOf(pid, 'VmHWM')

    const apiRate = rows / median(api)
    const floorRate = rows / median(floor)
    const keyedRate = rows / median(keyed)
    // The service stores each row twice, as the month's amount and as its first revision: both copies, round by round.
    const stored = keyed.map((s, i) => s + (history[i] ?? 0))
    const storedRate = rows / median(stored)
    log('')
    log(`${rows.toLocaleString('en')} rows (${(size / 1e6).toFixed(1)} MB), median of ${rounds} alternating rounds`)
    console.table([
      { path: 'POST /v1/revenues/import (validate, stage, merge revisions)', 'seconds per round': api.map((s) => s.toFixed(2)).join(' / '), 'rows/s (median)': Math.round(apiRate), 'of the floor': ratio(apiRate, floorRate) },
      { path: 'psql \\copy into a bare table (the floor)', 'seconds per round': floor.map((s) => s.toFixed(2)).join(' / '), 'rows/s (median)': Math.round(floorRate), 'of the floor': ratio(1, 1) },
      { path: 'psql \\copy into a table like revenue_records (for reference)', 'seconds per round': keyed.map((s) => s.toFixed(2)).join(' / '), 'rows/s (median)': Math.round(keyedRate), 'of the floor': ratio(keyedRate, floorRate) },
      { path: 'psql \\copy into tables like revenue_records and revenue_revisions, one after the other (what the service stores)', 'seconds per round': stored.map((s) => s.toFixed(2)).join(' / '), 'rows/s (median)': Math.round(storedRate), 'of the floor': ratio(storedRate, floorRate) },
    ])
    log(`API / \\copy: ${(apiRate / floorRate * 100).toFixed(1)}% of the floor's rate (target ≥ 25%); ` +
      `${(apiRate / keyedRate * 100).toFixed(1)}% of \\copy into a table like revenue_records; ${(apiRate / storedRate * 100).toFixed(1)}% of \\copy into tables like revenue_records and revenue_revisions`)
    log(`server RSS: ${rssBefore.toFixed(0)} MB before, peak ${rssPeak.toFixed(0)} MB (VmHWM), ${rssAfter.toFixed(0)} MB after; file ${(size / 1e6).toFixed(1)} MB`)
  } finally {
    if (server !== undefined) await stopServer(server)
    await rm(dir, { recursive: true, force: true })
    await withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
  }
}

await main()
