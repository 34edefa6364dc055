import fc from 'fast-check'
import t from 'tap'
import { type DebtEvent, type DebtRecord, money, positionAsOf, repayableOn, sum, summarizeDebts } from '../../src/domain/index.js'
import { holds } from '../properties.js'

// api-contract.md, Legacy debts: the debt event history (repayments never above what is
// outstanding, reversals, balances as of any date), as properties (fast-check, 1,000 runs, fixed seed).

const RUNS = { numRuns: 1000, seed: 20210331 } as const
const DAYS = Array.from({ length: 60 }, (_, i) => new Date(Date.UTC(2021, 0, 1 + i * 6)).toISOString().slice(0, 10))
const cents = (max: number) => fc.integer({ min: 0, max }).map((c) => money(`${Math.floor(c / 100)}.${String(c % 100).padStart(2, '0')}`))

/** Repayment attempts applied the way the API does: only what repayableOn allows on that day. */
const history = fc.record({
  registered: cents(10_000_000),
  attempts: fc.array(fc.record({ day: fc.constantFrom(...DAYS), principal: cents(5_000_000), interest: cents(100_000) }), { maxLength: 25 }),
}).map(({ registered, attempts }) => {
  const debt: DebtRecord & { events: DebtEvent[] } = { zoneCode: 'Z', kind: 'bank_loan', registeredOn: DAYS[0]!, outstandingAtRegistration: registered, events: [] }
  let id = 0
  for (const a of attempts) {
    if (a.principal.greaterThan(repayableOn(debt, a.day).limit)) continue
    debt.events.push({ id: ++id, kind: 'repayment', occurredOn: a.day, principal: a.principal, interest: a.interest })
    debt.events.sort((x, y) => x.occurredOn.localeCompare(y.occurredOn) || x.id - y.id)
  }
  return debt
})

t.test('outstanding = registered − Σ principal repaid, at every date', async (t) => {
  holds(t, fc.property(history, (debt) => DAYS.every((day) => {
    const p = positionAsOf(debt, day)
    const repaid = sum(debt.events.filter((e) => e.occurredOn <= day).map((e) => e.principal))
    return p.outstanding.equals(debt.outstandingAtRegistration.minus(repaid)) && p.principalRepaid.equals(repaid)
  })), RUNS, 'histories')
})

t.test('never negative, whatever order the repayments were recorded in', async (t) => {
  holds(t, fc.property(history, (debt) => DAYS.every((day) => !positionAsOf(debt, day).outstanding.isNegative())), RUNS, 'histories')
})

t.test('under repayments only, the balance as of a later date is never higher', async (t) => {
  holds(t, fc.property(history, (debt) => DAYS.every((day, i) => i === 0 || positionAsOf(debt, day).outstanding.lessThanOrEqualTo(positionAsOf(debt, DAYS[i - 1]!).outstanding))), RUNS, 'histories')
})

t.test('a reversal restores the balance from its date on', async (t) => {
  holds(t, fc.property(history, fc.nat(), (debt, pick) => {
    const repayments = debt.events.filter((e) => e.kind === 'repayment')
    fc.pre(repayments.length > 0)
    const target = repayments[pick % repayments.length]!
    const reversed = { ...debt, events: [...debt.events, { id: 999, kind: 'reversal' as const, occurredOn: DAYS.at(-1)!, principal: target.principal.negated(), interest: target.interest.negated(), reversesEventId: target.id }] }
    const end = DAYS.at(-1)!
    return positionAsOf(reversed, end).outstanding.equals(positionAsOf(debt, end).outstanding.plus(target.principal)) &&
      positionAsOf(reversed, DAYS.at(-2)!).outstanding.equals(positionAsOf(debt, DAYS.at(-2)!).outstanding)
  }), RUNS, 'histories')
})

t.test('summaries: every total is the sum of its rows, to the cent', async (t) => {
  holds(t, fc.property(fc.array(history, { minLength: 1, maxLength: 6 }), fc.constantFrom(...DAYS), fc.constantFrom('district' as const, 'zone' as const, 'kind' as const), (debts, asOf, groupBy) => {
    const named = debts.map((d, i) => ({ ...d, zoneCode: `Z${i % 3}` }))
    const { rows, total } = summarizeDebts(named, asOf, groupBy)
    const add = (key: 'outstanding' | 'principalRepaid' | 'interestPaid' | 'registeredOutstanding') => sum(rows.map((r) => money(r[key])))
    return add('outstanding').equals(money(total.outstanding)) && add('principalRepaid').equals(money(total.principalRepaid)) &&
      add('interestPaid').equals(money(total.interestPaid)) && add('registeredOutstanding').equals(money(total.registeredOutstanding)) &&
      rows.reduce((n, r) => n + r.debts, 0) === total.debts &&
      money(total.outstanding).equals(sum(named.map((d) => positionAsOf(d, asOf).outstanding)))
  }), RUNS, 'registers')
})

t.test('before its registration date a debt is not in the register', async (t) => {
  const debt: DebtRecord = { zoneCode: 'Z', kind: 'bond', registeredOn: '2021-01-01', outstandingAtRegistration: money('10.00'), events: [] }
  t.equal(positionAsOf(debt, '2020-12-31').registered, false)
  t.same(summarizeDebts([debt], '2020-12-31', 'zone').total.debts, 0)
  t.ok(positionAsOf(debt, '2021-01-01').outstanding.equals(money('10.00')))
  t.ok(repayableOn(debt, '2021-01-01').limit.equals(money('10.00')))
})
