import fc from 'fast-check'
import t from 'tap'
import { computeAgreementYear } from '../../src/domain/engine.js'
import { formatMoney, money, ZERO } from '../../src/domain/money.js'
import { testApp, testDatabase } from '../helpers.js'
import { holdsAsync } from '../properties.js'
import { created, get, post } from '../world.js'

/*
 * calculation-rules.md §9 as a property: random sequences of revenue revisions, runs and
 * finalizations for one agreement over two years, each checked against a model of what the
 * ledger must do. After every sequence:
 *  - finalizing succeeds exactly when nothing the run read has changed since it was computed
 *    (the revenue of its year, the finalized line it follows, the finalized Y−1 line it carried from);
 *  - every finalized line's figures equal a fresh computation of the data it was finalized on;
 *  - the carry-in of Y equals the carry-out of the latest finalized Y−1;
 *  - each year's finalized lines form one chain, whose adjustments add up to the last zone share
 *    minus the first.
 * The agreement: taxes (10101), fixed base 1000.00, bands [≤ 10% at 0.60, rest at 0.80], carry_forward.
 */

const database = await testDatabase(t)
const app = await testApp(t, database)
await created(t, app, '/v1/districts', { code: '370214', name: '城阳区' })

const Y0 = 2060
const Y1 = 2061
const RATES = [{ upToGrowth: '0.10', rate: '0.60' }, { rate: '0.80' }]

type Action =
  | { kind: 'revise', year: number, amount: string }
  | { kind: 'run', year: number }
  | { kind: 'finalize', pick: number }

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant('revise' as const), year: fc.constantFrom(Y0, Y1), amount: fc.integer({ min: 0, max: 250 }).map((n) => `${n * 10}.00`) }),
  fc.record({ kind: fc.constant('run' as const), year: fc.constantFrom(Y0, Y1) }),
  fc.record({ kind: fc.constant('finalize' as const), pick: fc.nat({ max: 20 }) }),
)

interface Head { runId: number, zoneShare: string, carriedOut: string }
/** What a draft read when it was computed. */
interface Draft { runId: number, year: number, revenue: string | undefined, follows: number | undefined, carriedFrom: number | undefined, finalized: boolean }

/** The line as the engine computes it from the model's data (calculation-rules.md §4–§6). */
function expected (actual: string | undefined, carriedShortfall: string) {
  return computeAgreementYear({
    fiscalYear: Y1, minimumRate: money('0.60'), advancesPaid: ZERO,
    groups: [{
      name: 'taxes', basis: 'increment', base: { kind: 'amount', amount: money('1000.00') }, actual: money(actual ?? '0'),
      rates: RATES.map((b) => ({ rate: money(b.rate), ...(b.upToGrowth === undefined ? {} : { upToGrowth: money(b.upToGrowth) }) })),
      shortfall: 'carry_forward', carriedShortfall: money(carriedShortfall),
    }],
  })
}

interface LineJson { kind: string, zoneShare: string, revenueTotal: string, balanceDue: string, follows?: number, groups: Array<{ carriedShortfallIn: string, carriedShortfallOut: string }> }

let sequence = 0

async function check (actions: Action[]): Promise<void> {
  const zoneCode = `P-${++sequence}`
  await created(t, app, '/v1/zones', { code: zoneCode, name: `性质${sequence}`, hostDistrictCode: '370214' })
  const agreementId = (await created(t, app, '/v1/agreements', {
    zoneCode, districtCode: '370214', documentNo: `性质〔${sequence}〕`, effectiveFrom: Y0, baseYear: Y0 - 1,
    groups: [{ name: 'taxes', basis: 'increment', categories: ['10101'], base: { amount: '1000.00', mode: 'fixed' }, rates: RATES, shortfall: 'carry_forward' }],
  })).id as number
  const revenue = new Map<number, string>()
  const heads = new Map<number, Head>()
  const drafts: Draft[] = []
  const fail = (what: string): never => { throw new Error(`${what} (sequence ${JSON.stringify(actions)})`) }

  for (const step of actions) {
    if (step.kind === 'revise') {
      const answer = await post(app, '/v1/revenues', { records: [{ zoneCode, category: '10101', year: step.year, month: 1, amount: step.amount }] })
      if (answer.statusCode !== 200) fail(`revising answered ${answer.statusCode}`)
      revenue.set(step.year, step.amount)
    } else if (step.kind === 'run') {
      const answer = await post(app, '/v1/settlement-runs', { fiscalYear: step.year, agreementIds: [agreementId] })
      const mustWait = step.year === Y1 && !heads.has(Y0)
      if (answer.statusCode !== (mustWait ? 409 : 201)) fail(`a ${step.year} run answered ${answer.statusCode}, expected ${mustWait ? 409 : 201}`)
      if (!mustWait) {
        drafts.push({ runId: answer.json().id, year: step.year, revenue: revenue.get(step.year), follows: heads.get(step.year)?.runId, carriedFrom: step.year === Y1 ? heads.get(Y0)?.runId : undefined, finalized: false })
      }
    } else {
      const draft = drafts[step.pick % Math.max(1, drafts.length)]
      if (draft === undefined) continue
      const unchanged = !draft.finalized && draft.revenue === revenue.get(draft.year) && draft.follows === heads.get(draft.year)?.runId &&
        (draft.year === Y0 || draft.carriedFrom === heads.get(Y0)?.runId)
      const answer = await post(app, `/v1/settlement-runs/${draft.runId}/finalize`, undefined)
      if (answer.statusCode !== (unchanged ? 200 : 409)) fail(`finalizing run ${draft.runId} answered ${answer.statusCode}, expected ${unchanged ? 200 : 409}: ${answer.body}`)
      if (!unchanged) continue
      draft.finalized = true
      const page = (await get(app, `/v1/settlement-runs/${draft.runId}/lines?zoneCode=${zoneCode}`)).json() as { items: LineJson[] }
      const line = page.items[0] ?? fail(`run ${draft.runId} has no line`)
      const carriedIn = draft.year === Y1 ? heads.get(Y0)?.carriedOut ?? fail('a Y1 line without a finalized Y0') : '0.00'
      const fresh = expected(revenue.get(draft.year), carriedIn)
      const group = fresh.groups[0]
      const figures = { zoneShare: formatMoney(fresh.zoneShare), revenueTotal: formatMoney(fresh.revenueTotal), balanceDue: formatMoney(fresh.balanceDue) }
      if (line.zoneShare !== figures.zoneShare || line.revenueTotal !== figures.revenueTotal || line.balanceDue !== figures.balanceDue) {
        fail(`run ${draft.runId}: finalized ${JSON.stringify(line)}, a fresh computation gives ${JSON.stringify(figures)}`)
      }
      if (line.groups[0]?.carriedShortfallIn !== carriedIn) fail(`carried in ${line.groups[0]?.carriedShortfallIn ?? ''}, the latest finalized ${Y0} carried out ${carriedIn}`)
      if (line.follows !== draft.follows) fail(`follows ${String(line.follows)}, the chain's last line is ${String(draft.follows)}`)
      heads.set(draft.year, { runId: draft.runId, zoneShare: line.zoneShare, carriedOut: group?.carriedShortfallOut === undefined ? '0.00' : formatMoney(group.carriedShortfallOut) })
    }
  }

  for (const year of [Y0, Y1]) {
    const chain = await database.db.selectFrom('settlement_lines').select(['run_id', 'follows_run_id', 'zone_share', 'adjustment'])
      .where('agreement_id', '=', agreementId).where('fiscal_year', '=', year).where('finalized', '=', true).execute()
    const [first] = chain.filter((l) => l.follows_run_id === null)
    if (chain.length === 0) continue
    if (first === undefined) fail(`${year}: no annual line starts the chain`)
    let link = first
    let adjustments = ZERO
    for (let i = 1; i < chain.length; i++) {
      const next = chain.filter((l) => l.follows_run_id === link?.run_id)
      if (next.length !== 1) fail(`${year}: line of run ${String(link?.run_id)} has ${next.length} finalized successors`)
      link = next[0]
      adjustments = adjustments.plus(money(link?.adjustment ?? 'NaN'))
    }
    if (link?.run_id !== heads.get(year)?.runId) fail(`${year}: the chain ends at run ${String(link?.run_id)}, the model's last at ${String(heads.get(year)?.runId)}`)
    const span = money(link?.zone_share ?? '0').minus(money(first?.zone_share ?? '0'))
    if (!adjustments.equals(span)) fail(`${year}: adjustments add up to ${adjustments.toString()}, last minus first zone share is ${span.toString()}`)
  }
}

t.test('§9 random revisions, runs and finalizations: the ledger settles each difference once, on fresh figures', async (t) => {
  await holdsAsync(t, fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 12 }), check), { numRuns: 40, seed: 20261130 }, 'sequences of revisions, runs and finalizations')
  // One sequence written out: the annual line, a revision, two supplementary runs against it (the
  // second refused once the first is finalized), then the next year on the latest figures.
  await t.resolves(check([
    { kind: 'revise', year: Y0, amount: '900.00' }, { kind: 'run', year: Y0 }, { kind: 'finalize', pick: 0 },
    { kind: 'revise', year: Y0, amount: '1500.00' }, { kind: 'run', year: Y0 }, { kind: 'run', year: Y0 },
    { kind: 'finalize', pick: 1 }, { kind: 'finalize', pick: 2 }, { kind: 'run', year: Y1 }, { kind: 'finalize', pick: 3 },
  ]), 'a supplementary settlement is paid once, and the next year carries in from it')
})
