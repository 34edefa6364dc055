import { sql } from 'kysely'
import t from 'tap'
import { seedSettlementData, TAX } from '../bench/seed.js'
import { money } from '../src/domain/money.js'
import { expectProblem, testApp, testDatabase } from './helpers.js'
import { post } from './world.js'

// calculation-rules.md §5 and §9 at scale: a whole year's run reads its agreements 1,000 at a time
// in the order of their zone–district pairs, with the year's group sums read in one pass;
// finalizing reads them again a chunk at a time, each chunk's sums from its stretch of revenue
// (src/db/revenue.ts categoryActuals), and must find exactly the lines whose inputs changed since.

t.test('§5 §9 a whole year over two chunks of agreements: every line as recorded; finalizing finds exactly the revised line, and finalizes the rerun', async (t) => {
  const database = await testDatabase(t)
  await database.withScriptSession((run) => seedSettlementData(run, 1100))
  const app = await testApp(t, database)
  const lineTotals = async (runId: number) => (await sql<{ agreement_id: number, stored: string, recorded: string }>`
    SELECT l.agreement_id, l.revenue_total::text AS stored,
      (SELECT sum(amount) FROM revenue_records r WHERE r.zone_code = l.zone_code AND r.district_code = l.district_code AND r.year = 2021)::text AS recorded
    FROM settlement_lines l WHERE l.run_id = ${runId} ORDER BY l.agreement_id`.execute(database.db)).rows

  const first = await post(app, '/v1/settlement-runs', { fiscalYear: 2021 })
  t.equal(first.statusCode, 201)
  const run = first.json() as { id: number, lineCount: number }
  t.equal(run.lineCount, 1100)
  // Each line's revenue is its pair's revenue of 2021 in its groups' 20 categories: all of the pair's revenue.
  const lines = await lineTotals(run.id)
  t.equal(lines.length, 1100)
  t.same(lines.filter((l) => l.stored !== l.recorded), [], 'every line of both chunks carries its own pair\'s revenue')

  // A month revised after the run, in a pair of the second chunk (agreement 1050, zone Z001049).
  await sql`UPDATE revenue_records SET amount = amount + 100, revision = revision + 1
    WHERE zone_code = 'Z001049' AND category_code = ${TAX[0]} AND year = 2021 AND month = 3`.execute(database.db)
  const stale = expectProblem(t, await post(app, `/v1/settlement-runs/${run.id}/finalize`, undefined), 409)
  t.same(stale.errors?.map((e) => e.pointer), ['/agreements/1050'], 'the revised line and no other')

  const again = await post(app, '/v1/settlement-runs', { fiscalYear: 2021 })
  t.equal(again.statusCode, 201)
  const rerun = again.json() as { id: number }
  const finalized = await post(app, `/v1/settlement-runs/${rerun.id}/finalize`, undefined)
  t.equal(finalized.statusCode, 200)
  t.match(finalized.json(), { status: 'finalized', lineCount: 1100 })
  const revised = (await lineTotals(rerun.id)).find((l) => l.agreement_id === 1050)
  const before = lines.find((l) => l.agreement_id === 1050)
  t.equal(revised?.stored, revised?.recorded)
  t.equal(money(revised?.stored ?? '0').minus(before?.stored ?? '0').toFixed(2), '100.00', 'the rerun read the revision')
})
