import fc from 'fast-check'
import t from 'tap'
import { formatMoney, money, sum } from '../../src/domain/money.js'
import { testApp, testDatabase } from '../helpers.js'
import { holdsAsync } from '../properties.js'
import { created, injector, linesOf } from '../world.js'

/*
 * calculation-rules.md §7: no amount is ever a JavaScript number on its way from JSON to PostgreSQL
 * and back. Revenue and an advance of up to 15 integer digits (§1) go in through the API, are stored,
 * summed and settled by the database and the engine, and come back in a run's line, to the cent.
 * A double holds about 15.9 significant digits: 999999999999999.99 has 17, and a sum of them 18.
 * (Reading the database's yearly sums through Number() passed every property of the engine, which
 * never meets PostgreSQL; found by mutating the code.)
 */

const database = await testDatabase(t)
const app = await testApp(t, database)
const injectAs = injector(app)
await created(t, app, '/v1/districts', { code: '370214', name: '城阳区' })
await created(t, app, '/v1/zones', { code: 'RT-1', name: '往返测试区', hostDistrictCode: '370214' })
// One group shared on its total at an odd rate, so that the zone share is rounded (§5: Z = round(rate × A)).
const RATE = '0.600001'
const agreementId = (await created(t, app, '/v1/agreements', {
  zoneCode: 'RT-1', districtCode: '370214', documentNo: '青政字〔2020〕12号', effectiveFrom: 2020, baseYear: 2019,
  groups: [{ name: 'all', basis: 'total', categories: ['10101', '10104', '10304'], rates: [{ rate: RATE }] }],
})).id as number

/** Signed amounts of up to 15 integer digits, from whole cents: the largest as often as a few yuan. */
const cents = (max: bigint) => fc.bigInt({ min: -max, max }).map((c) => formatMoney(money(c.toString()).dividedBy(100)))
const amount = fc.oneof(cents(10n ** 17n - 1n), cents(100_000n), fc.constantFrom('999999999999999.99', '-999999999999999.99', '0.01'))
const record = fc.record({ category: fc.constantFrom('10101', '10104', '10304'), month: fc.integer({ min: 1, max: 12 }), amount })

let year = 2019
t.test('§7 amounts of 15 integer digits go in as JSON strings and come back from PostgreSQL in a settled line to the cent: ' +
  'revenue total, zone and district shares, advances paid and balance due', async (t) => {
  await holdsAsync(t, fc.asyncProperty(
    fc.uniqueArray(record, { minLength: 1, maxLength: 6, selector: (r) => `${r.category}/${r.month}` }), amount.map((a) => a.replace('-', '')).filter((a) => a !== '0.00'),
    async (records, advance) => {
      year += 1
      await created(t, app, '/v1/revenues', { records: records.map((r) => ({ zoneCode: 'RT-1', districtCode: '370214', year, ...r })) }, 200)
      await created(t, app, '/v1/advances', { agreementId, fiscalYear: year, paidOn: `${year}-03-01`, amount: advance, documentNo: `青财预〔${year}〕1号` })
      const run = await created(t, app, '/v1/settlement-runs', { fiscalYear: year, agreementIds: [agreementId] }) as { id: number }
      const [line] = await linesOf(injectAs, run.id)
      const revenueTotal = sum(records.map((r) => money(r.amount)))
      const zoneShare = money(RATE).times(revenueTotal).toDecimalPlaces(2, 4 /* ROUND_HALF_UP */)
      return line !== undefined && line.revenueTotal === formatMoney(revenueTotal) && line.zoneShare === formatMoney(zoneShare) &&
        line.districtShare === formatMoney(revenueTotal.minus(zoneShare)) && line.advancesPaid === advance &&
        line.balanceDue === formatMoney(zoneShare.minus(money(advance)))
    }), { numRuns: 40, seed: 20200607 }, 'years of revenue and advances')
})

t.test('§7 every amount a calculation takes (base, adjustments, a transfer, A, the carried shortfall, advances) comes back to the cent in its figures', async (t) => {
  const positive = amount.map((a) => a.replace('-', ''))
  await holdsAsync(t, fc.asyncProperty(
    fc.record({ base: amount, adjustments: fc.array(amount, { maxLength: 3 }), transfer: positive.filter((a) => a !== '0.00'), actual: amount, carried: positive, advancesPaid: amount }),
    async ({ base, adjustments, transfer, actual, carried, advancesPaid }) => {
      const response = await injectAs('admin', {
        method: 'POST', url: '/v1/calculations', payload: {
          fiscalYear: 2021, advancesPaid,
          groups: [{
            name: 'taxes', basis: 'increment', actual, carriedShortfall: carried, shortfall: 'carry_forward', rates: [{ rate: '1' }],
            base: {
              amount: base, baseYear: 2019, mode: 'fixed',
              adjustments: adjustments.map((a, i) => ({ fromYear: 2020 + (i % 2), amount: a, reason: '调整', documentNo: `青财〔2020〕${i}号` })),
              transfers: [{ function: '教育', direction: 'to_district', fromYear: 2021, documentNo: '青政字〔2021〕5号', funding: { method: 'fixed', amount: transfer } }],
            },
          }],
        },
      })
      if (response.statusCode !== 200) return false
      const body = response.json() as { zoneShare: string, balanceDue: string, groups: Array<Record<string, string>> }
      const g = body.groups[0]
      // §4 fixed: B = amount + Σ adjustments + F; §5 at one band of rate 1: Z = S when S ≥ 0, else 0 and C_out = −S.
      const B = money(base).plus(sum(adjustments.map(money))).plus(money(transfer))
      const S = money(actual).minus(B).minus(money(carried))
      const Z = S.isNegative() ? money('0') : S
      return g !== undefined && g.base === formatMoney(B) && g.increment === formatMoney(money(actual).minus(B)) && g.shareable === formatMoney(S) &&
        g.zoneShare === formatMoney(Z) && g.districtShare === formatMoney(money(actual).minus(Z)) &&
        g.carriedShortfallOut === formatMoney(S.isNegative() ? S.negated() : money('0')) && body.balanceDue === formatMoney(Z.minus(money(advancesPaid)))
    }), { numRuns: 200, seed: 20200607 }, 'calculations')
})
