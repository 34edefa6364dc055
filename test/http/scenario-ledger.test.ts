import t, { type Test } from 'tap'
import { expectProblem, testApp, testDatabase } from '../helpers.js'
import { agreementBody, buildWorld, created, get, injector, post } from '../world.js'

/*
 * A scenario (api-contract.md, Scenarios) carries into a year what the agreement's finalized
 * settlement of the year before carried out, as a settlement run does (calculation-rules.md §6: the
 * C_out of the latest finalized settlement of Y−1; §9: what has been settled is settled once), though
 * the revenue of that year has been revised since.
 * The world: agreement ht (QD-HT, 370214), taxes on a fixed base of 1,000.00, bands 0.60 up to 10% and
 * 0.80 beyond, shortfall carried forward; fees shared whole at 0.60.
 */

const database = await testDatabase(t)
const app = await testApp(t, database)
const world = await buildWorld(t, app)
const injectAs = injector(app, world)

t.test('§6 a scenario\'s 2021 carries in the 100.00 the finalized 2020 settlement carried out, after 2020\'s revenue was revised, as the 2021 run did', async (t) => {
  const ht = world.agreements.ht
  const record = (year: number, amount: string) => created(t, app, '/v1/revenues', { records: [{ zoneCode: 'QD-HT', category: '10101', year, month: 1, amount }] }, 200)
  const settle = async (fiscalYear: number) => {
    const run = await created(t, app, '/v1/settlement-runs', { fiscalYear, agreementIds: [ht] }) as { id: number }
    await created(t, app, `/v1/settlement-runs/${run.id}/finalize`, undefined, 200)
    return ((await get(app, `/v1/settlement-runs/${run.id}/lines`)).json().items as Array<{ zoneShare: string, groups: Array<{ name: string, carriedShortfallIn: string | null, carriedShortfallOut: string | null }> }>)[0]!
  }
  await record(2020, '900.00')
  await record(2021, '1250.00')
  const signed2020 = await settle(2020)
  t.equal(signed2020.groups[0]?.carriedShortfallOut, '100.00', '2020: 900.00 against a base of 1,000.00, signed')
  await record(2020, '1000.00')
  const signed2021 = await settle(2021)
  t.match(signed2021, { zoneShare: '100.00', groups: [{ name: 'taxes', carriedShortfallIn: '100.00' }] }, '2021: 250.00 − 100.00 carried in = 150.00 shared, 100.00 × 0.60 + 50.00 × 0.80 = 100.00')

  const scenario = await post(app, '/v1/scenarios', { agreementId: ht, changes: {}, fromYear: 2021, toYear: 2021 })
  t.equal(scenario.statusCode, 200, scenario.body)
  const [year] = scenario.json().years as Array<{ groups: Array<{ agreed: { carriedShortfallIn: string }, scenario: { carriedShortfallIn: string } }>, totals: { agreed: { zoneShare: string }, scenario: { zoneShare: string } } }>
  t.equal(year?.groups[0]?.agreed.carriedShortfallIn, '100.00', 'before, 0.00: the scenario recomputed 2020 on its revised revenue')
  t.equal(year?.totals.agreed.zoneShare, signed2021.zoneShare, 'the agreed 2021 reads as the signed line (before, 180.00)')
  t.equal(year?.totals.scenario.zoneShare, signed2021.zoneShare, 'and so does the scenario without changes')

  const changed = await post(app, '/v1/scenarios', { agreementId: ht, changes: { groups: [{ name: 'taxes', rates: [{ rate: '0.70' }] }] }, fromYear: 2021, toYear: 2021 })
  t.equal(changed.statusCode, 200, changed.body)
  t.equal(changed.json().years[0].groups[0].scenario.carriedShortfallIn, '100.00', 'a change is weighed against the carry the zone actually has')
  t.equal(changed.json().years[0].totals.scenario.zoneShare, '105.00', '150.00 × 0.70')
})

t.test('§6 a scenario of a new version whose previous version\'s last year is not finalized is 409 at /agreementId, a field of the request', async (t) => {
  const { agreementBody } = await import('../world.js')
  t.equal((await injectAs('admin', { method: 'PATCH', url: `/v1/agreements/${world.agreements.bl}`, payload: { effectiveTo: 2020 } })).statusCode, 200)
  const next = await created(t, app, '/v1/agreements', agreementBody('QD-BL', '370203', { effectiveFrom: 2021, baseYear: 2020, documentNo: '第二版' })) as { id: number }
  await created(t, app, '/v1/revenues', { records: [{ zoneCode: 'QD-BL', category: '10101', year: 2021, month: 1, amount: '1200.00' }] }, 200)
  const refused = expectProblem(t, await post(app, '/v1/scenarios', { agreementId: next.id, changes: {}, fromYear: 2021, toYear: 2021 }), 409)
  t.same(refused.errors?.map((e) => e.pointer), ['/agreementId'], `before, /agreements/${next.id}: not a field of the scenario request`)
  t.match(refused.detail, new RegExp(`carries in the shortfalls of agreement ${world.agreements.bl}, its previous version, and 2020 is not finalized`))
})

/** A zone of 370214 with one agreement like ht's (overrides on its taxes group), its 2020 and 2021 revenue recorded. */
async function zoneWithRevenue (t: Test, code: string, taxes: Record<string, unknown> = {}) {
  await created(t, app, '/v1/zones', { code, name: code, hostDistrictCode: '370214' })
  const body = agreementBody(code, '370214')
  body.groups[0] = { ...body.groups[0], ...taxes } as typeof body.groups[0]
  const { id } = await created(t, app, '/v1/agreements', body) as { id: number }
  await created(t, app, '/v1/revenues', { records: [
    { zoneCode: code, category: '10101', year: 2020, month: 1, amount: '900.00' },
    { zoneCode: code, category: '10101', year: 2021, month: 1, amount: '1250.00' }] }, 200)
  return id
}

async function settleAlone (t: Test, agreementId: number, fiscalYear: number) {
  const run = await created(t, app, '/v1/settlement-runs', { fiscalYear, agreementIds: [agreementId] }) as { id: number }
  await created(t, app, `/v1/settlement-runs/${run.id}/finalize`, undefined, 200)
}

interface ScenarioGroupYear { scenario: { carriedShortfallIn: string | null, carriedShortfallOut: string | null, zoneShare: string } }
const taxesAsChanged = (body: { years: Array<{ fiscalYear: number, groups: ScenarioGroupYear[] }> }) =>
  body.years.map((y) => ({ year: y.fiscalYear, in: y.groups[0]?.scenario.carriedShortfallIn, out: y.groups[0]?.scenario.carriedShortfallOut, zone: y.groups[0]?.scenario.zoneShare }))

t.test('§5 §6 within its years, a group the scenario changes carries its own C_out: a shortfall rule tried on an agreement that carries none is not dropped when the agreed 2020 is signed', async (t) => {
  const id = await zoneWithRevenue(t, 'QD-SN', { shortfall: 'none' })
  const payload = { agreementId: id, changes: { groups: [{ name: 'taxes', shortfall: 'carry_forward' }] }, fromYear: 2020, toYear: 2021 }
  const expected = [
    { year: 2020, in: '0.00', out: '100.00', zone: '0.00' },
    // 1,250.00 − 1,000.00 − 100.00 carried in = 150.00: 100.00 × 0.60 + 50.00 × 0.80
    { year: 2021, in: '100.00', out: '0.00', zone: '100.00' },
  ]
  const before = await post(app, '/v1/scenarios', payload)
  t.same(taxesAsChanged(before.json()), expected, '2020 not yet settled')
  await settleAlone(t, id, 2020)
  const after = await post(app, '/v1/scenarios', payload)
  t.same(taxesAsChanged(after.json()), expected, 'the same once the agreed 2020 (no shortfall carried) is signed; before, 2021 carried in 0.00 and printed 180.00')
})

t.test('§5 §6 a changed base that leaves 2020 without a shortfall carries none into 2021, though the signed 2020 carried 100.00 out', async (t) => {
  const id = await zoneWithRevenue(t, 'QD-SB')
  await settleAlone(t, id, 2020)
  const scenario = await post(app, '/v1/scenarios', { agreementId: id, changes: { groups: [{ name: 'taxes', base: { amount: '800.00', mode: 'fixed' } }] }, fromYear: 2020, toYear: 2021 })
  t.same(taxesAsChanged(scenario.json()), [
    // 900.00 − 800.00 = 100.00: 80.00 × 0.60 + 20.00 × 0.80
    { year: 2020, in: '0.00', out: '0.00', zone: '64.00' },
    // 1,250.00 − 800.00 = 450.00: 80.00 × 0.60 + 370.00 × 0.80; before, 100.00 carried in and 264.00
    { year: 2021, in: '0.00', out: '0.00', zone: '344.00' },
  ])
  t.equal(scenario.json().years[1].groups[0].agreed.carriedShortfallIn, '100.00', 'the agreed terms carry in what the signed 2020 carried out')
})

t.test('§6 §9 a change that leaves C_out alone carries the signed C_out, though 2020\'s revenue was revised after it was signed: the agreed terms given again differ by 0.00', async (t) => {
  const id = await zoneWithRevenue(t, 'QD-SR')
  await settleAlone(t, id, 2020)
  await created(t, app, '/v1/revenues', { records: [{ zoneCode: 'QD-SR', category: '10101', year: 2020, month: 1, amount: '1000.00' }] }, 200)
  const agreed = agreementBody('QD-SR', '370214').groups[0]!
  for (const change of [{}, { rates: agreed.rates }, { shortfall: 'carry_forward' }]) {
    const scenario = await post(app, '/v1/scenarios', { agreementId: id, changes: { groups: [{ name: 'taxes', ...change }] }, fromYear: 2020, toYear: 2021 })
    t.equal(scenario.statusCode, 200, scenario.body)
    const years = scenario.json().years as Array<{ totals: { difference: string }, groups: Array<{ scenario: { carriedShortfallIn: string } }> }>
    t.same(years.map((y) => y.totals.difference), ['0.00', '0.00'], `${JSON.stringify(change)}: nothing changed, no difference (before, 80.00 in 2021)`)
    t.equal(years[1]?.groups[0]?.scenario.carriedShortfallIn, '100.00', 'the signed 100.00 carried in, as the agreed terms do')
  }
})

t.test('§4 §6 a year before the scenario\'s that is finalized is not computed as changed: a prior_year base tried from 2021 is answered, though 2020 has no 2019 revenue to base it on', async (t) => {
  const id = await zoneWithRevenue(t, 'QD-PY')
  const payload = { agreementId: id, changes: { groups: [{ name: 'taxes', base: { mode: 'prior_year' } }] }, fromYear: 2021, toYear: 2021 }
  // 2020 not settled: its C_out as changed is what 2021 carries in, and it cannot be computed.
  const refused = expectProblem(t, await post(app, '/v1/scenarios', payload), 422)
  t.same(refused.errors?.map((e) => e.pointer), ['/changes/groups/0/base'])
  t.match(refused.errors?.[0]?.message, /prior_year bases 2020 on 2019's revenue, and none is recorded/)
  await settleAlone(t, id, 2020)
  // 2020 signed: 2021 carries in the signed 100.00 (found by a probe: still refused over 2020, whose figures were thrown away).
  const answered = await post(app, '/v1/scenarios', payload)
  t.equal(answered.statusCode, 200, answered.body)
  // Base A(2020) = 900.00; 1,250.00 − 900.00 − 100.00 carried in = 250.00: 90.00 × 0.60 + 160.00 × 0.80 = 182.00
  t.same(taxesAsChanged(answered.json()), [{ year: 2021, in: '100.00', out: '0.00', zone: '182.00' }])
})
