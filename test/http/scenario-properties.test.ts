import fc from 'fast-check'
import t from 'tap'
import { testApp, testDatabase } from '../helpers.js'
import { holdsAsync } from '../properties.js'
import { created, get, post } from '../world.js'

/*
 * 测算 (api-contract.md, Scenarios) as a property, on random agreements and revenue: an agreement with one to three
 * groups (basis increment with a fixed, escalating or prior_year base, one to three bands, any shortfall policy;
 * or basis total), revenue for the base year and three years, each year settled and finalized in turn (calculation-rules.md
 * §9), then a scenario with no changes over the three settled years and one projected year. It must show:
 *  - a difference of 0.00 in every group and year, and the same figures under both versions;
 *  - for every settled year, the finalized line's figures exactly: each group's, and the totals (§4–§6, the carry chain included).
 */

const database = await testDatabase(t)
const app = await testApp(t, database)
await created(t, app, '/v1/districts', { code: '370214', name: '城阳区' })

const Y0 = 2070
const CATEGORIES = ['10101', '10104', '10106', '10304']
const LIMITS = ['0.05', '0.10', '0.25']

const rate = fc.constantFrom('0.60', '0.65', '0.70', '0.75', '0.80', '0.90', '1.00', '0.625')
const bands = fc.integer({ min: 1, max: 3 }).chain((n) => fc.array(rate, { minLength: n, maxLength: n })
  .map((rates) => rates.map((r, k) => k === rates.length - 1 ? { rate: r } : { upToGrowth: LIMITS[k], rate: r })))
const amount = fc.integer({ min: 0, max: 400_000 }).map((cents) => `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`)
const base = fc.oneof(
  amount.map((a) => ({ amount: a, mode: 'fixed' })),
  fc.record({ amount, mode: fc.constant('escalating'), growthRate: fc.constantFrom('0.03', '0.05', '-0.02', '0.123457') }),
  fc.constant({ mode: 'prior_year' }),
)
const group = fc.oneof(
  fc.record({ basis: fc.constant('increment'), base, rates: bands, shortfall: fc.constantFrom('none', 'deduct', 'carry_forward') }),
  fc.record({ basis: fc.constant('total'), rates: rate.map((r) => [{ rate: r }]) }),
)
const agreement = fc.array(fc.record({ group, revenue: fc.array(amount, { minLength: 4, maxLength: 4 }) }), { minLength: 1, maxLength: 3 })
const growth = fc.constantFrom('0.00', '0.05', '-0.10', '0.123456')

interface Figures { zoneShare: string, revenueTotal: string, districtShare: string, groups: Array<Record<string, unknown>> }
interface YearJson { fiscalYear: number, projected: boolean, groups: Array<{ agreed: Record<string, unknown>, scenario: Record<string, unknown>, difference: string }>, totals: { agreed: unknown, scenario: unknown, difference: string } }

let sequence = 0

async function check (groups: Array<{ group: Record<string, unknown>, revenue: string[] }>, g: string): Promise<void> {
  const zoneCode = `S-${++sequence}`
  const fail = (what: string): never => { throw new Error(`${what} (agreement ${JSON.stringify(groups)}, growth ${g})`) }
  await created(t, app, '/v1/zones', { code: zoneCode, name: `测算${sequence}`, hostDistrictCode: '370214' })
  const answer = await post(app, '/v1/agreements', {
    zoneCode, districtCode: '370214', documentNo: `测算〔${sequence}〕`, effectiveFrom: Y0, baseYear: Y0 - 1,
    groups: groups.map((x, i) => ({ name: `g${i}`, categories: [CATEGORIES[i]], ...x.group })),
  })
  if (answer.statusCode !== 201) fail(`the agreement answered ${answer.statusCode}: ${answer.body}`)
  const id = answer.json().id as number
  const records = groups.flatMap((x, i) => x.revenue.map((a, k) => ({ zoneCode, category: CATEGORIES[i], year: Y0 - 1 + k, month: 1, amount: a })))
  if ((await post(app, '/v1/revenues', { records })).statusCode !== 200) fail('recording revenue failed')
  const lines = new Map<number, Figures>()
  for (const year of [Y0, Y0 + 1, Y0 + 2]) {
    const run = await post(app, '/v1/settlement-runs', { fiscalYear: year, agreementIds: [id] })
    if (run.statusCode !== 201) fail(`the ${year} run answered ${run.statusCode}: ${run.body}`)
    const runId = run.json().id as number
    if ((await post(app, `/v1/settlement-runs/${runId}/finalize`, undefined)).statusCode !== 200) fail(`finalizing ${year} failed`)
    const line = (await get(app, `/v1/settlement-runs/${runId}/lines?zoneCode=${zoneCode}`)).json().items[0] as Figures | undefined
    lines.set(year, line ?? fail(`run ${runId} has no line`))
  }
  const response = await post(app, '/v1/scenarios', { agreementId: id, changes: {}, fromYear: Y0, toYear: Y0 + 3, growth: { default: g } })
  if (response.statusCode !== 200) fail(`the scenario answered ${response.statusCode}: ${response.body}`)
  const years = response.json().years as YearJson[]
  if (years.map((y) => `${y.fiscalYear}${y.projected ? 'p' : ''}`).join() !== `${Y0},${Y0 + 1},${Y0 + 2},${Y0 + 3}p`) fail(`years ${JSON.stringify(years.map((y) => y.fiscalYear))}`)
  for (const y of years) {
    if (y.totals.difference !== '0.00' || y.groups.some((x) => x.difference !== '0.00')) fail(`${y.fiscalYear}: a difference without changes`)
    for (const x of y.groups) {
      const { explanation: _e, ...scenario } = x.scenario
      if (JSON.stringify(scenario) !== JSON.stringify(x.agreed)) fail(`${y.fiscalYear}: agreed ${JSON.stringify(x.agreed)}, unchanged ${JSON.stringify(scenario)}`)
    }
    const line = lines.get(y.fiscalYear)
    if (line === undefined) continue
    const totals = { revenueTotal: line.revenueTotal, zoneShare: line.zoneShare, districtShare: line.districtShare }
    if (JSON.stringify(y.totals.agreed) !== JSON.stringify(totals)) fail(`${y.fiscalYear}: totals ${JSON.stringify(y.totals.agreed)}, the finalized line ${JSON.stringify(totals)}`)
    const finalized = line.groups.map(({ explanation: _e, ...figures }) => figures)
    if (JSON.stringify(y.groups.map((x) => x.agreed)) !== JSON.stringify(finalized)) {
      fail(`${y.fiscalYear}: groups ${JSON.stringify(y.groups.map((x) => x.agreed))}, the finalized line's ${JSON.stringify(finalized)}`)
    }
  }
}

t.test('api-contract.md, Scenarios: with no changes, no difference, and the settled years are the finalized lines (§4–§6, §9)', async (t) => {
  await holdsAsync(t, fc.asyncProperty(agreement, growth, check), { numRuns: 30, seed: 20261130 }, 'random agreements and revenue')
})
