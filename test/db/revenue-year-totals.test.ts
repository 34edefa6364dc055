import fc from 'fast-check'
import { sql } from 'kysely'
import t from 'tap'
import type { Db } from '../../src/db/database.js'
import { testDatabase } from '../helpers.js'

// calculation-rules.md §5 and §9: every read of A(y) and of its digest (records, revisions) comes
// from revenue_year_totals, the yearly sums sql/010's triggers keep beside revenue_records. They
// must equal the records summed, after any write: rows added, revised, moved to another key or
// removed, all of a table truncated, a statement rolled back.

/** The yearly sums as kept, and as summed from the records now: both as text, in key order. */
async function keptAndSummed (db: Db): Promise<{ kept: string[], summed: string[] }> {
  const kept = await sql<{ row: string }>`SELECT concat_ws(' ', zone_code, district_code, category_code, year, total::text, records, revisions) AS row
    FROM revenue_year_totals ORDER BY zone_code, district_code, category_code, year`.execute(db)
  const summed = await sql<{ row: string }>`SELECT concat_ws(' ', zone_code, district_code, category_code, year, sum(amount)::text, count(*), sum(revision)) AS row
    FROM revenue_records GROUP BY zone_code, district_code, category_code, year ORDER BY zone_code, district_code, category_code, year`.execute(db)
  return { kept: kept.rows.map((r) => r.row), summed: summed.rows.map((r) => r.row) }
}

const zone = fc.constantFrom('Z1', 'Z2')
const category = fc.constantFrom('10101', '10104')
const year = fc.constantFrom(2020, 2021)
const month = fc.integer({ min: 1, max: 3 })
const amount = fc.integer({ min: -99_999_99, max: 99_999_99 }).map((cents) => (cents / 100).toFixed(2))

/**
 * One write of revenue_records, as SQL, of one of the kinds below; a move onto a month already
 * recorded breaks the key (23505) and changes nothing.
 */
const write = fc.oneof(
  fc.record({ zone, category, year, month, amount }).map((r) => ({
    kind: 'add',
    what: `add ${r.zone} ${r.category} ${r.year}-${r.month} ${r.amount}`,
    query: sql`INSERT INTO revenue_records (zone_code, district_code, category_code, year, month, amount, revision)
      VALUES (${r.zone}, '370202', ${r.category}, ${r.year}, ${r.month}, ${r.amount}, 1) ON CONFLICT DO NOTHING`,
  })),
  // As an import's merge writes: several months of several keys in one INSERT … SELECT.
  fc.record({ zone, year, amount }).map((r) => ({
    kind: 'add months',
    what: `add months 1–3 of both categories of ${r.zone} ${r.year} at ${r.amount}`,
    query: sql`INSERT INTO revenue_records (zone_code, district_code, category_code, year, month, amount, revision)
      SELECT ${r.zone}, '370202', c, ${r.year}, m, ${r.amount}::numeric + m, 1 FROM unnest(ARRAY['10101', '10104']) c, generate_series(1, 3) m
      ON CONFLICT DO NOTHING`,
  })),
  fc.record({ zone, category, year, month, amount }).map((r) => ({
    kind: 'upsert',
    what: `upsert ${r.zone} ${r.category} ${r.year}-${r.month} ${r.amount}`,
    query: sql`INSERT INTO revenue_records AS t (zone_code, district_code, category_code, year, month, amount, revision)
      VALUES (${r.zone}, '370202', ${r.category}, ${r.year}, ${r.month}, ${r.amount}, 1)
      ON CONFLICT (zone_code, district_code, category_code, year, month) DO UPDATE SET amount = excluded.amount, revision = t.revision + 1`,
  })),
  fc.record({ zone, year, amount }).map((r) => ({
    kind: 'revise',
    what: `revise ${r.zone} ${r.year} by ${r.amount}`,
    query: sql`UPDATE revenue_records SET amount = amount + ${r.amount}::numeric, revision = revision + 1 WHERE zone_code = ${r.zone} AND year = ${r.year}`,
  })),
  fc.record({ zone, month }).map((r) => ({
    kind: 'move',
    what: `move ${r.zone} month ${r.month} to the other year`,
    query: sql`UPDATE revenue_records SET year = 4041 - year WHERE zone_code = ${r.zone} AND month = ${r.month}`,
  })),
  fc.record({ category, month }).map((r) => ({
    kind: 'remove',
    what: `remove ${r.category} month ${r.month}`,
    query: sql`DELETE FROM revenue_records WHERE category_code = ${r.category} AND month = ${r.month}`,
  })),
  fc.constant({ kind: 'truncate', what: 'truncate', query: sql`TRUNCATE revenue_records` }),
)

t.test('§5 §9 the yearly sums equal the records summed after any sequence of writes', async (t) => {
  const database = await testDatabase(t)
  const db = database.db
  let runs = 0
  // Rows each kind of write changed, over all runs: every kind must have changed some.
  const changed = new Map<string, number>()
  await fc.assert(fc.asyncProperty(fc.array(write, { minLength: 1, maxLength: 12 }), async (writes) => {
    runs++
    await sql`TRUNCATE revenue_records`.execute(db)
    for (const w of writes) {
      const result = await db.transaction().execute((tx) => w.query.execute(tx)).catch((error: unknown) => {
        // Only a move onto a month already recorded may fail (the key); anything else is a failure of the test.
        if ((error as { code?: string }).code !== '23505' || w.kind !== 'move') throw error
        return undefined
      })
      changed.set(w.kind, (changed.get(w.kind) ?? 0) + Number(result?.numAffectedRows ?? 0n))
    }
    const { kept, summed } = await keptAndSummed(db)
    if (kept.join('\n') !== summed.join('\n')) throw new Error(`after ${writes.map((w) => w.what).join('; ')}:\nkept ${kept.join(' | ')}\nsummed ${summed.join(' | ')}`)
  }), { numRuns: 60, seed: 16 })
  t.equal(runs, 60)
  for (const kind of ['add', 'add months', 'upsert', 'revise', 'move', 'remove']) t.ok((changed.get(kind) ?? 0) > 0, `some ${kind} changed rows`)
})

t.test('§9 a sum whose records are all removed is gone (nothing recorded), and a rolled-back write leaves the sums as they were', async (t) => {
  const database = await testDatabase(t)
  const db = database.db
  await sql`INSERT INTO revenue_records (zone_code, district_code, category_code, year, month, amount, revision)
    VALUES ('Z1', '370202', '10101', 2021, 1, 100.10, 1), ('Z1', '370202', '10101', 2021, 2, 200.20, 2), ('Z1', '370202', '10104', 2021, 1, 0.00, 1)`.execute(db)
  t.same((await keptAndSummed(db)).kept, ['Z1 370202 10101 2021 300.30 2 3', 'Z1 370202 10104 2021 0.00 1 1'], 'two months summed; a zero recorded is a sum of one record')

  await db.transaction().execute(async (tx) => {
    await sql`UPDATE revenue_records SET amount = 5, revision = 9`.execute(tx)
    throw new Error('rolled back')
  }).catch(() => undefined)
  t.same((await keptAndSummed(db)).kept, ['Z1 370202 10101 2021 300.30 2 3', 'Z1 370202 10104 2021 0.00 1 1'], 'unchanged by the rolled-back update')

  await sql`DELETE FROM revenue_records WHERE category_code = '10104'`.execute(db)
  t.same((await keptAndSummed(db)).kept, ['Z1 370202 10101 2021 300.30 2 3'], 'the zero is gone with its record, not left as a sum of no records')
})
