import { createServer, connect, type Server, type Socket } from 'node:net'
import { once } from 'node:events'
import { sql } from 'kysely'
import pg from 'pg'
import t, { type Test } from 'tap'
import { type DatabaseHandle, openDatabase, type QueryTimeouts } from '../../src/db/connect.js'
import { migrate } from '../../src/db/migrate.js'
import { expectProblem, onPostgres, postgresDatabase, testApp } from '../helpers.js'
import { injector } from '../world.js'

/*
 * The database going away under the service, for real, in the PostgreSQL pass (the embedded
 * PGlite lives inside the process: it can be neither dropped nor frozen apart from it). Every
 * /v1 call answers 503 problem+json database-unavailable with Retry-After, never a 500 and never a
 * hang (api-contract.md, Errors; Public endpoints: /ready): a database dropped or renamed (3D000),
 * a statement past its time limit (57014), a database that stops answering on an open connection.
 * The classification of each error, in both passes, is test/http/database-unavailable.test.ts.
 */

/** A database of its own with a handle bounded by `timeouts`, closed before the database is dropped. */
async function boundedDatabase (t: Test, timeouts: QueryTimeouts, url?: (original: string) => string): Promise<{ handle: DatabaseHandle, url: string, name: string }> {
  const database = await postgresDatabase(t)
  await migrate(database.open(1))
  const target = url === undefined ? database.url : url(database.url)
  const handle = openDatabase({ kind: 'postgres', url: target, poolSize: 1, timeouts })
  t.teardown(() => handle.close())
  return { handle, url: database.url, name: new URL(database.url).pathname.slice(1) }
}

async function onServer (sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

const unavailable = (t: Test, response: { statusCode: number, headers: Record<string, unknown>, body: string }) => {
  const problem = expectProblem(t, response, 503)
  t.match(problem.type, /database-unavailable$/, 'database-unavailable')
  t.equal(response.headers['retry-after'], '5', 'Retry-After')
  return problem
}

if (onPostgres) {
  t.test('a database dropped under the service (3D000): 503 database-unavailable on every /v1 call and /ready, not 500', async (t) => {
    const { handle, name } = await boundedDatabase(t, { statementMs: 10_000, answerMs: 15_000 })
    const app = await testApp(t, handle)
    const injectAs = injector(app)
    t.equal((await injectAs('admin', { method: 'GET', url: '/v1/districts' })).statusCode, 200, 'before')
    await onServer(`DROP DATABASE ${name} WITH (FORCE)`)
    for (const request of [
      { method: 'GET' as const, url: '/v1/districts' },
      { method: 'GET' as const, url: '/v1/districts' },
      { method: 'POST' as const, url: '/v1/districts', payload: { code: '370214', name: '城阳区' } },
      { method: 'GET' as const, url: '/v1/debts/summary' },
      { method: 'GET' as const, url: '/v1/settlement-runs' },
    ]) {
      unavailable(t, await injectAs('admin', request))
    }
    const ready = await app.inject({ method: 'GET', url: '/ready' })
    t.equal(ready.statusCode, 503, '/ready: 503')
  })

  t.test('a database renamed under the service (3D000): 503, and back under its name, 200 again', async (t) => {
    const { handle, name } = await boundedDatabase(t, { statementMs: 10_000, answerMs: 15_000 })
    const app = await testApp(t, handle)
    const injectAs = injector(app)
    t.equal((await injectAs('admin', { method: 'GET', url: '/v1/districts' })).statusCode, 200, 'before')
    await onServer(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid()`)
    await onServer(`ALTER DATABASE ${name} RENAME TO ${name}_moved`)
    t.teardown(() => onServer(`DROP DATABASE IF EXISTS ${name}_moved WITH (FORCE)`))
    for (let i = 0; i < 3; i++) unavailable(t, await injectAs('admin', { method: 'GET', url: '/v1/districts' }))
    await onServer(`ALTER DATABASE ${name}_moved RENAME TO ${name}`)
    t.equal((await injectAs('admin', { method: 'GET', url: '/v1/districts' })).statusCode, 200, 'the same process recovers')
  })

  t.test('a statement past statement_timeout (57014): 503 database-unavailable, and the next request works', async (t) => {
    const { handle, url } = await boundedDatabase(t, { statementMs: 300, answerMs: 10_000 })
    const app = await testApp(t, handle)
    const injectAs = injector(app)
    t.equal((await injectAs('admin', { method: 'GET', url: '/v1/districts' })).statusCode, 200)
    // Another session holds the table: the read waits on its lock until the statement timeout.
    const locker = new pg.Client({ connectionString: url })
    await locker.connect()
    t.teardown(() => locker.end())
    await locker.query('BEGIN')
    await locker.query('LOCK TABLE districts IN ACCESS EXCLUSIVE MODE')
    const from = performance.now()
    const problem = unavailable(t, await injectAs('admin', { method: 'GET', url: '/v1/districts' }))
    const ms = performance.now() - from
    t.match(problem.detail, /did not answer in time/)
    t.ok(ms >= 250 && ms < 3000, `answered after the statement timeout, not later (${Math.round(ms)} ms)`)
    await locker.query('ROLLBACK')
    t.equal((await injectAs('admin', { method: 'GET', url: '/v1/districts' })).statusCode, 200, 'the lock gone, the same connection serves again')
  })

  t.test('a database that freezes with the connection open: the query is abandoned, the connection destroyed, 503 — then recovery', async (t) => {
    const proxy = await freezingProxy(t)
    const { handle } = await boundedDatabase(t, { statementMs: 0, answerMs: 800 }, (original) => {
      const via = new URL(original)
      via.host = `127.0.0.1:${proxy.port}`
      return via.toString()
    })
    const app = await testApp(t, handle)
    const injectAs = injector(app)
    t.equal((await injectAs('admin', { method: 'GET', url: '/v1/districts' })).statusCode, 200, 'before: the pool holds an open connection')

    proxy.freeze()
    let from = performance.now()
    const problem = unavailable(t, await injectAs('admin', { method: 'GET', url: '/v1/districts' }))
    let ms = performance.now() - from
    t.match(problem.detail, /did not answer in time/)
    t.ok(ms >= 750 && ms < 2500, `answered when the query bound ran out (${Math.round(ms)} ms), not never`)
    from = performance.now()
    unavailable(t, await injectAs('admin', { method: 'POST', url: '/v1/districts', payload: { code: '370214', name: '城阳区' } }))
    ms = performance.now() - from
    t.ok(ms >= 1900 && ms < 3500, `the abandoned connection was not lent again: a new one to the frozen database gives up within the 2 s connection wait (${Math.round(ms)} ms)`)

    proxy.thaw()
    const created = await injectAs('admin', { method: 'POST', url: '/v1/districts', payload: { code: '370214', name: '城阳区' } })
    t.equal(created.statusCode, 201, 'the database answers again: the same process recovers')
  })
}

interface FreezingProxy {
  port: number
  /** Stops every byte, both ways, on every connection, open or new, until thawed. */
  freeze: () => void
  thaw: () => void
}

/** A TCP proxy to DATABASE_URL's server that can stop passing bytes without closing anything: a frozen database. */
async function freezingProxy (t: Test): Promise<FreezingProxy> {
  const target = new URL(process.env.DATABASE_URL!)
  let frozen = false
  const pairs = new Set<[Socket, Socket]>()
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname)
    const pair: [Socket, Socket] = [client, upstream]
    pairs.add(pair)
    for (const socket of pair) {
      socket.on('error', () => {})
      socket.on('close', () => { pairs.delete(pair); client.destroy(); upstream.destroy() })
    }
    if (frozen) {
      client.pause()
      upstream.pause()
    } else {
      client.pipe(upstream)
      upstream.pipe(client)
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    for (const [a, b] of pairs) { a.destroy(); b.destroy() }
    server.close()
  })
  return {
    port: (server.address() as { port: number }).port,
    freeze () {
      frozen = true
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream)
        upstream.unpipe(client)
        client.pause()
        upstream.pause()
      }
    },
    thaw () { frozen = false },
  }
}

// The embedded PGlite runs inside the process: there is no connection to lose and no statement
// bound to set, which is why the drills above run in the PostgreSQL pass (README, Operations).
if (!onPostgres) {
  t.test('the embedded database has no statement bound: it lives and dies with the process', async (t) => {
    const handle = openDatabase({ kind: 'pglite' })
    t.teardown(() => handle.close())
    const { rows } = await sql<{ statement_timeout: string }>`show statement_timeout`.execute(handle.db)
    t.same(rows, [{ statement_timeout: '0' }])
  })
}
