import { sql } from 'kysely'
import pg from 'pg'
import t, { type Test } from 'tap'
import { seedSettlementData } from '../../bench/seed.js'
import { CONNECT_TIMEOUT_MS } from '../../src/db/connect.js'
import type { Db } from '../../src/db/database.js'
import { migrate } from '../../src/db/migrate.js'
import { money } from '../../src/domain/money.js'
import { ALL } from '../../src/domain/principal.js'
import type { Context } from '../../src/services/context.js'
import { createRun } from '../../src/services/settlements.js'
import { onPostgres, postgresDatabase, testDatabase } from '../helpers.js'

// calculation-rules.md §9: a whole year's run reads the year's group sums in one pass, and its
// agreements a chunk at a time. On PostgreSQL those reads run on connections of the pool beside
// the run's own transaction, which stores the lines meanwhile; PGlite has one connection, so there
// they run in the run's transaction. Either way the run stores the same lines.

const contextOf = (db: Db, readsBesideWrites: boolean): Context => ({
  db, settings: { minZoneRate: money('0.60'), importLimit: 0, requireTwoAdmins: false },
  actor: { principal: { role: 'admin', keyId: 'test' }, scope: ALL, requestId: 'test' }, readsBesideWrites,
})

/** A run's lines and groups as stored, without the run's id. */
async function storedLines (db: Db, runId: number) {
  const { rows: lines } = await sql`SELECT agreement_id, kind, zone_code, district_code, revenue_total::text, zone_share::text, district_share::text,
      advances_paid::text, balance_due::text, follows_run_id, inputs::text
    FROM settlement_lines WHERE run_id = ${runId} ORDER BY agreement_id`.execute(db)
  const { rows: groups } = await sql`SELECT agreement_id, position, name, basis, base::text, actual::text, increment::text, shareable::text,
      zone_share::text, district_share::text, carried_shortfall_out::text, bands::text, result, input
    FROM settlement_groups WHERE run_id = ${runId} ORDER BY agreement_id, position`.execute(db)
  return { lines, groups }
}

t.test('a write may read beside its transaction on PostgreSQL\'s pool, never on PGlite\'s one connection', async (t) => {
  const database = await testDatabase(t)
  t.equal(database.readsBesideWrites, onPostgres)
})

/**
 * Which backend ran each statement: every statement of a pool goes through pg.Client#query, which
 * each client binds as it connects (src/db/connect.ts), so this is called before the pool opens.
 * `backends()` answers the backends that ran the run's insert of its header, the year's group sums
 * and a chunk's advances since it was last called.
 */
function recordBackends (t: Test) {
  const ran: Array<{ backend: number, text: string }> = []
  const query = pg.Client.prototype.query
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const [config] = args
    const text = typeof config === 'string' ? config : (config as { text?: unknown } | undefined)?.text
    ran.push({ backend: (this as pg.Client & { processID: number }).processID, text: typeof text === 'string' ? text : '' })
    return (query as (...a: unknown[]) => unknown).apply(this, args)
  } as typeof query
  t.teardown(() => { pg.Client.prototype.query = query })
  return () => {
    const of = (pattern: RegExp) => [...new Set(ran.filter((s) => pattern.test(s.text)).map((s) => s.backend))]
    const found = {
      run: of(/^insert into "settlement_runs"/), sums: of(/JOIN revenue_year_totals t[\s\S]*a\.effective_from <=/), chunk: of(/^select "agreement_id", sum\(amount\)::text as "total"/),
    }
    ran.length = 0
    return found
  }
}

if (onPostgres) {
  t.test('§9 on PostgreSQL a whole year\'s run reads the year\'s group sums and its agreements on other connections than its own, and stores the same lines as a run that reads them in its transaction', async (t) => {
    const backends = recordBackends(t)
    const database = await testDatabase(t)
    await database.withScriptSession((run) => seedSettlementData(run, 30))

    const inTransaction = await createRun(contextOf(database.db, false), { fiscalYear: 2021 })
    const one = backends()
    t.equal(one.run.length, 1, 'the run inserted its header once')
    t.same(one.sums, one.run, 'told it may not read beside its transaction, the run reads the year\'s sums in it')
    t.same(one.chunk, one.run, 'and its agreements')

    const beside = await createRun(contextOf(database.db, true), { fiscalYear: 2021 })
    const two = backends()
    t.equal(two.run.length, 1)
    t.equal(two.sums.length, 1, 'the year\'s sums are read once')
    t.not(two.sums[0], two.run[0], 'the year\'s sums are read on a connection beside the run\'s')
    t.equal(two.chunk.length, 1, 'one chunk of agreements, read once')
    t.not(two.chunk[0], two.run[0], 'the agreements are read on a connection beside the run\'s')

    t.equal(beside.lineCount, 30)
    t.same(beside.totals, inTransaction.totals)
    const [a, b] = [await storedLines(database.db, inTransaction.run.id), await storedLines(database.db, beside.run.id)]
    t.equal(b.lines.length, 30)
    t.ok(b.groups.length >= 30)
    t.same(b, a, 'every line and group is stored as the run in one transaction stores it: figures, inputs, results')
  })

  t.test('§9 with every other connection of the pool busy, the run reads the year\'s sums and its agreements on its own after the wait, and settles', async (t) => {
    const backends = recordBackends(t)
    const database = (await postgresDatabase(t)).open(2)
    await migrate(database)
    await database.withScriptSession((run) => seedSettlementData(run, 30))
    const expected = await createRun(contextOf(database.db, false), { fiscalYear: 2021 })
    backends()
    // The pool's other connection, held until the run has ended.
    let release = () => {}
    const held = new Promise<void>((resolve) => {
      database.db.connection().execute(() => new Promise<void>((done) => { release = done; resolve() })).catch(() => {})
    })
    await held
    const started = Date.now()
    const run = await createRun(contextOf(database.db, true), { fiscalYear: 2021 }).finally(() => release())
    const found = backends()
    t.ok(Date.now() - started >= CONNECT_TIMEOUT_MS, 'it waited for a connection as long as any caller does')
    t.equal(found.run.length, 1)
    t.same(found.sums, found.run, 'the year\'s sums are read on the run\'s own connection')
    t.same(found.chunk, found.run, 'and its agreements')
    t.equal(run.lineCount, 30)
    t.same(run.totals, expected.totals)
    t.same(await storedLines(database.db, run.run.id), await storedLines(database.db, expected.run.id))
  })
}
