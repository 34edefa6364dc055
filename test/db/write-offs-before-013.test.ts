import { sql } from 'kysely'
import t from 'tap'
import { migrate } from '../../src/db/migrate.js'
import { testApp, testDatabase } from '../helpers.js'
import { created, get, injector, post } from '../world.js'

/*
 * sql/016 (calculation-rules.md §6, §9): a shortfall a line finalized before sql/013 wrote off is
 * recorded as written off, so a next version registered after the upgrade does not carry it in, and
 * the run's digest, taken without it, still verifies. Found by an upgrade probe (a release 290
 * commits old, on both databases): the statement's 核销短收 went blank and the next version took in
 * 11363760.63 a second time. A database of its own: 013 is made to look applied after its runs.
 */

const database = await testDatabase(t)
const app = await testApp(t, database)
const injectAs = injector(app)
await created(t, app, '/v1/districts', { code: '370214', name: '城阳区' })

const taxes = { name: 'taxes', basis: 'increment', categories: ['10101'], base: { amount: '1000.00', mode: 'fixed' }, rates: [{ rate: '0.60' }], shortfall: 'carry_forward' }
async function agreement (zoneCode: string, effectiveFrom: number, documentNo: string): Promise<number> {
  return (await created(t, app, '/v1/agreements', { zoneCode, districtCode: '370214', documentNo, effectiveFrom, baseYear: effectiveFrom - 1, groups: [taxes] })).id as number
}
const revenue = (zoneCode: string, year: number, amount: string) => created(t, app, '/v1/revenues', { records: [{ zoneCode, category: '10101', year, month: 1, amount }] }, 200)
type Group = { carriedShortfallIn?: string, carriedShortfallOut?: string, writtenOff?: string, carriedToAgreementId?: number, awaitingWriteOff?: string, shareable?: string, zoneShare?: string }
async function group (runId: number, agreementId: number): Promise<Group> {
  const page = (await get(app, `/v1/settlement-runs/${runId}/lines?limit=1000`)).json() as { items: Array<{ agreementId: number, groups: Group[] }> }
  return page.items.find((l) => l.agreementId === agreementId)?.groups[0] ?? {}
}
/** A line of 2056 with a shortfall of `1000 − amount`, finalized while its agreement went on, which is then ended at 2056: before 013, the registry said it was written off. */
async function signedLastYear (zoneCode: string, amount: string): Promise<{ agreementId: number, runId: number }> {
  await created(t, app, '/v1/zones', { code: zoneCode, name: `升级测试${zoneCode}`, hostDistrictCode: '370214' })
  const agreementId = await agreement(zoneCode, 2056, `账〔2056〕${zoneCode}`)
  await revenue(zoneCode, 2056, amount)
  const runId = (await created(t, app, '/v1/settlement-runs', { fiscalYear: 2056, agreementIds: [agreementId] })).id as number
  t.equal((await post(app, `/v1/settlement-runs/${runId}/finalize`, undefined)).statusCode, 200)
  t.equal((await injectAs('admin', { method: 'PATCH', url: `/v1/agreements/${agreementId}`, payload: { effectiveTo: 2056 } })).statusCode, 200)
  return { agreementId, runId }
}

t.test('calculation-rules.md §6, §9, sql/016: written off as printed when 016 is applied, carried where a next version carries it; digests still verify', async (t) => {
  const ended = await signedLastYear('UP-1', '900.00')
  const carried = await signedLastYear('UP-2', '800.00')
  const nextOfCarried = await agreement('UP-2', 2057, '第二版')
  // The database as an upgrade finds it: both runs finalized before 013, 016 not applied yet.
  await sql`UPDATE schema_migrations SET applied_at = (SELECT max(finalized_at) FROM settlement_runs) + interval '1 second' WHERE name = '013_settlement_write_offs.sql'`.execute(database.db)
  await sql`DELETE FROM schema_migrations WHERE name = '016_settlement_write_offs_before_013.sql'`.execute(database.db)
  await sql`ALTER TABLE settlement_groups DROP COLUMN written_off_before_013`.execute(database.db)
  t.same(await migrate(database), ['016_settlement_write_offs_before_013.sql'])

  const stored = await sql<{ run_id: number, written_off: string | null, written_off_before_013: string | null }>`
    SELECT run_id, written_off, written_off_before_013 FROM settlement_groups WHERE run_id IN (${ended.runId}, ${carried.runId}) ORDER BY run_id`.execute(database.db)
  t.same(stored.rows.map((r) => [r.run_id, r.written_off, r.written_off_before_013]), [[ended.runId, null, '100.00'], [carried.runId, null, null]],
    'written off where no next version carries it, in its own column; carried where one does')
  t.match(await group(ended.runId, ended.agreementId), { carriedShortfallOut: '100.00', writtenOff: '100.00' })
  t.match(await group(carried.runId, carried.agreementId), { carriedShortfallOut: '200.00', carriedToAgreementId: nextOfCarried })
  for (const runId of [ended.runId, carried.runId]) {
    t.match((await get(app, `/v1/settlement-runs/${runId}/verification`)).json(), { digestMatches: true, mismatchCount: 0 }, `run ${runId} still verifies: its digest was taken without the write-off`)
  }

  // A next version registered after the upgrade carries nothing in, and the signed statement does not change.
  const statement = (await get(app, `/v1/settlement-runs/${ended.runId}/statement`)).body
  const next = await agreement('UP-1', 2057, '第二版')
  const afterNext = await group(ended.runId, ended.agreementId)
  t.match(afterNext, { writtenOff: '100.00' })
  t.notOk('carriedToAgreementId' in afterNext, 'before, carried to the next version registered after the upgrade')
  t.equal((await get(app, `/v1/settlement-runs/${ended.runId}/statement`)).body, statement, 'the statement reads as it was signed')
  await revenue('UP-1', 2057, '1500.00')
  const settled = (await created(t, app, '/v1/settlement-runs', { fiscalYear: 2057, agreementIds: [next] })).id as number
  t.match(await group(settled, next), { carriedShortfallIn: '0.00', shareable: '500.00', zoneShare: '300.00' }, 'before, 100.00 carried in a second time')
  t.same(await migrate(database), [], 'applied once')
})
