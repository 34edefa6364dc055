import fc from 'fast-check'
import t from 'tap'
import { fitsFigure, MAX_FIGURE_DIGITS } from '../../src/domain/magnitudes.js'
import { Decimal, money } from '../../src/domain/money.js'
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
