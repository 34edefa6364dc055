import { sql } from 'kysely'
import t from 'tap'
import { createStaging, mergeStaging, stageRows } from '../../src/db/revenue.js'
import { testDatabase } from '../helpers.js'

// api-contract.md, Revenue: a month written again "replaces the earlier one as a new revision; the
// history is kept". A revision's recordedAt must agree with its number. Merges take turns under a
// lock, but a transaction's now() is when it began: a large import begun before a small write and
// merged after it made revision 2 timed before revision 1 (found by a probe, on PostgreSQL).

const database = await testDatabase(t)
const month = (amount: string) => [{ line: 2, zoneCode: 'QD-HT', districtCode: '370214', categoryCode: '10101', year: 2022, month: 1, amount }]

t.test('a revision is timed when it is numbered, under the merge lock, not when its transaction began', async (t) => {
  const began = await database.db.transaction().execute(async (tx) => {
    const { rows: [start] } = await sql<{ at: string }>`SELECT now()::text AS at`.execute(tx)
    // The file arriving and being checked: time passes between the transaction's start and its merge.
    await sql`SELECT pg_sleep(0.05)`.execute(tx)
    await createStaging(tx)
    await stageRows(tx, month('100.00'))
    t.match(await mergeStaging(tx, 'k1', 'r1'), { created: 1 })
    return start?.at ?? ''
  })
  const { rows } = await sql<{ revision: number, late: boolean, same: boolean }>`
    SELECT v.revision, v.recorded_at >= ${began}::timestamptz + interval '50 milliseconds' AS late, v.recorded_at = r.updated_at AS same
    FROM revenue_revisions v JOIN revenue_records r USING (zone_code, district_code, category_code, year, month)`.execute(database.db)
  t.same(rows, [{ revision: 1, late: true, same: true }], 'recorded at the merge, 50 ms or more after the transaction began; the record is updated at the same time')
})
