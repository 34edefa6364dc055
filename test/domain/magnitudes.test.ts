import fc from 'fast-check'
import t from 'tap'
import { fitsFigure, MAX_FIGURE_DIGITS, runMagnitudeIssue } from '../../src/domain/magnitudes.js'
import { Decimal, formatMoney, money } from '../../src/domain/money.js'
import { type LineFigures, runSums, runTotals } from '../../src/domain/settlement.js'
import { holds } from '../properties.js'

/* calculation-rules.md §1: a computed figure has at most 18 integer digits; fitsFigure reads it off the figure's exponent. */

t.test('§1: at most 18 integer digits fit, at the boundary and on both signs', async (t) => {
  for (const fits of ['0', '0.00', '0.01', '-0.01', '999999999999999999.99', '-999999999999999999.99', '999999999999999999.999999', '100000000000000000']) {
    t.ok(fitsFigure(money(fits)), `${fits} fits`)
  }
  for (const tooLarge of ['1000000000000000000', '-1000000000000000000', '1000000000000000000.01', '1e30', '-12345678901234567890.5']) {
    t.notOk(fitsFigure(money(tooLarge)), `${tooLarge} has more than ${MAX_FIGURE_DIGITS} integer digits`)
  }
  t.notOk(fitsFigure(new Decimal(Infinity)), 'Infinity does not fit')
  t.notOk(fitsFigure(new Decimal(NaN)), 'NaN does not fit')
})

t.test('§1: fitsFigure agrees with |value| < 10^18 on random figures of 0 to 40 digits and 0 to 12 decimals', async (t) => {
  const figure = fc.tuple(fc.boolean(), fc.stringMatching(/^[0-9]{1,40}$/), fc.stringMatching(/^[0-9]{0,12}$/))
    .map(([negative, whole, decimals]) => money(`${negative ? '-' : ''}${whole}${decimals === '' ? '' : `.${decimals}`}`))
  holds(t, fc.property(figure, (value) => fitsFigure(value) === value.abs().lessThan('1e18')), { numRuns: 5000, seed: 20201 })
})

t.test('§1: runSums gives a run\'s totals as runTotals does, and sums without signs that bound the totals of any of its lines (a district\'s, a zone\'s): when they fit, every printed total does', async (t) => {
  const figure = fc.bigInt({ min: -(10n ** 19n), max: 10n ** 19n }).map((c) => formatMoney(money(c.toString()).dividedBy(100)))
  const line: fc.Arbitrary<LineFigures> = fc.record({
    revenueTotal: figure, zoneShare: figure, districtShare: figure, advancesPaid: figure, balanceDue: figure,
    adjustment: fc.option(figure, { nil: null }), balanceAdjustment: fc.option(figure, { nil: null }),
  })
  holds(t, fc.property(fc.array(fc.tuple(line, fc.boolean()), { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 7 }), (picked, chunk) => {
    const lines = picked.map(([l]) => l)
    const sums = runSums()
    for (let i = 0; i < lines.length; i += chunk) sums.add(lines.slice(i, i + chunk))
    if (JSON.stringify(sums.totals()) !== JSON.stringify(runTotals(lines))) return false
    const bound = sums.unsigned()
    const totals = runTotals(picked.filter(([, chosen]) => chosen).map(([l]) => l))
    const within = (Object.keys(bound) as Array<keyof typeof bound>).every((k) => money(totals[k]).abs().lessThanOrEqualTo(money(bound[k])))
    const issue = runMagnitudeIssue(bound, lines.length, '/fiscalYear')
    // No issue: every total of any choice of the lines fits. An issue: some sum without signs does not.
    return within && (issue !== undefined || Object.values(totals).every((f) => fitsFigure(money(f)))) &&
      (issue === undefined) === Object.values(bound).every((f) => fitsFigure(money(f)))
  }), { numRuns: 2000, seed: 20261202 })
  const big = { revenueTotal: '0.00', zoneShare: '600000000000000000.00', districtShare: '-600000000000000000.00', advancesPaid: '0.00', balanceDue: '600000000000000000.00', adjustment: null, balanceAdjustment: null }
  const one = runSums()
  one.add([big])
  t.equal(runMagnitudeIssue(one.unsigned(), 1, '/fiscalYear'), undefined, 'one line of 18 digits')
  t.same(one.totals(), { revenueTotal: '0.00', zoneShare: '600000000000000000.00', districtShare: '-600000000000000000.00', advancesPaid: '0.00', balanceDue: '600000000000000000.00', adjustment: '0.00', balanceAdjustment: '0.00' })
  one.add([{ ...big, zoneShare: '-600000000000000000.00' }])
  t.equal(one.totals().zoneShare, '0.00', 'the totals of two lines cancel')
  t.match(runMagnitudeIssue(one.unsigned(), 2, '/agreementIds'), { pointer: '/agreementIds', message: /^the figures of the run's 2 lines add up to more than 18 integer digits/ },
    'the bound is conservative: refused though every total of these two lines fits (at 10^18 yuan, where no budget is)')
})
