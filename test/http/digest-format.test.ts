import { createHash } from 'node:crypto'
import { sql } from 'kysely'
import t from 'tap'
import { findRunHeader, runContentPage, runReviewsPage } from '../../src/db/settlements.js'
import { canonicalHeader, canonicalLine, canonicalReview, DIGEST_FORMATS, type DigestFormat } from '../../src/domain/verification.js'
import { testApp, testDatabase } from '../helpers.js'
import { buildWorld, created, get } from '../world.js'

/*
 * api-contract.md, Settlement runs: finalizing stores "a digest (SHA-256 of the run's canonical
 * content)", and verification "recomputes the digest from the stored rows". A group stores the
 * calculation request its figures come from (printed as the line's calculationRequest): a run
 * finalized now is digested over settlement-run/v2, which holds it (sql/015), and a change to it
 * breaks the digest. A run finalized before (v1, no requests in the text) still verifies as v1.
 */

const database = await testDatabase(t)
const app = await testApp(t, database)
const world = await buildWorld(t, app)
const { ht } = world.agreements
await created(t, app, '/v1/revenues', { records: [
  { zoneCode: 'QD-HT', category: '10101', year: 2020, month: 3, amount: '1150.00' },
  { zoneCode: 'QD-HT', category: '10304', year: 2020, month: 3, amount: '200.00' },
] }, 200)
const run = (await created(t, app, '/v1/settlement-runs', { fiscalYear: 2020, agreementIds: [ht] })).id as number
await created(t, app, `/v1/settlement-runs/${run}/finalize`, {}, 200)
const verification = async () => (await get(app, `/v1/settlement-runs/${run}/verification`)).json() as { digest: string, recomputedDigest: string, digestMatches: boolean, mismatches: Array<{ field: string }> }

/** The run's digest over `format`, as the service takes it (header, lines by agreement, reviews in order). */
async function digestOver (format: DigestFormat): Promise<string> {
  const header = await findRunHeader(database.db, run)
  if (header?.finalizedAt == null || header.finalizedBy === null) throw new Error('not finalized')
  const hash = createHash('sha256').update(canonicalHeader({ ...header, finalizedAt: header.finalizedAt, finalizedBy: header.finalizedBy }, format))
  for (const line of (await runContentPage(database.db, run, { limit: 1000 })).items) hash.update(canonicalLine(line, format))
  for (const review of (await runReviewsPage(database.db, run, { limit: 1000 })).items) hash.update(canonicalReview(review))
  return hash.digest('hex')
}

/** Changes the stored rows of the finalized run past its triggers, as a superuser could. */
async function behindTheService (statement: ReturnType<typeof sql>): Promise<void> {
  await sql`ALTER TABLE settlement_groups DISABLE TRIGGER settlement_groups_immutable`.execute(database.db)
  await sql`ALTER TABLE settlement_runs DISABLE TRIGGER settlement_runs_immutable`.execute(database.db)
  try {
    await statement.execute(database.db)
  } finally {
    await sql`ALTER TABLE settlement_groups ENABLE TRIGGER settlement_groups_immutable`.execute(database.db)
    await sql`ALTER TABLE settlement_runs ENABLE TRIGGER settlement_runs_immutable`.execute(database.db)
  }
}

t.test('a run finalized now is digested over settlement-run/v2, and says so in its row', async (t) => {
  const { rows } = await sql<{ digest: string, digest_format: string | null }>`SELECT digest, digest_format FROM settlement_runs WHERE id = ${run}`.execute(database.db)
  t.same(rows, [{ digest: await digestOver(DIGEST_FORMATS.v2), digest_format: 'settlement-run/v2' }])
  t.not(await digestOver(DIGEST_FORMATS.v1), rows[0]?.digest, 'v1 leaves the requests out: another text, another digest')
  t.match(await verification(), { digestMatches: true, mismatches: [] })
})

t.test('a group\'s calculation request changed behind the service breaks the digest (before, verification still passed)', async (t) => {
  const { rows: [before] } = await sql<{ input: string }>`SELECT input FROM settlement_groups WHERE run_id = ${run} AND agreement_id = ${ht} AND name = 'taxes'`.execute(database.db)
  const forged = JSON.stringify({ ...JSON.parse(before!.input) as Record<string, unknown>, actual: '99999.00', rates: [{ rate: '1' }] })
  await behindTheService(sql`UPDATE settlement_groups SET input = ${forged} WHERE run_id = ${run} AND agreement_id = ${ht} AND name = 'taxes'`)
  const tampered = await verification()
  t.equal(tampered.digestMatches, false)
  t.same(tampered.mismatches.map((m) => m.field), ['digest'], 'the digest, over every stored column')
  await behindTheService(sql`UPDATE settlement_groups SET input = ${before!.input} WHERE run_id = ${run} AND agreement_id = ${ht} AND name = 'taxes'`)
  t.equal((await verification()).digestMatches, true, 'put back, it verifies again')
})

t.test('a run finalized before sql/015 (no format stored) verifies over settlement-run/v1, as it was digested', async (t) => {
  const v1 = await digestOver(DIGEST_FORMATS.v1)
  await behindTheService(sql`UPDATE settlement_runs SET digest = ${v1}, digest_format = NULL WHERE id = ${run}`)
  t.match(await verification(), { digest: v1, recomputedDigest: v1, digestMatches: true })
  await behindTheService(sql`UPDATE settlement_groups SET input = '{}' WHERE run_id = ${run} AND agreement_id = ${ht} AND name = 'taxes'`)
  t.equal((await verification()).digestMatches, true, 'its text never held the requests: changing one does not break it, as before')
})
