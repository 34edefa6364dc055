import fc from 'fast-check'
import t from 'tap'
import { computeAgreementYear } from '../../src/domain/engine.js'
import { baseInYearIssue, fitsFigure, magnitudeIssues, MAX_FIGURE_DIGITS, runMagnitudeIssue } from '../../src/domain/magnitudes.js'
import { Decimal, formatMoney, money, sum, ZERO } from '../../src/domain/money.js'
import { presentAgreementYear } from '../../src/domain/presentation.js'
import type { AgreementYearResult, BaseDerivation, GroupInput, ShortfallPolicy, TransferInYear } from '../../src/domain/types.js'
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

t.test('§1: when magnitudeIssues finds nothing, every figure an agreement year prints has at most 18 integer digits, and so do Σ base and Σ increment ' +
  '(an agreement\'s history); when it finds something, some such figure has more', async (t) => {
  /** Whole cents up to 10^20 (figures of up to 18 integer digits), as Decimals: the largest figures the engine may be given. */
  const cents = fc.bigInt({ min: -(10n ** 20n) + 1n, max: 10n ** 20n - 1n }).map((c) => money(c.toString()).dividedBy(100))
  /** An amount given: at most 15 integer digits (§1). */
  const inputCents = fc.bigInt({ min: -(10n ** 17n) + 1n, max: 10n ** 17n - 1n }).map((c) => money(c.toString()).dividedBy(100))
  const rate = fc.integer({ min: 600000, max: 1000000 }).map((micro) => money(micro.toString()).dividedBy(1000000))
  const group = fc.oneof(
    fc.record({ base: cents, actual: cents, rate, shortfall: fc.constantFrom<ShortfallPolicy>('none', 'deduct', 'carry_forward'), carried: cents })
      .map(({ base, actual, rate, shortfall, carried }): GroupInput => ({
        name: 'g', basis: 'increment', base: { kind: 'amount', amount: base }, actual, rates: [{ upToGrowth: money('0.1'), rate }, { rate }], shortfall,
        carriedShortfall: shortfall === 'carry_forward' ? carried.abs() : ZERO,
      })),
    fc.record({ actual: cents, rate }).map(({ actual, rate }): GroupInput => ({ name: 'fees', basis: 'total', actual, rates: [{ rate }], shortfall: 'none', carriedShortfall: ZERO })),
    // A base rule with its escalation and responsibility transfers (事权划转), §4: inputs of up to
    // 15 integer digits and a headcount of up to a million, whose F(Y) or escalated base can be
    // beyond 18 digits while B(Y) fits (opposite transfers, a transfer against the escalation).
    fc.record({
      amount: inputCents, escalating: fc.boolean(), growth: fc.integer({ min: 0, max: 10000 }).map((c) => money(c.toString()).dividedBy(100)),
      actual: cents, rate,
      transfers: fc.array(fc.record({
        toDistrict: fc.boolean(), fixed: fc.boolean(), amount: inputCents.map((a) => a.abs()), headcount: fc.integer({ min: 1, max: 1_000_000 }),
      }), { maxLength: 3 }),
      // Each transfer with its opposite: the moves cancel, whatever size F(Y) has.
      mirrored: fc.boolean(),
    }).map(({ amount, escalating, growth, actual, rate, transfers: given, mirrored }): GroupInput => {
      const transfers = mirrored ? given.flatMap((x) => [x, { ...x, toDistrict: !x.toDistrict }]) : given
      return {
      name: 'g', basis: 'increment', actual, rates: [{ rate }], shortfall: 'none', carriedShortfall: ZERO,
      base: {
        kind: 'rule',
        rule: {
          amount, baseYear: 2015, mode: escalating ? 'escalating' : 'fixed', growthRate: escalating ? growth : undefined, adjustments: [],
          transfers: transfers.map((x, i) => ({
            function: `f${i}`, direction: x.toDistrict ? 'to_district' : 'to_zone', fromYear: 2016, documentNo: `d${i}`,
            funding: x.fixed ? { method: 'fixed', amount: x.amount } : { method: 'headcount', headcount: x.headcount, unitCost: x.amount },
          })),
        },
      },
      }
    }),
  )
  const pointers = (i: number) => ({ actual: `/groups/${i}/actual`, base: `/groups/${i}/base`, growth: `/groups/${i}/growthRate`, transfers: `/groups/${i}/transfers` })
  /** Every money figure of the printed year (strings with two decimals), and the history's sums over the groups. */
  const printed = (result: AgreementYearResult): string[] => {
    const figures: string[] = []
    const walk = (value: unknown): void => {
      if (typeof value === 'string' && /^-?\d+\.\d\d$/.test(value)) figures.push(value)
      // An explanation's line: every figure in it (the integer part before a decimal point), and
      // none in exponent notation, which a figure past 10^21 would take.
      else if (typeof value === 'string') figures.push(...(value.match(/\d+(?=\.\d)/g) ?? []).map((whole) => `${whole}.00`), ...(/\de[+-]\d/.test(value) ? ['exponent'] : []))
      else if (Array.isArray(value)) value.forEach(walk)
      else if (typeof value === 'object' && value !== null) Object.values(value).forEach(walk)
    }
    walk(presentAgreementYear(result, 'zh'))
    const increments = result.groups.filter((g) => g.basis === 'increment')
    return [...figures, formatMoney(sum(increments.map((g) => g.base))), formatMoney(sum(increments.map((g) => g.increment)))]
  }
  let refused = 0
  holds(t, fc.property(fc.array(group, { minLength: 1, maxLength: 4 }), cents, (groups, advancesPaid) => {
    const result = computeAgreementYear({ fiscalYear: 2021, minimumRate: money('0.60'), groups, advancesPaid })
    const issues = magnitudeIssues(result, pointers, { totals: '/groups', advances: '/advancesPaid' }, (what) => what)
    const fits = printed(result).every((f) => /^-?\d{1,18}\.\d\d$/.test(f))
    if (issues.length > 0) refused++
    return issues.length === 0 ? fits : !fits
  }), { numRuns: 3000, seed: 20261203 })
  t.ok(refused > 300 && refused < 2700, `both outcomes are exercised (${refused} of 3000 refused)`)
})

t.test('§1, §4: the agreement view refuses a base for the year it could not print, naming what led there; a base and transfers that fit pass', async (t) => {
  const group = { name: '税收', position: 1 }
  const huge = money('1000000000000000000')
  const fixed = (base: Decimal, transfers?: TransferInYear[]): BaseDerivation =>
    ({ mode: 'fixed', baseYear: 2019, amount: base, adjustments: [], base, ...(transfers === undefined ? {} : { transfers }) })
  const moving = { fiscalYear: 2025, fundingForYear: money('999999999999999999.99') } as TransferInYear
  t.same(baseInYearIssue(group, 2025, fixed(huge), []), { pointer: '/groups/1/base', message: 'group "税收": the base of 2025 has more than 18 integer digits (calculation-rules.md §1)' })
  t.equal(baseInYearIssue(group, 2025, fixed(huge, [moving]), [])?.pointer, '/groups/1/transfers', 'moved there by a transfer: the transfers are named')
  const escalating: BaseDerivation = {
    mode: 'escalating', baseYear: 2019, amount: money('100000000000000000'), growthRate: money('9'), years: 2,
    exactEscalated: money('1e19'), escalated: money('1e19'), adjustments: [], base: money('1e19'),
  }
  t.equal(baseInYearIssue(group, 2021, escalating, [])?.pointer, '/groups/1/base/growthRate', 'compounded past 18 digits: the growth is named')
  const opposite = [{ function: '环卫', fundingForYear: huge }, { function: '教育', fundingForYear: huge }]
  t.same(baseInYearIssue(group, 2025, fixed(money('100.00')), opposite), {
    pointer: '/groups/1/transfers', message: 'group "税收": the responsibility transfer (事权划转) "环卫" has a funding for 2025 of more than 18 integer digits (calculation-rules.md §1)',
  }, 'B(Y) fits but the view would print an F(Y) that does not')
  t.equal(baseInYearIssue(group, 2025, fixed(money('999999999999999999.99')), [{ function: '环卫', fundingForYear: money('-999999999999999999.99') }]), undefined, 'at 18 digits, both fit')
})
