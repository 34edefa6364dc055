import { sql } from 'kysely'
import t from 'tap'
import { seedSettlementData } from '../../bench/seed.js'
import { money } from '../../src/domain/money.js'
import { ALL } from '../../src/domain/principal.js'
import { createRun } from '../../src/services/settlements.js'
import type { Db } from '../../src/db/database.js'
import { migrate } from '../../src/db/migrate.js'
import { onPostgres, postgresDatabase, sessionsWaitingOnLock, testDatabase } from '../helpers.js'

// calculation-rules.md §9: the settlement ledger's references (a line's run, agreement and the line
// it follows; a group's line) are kept by sql/011 a statement at a time instead of by foreign keys
// a row at a time. Every way a reference could dangle is refused with SQLSTATE 23503, as the
// foreign keys refused it; nothing else changes.

type Handle = Awaited<ReturnType<typeof testDatabase>>

/** Three agreements, and a draft run of 2021 with their lines and groups. */
async function withDraftRun (database: Handle): Promise<number> {
  await database.withScriptSession((run) => seedSettlementData(run, 3))
  const { run } = await createRun({
    db: database.db, settings: { minZoneRate: money('0.60'), importLimit: 0, requireTwoAdmins: false },
    actor: { principal: { role: 'admin', keyId: 'test' }, scope: ALL, requestId: 'test' },
  }, { fiscalYear: 2021 })
  return run.id
}

const codeOf = (error: unknown) => (error as { code?: string } | undefined)?.code
const LINE_COLUMNS = sql`(run_id, agreement_id, fiscal_year, kind, zone_code, district_code, revenue_total, zone_share, district_share, advances_paid, balance_due)`
const lineOf = (runId: number, agreementId: number) =>
  sql`(${runId}, ${agreementId}, 2021, 'annual', 'Z000001', '110102', 0, 0, 0, 0, 0)`
const groupOf = (runId: number, agreementId: number) =>
  sql`(${runId}, ${agreementId}, 9, 'fees', 'total', 0, 0, 0, '[]', '{}')`
const GROUP_COLUMNS = sql`(run_id, agreement_id, position, name, basis, actual, zone_share, district_share, bands, result)`
/** A new draft run of 2021 inserted by hand; its id. */
const draftRun = async (db: Db) => (await sql<{ id: number }>`INSERT INTO settlement_runs (fiscal_year, status, minimum_rate, created_by) VALUES (2021, 'draft', 0.6, 'test') RETURNING id`.execute(db)).rows[0]!.id

t.test('§9 a line or group that would refer to nothing is refused whole, SQLSTATE 23503, naming what is missing', async (t) => {
  const database = await testDatabase(t)
  const db = database.db
  const runId = await withDraftRun(database)
  const counts = async () => (await sql<{ lines: number, groups: number }>`SELECT (SELECT count(*) FROM settlement_lines)::int AS lines, (SELECT count(*) FROM settlement_groups)::int AS groups`.execute(db)).rows[0]
  const before = await counts()
  t.same(before, { lines: 3, groups: 6 })
  const refused = async (what: string, query: ReturnType<typeof sql>, names: RegExp) => {
    const error = await query.execute(db).then(() => undefined, (e: unknown) => e)
    t.equal(codeOf(error), '23503', `${what}: SQLSTATE 23503`)
    t.match((error as Error | undefined)?.message, names, `${what}: says what is missing`)
  }
  const other = await draftRun(db)
  await refused('a line of a run that does not exist', sql`INSERT INTO settlement_lines ${LINE_COLUMNS} VALUES ${lineOf(other, 1)}, ${lineOf(999999, 2)}`, /settlement run 999999/)
  await refused('a line of an agreement that does not exist', sql`INSERT INTO settlement_lines ${LINE_COLUMNS} VALUES ${lineOf(other, 1)}, ${lineOf(other, 424242)}`, /agreement 424242/)
  await refused('a line following a line that does not exist',
    sql`INSERT INTO settlement_lines (run_id, agreement_id, fiscal_year, kind, zone_code, district_code, revenue_total, zone_share, district_share, advances_paid, balance_due, follows_run_id, previous_zone_share, adjustment, balance_adjustment)
      VALUES (${other}, 1, 2021, 'supplementary', 'Z000001', '110102', 0, 0, 0, 0, 0, 777777, 0, 0, 0)`, /the line of agreement 1 in run 777777/)
  await refused('a group of a line that does not exist', sql`INSERT INTO settlement_groups ${GROUP_COLUMNS} VALUES ${groupOf(runId, 1)}, ${groupOf(other, 2)}`, new RegExp(`the line of agreement 2 in run ${other}`))
  t.same(await counts(), before, 'nothing of a refused statement stays, not even its good rows')

  // Rows whose references exist go in as before.
  await sql`INSERT INTO settlement_lines ${LINE_COLUMNS} VALUES ${lineOf(other, 1)}`.execute(db)
  await sql`INSERT INTO settlement_groups ${GROUP_COLUMNS} VALUES ${groupOf(other, 1)}`.execute(db)
  t.same(await counts(), { lines: 4, groups: 7 })
})

t.test('§9 what lines and groups refer to cannot be removed or renumbered, nor a reference changed; the rest can', async (t) => {
  const database = await testDatabase(t)
  const db = database.db
  const runId = await withDraftRun(database)
  const refused = async (what: string, query: ReturnType<typeof sql>, says: RegExp) => {
    const error = await query.execute(db).then(() => undefined, (e: unknown) => e)
    t.equal(codeOf(error), '23503', what)
    t.match((error as Error | undefined)?.message, says, `${what}: refused by sql/011, not by another table's key`)
  }
  await refused('a draft run with lines', sql`DELETE FROM settlement_runs WHERE id = ${runId}`, /settlement lines refer to settlement_runs/)
  await refused('an agreement with lines', sql`DELETE FROM agreements WHERE id = 2`, /settlement lines refer to agreements 2/)
  await refused('a line its groups refer to', sql`DELETE FROM settlement_lines WHERE run_id = ${runId} AND agreement_id = 2`, /refer to a settlement line deleted/)
  await refused('a group moved to another line', sql`UPDATE settlement_groups SET agreement_id = 3 WHERE run_id = ${runId} AND agreement_id = 2 AND position = 1`, /the line of a settlement group cannot be changed/)
  await refused('a line moved to another agreement', sql`UPDATE settlement_lines SET agreement_id = 4242 WHERE run_id = ${runId} AND agreement_id = 2`, /cannot be changed/)
  await refused('a line made to follow another', sql`UPDATE settlement_lines SET follows_run_id = ${runId} WHERE run_id = ${runId} AND agreement_id = 2`, /cannot be changed/)
  await refused('the agreements truncated, with all that hangs on them', sql`TRUNCATE agreements CASCADE`, /settlement lines refer to agreements: they cannot be truncated/)
  t.equal((await sql<{ n: number }>`SELECT count(*)::int AS n FROM settlement_lines WHERE run_id = ${runId}`.execute(db)).rows[0]?.n, 3, 'every line still there')

  // A draft's figures and its own rows, top down, still go (nothing refers to them any more).
  await sql`UPDATE settlement_lines SET zone_share = zone_share WHERE run_id = ${runId}`.execute(db)
  await sql`UPDATE agreements SET document_no = document_no || ' (rev.)' WHERE id = 2`.execute(db)
  await sql`DELETE FROM settlement_groups WHERE run_id = ${runId}`.execute(db)
  await sql`DELETE FROM settlement_lines WHERE run_id = ${runId}`.execute(db)
  await sql`DELETE FROM settlement_runs WHERE id = ${runId}`.execute(db)
  t.equal((await sql<{ n: number }>`SELECT count(*)::int AS n FROM settlement_runs`.execute(db)).rows[0]?.n, 0, 'the draft is gone, top down')
})

t.test('api-contract.md, Settlement runs: a finalized run takes no new line or group by hand (sql/014), as it takes no change; a draft still does', async (t) => {
  const database = await testDatabase(t)
  const db = database.db
  const runId = await withDraftRun(database)
  await sql`DELETE FROM settlement_groups WHERE run_id = ${runId} AND agreement_id = 2 AND position = 1`.execute(db)
  await sql`DELETE FROM settlement_groups WHERE run_id = ${runId} AND agreement_id = 3`.execute(db)
  await sql`DELETE FROM settlement_lines WHERE run_id = ${runId} AND agreement_id = 3`.execute(db)
  await sql`UPDATE settlement_runs SET status = 'finalized', finalized_at = now(), digest = repeat('0', 64) WHERE id = ${runId}`.execute(db)
  const counts = async () => (await sql<{ lines: number, groups: number }>`SELECT (SELECT count(*) FROM settlement_lines)::int AS lines, (SELECT count(*) FROM settlement_groups)::int AS groups`.execute(db)).rows[0]
  const before = await counts()
  const refused = async (what: string, query: ReturnType<typeof sql>) => {
    const error = await query.execute(db).then(() => undefined, (e: unknown) => e)
    t.equal(codeOf(error), 'P0001', `${what}: refused as a change of the finalized run is`)
    t.match((error as Error | undefined)?.message, new RegExp(`settlement run ${runId} is finalized: rows cannot be added to it`), what)
  }
  await refused('a third group under a signed line', sql`INSERT INTO settlement_groups ${GROUP_COLUMNS} VALUES ${groupOf(runId, 1)}`)
  await refused('a group put back where one was', sql`INSERT INTO settlement_groups (run_id, agreement_id, position, name, basis, actual, zone_share, district_share, bands, result)
    VALUES (${runId}, 2, 1, 'fees', 'total', 0, 0, 0, '[]', '{}')`)
  await refused('a line of another agreement', sql`INSERT INTO settlement_lines ${LINE_COLUMNS} VALUES ${lineOf(runId, 3)}`)
  t.same(await counts(), before, 'nothing added')

  const draft = await draftRun(db)
  await sql`INSERT INTO settlement_lines ${LINE_COLUMNS} VALUES ${lineOf(draft, 3)}`.execute(db)
  await sql`INSERT INTO settlement_groups ${GROUP_COLUMNS} VALUES ${groupOf(draft, 3)}`.execute(db)
  t.same(await counts(), { lines: before!.lines + 1, groups: before!.groups + 1 }, 'a draft run takes its rows as before')
})

/** AGREEMENTS agreements on a new database, its ledger analyzed while empty; answers the database and the first agreement's id. */
const AGREEMENTS = 400
async function manyAgreements (t: Parameters<typeof testDatabase>[0]) {
  const { db } = await testDatabase(t)
  await sql`INSERT INTO districts (code, name) VALUES ('110102', 'district')`.execute(db)
  await sql`INSERT INTO zones (code, name, host_district_code) SELECT 'Z' || lpad(i::text, 6, '0'), 'zone ' || i, '110102' FROM generate_series(1, ${AGREEMENTS}) i`.execute(db)
  await sql`INSERT INTO agreements (zone_code, district_code, document_no, base_year, effective_from)
    SELECT 'Z' || lpad(i::text, 6, '0'), '110102', 'doc-' || i, 2019, 2020 FROM generate_series(1, ${AGREEMENTS}) i`.execute(db)
  await sql`ANALYZE`.execute(db)
  const { rows: [lowest] } = await sql<{ id: number }>`SELECT min(id)::int AS id FROM agreements`.execute(db)
  return { db, first: lowest!.id }
}

/** Annual lines of `runId` for the agreements `which` selects. */
const annualLines = (runId: number, which: ReturnType<typeof sql>) =>
  sql`INSERT INTO settlement_lines ${LINE_COLUMNS} SELECT ${runId}, id, 2021, 'annual', zone_code, district_code, 0, 0, 0, 0, 0 FROM agreements WHERE ${which}`

/**
 * What `statement` read of settlement_lines in the transaction `tx`: rows and index entries by any
 * path, and blocks of the index in statement order (a walk of a run's lines there returns one entry a probe).
 */
async function ledgerReads (tx: Db, statement: ReturnType<typeof sql>) {
  const read = async () => (await sql<{ rows: number, orderBlocks: number }>`SELECT (pg_stat_get_xact_tuples_returned('settlement_lines'::regclass)
    + pg_stat_get_xact_tuples_returned('settlement_lines_pkey'::regclass) + pg_stat_get_xact_tuples_returned('settlement_lines_run_order_idx'::regclass))::int AS rows,
    pg_stat_get_xact_blocks_fetched('settlement_lines_run_order_idx'::regclass)::int AS "orderBlocks"`.execute(tx)).rows[0]!
  const before = await read()
  await statement.execute(tx)
  const after = await read()
  return { rowsRead: after.rows - before.rows, orderBlocks: after.orderBlocks - before.orderBlocks }
}

t.test('§9 the check of a run\'s new groups reads each line of the ledger a few times at most, however few lines it held when the session first checked one (sql/018: before, the check kept the plan it made then, a scan of the ledger for each group: 160,798 rows read for 798 groups on PostgreSQL 15)', async (t) => {
  const { db, first } = await manyAgreements(t)
  await db.transaction().execute(async (tx) => {
    const runId = await draftRun(tx)
    // The session's first check, with one line in the ledger (a run of one chosen agreement).
    await annualLines(runId, sql`id = ${first}`).execute(tx)
    await sql`INSERT INTO settlement_groups ${GROUP_COLUMNS} VALUES ${groupOf(runId, first)}`.execute(tx)
    await annualLines(runId, sql`id <> ${first}`).execute(tx)
    const { rows: lines } = await sql<{ agreement_id: number }>`SELECT agreement_id FROM settlement_lines WHERE run_id = ${runId} AND agreement_id <> ${first}`.execute(tx)
    // Given as values, so that the statement reads the ledger only to check them.
    const values = lines.flatMap((l) => [0, 1].map((p) => sql`(${runId}, ${l.agreement_id}, ${p}, ${`group ${p}`}, 'total', 0, 0, 0, '[]', '{}')`))
    const { rowsRead, orderBlocks } = await ledgerReads(tx, sql`INSERT INTO settlement_groups ${GROUP_COLUMNS} VALUES ${sql.join(values)}`)
    const groups = 2 * (AGREEMENTS - 1)
    t.equal(values.length, groups)
    t.ok(rowsRead > 0 && rowsRead <= 5 * groups, `${groups} groups checked with ${rowsRead} rows and entries of the ledger read (at most ${5 * groups})`)
    t.ok(orderBlocks < groups / 2, `and ${orderBlocks} blocks of the index in statement order (a walk for each group would read at least ${groups})`)
    t.equal((await sql<{ n: number }>`SELECT count(*)::int AS n FROM settlement_groups WHERE run_id = ${runId}`.execute(tx)).rows[0]?.n, groups + 1, 'and stored')
  })
})

t.test('§9 the check of a supplementary run\'s new lines reads each line they follow a few times at most, however few lines the ledger held when the session first checked one (sql/018: before, 81,398 rows read for 399 lines on PostgreSQL 15)', async (t) => {
  const { db, first } = await manyAgreements(t)
  await db.transaction().execute(async (tx) => {
    const [annual, supplementary] = [await draftRun(tx), await draftRun(tx)]
    const following = (agreementIds: readonly number[]) => sql`INSERT INTO settlement_lines
      (run_id, agreement_id, fiscal_year, kind, zone_code, district_code, revenue_total, zone_share, district_share, advances_paid, balance_due, follows_run_id, previous_zone_share, adjustment, balance_adjustment)
      SELECT ${supplementary}, id, 2021, 'supplementary', zone_code, district_code, 0, 0, 0, 0, 0, ${annual}, 0, 0, 0 FROM agreements WHERE id = ANY(${[...agreementIds]}::integer[])`
    // The session's first check of a followed line, with two lines in the ledger.
    await annualLines(annual, sql`id = ${first}`).execute(tx)
    await following([first]).execute(tx)
    await annualLines(annual, sql`id <> ${first}`).execute(tx)
    const rest = (await sql<{ id: number }>`SELECT id FROM agreements WHERE id <> ${first}`.execute(tx)).rows.map((r) => r.id)
    // (The blocks of the index in statement order are not bounded here: the new lines are written into it.)
    const { rowsRead } = await ledgerReads(tx, following(rest))
    t.ok(rowsRead > 0 && rowsRead <= 10 * rest.length, `${rest.length} supplementary lines checked with ${rowsRead} rows and entries of the ledger read (at most ${10 * rest.length}: the ledger holds twice as many lines as are checked)`)
    t.equal((await sql<{ n: number }>`SELECT count(*)::int AS n FROM settlement_lines WHERE run_id = ${supplementary}`.execute(tx)).rows[0]?.n, AGREEMENTS, 'and stored')
  })
})

// Two sessions at once need two connections: PostgreSQL only (PGlite is one connection).
if (onPostgres) {
  t.test('§9 a line or agreement deleted while another session adds what refers to it waits for that session, and is refused once it commits', async (t) => {
    const own = await postgresDatabase(t)
    const first = own.open(2)
    const second = own.open(2)
    await migrate(first)
    const runId = await withDraftRun(first)
    await sql`DELETE FROM settlement_groups WHERE run_id = ${runId} AND agreement_id = 2`.execute(first.db)
    let deleting: Promise<unknown> | undefined
    await first.db.transaction().execute(async (tx) => {
      await sql`INSERT INTO settlement_groups ${GROUP_COLUMNS} VALUES ${groupOf(runId, 2)}`.execute(tx)
      deleting = sql`DELETE FROM settlement_lines WHERE run_id = ${runId} AND agreement_id = 2`.execute(second.db).then(() => undefined, (e: unknown) => e)
      t.equal(await sessionsWaitingOnLock(first, 'DELETE FROM settlement_lines'), 1, 'the DELETE waits on the line the new group holds')
    })
    t.equal(codeOf(await deleting), '23503', 'and is refused once the group is committed')
    t.equal((await sql<{ n: number }>`SELECT count(*)::int AS n FROM settlement_groups WHERE run_id = ${runId} AND agreement_id = 2`.execute(first.db)).rows[0]?.n, 1, 'the group and its line stay')

    // The same for a line and its agreement (one with nothing else that refers to it).
    const { rows: [bare] } = await sql<{ id: number }>`INSERT INTO agreements (zone_code, district_code, document_no, base_year, effective_from)
      SELECT zone_code, district_code, 'bare', 2019, 2020 FROM agreements WHERE id = 1 RETURNING id`.execute(first.db)
    let removing: Promise<unknown> | undefined
    await first.db.transaction().execute(async (tx) => {
      await sql`INSERT INTO settlement_lines ${LINE_COLUMNS} VALUES ${lineOf(runId, bare!.id)}`.execute(tx)
      removing = sql`DELETE FROM agreements WHERE id = ${bare!.id}`.execute(second.db).then(() => undefined, (e: unknown) => e)
      t.equal(await sessionsWaitingOnLock(first, 'DELETE FROM agreements'), 1, 'deleting the agreement waits on the new line')
    })
    t.equal(codeOf(await removing), '23503', 'and is refused once the line is committed')
  })
}
