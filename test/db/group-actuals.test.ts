import { sql } from 'kysely'
import t from 'tap'
import { FEES, seedSettlementData, TAX } from '../../bench/seed.js'
import { agreementIdsInForce, agreementsInForce } from '../../src/db/agreements.js'
import { categoryActuals, groupActuals, groupActualsOf, yearGroupActuals } from '../../src/db/revenue.js'
import { testDatabase } from '../helpers.js'

// calculation-rules.md §5 (A(y) of a group: its categories' revenue in the year) and §9 (what a line
// read, by its digest): group sums are read three ways (src/db/revenue.ts): for the whole year in
// one pass (a whole year's run), by zone–district pair, one stretch of the yearly sums' key a chunk
// of agreements (finalizing), and by agreement, through the key (a few chosen agreements).
// Finalizing reads them another way than the run did, so all three must give the same sums, record
// counts and digests, whatever else lies in a chunk's stretch.

t.test('§5 §9 group sums read for the whole year, by pair a chunk at a time, and by agreement are the same: figures, record counts and digests', async (t) => {
  const database = await testDatabase(t)
  const db = database.db
  await database.withScriptSession((run) => seedSettlementData(run, 40))
  // Revenue of the year before for every other pair (a prior_year base reads it), in the taxes' categories.
  await sql`INSERT INTO revenue_records (zone_code, district_code, category_code, year, month, amount, revision)
    SELECT a.zone_code, a.district_code, c, 2020, m, (a.id * 100 + m)::numeric / 100, 1
    FROM agreements a, unnest(${TAX}::text[]) c, generate_series(1, 12) m WHERE a.id % 2 = 1`.execute(db)
  // Revised months: a revision raises the number and changes the amount.
  await sql`UPDATE revenue_records SET amount = amount + 0.01, revision = 3 WHERE month = 5 AND category_code = ${TAX[0]} AND zone_code <= 'Z000020'`.execute(db)
  // A category in no group of the pair's agreement.
  await sql`INSERT INTO revenue_records (zone_code, district_code, category_code, year, month, amount, revision)
    SELECT zone_code, district_code, '10120', 2021, 1, 999.99, 1 FROM agreements`.execute(db)
  // A pair with revenue and no agreement, inside a chunk's stretch (between Z000012 and Z000013).
  await sql`INSERT INTO zones (code, name, host_district_code) VALUES ('Z000012A', 'no agreement', '110113')`.execute(db)
  await sql`INSERT INTO revenue_records (zone_code, district_code, category_code, year, month, amount, revision)
    SELECT 'Z000012A', '110113', c, y, 1, 123456.78, 1 FROM unnest(${[...TAX, ...FEES]}::text[]) c, unnest(ARRAY[2020, 2021]) y`.execute(db)
  // An agreement whose fees group has no revenue at all (none recorded, not zero).
  const [{ zone_code: bare } = { zone_code: '' }] = (await sql<{ zone_code: string }>`SELECT zone_code FROM agreements WHERE id = 7`.execute(db)).rows
  await sql`DELETE FROM revenue_records WHERE zone_code = ${bare} AND category_code = ANY(${FEES}::text[])`.execute(db)

  const years = [2020, 2021]
  const ids = await agreementIdsInForce(db, 2021)
  t.equal(ids.length, 40)
  const agreements = await agreementsInForce(db, 2021, ids)
  const byAgreement = await groupActuals(db, years, ids)
  const byYear = await yearGroupActuals(db, years, 2021)
  const seen = (actuals: typeof byAgreement, id: number, position: number, year: number) => {
    const { total, records } = actuals.of(id, position, year)
    return `${id}/${position}/${year}: ${total.toFixed(2)} in ${records} records, digest ${actuals.digestOf(id, position, year)}`
  }
  const expected: string[] = []
  const found: string[] = []
  const wholeYear: string[] = []
  // Chunks of 7 agreements in the order a run reads them, so that stretches hold other pairs' revenue.
  for (let start = 0; start < ids.length; start += 7) {
    const chunk = ids.slice(start, start + 7)
    const byPair = groupActualsOf(agreements.filter((a) => chunk.includes(a.id)), await categoryActuals(db, years, chunk))
    for (const id of chunk) {
      for (const position of [0, 1]) {
        for (const year of years) {
          expected.push(seen(byAgreement, id, position, year))
          found.push(seen(byPair, id, position, year))
          wholeYear.push(seen(byYear, id, position, year))
        }
      }
    }
  }
  t.same(found, expected, 'by pair: every group of every agreement, both years')
  t.same(wholeYear, expected, 'for the whole year: every group of every agreement, both years')
  t.equal(expected.length, 160)

  // And the figures themselves, summed here from the records.
  const { rows: [taxes] } = await sql<{ total: string, n: number, revisions: number }>`SELECT sum(amount)::text AS total, count(*)::int AS n, sum(revision)::int AS revisions
    FROM revenue_records WHERE zone_code = 'Z000001' AND year = 2021 AND category_code = ANY(${TAX}::text[])`.execute(db)
  const second = agreements.find((a) => a.zoneCode === 'Z000001')!
  t.ok(found.includes(`${second.id}/0/2021: ${taxes!.total} in 120 records, digest 120:${taxes!.revisions}`), 'a revised pair: the taxes of 2021, with the revision in its digest')
  t.equal(taxes!.revisions, 122, 'the revised month counts three')
  const none = agreements.find((a) => a.zoneCode === bare)!
  t.ok(found.includes(`${none.id}/1/2021: 0.00 in 0 records, digest `), 'a group with no revenue recorded: no records and an empty digest')
  t.ok(found.includes(`${none.id}/1/2020: 0.00 in 0 records, digest `))
})
