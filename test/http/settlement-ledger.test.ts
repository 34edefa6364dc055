import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { sql } from 'kysely'
import t from 'tap'
import { insertAdvance } from '../../src/db/advances.js'
import { agreementsInForce } from '../../src/db/agreements.js'
import { holdSettlementInputs } from '../../src/db/locks.js'
import { agreementTermsText } from '../../src/domain/agreement.js'
import { expectProblem, onPostgres, rowCount, testApp, testDatabase } from '../helpers.js'
import { created, get, injector, post } from '../world.js'

/*
 * The settlement ledger, calculation-rules.md §9 (what has been settled is settled once), the
 * carry of shortfalls across agreement versions (§6) and magnitudes (§1), through the API.
 * Each case has zones and agreements of its own and a year of its own, and runs only its own
 * agreements (agreementIds), so the cases do not read one another's data.
 * An agreement here: one group `taxes` (category 10101, basis increment, fixed base 1000.00, one
 * band at 0.60, carry_forward) unless a case says otherwise; revenue is recorded for January.
 */

const database = await testDatabase(t)
const app = await testApp(t, database)
const injectAs = injector(app)
await created(t, app, '/v1/districts', { code: '370214', name: '城阳区' })
await created(t, app, '/v1/districts', { code: '370203', name: '市北区' })

let zones = 0
/** A zone of its own, hosted by 城阳区 unless said otherwise. */
async function zone (host = '370214'): Promise<string> {
  const code = `L-${++zones}`
  await created(t, app, '/v1/zones', { code, name: `账本测试${zones}`, hostDistrictCode: host })
  return code
}

type Group = Record<string, unknown>
const taxes = (overrides: Group = {}): Group => ({ name: 'taxes', basis: 'increment', categories: ['10101'], base: { amount: '1000.00', mode: 'fixed' }, rates: [{ rate: '0.60' }], shortfall: 'carry_forward', ...overrides })

async function agreement (zoneCode: string, effectiveFrom: number, overrides: Record<string, unknown> = {}, districtCode = '370214'): Promise<number> {
  const body = { zoneCode, districtCode, documentNo: `账〔${effectiveFrom}〕${zoneCode}`, effectiveFrom, baseYear: effectiveFrom - 1, groups: [taxes()], ...overrides }
  return (await created(t, app, '/v1/agreements', body)).id as number
}

/** January's revenue of the zone in 10101 (a new amount is a new revision). */
async function revenue (zoneCode: string, year: number, amount: string, districtCode?: string): Promise<void> {
  await created(t, app, '/v1/revenues', { records: [{ zoneCode, districtCode, category: '10101', year, month: 1, amount }] }, 200)
}

interface Run { id: number, status: string, lineCount: number, totals: Record<string, string> }
async function run (year: number, ...agreementIds: number[]): Promise<Run> {
  return created(t, app, '/v1/settlement-runs', { fiscalYear: year, agreementIds }) as Promise<Run>
}
const finalize = (id: number) => post(app, `/v1/settlement-runs/${id}/finalize`, undefined)

interface Line {
  agreementId: number, kind: string, zoneShare: string, balanceDue: string, revenueTotal: string, follows?: number, previousZoneShare?: string,
  adjustment?: string, balanceAdjustment?: string, groups: Array<Group & { carriedShortfallIn?: string, carriedShortfallOut?: string, writtenOff?: string, carriedToAgreementId?: number, explanation?: string[] }>
}
/** The line of an agreement in a run. */
async function line (runId: number, agreementId: number): Promise<Line> {
  const page = (await get(app, `/v1/settlement-runs/${runId}/lines?limit=1000`)).json() as { items: Line[] }
  const found = page.items.find((l) => l.agreementId === agreementId)
  if (found === undefined) throw new Error(`run ${runId} has no line of agreement ${agreementId}`)
  return found
}

/** The finalized lines of an agreement and year, as the database holds them. */
const finalizedLines = (agreementId: number, year: number) => database.db.selectFrom('settlement_lines')
  .select(['run_id', 'follows_run_id', 'zone_share', 'adjustment']).where('agreement_id', '=', agreementId).where('fiscal_year', '=', year)
  .where('finalized', '=', true).orderBy('run_id').execute()

/** A year finalized once at A = 2000.00 (Z 600.00), revised to 3000.00 (Z 1200.00), and two supplementary runs prepared against the first line. */
async function twoSupplementaryRuns (year: number) {
  const zoneCode = await zone()
  const id = await agreement(zoneCode, year)
  await revenue(zoneCode, year, '2000.00')
  const annual = await run(year, id)
  t.equal((await finalize(annual.id)).statusCode, 200)
  t.match(await line(annual.id, id), { kind: 'annual', zoneShare: '600.00' })
  await revenue(zoneCode, year, '3000.00')
  const b = await run(year, id)
  const c = await run(year, id)
  for (const draft of [b, c]) {
    t.match(await line(draft.id, id), { kind: 'supplementary', follows: annual.id, previousZoneShare: '600.00', zoneShare: '1200.00', adjustment: '600.00', balanceAdjustment: '600.00' },
      'each prepared against the finalized annual line')
  }
  return { id, annual, b, c }
}

t.test('§9 a difference is paid once: of two supplementary runs against one finalized line, only one is finalized', async (t) => {
  for (const [year, order] of [[2031, 'b, then c'], [2032, 'c, then b']] as const) {
    const { id, annual, b, c } = await twoSupplementaryRuns(year)
    const [first, second] = order === 'b, then c' ? [b, c] : [c, b]
    t.equal((await finalize(first.id)).statusCode, 200, `${order}: the first is finalized`)
    const refused = expectProblem(t, await finalize(second.id), 409)
    t.match(refused.type, /settlement-stale$/)
    t.match(refused.detail, new RegExp(`agreement ${id} .*the finalized ${year} line it follows`), 'naming the agreement and what changed')
    const chain = await finalizedLines(id, year)
    t.same(chain.map((l) => [l.run_id, l.follows_run_id]), [[annual.id, null], [first.id, annual.id]], 'one chain: the annual line, then one successor')
    t.same(chain.map((l) => l.adjustment), [null, '600.00'], 'the difference of 600.00 is paid once, not 1200.00')
    // The second is run again against the new head: nothing more to pay.
    const again = await run(year, id)
    t.match(await line(again.id, id), { follows: first.id, previousZoneShare: '1200.00', adjustment: '0.00' })
  }
})

t.test('§9 the audit log says of each run what an auditor asks: the agreements it was asked for, how many of its lines are supplementary (补充结算), its floor', async (t) => {
  const { id, annual, b } = await twoSupplementaryRuns(2034)
  const created = async (runId: number) => {
    const events = (await get(app, `/v1/audit-events?entityType=settlement_run&entityId=${runId}`)).json().items as Array<{ action: string, details: unknown }>
    return events.filter((e) => e.action === 'create').map((e) => e.details)
  }
  t.same(await created(annual.id), [{ fiscalYear: 2034, agreementIds: [id], lines: 1, supplementaryLines: 0, minimumRate: '0.6' }], 'the annual run')
  t.same(await created(b.id), [{ fiscalYear: 2034, agreementIds: [id], lines: 1, supplementaryLines: 1, minimumRate: '0.6' }], 'a supplementary run')
})

t.test('§9 a change refused for a settled year says where it can go: a later year, or once the agreement\'s last year is settled, its next version (before, "from 2051 on" past its end; found by a probe)', async (t) => {
  const zoneCode = await zone()
  const ended = await agreement(zoneCode, 2050, { effectiveTo: 2050 })
  await revenue(zoneCode, 2050, '1500.00')
  t.equal((await finalize((await run(2050, ended)).id)).statusCode, 200)
  const adjustment = expectProblem(t, await post(app, `/v1/agreements/${ended}/base-adjustments`, { group: 'taxes', fromYear: 2050, amount: '-100.00', reason: '核减', documentNo: '调〔2051〕1号' }), 409)
  t.equal(adjustment.detail, `Agreement ${ended} is in a finalized settlement of 2050: an adjustment from 2050 would change a settled year. ` +
    'Every year it is in force (to 2050) is settled: record the change in a new agreement from 2051, its next version.')
  const transfer = expectProblem(t, await post(app, '/v1/responsibility-transfers', { agreementId: ended, group: 'taxes', function: '教育', direction: 'to_district', fromYear: 2050, documentNo: 'x', funding: { method: 'fixed', amount: '1.00' } }), 409)
  t.match(transfer.detail, /\. Every year it is in force \(to 2050\) is settled: record the change in a new agreement from 2051, its next version\.$/)
  // An agreement with years to come is told the next year, as before.
  const openZone = await zone()
  const open = await agreement(openZone, 2052)
  await revenue(openZone, 2052, '1500.00')
  t.equal((await finalize((await run(2052, open)).id)).statusCode, 200)
  const later = expectProblem(t, await post(app, `/v1/agreements/${open}/base-adjustments`, { group: 'taxes', fromYear: 2052, amount: '-100.00', reason: '核减', documentNo: '调〔2053〕1号' }), 409)
  t.match(later.detail, /\. Adjust from 2053 on, or record a new agreement\.$/)
})

if (onPostgres) {
  t.test('§9 two finalizations at once: one succeeds, the other is refused (PostgreSQL)', async (t) => {
    const { id, annual, b, c } = await twoSupplementaryRuns(2033)
    const answers = await Promise.all([finalize(b.id), finalize(c.id)])
    t.same(answers.map((a) => a.statusCode).sort(), [200, 409], 'one 200, one 409')
    const chain = await finalizedLines(id, 2033)
    t.equal(chain.length, 2, 'the annual line and one successor')
    t.equal(chain[1]?.follows_run_id, annual.id)
  })

  t.test('§9 a revenue import still running when the run is computed, committed after: finalizing is refused (PostgreSQL)', async (t) => {
    const zoneCode = await zone()
    const id = await agreement(zoneCode, 2032)
    await revenue(zoneCode, 2032, '2000.00')
    // The file arrives slowly: its transaction is open (the import is reading it) while the run is computed.
    let reading: () => void = () => {}
    const started = new Promise<void>((resolve) => { reading = resolve })
    let header = true
    const file = new Readable({
      read () {
        if (header) {
          header = false
          this.push('zoneCode,districtCode,category,year,month,amount\n')
          reading()
        }
      },
    })
    const importing = injectAs('admin', { method: 'POST', url: '/v1/revenues/import', headers: { 'content-type': 'text/csv' }, payload: file })
    await started
    const draft = await run(2032, id)
    t.match(await line(draft.id, id), { revenueTotal: '2000.00', zoneShare: '600.00' }, 'the run reads the amount committed so far')
    file.push(`${zoneCode},,10101,2032,1,2500.00\n`)
    file.push(null)
    const imported = await importing
    t.equal(imported.statusCode, 200)
    t.match(imported.json(), { loaded: 1, revised: 1 })
    const stale = expectProblem(t, await finalize(draft.id), 409)
    t.match(stale.detail, new RegExp(`agreement ${id} .*its revenue of 2032`))
    t.same(stale.errors?.map((e) => e.pointer), [`/agreements/${id}`])
    t.same(await finalizedLines(id, 2032), [], 'nothing finalized')
  })

  t.test('§9 finalizing waits for a writer of what the run read, and then sees its change (PostgreSQL)', async (t) => {
    const zoneCode = await zone()
    const id = await agreement(zoneCode, 2035)
    await revenue(zoneCode, 2035, '2000.00')
    const draft = await run(2035, id)
    let release: () => void = () => {}
    const released = new Promise<void>((resolve) => { release = resolve })
    let wrote: () => void = () => {}
    const written = new Promise<void>((resolve) => { wrote = resolve })
    // A writer as every writer of settlement inputs is: the lock shared, then the write; it commits when released.
    const writer = database.db.transaction().execute(async (tx) => {
      await holdSettlementInputs(tx)
      await insertAdvance(tx, { agreementId: id, fiscalYear: 2035, paidOn: '2035-06-30', amount: '100.00', documentNo: '在途' })
      wrote()
      await released
    })
    await written
    const finalizing = finalize(draft.id)
    let waiting = false
    for (let i = 0; i < 200 && !waiting; i++) {
      const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`.execute(database.db)
      waiting = (rows[0]?.n ?? 0) > 0
      if (!waiting) await new Promise((resolve) => setTimeout(resolve, 25))
    }
    t.ok(waiting, 'finalizing waits for the writer to commit')
    release()
    await writer
    const stale = expectProblem(t, await finalizing, 409)
    t.match(stale.detail, /its advances for 2035/, 'and then sees the advance the run did not read')
  })
}

t.test('§9 a change in another district\'s data does not block a run that did not read it', async (t) => {
  const mine = await zone()
  const theirs = await zone('370203')
  const id = await agreement(mine, 2036)
  const other = await agreement(theirs, 2036, {}, '370203')
  await revenue(mine, 2036, '2000.00')
  await revenue(theirs, 2036, '5000.00', '370203')
  const draft = await run(2036, id)
  await revenue(theirs, 2036, '6000.00', '370203')
  await post(app, '/v1/advances', { agreementId: other, fiscalYear: 2036, paidOn: '2036-06-30', amount: '10.00', documentNo: '他区' })
  t.equal((await finalize(draft.id)).statusCode, 200, 'the other district\'s revision and advance are not what this run read')
})

t.test('§9 an agreement ended after its draft run: finalizing is refused, and the next version settles the year once', async (t) => {
  const zoneCode = await zone()
  const old = await agreement(zoneCode, 2033)
  await revenue(zoneCode, 2033, '1500.00')
  await revenue(zoneCode, 2034, '2000.00')
  const first = await run(2033, old)
  t.equal((await finalize(first.id)).statusCode, 200)
  const draft = await run(2034, old)
  const ended = await injectAs('admin', { method: 'PATCH', url: `/v1/agreements/${old}`, payload: { effectiveTo: 2033 } })
  t.equal(ended.statusCode, 200)
  const stale = expectProblem(t, await finalize(draft.id), 409)
  t.match(stale.detail, new RegExp(`agreement ${old} .*no longer in force in 2034`))
  const next = await agreement(zoneCode, 2034, { documentNo: '新版' })
  const settled = await run(2034, next)
  t.equal((await finalize(settled.id)).statusCode, 200)
  const lines = await database.db.selectFrom('settlement_lines').select('agreement_id').where('zone_code', '=', zoneCode).where('fiscal_year', '=', 2034).where('finalized', '=', true).execute()
  t.same(lines.map((l) => l.agreement_id), [next], 'one finalized 2034 settlement for the zone and district, under the agreement in force')
})

t.test('§9 §4 what moves only later years does not make a year\'s draft stale: a later adjustment or transfer, an end after the year; one that moves the year does', async (t) => {
  const zoneCode = await zone()
  const id = await agreement(zoneCode, 2069)
  await revenue(zoneCode, 2069, '2000.00')
  const draft = await run(2069, id)
  await created(t, app, `/v1/agreements/${id}/base-adjustments`, { group: 'taxes', fromYear: 2070, amount: '100.00', reason: '企业迁入', documentNo: '调〔2070〕1号' })
  await created(t, app, '/v1/responsibility-transfers', {
    agreementId: id, group: 'taxes', function: '教育', direction: 'to_district', fromYear: 2070, documentNo: '划〔2070〕1号', funding: { method: 'fixed', amount: '50.00' },
  })
  const ended = await injectAs('admin', { method: 'PATCH', url: `/v1/agreements/${id}`, payload: { effectiveTo: 2071 } })
  t.equal(ended.statusCode, 200)
  t.equal((await finalize(draft.id)).statusCode, 200, 'none of them moves 2069: the draft is what finalizing it would compute')
  t.match(await line(draft.id, id), { zoneShare: '600.00' }, 'A 2000.00, base 1000.00, 60%')

  // The same changes made for the draft's own year do make it stale.
  const other = await agreement(await zone(), 2069)
  const otherZone = (await get(app, `/v1/agreements/${other}`)).json().zoneCode as string
  await revenue(otherZone, 2069, '2000.00')
  for (const change of [
    () => created(t, app, `/v1/agreements/${other}/base-adjustments`, { group: 'taxes', fromYear: 2069, amount: '100.00', reason: '企业迁入', documentNo: '调〔2069〕1号' }),
    () => created(t, app, '/v1/responsibility-transfers', {
      agreementId: other, group: 'taxes', function: '教育', direction: 'to_district', fromYear: 2069, documentNo: '划〔2069〕1号', funding: { method: 'fixed', amount: '50.00' },
    }),
    () => injectAs('admin', { method: 'PATCH', url: `/v1/agreements/${other}`, payload: { effectiveTo: 2069 } }),
  ]) {
    const before = await run(2069, other)
    await change()
    const stale = expectProblem(t, await finalize(before.id), 409)
    t.match(stale.type, /settlement-stale$/)
    t.match(stale.detail, /terms, years, base adjustments or responsibility transfers/)
  }
  const settled = await run(2069, other)
  t.equal((await finalize(settled.id)).statusCode, 200)
  t.match(await line(settled.id, other), { zoneShare: '510.00' }, 'A 2000.00, base 1000.00 + 100.00 + 50.00, 60%')
})

t.test('§9 a draft computed before the terms were read by year holds the digest of every year\'s terms: unchanged, it is not stale for that; changed, it is', async (t) => {
  // Found by the review of 716a5e5: after the upgrade, every draft of an agreement ending after its year, or with a later adjustment, was refused.
  const zoneCode = await zone()
  const id = await agreement(zoneCode, 2074, { effectiveTo: 2076 })
  await revenue(zoneCode, 2074, '2000.00')
  await created(t, app, `/v1/agreements/${id}/base-adjustments`, { group: 'taxes', fromYear: 2075, amount: '100.00', reason: '企业迁入', documentNo: '调〔2075〕1号' })
  const [stored] = await agreementsInForce(database.db, 2074, [id])
  const everyYear = createHash('sha256').update(agreementTermsText(stored!, undefined)).digest('hex')
  t.not(everyYear, createHash('sha256').update(agreementTermsText(stored!, 2074)).digest('hex'), 'the two texts differ for this agreement')
  const draftHolding = async (terms: string) => {
    const draft = await run(2074, id)
    await sql`UPDATE settlement_lines SET inputs = jsonb_set(inputs::jsonb, '{terms}', to_jsonb(${terms}::text))::text WHERE run_id = ${draft.id}`.execute(database.db)
    return draft
  }
  const changed = await draftHolding(createHash('sha256').update('other terms').digest('hex'))
  t.match(expectProblem(t, await finalize(changed.id), 409).detail, /terms, years, base adjustments or responsibility transfers/, 'a digest of other terms is a change')
  const before = await draftHolding(everyYear)
  t.equal((await finalize(before.id)).statusCode, 200, 'the digest an earlier build stored, of the same terms')
})

t.test('§9 §6 a supplementary Y−1 finalized after the Y draft: finalizing Y is refused; Y again carries in the new figure', async (t) => {
  const zoneCode = await zone()
  const id = await agreement(zoneCode, 2038)
  await revenue(zoneCode, 2038, '900.00')
  const y1 = await run(2038, id)
  t.equal((await finalize(y1.id)).statusCode, 200)
  t.match((await line(y1.id, id)).groups[0], { carriedShortfallOut: '100.00' })
  await revenue(zoneCode, 2039, '1500.00')
  const draft = await run(2039, id)
  t.match((await line(draft.id, id)).groups[0], { carriedShortfallIn: '100.00', shareable: '400.00', zoneShare: '240.00' })
  await revenue(zoneCode, 2038, '950.00')
  const supplementary = await run(2038, id)
  t.equal((await finalize(supplementary.id)).statusCode, 200)
  t.match((await line(supplementary.id, id)).groups[0], { carriedShortfallOut: '50.00' })
  const stale = expectProblem(t, await finalize(draft.id), 409)
  t.match(stale.detail, /the finalized 2038 figures it carried shortfalls in from/)
  const again = await run(2039, id)
  t.match((await line(again.id, id)).groups[0], { carriedShortfallIn: '50.00', shareable: '450.00', zoneShare: '270.00' }, 'the carry-out of the latest finalized 2038 line')
  t.equal((await finalize(again.id)).statusCode, 200)
})

t.test('§6 a scenario of an agreement\'s last year explains its shortfall as the run\'s line does: written off (核销), or carried into the next version, not "carried forward" ' +
  'against later increments the agreement does not have (found by a probe)', async (t) => {
  const scenarioOf = async (agreementId: number) => {
    const answer = await post(app, '/v1/scenarios', { agreementId, changes: {}, fromYear: 2040, toYear: 2040 })
    t.equal(answer.statusCode, 200, answer.body)
    return (answer.json().years[0].groups[0].scenario.explanation as string[])
  }
  // Written off: the next version's group of that name does not carry shortfalls.
  const writtenZone = await zone()
  const ended = await agreement(writtenZone, 2040, { effectiveTo: 2040 })
  await revenue(writtenZone, 2040, '900.00')
  await agreement(writtenZone, 2041, { groups: [taxes({ shortfall: 'none' })] })
  const writtenOff = '可分成增量为负，短收 100.00 于分成办法最后一年予以核销，不转入后续办法：功能区分成 0.00'
  t.ok((await line((await run(2040, ended)).id, ended)).groups[0]?.explanation?.includes(writtenOff), 'the run\'s line says so')
  const explained = await scenarioOf(ended)
  t.ok(explained.includes(writtenOff), 'and so does the scenario')
  t.notOk(explained.some((text) => text.includes('结转以后年度')), 'not that it is carried forward')

  // Carried: the next version has a carry_forward group of the same name.
  const carriedZone = await zone()
  const old = await agreement(carriedZone, 2040, { effectiveTo: 2040 })
  await revenue(carriedZone, 2040, '900.00')
  const next = await agreement(carriedZone, 2041, { documentNo: '第二版' })
  t.ok((await scenarioOf(old)).includes(`可分成增量为负，短收 100.00 结转后续分成办法（编号 ${next}）以后年度增量抵扣：功能区分成 0.00`), 'carried into the next version, named')

  // Going on: carried forward against its own later increments, as before.
  const goingZone = await zone()
  const going = await agreement(goingZone, 2040)
  await revenue(goingZone, 2040, '900.00')
  t.ok((await scenarioOf(going)).some((text) => text.includes('结转以后年度增量抵扣')), 'an agreement that goes on carries it forward')
})

t.test('§6 a scenario explains only the agreement\'s last year as written off: an earlier year\'s shortfall is carried forward, as its run\'s line says, ' +
  'though the last year\'s finalized line wrote its own off (found by review)', async (t) => {
  const zoneCode = await zone()
  const id = await agreement(zoneCode, 2060, { effectiveTo: 2061 })
  await revenue(zoneCode, 2060, '900.00')
  await revenue(zoneCode, 2061, '900.00')
  const first = await run(2060, id)
  t.equal((await finalize(first.id)).statusCode, 200)
  const last = await run(2061, id)
  t.equal((await finalize(last.id)).statusCode, 200)
  t.match((await line(last.id, id)).groups[0], { carriedShortfallOut: '200.00', writtenOff: '200.00' })
  const answer = await post(app, '/v1/scenarios', { agreementId: id, changes: {}, fromYear: 2060, toYear: 2061 })
  t.equal(answer.statusCode, 200, answer.body)
  const [y2060, y2061] = (answer.json().years as Array<{ groups: Array<{ scenario: { explanation: string[] } }> }>).map((y) => y.groups[0]?.scenario.explanation ?? [])
  t.ok(y2060?.some((text) => text.includes('短收 100.00 结转以后年度增量抵扣')), '2060 carries its 100.00 forward')
  t.notOk(y2060?.some((text) => text.includes('核销')), 'and writes nothing off')
  t.ok(y2061?.some((text) => text.includes('短收 200.00 于分成办法最后一年予以核销')), '2061, the last year, writes its 200.00 off')
})

t.test('§6 a shortfall carries into the next version of the agreement, or is written off (核销) on the old one\'s last line', async (t) => {
  // Carried: the next version has a carry_forward group of the same name.
  const carriedZone = await zone()
  const old = await agreement(carriedZone, 2040)
  await revenue(carriedZone, 2040, '900.00')
  const last = await run(2040, old)
  t.equal((await finalize(last.id)).statusCode, 200)
  t.equal((await injectAs('admin', { method: 'PATCH', url: `/v1/agreements/${old}`, payload: { effectiveTo: 2040 } })).statusCode, 200)
  const next = await agreement(carriedZone, 2041, { documentNo: '第二版' })
  await revenue(carriedZone, 2041, '1500.00')
  const first = await run(2041, next)
  t.match((await line(first.id, next)).groups[0], { carriedShortfallIn: '100.00', shareable: '400.00', zoneShare: '240.00' }, 'the old version\'s 100.00 carried in')
  t.match((await line(last.id, old)).groups[0], { carriedShortfallOut: '100.00', carriedToAgreementId: next })
  t.notOk('writtenOff' in ((await line(last.id, old)).groups[0] ?? {}), 'not written off')
  t.ok((await line(last.id, old)).groups[0]?.explanation?.includes(`可分成增量为负，短收 100.00 结转后续分成办法（编号 ${next}）以后年度增量抵扣：功能区分成 0.00`),
    'its explanation says where the shortfall goes')
  const printed = (await get(app, `/v1/settlement-runs/${last.id}/statement?format=html`)).body
  t.match(printed, `注：口径组 taxes 结转下年短收 100.00 元，分成办法期满，转入后续分成办法（编号 ${next}）同名口径组。`,
    'and so does the printed statement (before, only the lines\' JSON said; found by a probe of supplementary settlements)')
  t.notMatch(printed, '予以核销', 'not that it is written off')

  // Written off: the next version's group of that name does not carry shortfalls.
  const writtenZone = await zone()
  const ended = await agreement(writtenZone, 2040, { effectiveTo: 2040 })
  await revenue(writtenZone, 2040, '900.00')
  const endedRun = await run(2040, ended)
  t.equal((await finalize(endedRun.id)).statusCode, 200)
  const replacement = await agreement(writtenZone, 2041, { groups: [taxes({ shortfall: 'none' })] })
  await revenue(writtenZone, 2041, '1500.00')
  t.match((await line((await run(2041, replacement)).id, replacement)).groups[0], { carriedShortfallIn: '0.00', zoneShare: '300.00' }, 'nothing carried in')
  t.match((await line(endedRun.id, ended)).groups[0], { carriedShortfallOut: '100.00', writtenOff: '100.00' }, 'the old line says it is written off')
  const explained = (await line(endedRun.id, ended)).groups[0]?.explanation ?? []
  t.ok(explained.includes('可分成增量为负，短收 100.00 于分成办法最后一年予以核销，不转入后续办法：功能区分成 0.00'), 'and so does its explanation')
  t.notOk(explained.some((text) => text.includes('结转以后年度')), 'not that it is carried forward')
  t.match((await get(app, `/v1/settlement-runs/${endedRun.id}/statement?format=html`)).body, '注：口径组 taxes 结转下年短收 100.00 元，分成办法期满，不转入后续办法，予以核销。',
    'the printed statement gives no reason that a next version would belie: one exists, without a carry_forward group of that name')
  const csv = (await get(app, `/v1/settlement-runs/${endedRun.id}/statement`)).body.split('\r\n').map((row) => row.split(','))
  const column = csv[1]?.indexOf('核销短收 shortfall written off') ?? -1
  t.ok(column > 0, 'the statement has a column for it')
  t.same(csv.filter((row) => row[0]?.startsWith('口径组')).map((row) => row[column]), ['100.00'], 'with the amount on the group\'s row')

  // Written off when finalized stays written off (§6: "nothing carries it"; §9: settled once): a next version with a carry_forward
  // group of that name, created after the old version's last year was finalized, carries nothing in, and the old line still says 核销.
  const lateZone = await zone()
  const lastVersion = await agreement(lateZone, 2040, { effectiveTo: 2040 })
  await revenue(lateZone, 2040, '900.00')
  const lastRun = await run(2040, lastVersion)
  t.equal((await finalize(lastRun.id)).statusCode, 200)
  const verified = (await get(app, `/v1/settlement-runs/${lastRun.id}/verification`)).json() as { digest: string, digestMatches: boolean, mismatchCount: number }
  t.match(verified, { digestMatches: true, mismatchCount: 0 })
  const lateVersion = await agreement(lateZone, 2041, { documentNo: '后补第二版' })
  await revenue(lateZone, 2041, '1500.00')
  t.match((await line((await run(2041, lateVersion)).id, lateVersion)).groups[0], { carriedShortfallIn: '0.00', shareable: '500.00', zoneShare: '300.00' },
    'the 100.00 written off is not carried in as well')
  const stillWrittenOff = (await line(lastRun.id, lastVersion)).groups[0]
  t.match(stillWrittenOff, { carriedShortfallOut: '100.00', writtenOff: '100.00' }, 'the finalized line reads as it was finalized')
  t.notOk('carriedToAgreementId' in (stillWrittenOff ?? {}))
  const lateCsv = (await get(app, `/v1/settlement-runs/${lastRun.id}/statement`)).body.split('\r\n').map((row) => row.split(','))
  t.same(lateCsv.filter((row) => row[0]?.startsWith('口径组')).map((row) => row[column]), ['100.00'], 'and so does its statement')
  t.same((await get(app, `/v1/settlement-runs/${lastRun.id}/verification`)).json(), { ...verified }, 'with the digest it was finalized with, which covers the write-off')
  const [digested] = await sql<{ written_off: string | null }>`SELECT written_off FROM settlement_groups WHERE run_id = ${lastRun.id}`.execute(database.db).then((r) => r.rows)
  t.equal(digested?.written_off, '100.00', 'recorded with the group')

  // The next version's first year waits for the old version's last year to be finalized.
  const waitingZone = await zone()
  const unfinished = await agreement(waitingZone, 2040, { effectiveTo: 2040 })
  const successor = await agreement(waitingZone, 2041)
  await revenue(waitingZone, 2041, '1500.00')
  const problem = expectProblem(t, await post(app, '/v1/settlement-runs', { fiscalYear: 2041, agreementIds: [successor] }), 409)
  t.match(problem.detail, new RegExp(`agreement ${successor} .*shortfalls of agreement ${unfinished}, its previous version, and 2040 is not finalized`))
})

t.test('§9 an advance for a year with a finalized settlement is refused; the year before settling takes it', async (t) => {
  const zoneCode = await zone()
  const id = await agreement(zoneCode, 2042)
  await revenue(zoneCode, 2042, '2000.00')
  const draft = await run(2042, id)
  const before = await post(app, '/v1/advances', { agreementId: id, fiscalYear: 2042, paidOn: '2042-06-30', amount: '100.00', documentNo: '预拨1' })
  t.equal(before.statusCode, 201, 'while the year is not settled, an advance is taken')
  t.equal((await finalize((await run(2042, id)).id)).statusCode, 200)
  const refused = expectProblem(t, await post(app, '/v1/advances', { agreementId: id, fiscalYear: 2042, paidOn: '2042-12-30', amount: '50.00', documentNo: '预拨2' }), 409)
  t.match(refused.detail, /finalized 2042 settlement/)
  t.same(refused.errors?.map((e) => e.pointer), ['/fiscalYear'])
  const advances = await database.db.selectFrom('advances').select('amount').where('agreement_id', '=', id).execute()
  t.same(advances.map((a) => a.amount), ['100.00'], 'nothing stored')
  expectProblem(t, await finalize(draft.id), 409)
})

t.test('§1 magnitudes: computed figures of up to 18 integer digits are stored; beyond, 422 naming the input, never a 500', async (t) => {
  // Twelve months of the largest amount: A = 11999999999999999.88, more than numeric(17,2) holds.
  const bigZone = await zone()
  const big = await agreement(bigZone, 2044, { groups: [taxes({ shortfall: 'none' })] })
  await created(t, app, '/v1/revenues', { records: Array.from({ length: 12 }, (_, m) => ({ zoneCode: bigZone, category: '10101', year: 2044, month: m + 1, amount: '999999999999999.99' })) }, 200)
  const bigRun = await run(2044, big)
  t.match(await line(bigRun.id, big), { revenueTotal: '11999999999999999.88', zoneShare: '7199999999999399.93', districtShare: '4800000000000599.95' })

  // An escalating base compounded at 90% a year: B(2030) = round(999999999999999.99 × 1.9¹¹) has 19 integer digits.
  const growingZone = await zone()
  const growing = await agreement(growingZone, 2020, {
    baseYear: 2019, groups: [taxes({ base: { amount: '999999999999999.99', mode: 'escalating', growthRate: '0.90' }, shortfall: 'none' })],
  })
  t.equal((await get(app, `/v1/agreements/${growing}?year=2029`)).json().groups[0].baseForYear, '613106625780099993.87', '18 digits in 2029')
  const view = expectProblem(t, await get(app, `/v1/agreements/${growing}?year=2030`), 422)
  t.same(view.errors?.map((e) => e.pointer), ['/groups/0/base/growthRate'])
  t.match(view.detail, /more than 18 integer digits/)
  await revenue(growingZone, 2030, '1000.00')
  const settle = expectProblem(t, await post(app, '/v1/settlement-runs', { fiscalYear: 2030, agreementIds: [growing] }), 422)
  t.same(settle.errors?.map((e) => e.pointer), [`/agreements/${growing}/groups/0/base/growthRate`])
  t.equal(await database.db.selectFrom('settlement_runs').select('id').where('fiscal_year', '=', 2030).execute().then((runs) => runs.length), 0, 'no run stored')

  // The stateless calculation likewise, instead of printing hundreds of digits.
  const calculation = expectProblem(t, await post(app, '/v1/calculations', {
    fiscalYear: 2100,
    groups: [{ name: 'g', basis: 'increment', actual: '1.00', rates: [{ rate: '0.60' }], base: { amount: '999999999999999.99', baseYear: 1990, mode: 'escalating', growthRate: '999' } }],
  }), 422)
  t.same(calculation.errors?.map((e) => e.pointer), ['/groups/0/base/growthRate'])
})

t.test('§6 advances (预拨) for a year never add up to less than zero: a recovery takes back at most what was paid', async (t) => {
  const zoneCode = await zone()
  const id = await agreement(zoneCode, 2044, { groups: [taxes({ shortfall: 'none' })] })
  const advance = (amount: string) => post(app, '/v1/advances', { agreementId: id, fiscalYear: 2044, paidOn: '2044-06-30', amount, documentNo: '预拨' })
  const advances = () => database.db.selectFrom('advances').select('amount').where('agreement_id', '=', id).orderBy('id').execute()
  const nothingPaid = expectProblem(t, await advance('-5000.00'), 422)
  t.same(nothingPaid.errors, [{ pointer: '/amount', message: 'more than 0.00: nothing was paid for the year to take back' }], 'before, "at least -0.00" (found by a walk through README)')
  t.match(nothingPaid.detail, /advances \(预拨\) for 2044 add up to 0\.00; this one would take them to -5000\.00/)
  t.same(await advances(), [], 'before, 201: the run then printed advancesPaid -5000.00 and a balance due of the zone share plus 5,000.00')
  t.equal((await advance('300.00')).statusCode, 201)
  t.same(expectProblem(t, await advance('-300.01'), 422).errors, [{ pointer: '/amount', message: 'at least -300.00 (what was paid for the year)' }])
  t.equal((await advance('-300.00')).statusCode, 201, 'recovered in full: the year\'s sum is 0.00')
  t.same((await advances()).map((a) => a.amount), ['300.00', '-300.00'])
  await revenue(zoneCode, 2044, '2000.00')
  const settled = await run(2044, id)
  t.match(await line(settled.id, id), { advancesPaid: '0.00' })
})

t.test('§1 advances (预拨) past 18 integer digits: an advance that would take the year\'s sum there is 422 at /amount, and a run of a year whose ' +
  'advances are there (recorded before this was refused) is 422 naming the advances, never a 500 (numeric(20,2) overflow)', async (t) => {
  const LARGEST = '999999999999999.99'
  const zoneCode = await zone()
  const id = await agreement(zoneCode, 2043, { groups: [taxes({ shortfall: 'none' })] })
  await revenue(zoneCode, 2043, '2000.00')
  // Given 1,000 advances of the largest amount (999,999,999,999,999,990.00 in all), as 1,000 requests would leave them.
  await sql`INSERT INTO advances (agreement_id, fiscal_year, paid_on, amount, document_no)
    SELECT ${id}, 2043, DATE '2043-06-30', ${LARGEST}::numeric, '预拨' || n FROM generate_series(1, 1000) AS n`.execute(database.db)
  const advance = (amount: string) => post(app, '/v1/advances', { agreementId: id, fiscalYear: 2043, paidOn: '2043-07-01', amount, documentNo: '预拨末' })
  const refused = expectProblem(t, await advance('10.00'), 422)
  t.same(refused.errors?.map((e) => e.pointer), ['/amount'])
  t.match(refused.detail, /advances for 2043 would add up to 1000000000000000000\.00, more than 18 integer digits/)
  t.equal((await advance('9.99')).statusCode, 201, 'up to 999,999,999,999,999,999.99 in all')
  t.equal((await advance('-5.00')).statusCode, 201, 'a recovered advance brings the sum down')

  // Recorded before the refusal existed: one more brings the sum to 10^18 (19 integer digits).
  await sql`INSERT INTO advances (agreement_id, fiscal_year, paid_on, amount, document_no) VALUES (${id}, 2043, DATE '2043-07-02', 5.01, '旧')`.execute(database.db)
  const runs = await rowCount(database, 'settlement_runs')
  const settle = expectProblem(t, await post(app, '/v1/settlement-runs', { fiscalYear: 2043, agreementIds: [id] }), 422)
  t.same(settle.errors?.map((e) => e.pointer), [`/agreements/${id}/advances`])
  t.match(settle.detail, new RegExp(`^The figures cannot be computed: agreement ${id}: 2043 gives advances paid \\(预拨\\) of more than 18 integer digits \\(calculation-rules\\.md §1\\)\\. See errors for each\\.$`),
    'a sentence: it began "agreement …" in lower case, without a full stop (found by a probe)')
  t.equal(await rowCount(database, 'settlement_runs'), runs, 'no run stored')

  // The stateless calculation: a balance due beyond 18 digits names the advances it deducts. B = 999999999999999.99 × 1000
  // = 999999999999999990.00; deduct at 1.00: Z = S = 1.00 − B = −999999999999999989.00; less the advances: 19 integer digits.
  const calculation = expectProblem(t, await post(app, '/v1/calculations', {
    fiscalYear: 2043, advancesPaid: LARGEST,
    groups: [{ name: 'g', basis: 'increment', actual: '1.00', rates: [{ rate: '1.00' }], shortfall: 'deduct', base: { amount: LARGEST, baseYear: 2042, mode: 'escalating', growthRate: '999' } }],
  }), 422)
  t.match(calculation.detail, /a balance due \(the zone share less the advances paid\) of more than 18 integer digits/)
  t.same(calculation.errors?.map((e) => e.pointer), ['/advancesPaid'])
})

t.test('a run answers its line count and totals; its lines come a page at a time, filtered, each caller seeing its own', async (t) => {
  const here = [await zone(), await zone()]
  const there = await zone('370203')
  const ids = [await agreement(here[0] ?? '', 2046), await agreement(here[1] ?? '', 2046), await agreement(there, 2046, {}, '370203')]
  await revenue(here[0] ?? '', 2046, '2000.00')
  await revenue(here[1] ?? '', 2046, '1500.00')
  await revenue(there, 2046, '3000.00', '370203')
  const created2046 = await run(2046, ...ids)
  t.match(created2046, { lineCount: 3, totals: { revenueTotal: '6500.00', zoneShare: '2100.00', districtShare: '4400.00', balanceDue: '2100.00' } })
  t.notOk('lines' in created2046, 'no lines in the run itself')

  const seen: number[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const response = await get(app, `/v1/settlement-runs/${created2046.id}/lines?limit=1${cursor === null ? '' : `&cursor=${cursor}`}`)
    const page = response.json() as { items: Line[], nextCursor: string | null }
    t.equal(page.items.length, 1)
    seen.push(...page.items.map((l) => l.agreementId))
    cursor = page.nextCursor
    pages++
  } while (cursor !== null && pages < 10)
  t.equal(pages, 3, 'three pages of one')
  t.same([...seen].sort((a, b) => a - b), [...ids].sort((a, b) => a - b), 'every line once')

  const byDistrict = (await get(app, `/v1/settlement-runs/${created2046.id}/lines?districtCode=370203`)).json() as { items: Line[] }
  t.same(byDistrict.items.map((l) => l.agreementId), [ids[2]])
  const byZone = (await get(app, `/v1/settlement-runs/${created2046.id}/lines?zoneCode=${here[1] ?? ''}`)).json() as { items: Line[] }
  t.same(byZone.items.map((l) => l.agreementId), [ids[1]])

  const key = await created(t, app, '/v1/api-keys', { role: 'district', districtCode: '370203', label: '市北区' }) as { token: string }
  const asDistrict = { token: key.token }
  const scoped = (await injectAs(asDistrict, { method: 'GET', url: `/v1/settlement-runs/${created2046.id}` })).json() as Run
  t.match(scoped, { lineCount: 1, totals: { revenueTotal: '3000.00', zoneShare: '1200.00' } }, 'a district sees the count and totals of its own lines')
  const scopedLines = (await injectAs(asDistrict, { method: 'GET', url: `/v1/settlement-runs/${created2046.id}/lines` })).json() as { items: Line[] }
  t.same(scopedLines.items.map((l) => l.agreementId), [ids[2]], 'and only its own lines')
  expectProblem(t, await get(app, '/v1/settlement-runs/999999/lines'), 404)
})

t.test('the list of runs shows each run as GET /v1/settlement-runs/{id} does, with the number and totals of the caller\'s lines (api-contract.md: the same shape)', async (t) => {
  const here = await zone()
  const there = await zone('370203')
  const ids = [await agreement(here, 2045), await agreement(there, 2045, {}, '370203')]
  await revenue(here, 2045, '2000.00')
  await revenue(there, 2045, '3000.00', '370203')
  const annual = await run(2045, ...ids)
  t.equal((await finalize(annual.id)).statusCode, 200)
  await revenue(here, 2045, '2500.00')
  const both = await run(2045, ...ids)
  const hereOnly = await run(2045, ids[0] ?? 0)
  type Listed = Run & { fiscalYear: number }
  const listAs = async (who: Parameters<typeof injectAs>[0]) => {
    const response = await injectAs(who, { method: 'GET', url: '/v1/settlement-runs?fiscalYear=2045' })
    t.equal(response.statusCode, 200)
    return (response.json() as { items: Listed[] }).items
  }
  const admin = await listAs('admin')
  t.same(admin.map((r) => r.id), [hereOnly.id, both.id, annual.id], 'newest first')
  t.match(admin, [
    { lineCount: 1, totals: { revenueTotal: '2500.00', zoneShare: '900.00', adjustment: '300.00', balanceAdjustment: '300.00' } },
    { lineCount: 2, totals: { revenueTotal: '5500.00', zoneShare: '2100.00', districtShare: '3400.00', advancesPaid: '0.00', balanceDue: '2100.00', adjustment: '300.00', balanceAdjustment: '300.00' } },
    { lineCount: 2, totals: { revenueTotal: '5000.00', zoneShare: '1800.00', adjustment: '0.00', balanceAdjustment: '0.00' } },
  ], 'before, the list had neither lineCount nor totals')
  for (const listed of admin) t.same(listed, (await get(app, `/v1/settlement-runs/${listed.id}`)).json(), `run ${listed.id} listed as it is shown alone`)

  const key = await created(t, app, '/v1/api-keys', { role: 'district', districtCode: '370203', label: '市北区' }) as { token: string }
  const shibei = await listAs({ token: key.token })
  t.same(shibei.map((r) => r.id), [both.id, annual.id], '市北区 lists the runs with its lines, not the run of 城阳区\'s zone alone')
  t.match(shibei, [
    { lineCount: 1, totals: { revenueTotal: '3000.00', zoneShare: '1200.00', adjustment: '0.00' } },
    { lineCount: 1, totals: { revenueTotal: '3000.00', zoneShare: '1200.00', adjustment: '0.00' } },
  ], 'each with the count and totals of its own lines')
  for (const listed of shibei) {
    t.same(listed, (await injectAs({ token: key.token }, { method: 'GET', url: `/v1/settlement-runs/${listed.id}` })).json(), `run ${listed.id} listed for 市北区 as shown to it alone`)
  }
})

t.test('§9 a statement says 含补充结算 in its title when a line it prints is supplementary: in each caller\'s scope', async (t) => {
  // 城阳区's zone settled 2048 once and its revenue was revised: its line in the new run is
  // supplementary; 市北区's zone settles 2048 for the first time in the same run.
  const revised = await zone()
  const first = await zone('370203')
  const revisedId = await agreement(revised, 2048)
  const firstId = await agreement(first, 2048, {}, '370203')
  await revenue(revised, 2048, '2000.00')
  t.equal((await finalize((await run(2048, revisedId)).id)).statusCode, 200)
  await revenue(revised, 2048, '3000.00')
  await revenue(first, 2048, '1500.00', '370203')
  const both = await run(2048, revisedId, firstId)
  t.match(await line(both.id, revisedId), { kind: 'supplementary' })
  t.match(await line(both.id, firstId), { kind: 'annual' })

  const rowsAs = async (who: Parameters<typeof injectAs>[0]) => {
    const csv = await injectAs(who, { method: 'GET', url: `/v1/settlement-runs/${both.id}/statement?format=csv` })
    t.equal(csv.statusCode, 200)
    return csv.rawPayload.subarray(3).toString('utf8').split('\r\n').filter((r) => r !== '')
  }
  // The 合计 row (a row of figures only: no field is quoted) and its columns of supplementary lines: 原结算功能区分成, 补充结算调整 and its 应补(扣)调整.
  const adjustmentsOfTotal = (rows: string[]) => {
    const header = rows[1]?.split(',') ?? []
    const total = rows.at(-1)?.split(',') ?? []
    t.equal(total[0], '合计 total')
    return [total[header.indexOf('原结算功能区分成 previously settled zone share')], total[header.indexOf('补充结算调整 supplementary adjustment')], total[header.indexOf('补充结算应补(扣)调整 supplementary balance adjustment')]]
  }
  const keyOf = async (districtCode: string) => ({ token: (await created(t, app, '/v1/api-keys', { role: 'district', districtCode, label: districtCode }) as { token: string }).token })
  const supplementary = await line(both.id, revisedId) as { previousZoneShare: string, adjustment: string, balanceAdjustment: string }
  t.not(supplementary.adjustment, '0.00', 'the revision moved the zone share')
  const admin = await rowsAs('admin')
  t.match(admin[0], /^"?2048年度（含补充结算）结算单/, 'the whole run prints a supplementary line')
  t.same(adjustmentsOfTotal(admin), [supplementary.previousZoneShare, supplementary.adjustment, supplementary.balanceAdjustment],
    'its 合计 sums the zone share previously settled and the adjustments (the annual line has none); before, it left the first blank (found by a probe)')
  const chengyang = await rowsAs(await keyOf('370214'))
  t.match(chengyang[0], /^"?2048年度（含补充结算）结算单/, '城阳区 prints its supplementary line')
  t.same(adjustmentsOfTotal(chengyang), [supplementary.previousZoneShare, supplementary.adjustment, supplementary.balanceAdjustment])
  const shibei = await rowsAs(await keyOf('370203'))
  t.match(shibei[0], /^"?2048年度结算单/, '市北区 prints only its annual line: no 含补充结算')
  t.same(adjustmentsOfTotal(shibei), ['', '', ''], 'and its 合计 leaves those columns blank, as its 小计 does (not 0.00)')
})

t.test('§6 a shortfall never vanishes silently: the next version, without a carry_forward group of that name, is not settled (409) until the ended year, settled again, writes it off', async (t) => {
  const zoneCode = await zone()
  const old = await agreement(zoneCode, 2052) // open-ended when its 2052 is finalized
  await revenue(zoneCode, 2052, '900.00')
  t.equal((await finalize((await run(2052, old)).id)).statusCode, 200)
  t.equal((await injectAs('admin', { method: 'PATCH', url: `/v1/agreements/${old}`, payload: { effectiveTo: 2052 } })).statusCode, 200)
  const next = await agreement(zoneCode, 2053, { documentNo: '第二版', groups: [taxes({ shortfall: 'none' })] })
  await revenue(zoneCode, 2053, '1500.00')
  const runs = await rowCount(database, 'settlement_runs')
  const refused = expectProblem(t, await post(app, '/v1/settlement-runs', { fiscalYear: 2053, agreementIds: [next] }), 409)
  t.equal(refused.errors?.[0]?.pointer, `/agreements/${next}`)
  t.match(refused.detail, new RegExp(`agreement ${old}'s finalized 2052 settlement carries out a shortfall of 100\\.00 in group "taxes", which agreement ${next} .* does not carry forward: ` +
    `settle 2052 for agreement ${old} again and finalize it`), 'before, 201: the 100.00 the signed 2052 line carried out was carried by nothing and written off nowhere')
  t.equal(await rowCount(database, 'settlement_runs'), runs, 'no run stored')
  // The ended year settled again sees the next version: its statement writes the shortfall off.
  const again = await run(2052, old)
  t.match((await line(again.id, old)).groups[0], { carriedShortfallOut: '100.00', writtenOff: '100.00' })
  t.equal((await finalize(again.id)).statusCode, 200)
  const settled = await run(2053, next)
  t.match(await line(settled.id, next), { zoneShare: '300.00', groups: [{ carriedShortfallIn: '0.00' }] }, 'then the next version is settled: 500.00 × 0.60, nothing carried')
})

t.test('§6, §9 a finalized statement keeps its shortfall as signed when its agreement is later ended at that year; the year settled again says what becomes of it', async (t) => {
  const zoneCode = await zone()
  const old = await agreement(zoneCode, 2050) // open-ended: 2050 is not its last year when finalized
  await revenue(zoneCode, 2050, '900.00')
  const annual = await run(2050, old)
  t.equal((await finalize(annual.id)).statusCode, 200)
  const signed = (await get(app, `/v1/settlement-runs/${annual.id}/statement`)).body
  const verified = (await get(app, `/v1/settlement-runs/${annual.id}/verification`)).json() as { digest: string }
  t.equal((await injectAs('admin', { method: 'PATCH', url: `/v1/agreements/${old}`, payload: { effectiveTo: 2050 } })).statusCode, 200)
  const after = (await line(annual.id, old)).groups[0]
  t.match(after, { carriedShortfallOut: '100.00' }, 'the shortfall carried out, as signed')
  t.notOk('writtenOff' in (after ?? {}), 'no write-off added to the signed line (before, it printed 核销 100.00 once the agreement ended at 2050)')
  t.equal((await get(app, `/v1/settlement-runs/${annual.id}/statement`)).body, signed, 'the statement reads as it was finalized')
  t.match((await get(app, `/v1/settlement-runs/${annual.id}/verification`)).json(), { digest: verified.digest, digestMatches: true })
  // Settled again, the year is the agreement's last: the supplementary line writes the shortfall off, and finalizing records it.
  const again = await run(2050, old)
  t.match(await line(again.id, old), { kind: 'supplementary', follows: annual.id, adjustment: '0.00' })
  t.match((await line(again.id, old)).groups[0], { carriedShortfallOut: '100.00', writtenOff: '100.00' })
  t.equal((await finalize(again.id)).statusCode, 200)
  const next = await agreement(zoneCode, 2051, { documentNo: '第二版' })
  await revenue(zoneCode, 2051, '1500.00')
  t.match((await line((await run(2051, next)).id, next)).groups[0], { carriedShortfallIn: '0.00', zoneShare: '300.00' }, 'a version created afterwards carries nothing in')
})

t.test('§6, §9 a signed line whose agreement is later ended at its year shows the shortfall awaiting its write-off until a later signed line or a next version disposes of it', async (t) => {
  // Ended, with no next version: the signed 100.00 is carried by nothing and written off nowhere.
  const zoneCode = await zone()
  const old = await agreement(zoneCode, 2050) // open-ended: 2050 is not its last year when finalized
  await revenue(zoneCode, 2050, '900.00')
  const annual = await run(2050, old)
  t.notOk('awaitingWriteOff' in ((await line(annual.id, old)).groups[0] ?? {}), 'a draft line never shows it')
  t.equal((await finalize(annual.id)).statusCode, 200)
  t.notOk('awaitingWriteOff' in ((await line(annual.id, old)).groups[0] ?? {}), 'nor a signed line whose agreement goes on: it carries the shortfall into its next year')
  const signed = (await get(app, `/v1/settlement-runs/${annual.id}/statement`)).body
  t.equal((await injectAs('admin', { method: 'PATCH', url: `/v1/agreements/${old}`, payload: { effectiveTo: 2050 } })).statusCode, 200)
  const awaiting = (await line(annual.id, old)).groups[0] ?? {}
  t.match(awaiting, { carriedShortfallOut: '100.00', awaitingWriteOff: '100.00' }, 'before, nothing said the 100.00 was carried by nothing and written off nowhere')
  t.ok(awaiting?.explanation?.includes('可分成增量为负，短收 100.00 待核销（本年度已为分成办法最后一年）：功能区分成 0.00'), 'its explanation says so too')
  t.notOk('writtenOff' in awaiting, 'the signed line is not given a write-off it was not signed with')
  t.equal((await get(app, `/v1/settlement-runs/${annual.id}/statement`)).body, signed, 'and its statement reads as it was finalized')
  // The year settled again writes it off; signed, the old line no longer awaits anything.
  const again = await run(2050, old)
  t.match((await line(again.id, old)).groups[0], { writtenOff: '100.00' })
  t.match((await line(annual.id, old)).groups[0], { awaitingWriteOff: '100.00' }, 'still awaiting while the supplementary settlement is a draft')
  t.equal((await finalize(again.id)).statusCode, 200)
  const disposed = (await line(annual.id, old)).groups[0] ?? {}
  t.notOk('awaitingWriteOff' in disposed, 'the supplementary line signed since wrote it off')
  t.notOk('writtenOff' in disposed)
  t.match((await line(again.id, old)).groups[0], { writtenOff: '100.00' })

  // Ended, then a next version that carries it is registered: the signed line says where it went.
  const other = await zone()
  const first = await agreement(other, 2050)
  await revenue(other, 2050, '900.00')
  const firstRun = await run(2050, first)
  t.equal((await finalize(firstRun.id)).statusCode, 200)
  t.equal((await injectAs('admin', { method: 'PATCH', url: `/v1/agreements/${first}`, payload: { effectiveTo: 2050 } })).statusCode, 200)
  t.match((await line(firstRun.id, first)).groups[0], { awaitingWriteOff: '100.00' })
  const next = await agreement(other, 2051, { documentNo: '第二版' })
  const carried = (await line(firstRun.id, first)).groups[0] ?? {}
  t.match(carried, { carriedShortfallOut: '100.00', carriedToAgreementId: next })
  t.notOk('awaitingWriteOff' in carried, 'carried by the next version, it awaits nothing')
  await revenue(other, 2051, '1500.00')
  t.match((await line((await run(2051, next)).id, next)).groups[0], { carriedShortfallIn: '100.00' })
})

t.test('§6, §9 a shortfall written off on a finalized line stays written off in the supplementary settlements after it, whatever versions come later', async (t) => {
  const zoneCode = await zone()
  const old = await agreement(zoneCode, 2052, { effectiveTo: 2052 })
  await revenue(zoneCode, 2052, '900.00')
  const annual = await run(2052, old)
  t.equal((await finalize(annual.id)).statusCode, 200)
  t.match((await line(annual.id, old)).groups[0], { writtenOff: '100.00' })
  await revenue(zoneCode, 2052, '940.00')
  const first = await run(2052, old)
  t.equal((await finalize(first.id)).statusCode, 200)
  t.match((await line(first.id, old)).groups[0], { carriedShortfallOut: '60.00', writtenOff: '60.00' })
  const next = await agreement(zoneCode, 2053, { documentNo: '第二版' })
  await revenue(zoneCode, 2052, '970.00')
  const second = await run(2052, old)
  const supplementary = (await line(second.id, old)).groups[0]
  t.match(supplementary, { carriedShortfallOut: '30.00', writtenOff: '30.00' }, 'written off again, not carried to the version created since (before, carriedToAgreementId)')
  t.notOk('carriedToAgreementId' in (supplementary ?? {}))
  t.equal((await finalize(second.id)).statusCode, 200)
  await revenue(zoneCode, 2053, '1500.00')
  t.match((await line((await run(2053, next)).id, next)).groups[0], { carriedShortfallIn: '0.00', shareable: '500.00', zoneShare: '300.00' },
    'the next version carries nothing in (before, 30.00, and its zone share was 282.00)')
})

t.test('§6, §9 a draft computed before its carry source appeared is stale: a previous version registered, or extended to meet it, after the draft', async (t) => {
  // Registered late: the next version's 2056 draft read no carry; the previous version (2055) now carries into it.
  const late = await zone()
  const next = await agreement(late, 2056)
  await revenue(late, 2056, '1500.00')
  const draft = await run(2056, next)
  const old = await agreement(late, 2055, { effectiveTo: 2055, documentNo: '第一版' })
  await revenue(late, 2055, '900.00')
  const stale = expectProblem(t, await finalize(draft.id), 409)
  t.match(stale.type, /settlement-stale$/)
  t.match(stale.detail, new RegExp(`it now carries shortfalls in from agreement ${old}'s 2055, which is not finalized`), 'before, 200: the line was signed with 0.00 carried in, and the 100.00 was lost')
  t.match((await get(app, `/v1/settlement-runs/${draft.id}`)).json(), { status: 'draft' })
  // The way on: 2055 settled and finalized (it carries 100.00 out to the next version), then 2056 again carries it in.
  const oldRun = await run(2055, old)
  t.match((await line(oldRun.id, old)).groups[0], { carriedShortfallOut: '100.00', carriedToAgreementId: next })
  t.equal((await finalize(oldRun.id)).statusCode, 200)
  expectProblem(t, await finalize(draft.id), 409)
  const again = await run(2056, next)
  t.match(await line(again.id, next), { zoneShare: '240.00', groups: [{ carriedShortfallIn: '100.00' }] }, '(1500.00 − 1000.00 − 100.00) × 0.60')
  t.equal((await finalize(again.id)).statusCode, 200)

  // Extended: a gap year (2058) carried nothing into the next version's 2059 draft; extended over it, the previous version does.
  const gap = await zone()
  const first = await agreement(gap, 2057, { effectiveTo: 2057, documentNo: '第一版' })
  await revenue(gap, 2057, '1000.00')
  t.equal((await finalize((await run(2057, first)).id)).statusCode, 200)
  const second = await agreement(gap, 2059, { documentNo: '第二版' })
  await revenue(gap, 2059, '1500.00')
  const before = await run(2059, second)
  t.equal((await injectAs('admin', { method: 'PATCH', url: `/v1/agreements/${first}`, payload: { effectiveTo: 2058 } })).statusCode, 200)
  t.match(expectProblem(t, await finalize(before.id), 409).detail, new RegExp(`agreement ${first}'s 2058, which is not finalized`))
})

t.test('§6 §9 an agreement may not become, after the fact, the previous version of one whose first year is signed: created for the gap year, or ended to meet it, 409; nothing changes', async (t) => {
  const zoneCode = await zone()
  const later = await agreement(zoneCode, 2052)
  await revenue(zoneCode, 2052, '1200.00')
  t.equal((await finalize((await run(2052, later)).id)).statusCode, 200, 'the later version\'s 2052 is signed, with nothing carried in')
  const agreements = await rowCount(database, 'agreements')
  const gap = expectProblem(t, await post(app, '/v1/agreements', {
    zoneCode, districtCode: '370214', documentNo: '补登', effectiveFrom: 2051, effectiveTo: 2051, baseYear: 2050, groups: [taxes()],
  }), 409)
  t.match(gap.detail, new RegExp(`Agreement ${later} begins in 2052, carries shortfalls forward, and its 2052 settlement is finalized`))
  t.same(gap.errors, [{ pointer: '/effectiveTo', message: `must be before 2051 while agreement ${later}'s 2052 is finalized` }])
  t.equal(await rowCount(database, 'agreements'), agreements, 'not recorded (before, 201: its 2051 shortfall went to a 2052 already signed)')

  const earlier = await agreement(zoneCode, 2049, { effectiveTo: 2050 })
  const extended = expectProblem(t, await injectAs('admin', { method: 'PATCH', url: `/v1/agreements/${earlier}`, payload: { effectiveTo: 2051 } }), 409)
  t.equal(extended.errors?.[0]?.pointer, '/effectiveTo')
  t.equal((await get(app, `/v1/agreements/${earlier}`)).json().effectiveTo, 2050, 'still ends in 2050')
  t.equal((await injectAs('admin', { method: 'PATCH', url: `/v1/agreements/${earlier}`, payload: { effectiveTo: 2049 } })).statusCode, 200, 'ending it earlier is no such thing')
})

t.test('§9, §4 prior_year: a draft made stale by the year before\'s revenue says that year may be the one that changed', async (t) => {
  const zoneCode = await zone()
  const id = await agreement(zoneCode, 2061, { baseYear: 2060, groups: [taxes({ base: { mode: 'prior_year' }, shortfall: 'none' })] })
  await revenue(zoneCode, 2060, '1000.00')
  await revenue(zoneCode, 2061, '1500.00')
  const draft = await run(2061, id)
  t.match(await line(draft.id, id), { zoneShare: '300.00' }, '(1500.00 − 1000.00) × 0.60')
  await revenue(zoneCode, 2060, '1100.00')
  const stale = expectProblem(t, await finalize(draft.id), 409)
  t.match(stale.type, /settlement-stale$/)
  t.match(stale.detail, new RegExp(`agreement ${id} .*its revenue of 2061 or of 2060, which the prior-year base of "taxes" is taken from`),
    'before, "its revenue of 2061": the year whose revenue did not change')
  t.same(await finalizedLines(id, 2061), [], 'nothing finalized')
})

t.test('§6 §9 a draft of an agreement\'s last year that writes a shortfall off is stale once a next version that carries it is registered: signed, it would have said "carried" where the parties confirmed 核销; without a shortfall, a next version changes nothing', async (t) => {
  const zoneCode = await zone()
  const last = await agreement(zoneCode, 2064, { effectiveTo: 2064 })
  await revenue(zoneCode, 2064, '900.00')
  const draft = await run(2064, last)
  t.match((await line(draft.id, last)).groups[0], { carriedShortfallOut: '100.00', writtenOff: '100.00' }, 'no next version yet: the draft writes the 100.00 off')
  const next = await agreement(zoneCode, 2065, { documentNo: '第二版' })
  const stale = expectProblem(t, await finalize(draft.id), 409)
  t.match(stale.type, /settlement-stale$/)
  t.match(stale.detail, new RegExp(`agreement ${last} .*the next version of the agreement, which decides whether the shortfall it carries out of 2064 is carried or written off \\(calculation-rules.md §6\\)`),
    'before, 200: signed as carried to the next version, not as the write-off the draft showed')
  t.same(await finalizedLines(last, 2064), [], 'nothing finalized')
  const again = await run(2064, last)
  const shown = (await line(again.id, last)).groups[0]
  t.match(shown, { carriedShortfallOut: '100.00', carriedToAgreementId: next }, 'computed again: carried to the next version')
  t.equal(shown?.writtenOff, undefined)
  t.equal((await finalize(again.id)).statusCode, 200)

  // No shortfall carried out: the next version registered after the draft changes nothing on it.
  const other = await zone()
  const ending = await agreement(other, 2064, { effectiveTo: 2064 })
  await revenue(other, 2064, '1100.00')
  const plain = await run(2064, ending)
  await agreement(other, 2065, { documentNo: '第二版' })
  t.equal((await finalize(plain.id)).statusCode, 200, 'finalized as computed')

  // A next version that does not carry the shortfall (no carry_forward group of that name): still written off, nothing changed.
  for (const groups of [[taxes({ shortfall: 'none' })], [taxes({ name: 'other' })]]) {
    const pair = await zone()
    const id = await agreement(pair, 2064, { effectiveTo: 2064 })
    await revenue(pair, 2064, '900.00')
    const written = await run(2064, id)
    await agreement(pair, 2065, { documentNo: '第二版', groups })
    t.match((await line(written.id, id)).groups[0], { writtenOff: '100.00' }, 'still written off')
    t.equal((await finalize(written.id)).statusCode, 200, `a next version whose group is ${JSON.stringify(groups[0])}: finalized as computed`)
  }
})

t.test('§6 §9 once a signed statement wrote a shortfall off, a supplementary draft of that year writes it off too, and a next version registered meanwhile does not make it stale', async (t) => {
  const zoneCode = await zone()
  const id = await agreement(zoneCode, 2066, { effectiveTo: 2066 })
  await revenue(zoneCode, 2066, '900.00')
  const annual = await run(2066, id)
  t.equal((await finalize(annual.id)).statusCode, 200)
  await revenue(zoneCode, 2066, '950.00')
  const supplementary = await run(2066, id)
  t.match((await line(supplementary.id, id)).groups[0], { carriedShortfallOut: '50.00', writtenOff: '50.00' })
  await agreement(zoneCode, 2067, { documentNo: '第二版' })
  t.match((await line(supplementary.id, id)).groups[0], { writtenOff: '50.00' }, 'written off it stays')
  t.equal((await finalize(supplementary.id)).statusCode, 200, 'finalized as the parties saw it')
})

t.test('§6 §9 a draft of a last year that carries a shortfall out, computed before the service recorded where it goes, is stale: what its parties saw is not known', async (t) => {
  const zoneCode = await zone()
  const id = await agreement(zoneCode, 2068, { effectiveTo: 2068 })
  await revenue(zoneCode, 2068, '900.00')
  const draft = await run(2068, id)
  const { rows: [stored] } = await sql<{ inputs: string }>`SELECT inputs FROM settlement_lines WHERE run_id = ${draft.id} AND agreement_id = ${id}`.execute(database.db)
  const { shortfalls, ...before } = JSON.parse(stored!.inputs) as Record<string, unknown>
  t.equal(shortfalls, 'taxes:written_off', 'recorded: the 100.00 of "taxes" written off')
  await sql`UPDATE settlement_lines SET inputs = ${JSON.stringify(before)} WHERE run_id = ${draft.id} AND agreement_id = ${id}`.execute(database.db)
  t.match(expectProblem(t, await finalize(draft.id), 409).detail, /is carried or written off/)
  t.equal((await finalize((await run(2068, id)).id)).statusCode, 200, 'computed again, it finalizes')
})
