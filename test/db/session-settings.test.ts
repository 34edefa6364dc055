import { sql } from 'kysely'
import pg from 'pg'
import t from 'tap'
import { openDatabase } from '../../src/db/connect.js'
import { migrate } from '../../src/db/migrate.js'
import { loadDemoData } from '../../src/demo.js'
import { onPostgres, postgresDatabase, testApp, testDatabase } from '../helpers.js'
import { injector } from '../world.js'

/*
 * The service reads dates and times in PostgreSQL's ISO style whatever the database, role or URL
 * sets as its DateStyle or TimeZone (PostgreSQL pass: the embedded database is the service's own).
 * Before, a database set to DateStyle 'SQL, DMY' answered 500 on runs, debts and advances, reads
 * and writes alike, while /ready said 200 (found by the dates probe).
 */

if (onPostgres) {
  t.test('a database whose DateStyle is SQL, DMY and TimeZone Pacific/Kiritimati answers what one in ISO style does, reads and writes', async (t) => {
    const database = await postgresDatabase(t)
    const plain = database.open(2)
    await migrate(plain)
    await loadDemoData(plain.db)
    const paths = ['/v1/settlement-runs/1', '/v1/settlement-runs/1/verification', '/v1/settlement-runs/1/lines', '/v1/debts', '/v1/debts/1', '/v1/debts/summary?asOf=2023-12-31', '/v1/advances', '/v1/agreements/1/history']
    // What the server's defaults (ISO, and the server's time zone) answer, before the database is set otherwise.
    const iso = injector(await testApp(t, plain))
    const expected = new Map<string, string>()
    for (const path of paths) expected.set(path, (await iso('admin', { method: 'GET', url: path })).body)
    const name = new URL(database.url).pathname.slice(1)
    const admin = new pg.Client({ connectionString: database.url })
    await admin.connect()
    await admin.query(`ALTER DATABASE ${name} SET datestyle TO 'SQL, DMY'`)
    await admin.query(`ALTER DATABASE ${name} SET timezone TO 'Pacific/Kiritimati'`)
    const { rows } = await admin.query<{ day: string }>("SELECT '2021-12-31'::date::text AS day")
    t.equal(rows[0]?.day, '2021-12-31', 'this session began before the change')
    await admin.end()
    const url = new URL(database.url)
    url.searchParams.set('options', '-c DateStyle=German')
    const odd = openDatabase({ kind: 'postgres', url: url.toString(), poolSize: 2 })
    t.teardown(() => odd.close())
    const other = injector(await testApp(t, odd))
    for (const path of paths) {
      const answered = await other('admin', { method: 'GET', url: path })
      t.equal(answered.statusCode, 200, path)
      t.equal(answered.body, expected.get(path), `${path}: the same answer as under the server's defaults`)
    }
    const repayment = await other('admin', { method: 'POST', url: '/v1/debts/1/repayments', payload: { paidOn: '2025-06-30', principal: '1.00', interest: '0.00' } })
    t.equal(repayment.statusCode, 201, repayment.body)
    t.match(JSON.parse(repayment.body), { kind: 'repayment', occurredOn: '2025-06-30', principal: '1.00' })
    t.match(JSON.parse((await other('admin', { method: 'GET', url: '/v1/debts/1?asOf=2025-06-30' })).body), { asOf: '2025-06-30' }, 'and it reads back as of its day')
  })
} else {
  t.test('the embedded database reads dates in ISO style: its settings are the service\'s own', async (t) => {
    const database = await testDatabase(t)
    const { rows } = await sql<{ style: string, day: string }>`SELECT current_setting('DateStyle') AS style, '2021-12-31'::date::text AS day`.execute(database.db)
    t.same(rows, [{ style: 'ISO, MDY', day: '2021-12-31' }])
  })
}
