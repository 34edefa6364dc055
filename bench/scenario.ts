import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { buildApp } from '../src/app.js'
import { agreementsInForce } from '../src/db/agreements.js'
import { type DatabaseHandle, openDatabase } from '../src/db/connect.js'
import { migrate } from '../src/db/migrate.js'
import { groupActuals } from '../src/db/revenue.js'
import { settleAgreementYear } from '../src/domain/agreement.js'
import { type Decimal, money, ZERO } from '../src/domain/money.js'
import { createScratchDatabase } from './stats.js'

/*
 * `npm run bench:scenario`: a 10-year scenario (测算) over one agreement of four groups (a fixed base with bands and
 * carry_forward, an escalating base, a prior_year base, fees), five years of monthly revenue on record (2020–2024)
 * and five projected (2025–2029), through the API (POST /v1/scenarios, in process) — against a plain settlement of
 * the same agreement: settlement runs through the API (POST /v1/settlement-runs) for the five recorded years, and
 * the engine alone (settleAgreementYear) for the same ten agreement-years. The three alternate for BENCH_ROUNDS
 * rounds (default 5, at least 3); medians and ratios print.
 * Target (issue 15): the scenario "well under a second".
 *
 * Environment: DATABASE_URL (a PostgreSQL server to create a scratch database on; PGlite in memory when unset),
 * BENCH_ROUNDS (5).
 */

const rounds = Math.max(3, Number(process.env.BENCH_ROUNDS ?? 5))
const serverUrl = process.env.DATABASE_URL
const TOKEN = 'bench-admin-token-0123456789abcdef'
const log = (text: string) => process.stdout.write(`${text}\n`)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN
const ms = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e6

async function scratchDatabase (): Promise<{ database: DatabaseHandle, drop: () => Promise<void>, where: string }> {
  if (serverUrl === undefined || serverUrl === '') {
    const database = openDatabase({ kind: 'pglite' })
    return { database, drop: async () => {}, where: 'PGlite (in memory)' }
  }
  const name = `bench_scenario_${randomBytes(4).toString('hex')}`
  const admin = async (query: string) => {
    const client = new pg.Client({ connectionString: serverUrl })
    await client.connect()
    try { await client.query(query) } finally { await client.end() }
  }
  await createScratchDatabase(serverUrl, name)
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  const database = openDatabase({ kind: 'postgres', url: url.toString(), poolSize: 4 })
  return { database, drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`), where: `PostgreSQL (${url.host})` }
}

const { database, drop, where } = await scratchDatabase()
await migrate(database)
const app = await buildApp({
  database, adminToken: TOKEN, minZoneRate: '0.60', rateLimit: false, authFailures: false, pressure: { maxEventLoopDelayMs: 0, maxHeapUsedBytes: 0 },
})
await app.ready()

async function call (method: 'GET' | 'POST', url: string, payload?: unknown, expected = method === 'POST' ? [200, 201] : [200]) {
  const response = await app.inject({ method, url, headers: { authorization: `Bearer ${TOKEN}` }, ...(payload === undefined ? {} : { payload: payload as object }) })
  if (!expected.includes(response.statusCode)) throw new Error(`${method} ${url} answered ${response.statusCode}: ${response.body}`)
  return response.json()
}

try {
  await call('POST', '/v1/districts', { code: '370214', name: '城阳区' })
  await call('POST', '/v1/zones', { code: 'QD-HT', name: '青岛高新区', hostDistrictCode: '370214' })
  const { id } = await call('POST', '/v1/agreements', {
    zoneCode: 'QD-HT', districtCode: '370214', documentNo: '青政字〔2020〕12号', effectiveFrom: 2020, baseYear: 2019,
    groups: [
      { name: 'vat', basis: 'increment', categories: ['10101'], base: { amount: '50000000.00', mode: 'fixed' }, rates: [{ upToGrowth: '0.10', rate: '0.60' }, { upToGrowth: '0.30', rate: '0.80' }, { rate: '0.65' }], shortfall: 'carry_forward' },
      { name: 'income', basis: 'increment', categories: ['10104'], base: { amount: '30000000.00', mode: 'escalating', growthRate: '0.03' }, rates: [{ rate: '0.60' }], shortfall: 'deduct' },
      { name: 'other', basis: 'increment', categories: ['10106'], base: { mode: 'prior_year' }, rates: [{ rate: '0.70' }], shortfall: 'none' },
      { name: 'fees', basis: 'total', categories: ['10304'], rates: [{ rate: '0.60' }] },
    ],
  }) as { id: number }
  // Monthly revenue 2019–2024 (2019 for the prior_year base of 2020), with a dip in 2021 so that a shortfall is carried.
  const records = [2019, 2020, 2021, 2022, 2023, 2024].flatMap((year) => [['10101', 4_400_000], ['10104', 2_700_000], ['10106', 800_000], ['10304', 350_000]].flatMap(([category, monthly]) =>
    Array.from({ length: 12 }, (_, m) => ({
      zoneCode: 'QD-HT', category, year, month: m + 1,
      amount: `${Math.round(Number(monthly) * (year === 2021 ? 0.9 : 1 + (year - 2019) * 0.06) + m * 1001)}.${String((m * 37) % 100).padStart(2, '0')}`,
    }))))
  await call('POST', '/v1/revenues', { records })
  // The recorded years settled and finalized once, as they would be: each run below is then a supplementary run.
  for (let year = 2020; year <= 2024; year++) {
    const run = await call('POST', '/v1/settlement-runs', { fiscalYear: year, agreementIds: [id] }) as { id: number }
    await call('POST', `/v1/settlement-runs/${run.id}/finalize`, undefined)
  }

  const scenario = {
    agreementId: id, fromYear: 2020, toYear: 2029, growth: { default: '0.05', byGroup: { fees: '0.02' } },
    changes: { groups: [{ name: 'vat', rates: [{ upToGrowth: '0.10', rate: '0.70' }, { upToGrowth: '0.30', rate: '0.80' }, { rate: '0.65' }] }, { name: 'income', base: { amount: '28000000.00', mode: 'escalating', growthRate: '0.03' } }] },
  }
  const first = await call('POST', '/v1/scenarios', scenario) as { years: Array<{ projected: boolean }>, totals: { difference: string } }
  log(`one agreement, 4 groups, ${records.length} revenue rows; scenario 2020–2029 (${first.years.filter((y) => !y.projected).length} recorded, ${first.years.filter((y) => y.projected).length} projected), difference ${first.totals.difference}; ${where}; ${rounds} rounds`)

  // The engine alone: the same ten agreement-years, each settled once, on revenue read beforehand (2025–2029 at 2024's figures).
  const [agreement] = await agreementsInForce(database.db, 2020, [id])
  if (agreement === undefined) throw new Error('the agreement vanished')
  const actuals = await groupActuals(database.db, [2019, 2020, 2021, 2022, 2023, 2024], [id])
  const engineYears = () => {
    let carried = new Map<string, Decimal>()
    for (let year = 2020; year <= 2029; year++) {
      const settled = settleAgreementYear(agreement, year, money('0.60'), {
        actual: (position, y) => actuals.of(id, position, Math.min(y, 2024)),
        carry: year === 2020 ? { kind: 'none' } : { kind: 'own' }, carriedIn: carried, advancesPaid: ZERO,
      })
      if (!settled.ok) throw new Error(`the engine refused ${year}`)
      carried = new Map(settled.result.groups.map((g) => [g.name, g.carriedShortfallOut ?? ZERO]))
    }
  }

  const samples = { scenario: [] as number[], runs: [] as number[], engine: [] as number[] }
  for (let round = 1; round <= rounds; round++) {
    let started = process.hrtime.bigint()
    await call('POST', '/v1/scenarios', scenario)
    samples.scenario.push(ms(started))
    started = process.hrtime.bigint()
    for (let year = 2020; year <= 2024; year++) await call('POST', '/v1/settlement-runs', { fiscalYear: year, agreementIds: [id] })
    samples.runs.push(ms(started))
    started = process.hrtime.bigint()
    engineYears()
    samples.engine.push(ms(started))
    log(`  round ${round}: scenario ${samples.scenario.at(-1)?.toFixed(1)} ms, 5 settlement runs ${samples.runs.at(-1)?.toFixed(1)} ms, engine ×10 years ${samples.engine.at(-1)?.toFixed(2)} ms`)
  }
  const scenarioMs = median(samples.scenario)
  const runsMs = median(samples.runs)
  const engineMs = median(samples.engine)
  const perRunYear = runsMs / 5
  console.table([
    { what: 'POST /v1/scenarios, 10 years × 2 versions', 'median ms': scenarioMs.toFixed(1), 'ms per agreement-year': (scenarioMs / 10).toFixed(2) },
    { what: 'POST /v1/settlement-runs, the 5 recorded years', 'median ms': runsMs.toFixed(1), 'ms per agreement-year': perRunYear.toFixed(2) },
    { what: 'settleAgreementYear alone, 10 years × 1 version', 'median ms': engineMs.toFixed(2), 'ms per agreement-year': (engineMs / 10).toFixed(3) },
  ])
  log(`ratio: the scenario takes ${(scenarioMs / (perRunYear * 10)).toFixed(2)}× settlement runs of its 10 agreement-years (${(perRunYear * 10).toFixed(1)} ms at ${perRunYear.toFixed(1)} ms a year), ` +
    `${(scenarioMs / engineMs).toFixed(0)}× the engine alone for them`)
  log(`target: well under a second — ${scenarioMs < 1000 ? 'met' : 'NOT met'} (${scenarioMs.toFixed(1)} ms)`)
} finally {
  await app.close()
  await database.close()
  await drop()
}
