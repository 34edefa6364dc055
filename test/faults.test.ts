import { execFile } from 'node:child_process'
import { chown, mkdtemp, readdir, rm } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { onPostgres, temporaryDirectory } from './helpers.js'
import { freePort, send, serverEnvironment, startServer } from './spawn.js'

/*
 * Fault drills (api-contract.md, Public endpoints: /ready; Errors: problem+json, never a hang). SIGTERM while requests are in flight, in both passes (on the embedded
 * PGlite, or on a database of the shared PostgreSQL). The SIGKILL drill during a settlement run
 * is in settlement-crash.test.ts.
 *
 * The database stops in the middle of traffic and comes back, in the PostgreSQL pass.
 * The shared PostgreSQL of the machine is never touched: the drill runs a private cluster of
 * its own (initdb into a temporary folder, its own port and socket folder), points a real
 * server process at it, drives real HTTP traffic and stops the cluster under it, first with
 * `pg_ctl stop -m fast` (backends told to terminate: 57P01), then with `-m immediate` (the
 * postmaster and its backends quit at once; the next start runs crash recovery).
 *
 * Registered in the PostgreSQL pass only: the embedded PGlite lives inside the server process
 * and cannot stop on its own.
 */

const run = promisify(execFile)
const TOKEN = 'fault-drill-token-0123456789abcdef'
/**
 * No answer during the outage may take longer than this. The pool waits at most 2 s for a
 * connection (CONNECT_TIMEOUT_MS in src/db/connect.ts) and /ready pings for at most 2 s; the
 * rest is slack for a loaded two-core machine. A stopped local cluster refuses connections at
 * once, so answers are expected in milliseconds.
 */
const OUTAGE_BOUND_MS = 3000
/** After the cluster accepts connections again, /ready must answer 200 within this. */
const RECOVERY_BOUND_MS = 3000

async function postgresBin (): Promise<string> {
  if (process.env.PG_BIN !== undefined) return process.env.PG_BIN
  const base = '/usr/lib/postgresql'
  const versions = (await readdir(base).catch(() => [] as string[])).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))
  if (versions[0] === undefined) throw new Error(`no PostgreSQL server binaries under ${base} (set PG_BIN to their folder)`)
  return join(base, versions[0], 'bin')
}

/** A throw-away PostgreSQL cluster: initdb'd on first start, removed at teardown. */
class PrivateCluster {
  private constructor (readonly bin: string, readonly dir: string, readonly port: number) {}

  get url (): string { return `postgres://postgres@127.0.0.1:${this.port}/postgres` }

  static async create (t: Test): Promise<PrivateCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'fault-drill-pg-'))
    const cluster = new PrivateCluster(await postgresBin(), dir, await freePort())
    t.teardown(async () => {
      await cluster.pgCtl('stop', '-m', 'immediate').catch(() => {})
      await rm(dir, { recursive: true, force: true })
    })
    // initdb refuses to run as root: as root, run the cluster as the postgres user.
    if (process.getuid?.() === 0) {
      const { stdout } = await run('id', ['-u', 'postgres'])
      const { stdout: gid } = await run('id', ['-g', 'postgres'])
      await chown(dir, Number(stdout.trim()), Number(gid.trim()))
    }
    await cluster.exec('initdb', ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '-N', '--no-instructions'])
    return cluster
  }

  private async exec (program: string, args: string[]) {
    const file = join(this.bin, program)
    return process.getuid?.() === 0 ? run('runuser', ['-u', 'postgres', '--', file, ...args]) : run(file, args)
  }

  pgCtl (...args: string[]) {
    return this.exec('pg_ctl', ['-D', join(this.dir, 'data'), '-w', '-t', '30', ...args])
  }

  start () {
    return this.pgCtl('start', '-l', join(this.dir, 'log'), '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1`)
  }

  stop (mode: 'fast' | 'immediate') {
    return this.pgCtl('stop', '-m', mode)
  }
}

interface Outcome {
  name: string
  startedAt: number
  ms: number
  /** 0 when the HTTP exchange itself failed (connection refused, reset, timed out). */
  status: number
  contentType: string
  retryAfter: string | null
  type?: string
  error?: string
}

/** One request with a hard client-side limit, so a hung request is a failure, not a hung test. */
async function call (port: number, name: string, method: string, path: string, body?: unknown): Promise<Outcome> {
  const startedAt = performance.now()
  const answer = await send(port, TOKEN, method, path, { body, timeoutMs: 15_000 })
  const ms = performance.now() - startedAt
  const failed = (error: string | undefined): Outcome => ({ name, startedAt, ms, status: 0, contentType: '', retryAfter: null, error })
  if (answer.status === 0) return failed(answer.error)
  const contentType = answer.headers['content-type'] ?? ''
  let type: string | undefined
  try {
    if (contentType.startsWith('application/problem+json')) type = (JSON.parse(answer.body) as { type: string }).type
  } catch (error) {
    return failed(String(error))
  }
  return { name, startedAt, ms, status: answer.status, contentType, retryAfter: answer.headers['retry-after'] ?? null, ...(type === undefined ? {} : { type }) }
}

/** Workers sending a mix of readiness checks, reads and writes, one request at a time each. */
function traffic (port: number, workers = 4) {
  const outcomes: Outcome[] = []
  let running = true
  let month = 0
  const loops = Array.from({ length: workers }, async (_, worker) => {
    for (let i = 0; running; i++) {
      const kind = (i + worker) % 3
      const outcome = kind === 0
        ? await call(port, 'ready', 'GET', '/ready')
        : kind === 1
          ? await call(port, 'read', 'GET', '/v1/revenues?zoneCode=QD-HT&year=2021')
          : await call(port, 'write', 'POST', '/v1/revenues', { records: [{ zoneCode: 'QD-HT', category: '10101', year: 2021, month: (month++ % 12) + 1, amount: `${100 + i}.00` }] })
      outcomes.push(outcome)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  })
  return {
    outcomes,
    since: (at: number) => outcomes.filter((o) => o.startedAt >= at),
    async stop () { running = false; await Promise.all(loops) },
  }
}

const isOk = (o: Outcome) => o.status >= 200 && o.status < 300
const isUnavailable = (o: Outcome) => o.status === 503 && o.contentType.startsWith('application/problem+json') && o.retryAfter !== null &&
  /database-unavailable$/.test(o.type ?? '')
const describe = (list: Outcome[]) => list.slice(0, 5).map((o) => `${o.name} ${o.status} ${o.type ?? o.error ?? ''} ${Math.round(o.ms)} ms`)

async function waitFor (what: string, condition: () => Promise<boolean>, limitMs: number): Promise<number> {
  const from = performance.now()
  while (performance.now() - from < limitMs) {
    if (await condition()) return performance.now() - from
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`${what}: not within ${limitMs} ms`)
}

if (onPostgres) {
  t.test('the database stops mid-traffic: 503 problem+json at once; it comes back: the same process recovers', async (t) => {
    const setupFrom = performance.now()
    const cluster = await PrivateCluster.create(t)
    await cluster.start()
    t.comment(`private cluster: initdb and start in ${Math.round(performance.now() - setupFrom)} ms`)
    const dataDir = await temporaryDirectory(t, 'fault-drill-data-')
    const server = await startServer({ DATABASE_URL: cluster.url, DATA_DIR: dataDir, ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'warn', RATE_LIMIT: '10000000' }) // the drill's traffic is far over a token's budget
    t.teardown(() => { server.child.kill('SIGKILL') })
    const port = server.port
    const alive = () => {
      if (server.child.exitCode !== null) throw new Error(`the server exited (${server.child.exitCode}):\n${server.output().slice(-3000)}`)
    }
    for (const [path, body] of [['/v1/districts', { code: '370214', name: '城阳区' }], ['/v1/zones', { code: 'QD-HT', name: '青岛高新区', hostDistrictCode: '370214' }]] as const) {
      t.equal((await call(port, 'setup', 'POST', path, body)).status, 201, `set up ${path}`)
    }

    for (const mode of ['fast', 'immediate'] as const) {
      await t.test(`pg_ctl stop -m ${mode}`, async (t) => {
        const load = traffic(port)
        t.teardown(() => load.stop())
        await new Promise((resolve) => setTimeout(resolve, 500))
        const healthy = [...load.outcomes]
        t.ok(healthy.length > 0 && healthy.every(isOk), `before the outage every answer is 2xx (${healthy.length} requests)`, { failures: describe(healthy.filter((o) => !isOk(o))) })

        const stopFrom = performance.now()
        await cluster.stop(mode)
        const stopped = performance.now()
        const firstUnavailable = await waitFor('/ready answers 503', async () => { alive(); return (await call(port, 'probe', 'GET', '/ready')).status === 503 }, OUTAGE_BOUND_MS)
        await new Promise((resolve) => setTimeout(resolve, 1500))
        const outage = load.since(stopped)
        const ready = await call(port, 'probe', 'GET', '/ready')
        t.ok(isUnavailable(ready), '/ready: 503 problem+json database-unavailable with Retry-After', { ready })

        const restartFrom = performance.now()
        await cluster.start()
        const started = performance.now()
        const recovery = await waitFor('/ready answers 200 again', async () => { alive(); return (await call(port, 'probe', 'GET', '/ready')).status === 200 }, RECOVERY_BOUND_MS)
        const recovered = performance.now()
        await new Promise((resolve) => setTimeout(resolve, 500))
        await load.stop()

        const all = load.outcomes
        const spanning = all.filter((o) => o.startedAt >= stopFrom && o.startedAt < stopped)
        const afterRecovery = load.since(recovered)
        t.comment(`-m ${mode}: stop took ${Math.round(stopped - stopFrom)} ms, /ready 503 ${Math.round(firstUnavailable)} ms after it; ` +
          `${outage.length} requests during the outage, slowest ${Math.round(Math.max(...outage.map((o) => o.ms)))} ms; ` +
          `start took ${Math.round(started - restartFrom)} ms, /ready 200 ${Math.round(recovery)} ms after it`)

        t.ok(outage.length >= 20, `real traffic during the outage (${outage.length} requests)`)
        t.same(new Set(outage.map((o) => o.name)), new Set(['ready', 'read', 'write']), 'readiness checks, reads and writes all ran into it')
        const wrong = outage.filter((o) => o.startedAt < restartFrom && !isUnavailable(o))
        t.same(describe(wrong), [], 'every request of the outage: 503 problem+json database-unavailable with Retry-After')
        const bad = all.filter((o) => !isOk(o) && !isUnavailable(o))
        t.same(describe(bad), [], 'no answer at all is anything but 2xx or that 503: no 500, no refused or dropped connection, no hang')
        t.same(describe(spanning.filter((o) => !isOk(o) && !isUnavailable(o))), [], 'requests under way while the cluster stopped: 2xx or 503')
        const slow = all.filter((o) => o.ms >= OUTAGE_BOUND_MS)
        t.same(describe(slow), [], `no request took ${OUTAGE_BOUND_MS} ms or longer`)
        t.ok(afterRecovery.length > 0 && afterRecovery.every(isOk), `after recovery every answer is 2xx again (${afterRecovery.length} requests)`, { failures: describe(afterRecovery.filter((o) => !isOk(o))) })

        t.equal(server.child.exitCode, null, 'the process stayed up')
        const write = await call(port, 'check', 'POST', '/v1/revenues', { records: [{ zoneCode: 'QD-HT', category: '10104', year: 2022, month: 12, amount: mode === 'fast' ? '1.00' : '2.00' }] })
        t.equal(write.status, 200, 'a write succeeds on the same process')
        const read = await send(port, TOKEN, 'GET', '/v1/revenues?zoneCode=QD-HT&year=2022&category=10104')
        t.equal(read.status, 200, 'and so does a read')
        t.equal((JSON.parse(read.body) as { items: Array<{ amount: string }> }).items[0]?.amount, mode === 'fast' ? '1.00' : '2.00', 'which sees the write')
      })
    }
    t.notMatch(server.output(), /unexpected error/, 'no error was logged as unexpected')
    server.child.kill('SIGTERM')
    t.equal(await server.exited, 0, 'and it still shuts down cleanly')
  })
}

/** One HTTP/1.1 answer read off a raw socket. */
interface RawResponse { status: number, headers: Record<string, string>, body: string }

/**
 * A client connection that writes bytes exactly when told and parses the answers that come back,
 * so the drill decides which requests share a keep-alive connection and when each one is sent.
 */
class RawConnection {
  readonly socket: Socket
  readonly responses: RawResponse[] = []
  private buffer = ''
  closed = false
  error: string | undefined
  readonly connected: Promise<boolean>

  constructor (port: number) {
    this.socket = connect(port, '127.0.0.1')
    this.connected = new Promise((resolve) => {
      this.socket.once('connect', () => resolve(true))
      this.socket.once('error', () => resolve(false))
    })
    this.socket.on('data', (chunk: Buffer) => { this.buffer += chunk.toString('latin1'); this.parse() })
    this.socket.on('error', (error: NodeJS.ErrnoException) => { this.error = error.code ?? error.message })
    this.socket.on('close', () => { this.closed = true })
  }

  write (text: string) { this.socket.write(Buffer.from(text, 'utf8')) }

  private parse () {
    for (;;) {
      const end = this.buffer.indexOf('\r\n\r\n')
      if (end < 0) return
      const [statusLine, ...lines] = this.buffer.slice(0, end).split('\r\n')
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]))
      const length = Number(headers['content-length'] ?? 0)
      if (this.buffer.length < end + 4 + length) return
      const body = Buffer.from(this.buffer.slice(end + 4, end + 4 + length), 'latin1').toString('utf8')
      this.buffer = this.buffer.slice(end + 4 + length)
      this.responses.push({ status: Number(statusLine!.split(' ')[1]), headers, body })
    }
  }

  async waitFor (count: number, limitMs = 10_000): Promise<RawResponse[]> {
    await waitFor(`${count} answers on a connection`, async () => this.responses.length >= count || this.closed, limitMs)
    return this.responses
  }
}

const SHUTDOWN_TOKEN = 'shutdown-drill-token-0123456789'

function rawRequest (method: string, path: string, body?: string, extra: Record<string, string> = {}): { head: string, body: string } {
  const lines = [`${method} ${path} HTTP/1.1`, 'host: 127.0.0.1', `authorization: Bearer ${SHUTDOWN_TOKEN}`,
    ...(body === undefined ? [] : ['content-type: application/json', `content-length: ${Buffer.byteLength(body)}`]),
    ...Object.entries(extra).map(([k, v]) => `${k}: ${v}`)]
  return { head: `${lines.join('\r\n')}\r\n\r\n`, body: body ?? '' }
}

t.test('SIGTERM during requests: those in flight complete, later ones get 503 or a refused connection, exit 0', async (t) => {
  const server = await startServer({ ...await serverEnvironment(t, 'shutdown-drill-'), ADMIN_TOKEN: SHUTDOWN_TOKEN })
  t.teardown(() => { server.child.kill('SIGKILL') })

  // An idle keep-alive connection: one request answered before the signal.
  const idle = new RawConnection(server.port)
  idle.write(rawRequest('GET', '/health').head)
  t.equal((await idle.waitFor(1))[0]?.status, 200, 'the idle connection answered once')
  t.equal(idle.responses[0]?.headers.connection, 'keep-alive', 'and stays open')

  // Two requests in flight when the signal comes (half their body sent): a database write and
  // a calculation, each on a keep-alive connection of its own.
  const write = new RawConnection(server.port)
  const district = rawRequest('POST', '/v1/districts', JSON.stringify({ code: '370214', name: '城阳区' }))
  write.write(district.head + district.body.slice(0, 10))
  const calc = new RawConnection(server.port)
  const calculation = rawRequest('POST', '/v1/calculations', JSON.stringify({ fiscalYear: 2021, groups: [{ name: 'fees', basis: 'total', actual: '100.00', rates: [{ rate: '0.60' }] }] }))
  calc.write(calculation.head + calculation.body.slice(0, 10))
  await new Promise((resolve) => setTimeout(resolve, 300))

  server.child.kill('SIGTERM')
  await waitFor('the shutdown log line', async () => /shutting down: finishing requests in flight/.test(server.output()), 5000)

  // The listener is closed at once: a new connection is refused.
  const late = new RawConnection(server.port)
  t.equal(await late.connected, false, 'a new connection is refused')
  t.equal(late.error, 'ECONNREFUSED')
  // The idle keep-alive connection is closed by the server.
  await waitFor('the idle connection closes', async () => idle.closed, 2000)
  t.ok(idle.closed, 'the idle keep-alive connection was closed by the server')
  t.equal(server.child.exitCode, null, 'still running while requests are in flight')

  // The write completes; a request pipelined right behind it on the same connection gets 503.
  const pipelined = rawRequest('GET', '/v1/districts')
  write.write(district.body.slice(10) + pipelined.head)
  const [created, refused] = await write.waitFor(2)
  t.equal(created?.status, 201, 'the write in flight completed')
  t.equal(JSON.parse(created?.body ?? '{}').code, '370214')
  t.equal(refused?.status, 503, 'the request pipelined behind it: 503')
  t.match(refused?.headers['content-type'], /^application\/problem\+json/, 'problem+json')
  t.match(JSON.parse(refused?.body ?? '{}'), { status: 503, type: /shutting-down$/ })
  t.equal(refused?.headers.connection, 'close', 'with Connection: close')
  t.ok(refused?.headers['retry-after'], 'and Retry-After')
  t.equal(refused?.headers['x-content-type-options'], 'nosniff', 'and the security headers every answer carries (it had none; found by a probe)')
  t.ok(refused?.headers['content-security-policy'])
  t.equal(refused?.headers['access-control-allow-origin'], '*', 'and CORS')

  // The calculation completes; a request sent on its connection after the answer gets 503 too.
  calc.write(calculation.body.slice(10))
  const [calculated] = await calc.waitFor(1)
  t.equal(calculated?.status, 200, 'the calculation in flight completed')
  t.equal(JSON.parse(calculated?.body ?? '{}').zoneShare, '60.00')
  t.equal(calculated?.headers.connection, 'keep-alive', 'its answer (started before the signal) still offers keep-alive')
  calc.write(rawRequest('GET', '/health').head)
  const [, after] = await calc.waitFor(2)
  t.equal(after?.status, 503, 'the next request on that connection: 503')
  t.match(after?.headers['content-type'], /^application\/problem\+json/)
  t.equal(after?.headers.connection, 'close')

  t.equal(await server.exited, 0, 'exit code 0')
  t.ok(write.closed && calc.closed, 'every connection closed')
  t.notMatch(server.output(), /unexpected error|"level":50/, 'nothing logged as an error')
})
