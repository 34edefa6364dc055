import { createHash } from 'node:crypto'
import fc from 'fast-check'
import t from 'tap'
import {
  type AgreementYearResult, type BaseInput, computeAgreementYear, formatMoney, type GroupInput, money, presentGroupFigures, type RateBand,
  type ResponsibilityTransfer, serializeGroupResult, type ShortfallPolicy, type TransferFunding, ZERO,
} from '../../src/domain/index.js'
import {
  canonicalHeader, canonicalLine, canonicalReview, DIGEST_FORMATS, type DigestFormat, engineInputOf, type LineContent, type ReviewContent, type RunContent, verifyLine,
} from '../../src/domain/verification.js'
import { holds } from '../properties.js'

// GET /v1/settlement-runs/{id}/verification (api-contract.md, Settlement runs) recomputes every
// stored line from the inputs its stored groups hold (calculation-rules.md §4–§6): a line as the
// engine stored it verifies clean, whatever the kind of base, bands and shortfall; any stored
// figure changed is reported as what it is and what the engine makes of the stored inputs.

const RUNS = { numRuns: 500, seed: 20260105 } as const
const FLOOR = money('0.60')

/** A line as settlement runs store it (src/services/settlements.ts, lineOf): printed figures, the engine's result per group. */
function stored (result: AgreementYearResult, agreementId = 7): LineContent {
  return {
    agreementId, zoneCode: 'QD-HT', districtCode: '370214', kind: 'annual', follows: null,
    revenueTotal: formatMoney(result.revenueTotal), zoneShare: formatMoney(result.zoneShare), districtShare: formatMoney(result.districtShare),
    advancesPaid: formatMoney(result.advancesPaid), balanceDue: formatMoney(result.balanceDue), previousZoneShare: null, adjustment: null, balanceAdjustment: null,
    inputs: '{}',
    groups: result.groups.map((g, position) => {
      const p = presentGroupFigures(g)
      return {
        position, name: g.name, basis: g.basis, base: p.base ?? null, actual: p.actual, increment: p.increment ?? null, carriedShortfallIn: p.carriedShortfallIn ?? null,
        shareable: p.shareable ?? null, zoneShare: p.zoneShare, districtShare: p.districtShare, carriedShortfallOut: p.carriedShortfallOut ?? null,
        bands: JSON.stringify(p.bands), result: serializeGroupResult(g),
      }
    }),
  }
}

const settle = (year: number, groups: GroupInput[], advancesPaid = '0.00') =>
  computeAgreementYear({ fiscalYear: year, minimumRate: FLOOR, groups, advancesPaid: money(advancesPaid) })

const adjustments = [{ fromYear: 2020, amount: money('200.00') }, { fromYear: 2021, amount: money('-50.00') }]
const KINDS: Record<string, GroupInput> = {
  'total': { name: 'fees', basis: 'total', actual: money('80000.05'), rates: [{ rate: money('0.65') }], shortfall: 'none', carriedShortfall: ZERO },
  'given base, two bands': { name: 'a', basis: 'increment', base: { kind: 'amount', amount: money('1000000.00') }, actual: money('1250000.00'),
    rates: [{ upToGrowth: money('0.1'), rate: money('0.6') }, { rate: money('0.8') }], shortfall: 'none', carriedShortfall: ZERO },
  'fixed base, adjustments, shortfall carried in': { name: 'b', basis: 'increment', base: { kind: 'rule', rule: { amount: money('1000.00'), baseYear: 2019, mode: 'fixed', adjustments } },
    actual: money('1400.00'), rates: [{ rate: money('0.7') }], shortfall: 'carry_forward', carriedShortfall: money('50.00') },
  'escalating base, fractional band limit': { name: 'c', basis: 'increment',
    base: { kind: 'rule', rule: { amount: money('1000.01'), baseYear: 2019, mode: 'escalating', growthRate: money('0.033'), adjustments } },
    actual: money('3000.00'), rates: [{ upToGrowth: money('0.333333'), rate: money('0.6') }, { upToGrowth: money('0.5'), rate: money('0.75') }, { rate: money('0.8') }],
    shortfall: 'none', carriedShortfall: ZERO },
  'prior-year base, shortfall deducted': { name: 'd', basis: 'increment',
    base: { kind: 'rule', rule: { baseYear: 2019, mode: 'prior_year', priorYearActual: money('1300.00'), adjustments: [{ fromYear: 2021, amount: money('200.00') }] } },
    actual: money('1000.00'), rates: [{ upToGrowth: money('0.2'), rate: money('0.65') }, { rate: money('0.9') }], shortfall: 'deduct', carriedShortfall: ZERO },
  // §4: each transfer in force moves the base by F(Y) in every base mode; verification must apply them as the run did.
  'fixed base, transfers of every funding method': { name: 't1', basis: 'increment',
    base: { kind: 'rule', rule: { amount: money('1000000.00'), baseYear: 2019, mode: 'fixed', adjustments, transfers: [
      { function: '教育', direction: 'to_district', fromYear: 2021, documentNo: '青政字〔2021〕1号', funding: { method: 'headcount', headcount: 12, unitCost: money('180000.00') } },
      { function: '城市管理', direction: 'to_zone', fromYear: 2020, toYear: 2022, documentNo: '青政字〔2020〕2号', funding: { method: 'indexed', amount: money('12345.67'), growthRate: money('0.035') } },
      { function: '交通', direction: 'to_district', fromYear: 2020, toYear: 2020, documentNo: '青政字〔2020〕3号', funding: { method: 'fixed', amount: money('999.99') } },
    ] } },
    actual: money('1500000.00'), rates: [{ rate: money('0.60') }], shortfall: 'carry_forward', carriedShortfall: ZERO },
  'escalating base, a transfer to the zone': { name: 't2', basis: 'increment',
    base: { kind: 'rule', rule: { amount: money('500000.00'), baseYear: 2019, mode: 'escalating', growthRate: money('0.05'), adjustments, transfers: [
      { function: '卫生健康', direction: 'to_zone', fromYear: 2021, documentNo: '青政字〔2021〕4号', funding: { method: 'fixed', amount: money('20000.00') } },
    ] } },
    actual: money('600000.00'), rates: [{ upToGrowth: money('0.1'), rate: money('0.6') }, { rate: money('0.8') }], shortfall: 'none', carriedShortfall: ZERO },
  'prior-year base, a transfer to the district': { name: 't3', basis: 'increment',
    base: { kind: 'rule', rule: { baseYear: 2019, mode: 'prior_year', priorYearActual: money('400000.00'), adjustments: [], transfers: [
      { function: '教育', direction: 'to_district', fromYear: 2021, documentNo: '青政字〔2021〕5号', funding: { method: 'fixed', amount: money('5000.00') } },
    ] } },
    actual: money('430000.00'), rates: [{ upToGrowth: money('0.05'), rate: money('0.90') }, { rate: money('0.65') }], shortfall: 'deduct', carriedShortfall: ZERO },
  'shortfall carried out': { name: 'e', basis: 'increment', base: { kind: 'amount', amount: money('500.00') }, actual: money('300.00'),
    rates: [{ rate: money('0.6') }], shortfall: 'carry_forward', carriedShortfall: money('20.00') },
  'shortfall borne by the district': { name: 'f', basis: 'increment', base: { kind: 'amount', amount: money('500.00') }, actual: money('300.00'),
    rates: [{ upToGrowth: money('0.1'), rate: money('0.6') }, { rate: money('0.7') }], shortfall: 'none', carriedShortfall: ZERO },
}

t.test('every kind of stored group verifies clean: its inputs rebuilt from its result give the same figures (§4–§6)', async (t) => {
  for (const [kind, group] of Object.entries(KINDS)) {
    const result = settle(2021, [group], '123.45')
    t.same(verifyLine(2021, FLOOR, stored(result), undefined), [], kind)
    const again = computeAgreementYear({ fiscalYear: 2021, minimumRate: FLOOR, groups: result.groups.map(engineInputOf), advancesPaid: result.advancesPaid })
    t.equal(serializeGroupResult(again.groups[0]!), serializeGroupResult(result.groups[0]!), `${kind}: the very same result, exact figures and derivation included`)
  }
})

t.test('a base moved by transfers is verified with them (§4): the figures the run stored, not the base without them', async (t) => {
  const line = stored(settle(2021, [KINDS['fixed base, transfers of every funding method']!]))
  // B = 1000000.00 + 200.00 − 50.00 + 12 × 180000.00 − round(12345.67 × 1.035) = 1000150.00 + 2160000.00 − 12777.77 = 3147372.23
  // (交通 ended in 2020); S = 1500000.00 − 3147372.23 = −1647372.23, carried forward.
  t.match(line.groups[0], { base: '3147372.23', increment: '-1647372.23', zoneShare: '0.00', carriedShortfallOut: '1647372.23' })
  t.same(verifyLine(2021, FLOOR, line, undefined), [])
  const moved = { ...line, groups: line.groups.map((g) => ({ ...g, base: '3147372.24' })) }
  t.same(verifyLine(2021, FLOOR, moved, undefined), [{ agreementId: 7, group: 't1', field: 'base', stored: '3147372.24', recomputed: '3147372.23' }])
})

t.test('a stored figure changed is reported with what the stored inputs give', async (t) => {
  const line = stored(settle(2021, [KINDS['given base, two bands']!, KINDS.total!], '100000.00'))
  // given base: I = S = 250000.00; 0.6 × 100000.00 + 0.8 × 150000.00 = 180000.00; fees round(0.65 × 80000.05) = 52000.03.
  t.match(line, { zoneShare: '232000.03', balanceDue: '132000.03' })
  const changed = { ...line, balanceDue: '132000.04', groups: line.groups.map((g) => g.name === 'fees' ? { ...g, zoneShare: '52000.00' } : g) }
  t.same(verifyLine(2021, FLOOR, changed, undefined), [
    { agreementId: 7, group: 'fees', field: 'zoneShare', stored: '52000.00', recomputed: '52000.03' },
    { agreementId: 7, field: 'balanceDue', stored: '132000.04', recomputed: '132000.03' },
  ])
  const unreadable = { ...line, groups: line.groups.map((g, i) => i === 0 ? { ...g, result: '{"basis":"increment"}' } : g) }
  t.match(verifyLine(2021, FLOOR, unreadable, undefined), [{ group: 'a', field: 'result', stored: /^unreadable: stored group result: \/name is not a string/, recomputed: null }],
    'a result that cannot be read is reported, not thrown')
  const supplementary = { ...line, kind: 'supplementary' as const, follows: 3, previousZoneShare: '230000.00', adjustment: '2000.03', balanceAdjustment: '2000.03' }
  t.same(verifyLine(2021, FLOOR, supplementary, { zoneShare: '230000.00', balanceDue: '130000.00' }), [], 'a supplementary line against the line it follows (§9)')
  t.same(verifyLine(2021, FLOOR, supplementary, { zoneShare: '230000.01', balanceDue: '130000.00' }), [
    { agreementId: 7, field: 'previousZoneShare', stored: '230000.00', recomputed: '230000.01' },
    { agreementId: 7, field: 'adjustment', stored: '2000.03', recomputed: '2000.02' },
  ])
  t.not(canonicalLine(changed), canonicalLine(line), 'and the digest\'s text of the line differs')
})

/** An amount in yuan built from whole cents, as a string. */
const cents = (max: bigint) => fc.bigInt({ min: -max, max }).map((c) => money(`${c < 0n ? '-' : ''}${(c < 0n ? -c : c) / 100n}.${((c < 0n ? -c : c) % 100n).toString().padStart(2, '0')}`))
const amount = cents(10n ** 12n)
const rate = fc.integer({ min: 600000, max: 1000000 }).map((micro) => money(micro.toString()).dividedBy(1000000))
const bands: fc.Arbitrary<RateBand[]> = fc.array(fc.tuple(fc.integer({ min: 1, max: 500000 }), rate), { minLength: 1, maxLength: 5 }).map((raw) => {
  const rates = raw.map(([, r]) => r).sort((a, b) => a.comparedTo(b))
  let limit = 0
  return rates.map((r, k) => {
    if (k === rates.length - 1) return { rate: r }
    limit += raw[k]![0]
    return { upToGrowth: money(limit.toString()).dividedBy(1000000), rate: r }
  })
})
/** Responsibility transfers (§4) of every funding method and direction, some in force in 2021 and some not. */
const funding: fc.Arbitrary<TransferFunding> = fc.oneof(
  cents(10n ** 11n).map((a): TransferFunding => ({ method: 'fixed', amount: a.abs() })),
  fc.tuple(fc.integer({ min: 1, max: 500 }), cents(10n ** 8n)).map(([headcount, unitCost]): TransferFunding => ({ method: 'headcount', headcount, unitCost: unitCost.abs() })),
  fc.tuple(cents(10n ** 11n), fc.integer({ min: -50000, max: 150000 })).map(([a, g]): TransferFunding => ({ method: 'indexed', amount: a.abs(), growthRate: money(String(g)).dividedBy(1000000) })),
)
const transfers: fc.Arbitrary<ResponsibilityTransfer[]> = fc.array(fc.record({
  direction: fc.constantFrom('to_district' as const, 'to_zone' as const), fromYear: fc.integer({ min: 2016, max: 2022 }), span: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }), funding,
}).map(({ direction, fromYear, span, funding }): ResponsibilityTransfer => ({
  function: '教育', direction, fromYear, ...(span === undefined ? {} : { toYear: fromYear + span }), documentNo: '青政字〔2021〕1号', funding,
})), { maxLength: 3 })
const base: fc.Arbitrary<BaseInput> = fc.oneof(
  amount.map((a): BaseInput => ({ kind: 'amount', amount: a })),
  fc.record({ amount: amount.map((a) => a.abs()), mode: fc.constantFrom('fixed' as const, 'escalating' as const), growth: fc.integer({ min: 0, max: 100000 }), adjust: amount, transfers })
    .map(({ amount, mode, growth, adjust, transfers }): BaseInput => ({
      kind: 'rule', rule: { amount, baseYear: 2015, mode, growthRate: money(String(growth)).dividedBy(1000000), adjustments: [{ fromYear: 2018, amount: adjust }], transfers },
    })),
  fc.record({ prior: amount, adjust: amount, transfers }).map(({ prior, adjust, transfers }): BaseInput =>
    ({ kind: 'rule', rule: { baseYear: 2015, mode: 'prior_year', priorYearActual: prior, adjustments: [{ fromYear: 2021, amount: adjust }], transfers } })),
)
const group: fc.Arbitrary<GroupInput> = fc.oneof(
  fc.record({ base, actual: amount, rates: bands, shortfall: fc.constantFrom<ShortfallPolicy>('none', 'deduct', 'carry_forward'), carried: amount.map((a) => a.abs()) })
    .map(({ base, actual, rates, shortfall, carried }): GroupInput => ({ name: 'g', basis: 'increment', base, actual, rates, shortfall, carriedShortfall: shortfall === 'carry_forward' ? carried : ZERO })),
  fc.record({ actual: amount, rate }).map(({ actual, rate }): GroupInput => ({ name: 'g', basis: 'total', actual, rates: [{ rate }], shortfall: 'none', carriedShortfall: ZERO })),
)

t.test('any line the engine computes verifies clean from what it stores', async (t) => {
  holds(t, fc.property(fc.array(group, { minLength: 1, maxLength: 5 }), amount, (groups, advances) => {
    const result = settle(2021, groups.map((g, i) => ({ ...g, name: `g${i}` })), formatMoney(advances))
    return verifyLine(2021, FLOOR, stored(result), undefined).length === 0
  }), RUNS)
})

t.test('api-contract.md, Settlement runs (verification): settlement-run/v1 is the very text runs finalized before sql/015 were digested over; v2 adds each group\'s calculation request', async (t) => {
  const header: RunContent = { id: 7, fiscalYear: 2021, minimumRate: '0.600000', createdAt: '2026-01-05T08:00:00.000Z', createdBy: 'k1', finalizedAt: '2026-01-06T08:00:00.000Z', finalizedBy: 'k2', overrideReason: null }
  const fixture: LineContent = {
    agreementId: 3, zoneCode: 'QD-HT', districtCode: '370214', kind: 'annual', follows: null, revenueTotal: '1350.00', zoneShare: '220.00', districtShare: '1130.00',
    advancesPaid: '50.00', balanceDue: '170.00', previousZoneShare: null, adjustment: null, balanceAdjustment: null, inputs: '{"terms":"t","revenue":"r","advances":"","carriedFrom":null,"follows":null}',
    groups: [
      { position: 0, name: 'taxes', basis: 'increment', base: '1000.00', actual: '1150.00', increment: '150.00', carriedShortfallIn: '0.00', shareable: '150.00', zoneShare: '100.00', districtShare: '1050.00', carriedShortfallOut: '0.00', bands: '[]', result: '{"r":1}', writtenOff: null, input: '{"name":"taxes"}' },
      { position: 1, name: 'fees', basis: 'total', base: null, actual: '200.00', increment: null, carriedShortfallIn: null, shareable: null, zoneShare: '120.00', districtShare: '80.00', carriedShortfallOut: null, bands: '[]', result: '{"r":2}', writtenOff: '12.00', input: null },
    ],
  }
  const review: ReviewContent = { id: 1, agreementId: 3, party: 'district', decision: 'confirm', note: null, by: 'k3', byRole: 'district', byLabel: null, at: '2026-01-05T09:00:00.000Z' }
  const digest = (format: DigestFormat, line = fixture) => createHash('sha256').update(canonicalHeader(header, format) + canonicalLine(line, format) + canonicalReview(review)).digest('hex')
  // Taken with the code of ae4d9d3, the last to finalize runs over v1, on the same rows.
  t.equal(digest(DIGEST_FORMATS.v1), '0fc38aa6c89a2a8cd29b30ec2ee26ea7db167c6f339d8cef5018a290ea1ea7cc', 'v1 reads as it always did')
  const otherRequest = { ...fixture, groups: fixture.groups.map((g, i) => i === 0 ? { ...g, input: '{"name":"taxes","actual":"99999.00"}' } : g) }
  t.equal(digest(DIGEST_FORMATS.v1, otherRequest), digest(DIGEST_FORMATS.v1), 'v1 never held the requests')
  t.not(digest(DIGEST_FORMATS.v2, otherRequest), digest(DIGEST_FORMATS.v2), 'v2 does: another request, another digest')
  t.match(canonicalHeader(header, DIGEST_FORMATS.v2), /^"settlement-run\/v2"\n/, 'and names itself')
})
