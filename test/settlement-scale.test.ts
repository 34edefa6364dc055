import { parse } from 'csv-parse/sync'
import { sql } from 'kysely'
import t from 'tap'
import { seedSettlementData, TAX } from '../bench/seed.js'
import { money } from '../src/domain/money.js'
import { expectProblem, testApp, testDatabase } from './helpers.js'
import { get, post } from './world.js'

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

  // The statement reads and builds its lines a page of 1,000 at a time (src/services/settlements.ts):
  // 1,100 lines are two pages, and the file must read as one: every line once, in the order of
  // zone, district and agreement, each with its own names and figures, and the total their sum.
  const statement = await get(app, `/v1/settlement-runs/${rerun.id}/statement`)
  t.equal(statement.statusCode, 200)
  const [, , ...rows] = parse(statement.body.replace(/^\uFEFF/, ''), { relax_column_count: true }) as string[][]
  const stored = (await sql<{ zone_code: string, zone_name: string, district_code: string, document_no: string, revenue_total: string, zone_share: string }>`
    SELECT l.zone_code, z.name AS zone_name, l.district_code, a.document_no, l.revenue_total::text, l.zone_share::text
    FROM settlement_lines l JOIN zones z ON z.code = l.zone_code JOIN agreements a ON a.id = l.agreement_id
    WHERE l.run_id = ${rerun.id} ORDER BY l.zone_code, l.district_code, l.agreement_id`.execute(database.db)).rows
  const subtotals = rows.filter((r) => r[0]?.startsWith('小计'))
  t.equal(subtotals.length, 1100, 'one subtotal row per line')
  t.same(subtotals.map((r) => [r[1], r[2], r[3], r[5], r[9], r[13]]),
    stored.map((l) => [l.zone_code, l.zone_name, l.district_code, l.document_no, l.revenue_total, l.zone_share]),
    'the lines of both pages in order, each with its zone\'s name, its document and its figures')
  const totals = (await sql<{ revenue: string, zone: string }>`
    SELECT sum(revenue_total)::text AS revenue, sum(zone_share)::text AS zone FROM settlement_lines WHERE run_id = ${rerun.id}`.execute(database.db)).rows[0]
  const total = rows.at(-1)
  t.equal(total?.[0], '合计 total')
  t.same([total?.[9], total?.[13]], [totals?.revenue, totals?.zone], 'the total row is the sum of every line of both pages')
})
