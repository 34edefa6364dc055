import Type from 'typebox'
import type { Page } from '../../db/pagination.js'
import { deserializeGroupResult, explainGroup, type Language } from '../../domain/explanation.js'
import { formatMoney, formatRate, money } from '../../domain/money.js'
import { ROLES } from '../../domain/principal.js'
import { type LineReviews, REVIEW_DECISIONS, REVIEW_PARTIES, type Review } from '../../domain/review.js'
import { RUN_STATUSES, SETTLEMENT_KINDS } from '../../domain/settlement.js'
import type { RecordedReview, RunOverview, SettledLine, Verification } from '../../services/settlements.js'
import { requestTakes } from '../../domain/calculation-request.js'
import { OPTIONAL_BODY } from '../routing.js'
import { CalculationGroup, CalculationRequestOut } from './calculations.js'
import {
  Count, DistrictCode, FiscalYear, IdempotencyHeaders, IdParam, MoneyOut, PageOf, PageQuery, problemResponses, RateOut, RecordId, StringEnum, TABLE_FORMATS, Timestamp,
  ZoneCode, Words,
} from './common.js'

/* Settlement runs (年度结算) — api-contract.md, Settlement runs; calculation-rules.md §4–§6. */

const RunId = IdParam('编号 run id', 1)
/** The most agreements a run may name: a selection; a run of every agreement in force names none. */
export const MAX_RUN_AGREEMENT_IDS = 10_000
/** The demo data's draft run (2024) is the one its example finalizes. */
const DraftRunId = IdParam('编号 the id of a draft run', 6)

/** The demo data's finalized, reviewed run (2020). */
const FinalizedRunId = IdParam('编号 the id of a finalized run', 1)

const ReviewProps = {
  decision: StringEnum([...REVIEW_DECISIONS], '审核结论 confirm (确认) or dispute (有异议)'),
  note: Type.Union([Type.String({ maxLength: 2000 }), Type.Null()], { description: '说明 the note: why a line is disputed, or on what grounds an admin recorded the decision' }),
  by: Type.String({ maxLength: 40, description: '登记人 the key that recorded the decision' }),
  byRole: StringEnum([...ROLES], '登记人角色 district or zone for the party itself; admin when the city (市财政局) recorded it on the party\'s behalf'),
  byLabel: Type.Union([Type.String({ maxLength: 200 }), Type.Null()], { description: '登记人名称 the label of that key (null for the bootstrap admin)' }),
  at: Timestamp('登记时间 when it was recorded'),
}
const ReviewOut = Type.Object(ReviewProps, { additionalProperties: false, description: '审核结论 a party\'s decision in force' })
const ReviewsOut = Type.Object({
  district: Type.Union([ReviewOut, Type.Null()], { description: '区财政局 the decision in force of the district\'s finance bureau; null while unreviewed (未确认)' }),
  zone: Type.Union([ReviewOut, Type.Null()], { description: '功能区管委会 the decision in force of the zone\'s management committee; null while unreviewed (未确认)' }),
}, { additionalProperties: false, description: '审核确认 the latest decision of each party (every decision is kept, and in the audit log)' })

const SettledGroup = Type.Object({
  ...CalculationGroup.properties,
  writtenOff: Type.Optional(MoneyOut('核销短收 the shortfall carried out of the agreement\'s last year that no next version carries: written off (calculation-rules.md §6)')),
  carriedToAgreementId: Type.Optional(RecordId('结转至 the next version of the agreement, whose group of the same name carries the shortfall in (calculation-rules.md §6)')),
  awaitingWriteOff: Type.Optional(MoneyOut('待核销短收 on a finalized line only: the shortfall it carried out of a year that became the agreement\'s last after it was signed (the agreement was ended at that year), which no next version carries and no later signed line has written off. ' +
    'Its statement prints what was signed; settle the year again and finalize it to write the shortfall off (calculation-rules.md §6: it never vanishes silently), or register a next version whose carry_forward group of the same name carries it')),
}, { additionalProperties: false, description: '口径组结果 one group\'s result, shaped as in the calculation response' })

const LineOut = Type.Object({
  agreementId: RecordId('分成办法 agreement id'),
  zoneCode: ZoneCode(),
  districtCode: DistrictCode(),
  kind: StringEnum([...SETTLEMENT_KINDS], '结算类型 annual (年度结算) or supplementary (补充结算: the year was already finalized)'),
  revenueTotal: MoneyOut('收入合计 Σ actual'),
  zoneShare: MoneyOut('功能区分成 Σ zone share'),
  districtShare: MoneyOut('属地政府留成 revenue total − zone share'),
  advancesPaid: MoneyOut('已预拨 advances paid for the year'),
  balanceDue: MoneyOut('应补(扣) zone share − advances'),
  follows: Type.Optional(RecordId('所依据的定稿结算 the run of the finalized line (same agreement and year) this supplementary line follows (calculation-rules.md §9)')),
  previousZoneShare: Type.Optional(MoneyOut('原结算功能区分成 the zone share of the finalized line it follows (supplementary only)')),
  adjustment: Type.Optional(MoneyOut('补充结算调整 zone share − previous zone share (supplementary only)')),
  balanceAdjustment: Type.Optional(MoneyOut('补充结算应补(扣)调整 balance due − the balance due of the line it follows (supplementary only)')),
  groups: Type.Array(SettledGroup, { maxItems: 50, description: '口径组 groups, shaped as in the calculation response' }),
  reviews: ReviewsOut,
  calculationRequest: Type.Optional(CalculationRequestOut),
}, {
  additionalProperties: false,
  description: '结算行 one agreement\'s line',
  examples: [{
    agreementId: 1, zoneCode: 'QD-HT', districtCode: '370214', kind: 'annual', revenueTotal: '1330000.00', zoneShare: '228000.00',
    districtShare: '1102000.00', advancesPaid: '100000.00', balanceDue: '128000.00',
    groups: [
      { name: 'taxes', basis: 'increment', base: '1000000.00', actual: '1250000.00', increment: '250000.00', carriedShortfallIn: '0.00', shareable: '250000.00',
        bands: [{ rate: '0.60', amount: '100000.00', zoneShare: '60000.00' }, { rate: '0.80', amount: '150000.00', zoneShare: '120000.00' }],
        zoneShare: '180000.00', districtShare: '1070000.00', carriedShortfallOut: '0.00', explanation: ['增量 = 实际 1250000.00 − 基数 1000000.00 = 250000.00'] },
      { name: 'fees', basis: 'total', actual: '80000.00', bands: [{ rate: '0.60', amount: '80000.00', zoneShare: '48000.00' }],
        zoneShare: '48000.00', districtShare: '32000.00', explanation: ['全额分成：实际 80000.00 × 0.60 = 48000.00'] },
    ],
    reviews: {
      district: { decision: 'confirm', note: null, by: 'key_3f9a1c2b4d5e6f70', byRole: 'district', byLabel: '城阳区财政局', at: '2026-01-05T02:00:00.000Z' },
      zone: null,
    },
  }],
})

const TotalsOut = Type.Object({
  revenueTotal: MoneyOut('收入合计 Σ line revenue'),
  zoneShare: MoneyOut('功能区分成合计 Σ line zone share'),
  districtShare: MoneyOut('属地政府留成合计 Σ line district share'),
  advancesPaid: MoneyOut('已预拨合计 Σ advances'),
  balanceDue: MoneyOut('应补(扣)合计 Σ balance due'),
  adjustment: MoneyOut('补充结算调整合计 Σ supplementary adjustments'),
  balanceAdjustment: MoneyOut('补充结算应补(扣)调整合计 Σ supplementary balance adjustments'),
}, { additionalProperties: false, description: '合计 totals of the lines in the caller\'s scope' })

const RunProps = {
  id: RecordId('编号 run id', [1]),
  fiscalYear: FiscalYear('财政年度 fiscal year settled'),
  status: StringEnum([...RUN_STATUSES], '状态 draft, or finalized (immutable)'),
  minimumRate: RateOut('分成比例下限 the floor (MIN_ZONE_RATE) the run was computed under; a supplementary line prints the floor its year was first settled under'),
  createdAt: Timestamp('计算时间 when it was computed'),
  createdBy: Type.String({ maxLength: 40, description: '经办 the key that ran it' }),
  finalizedAt: Type.Union([Timestamp('定稿时间 when it was finalized'), Type.Null()], { description: '定稿时间 when it was finalized, null for a draft' }),
  finalizedBy: Type.Union([Type.String({ maxLength: 40 }), Type.Null()], { description: '定稿人 the key that finalized it' }),
  digest: Type.Union([Type.String({ pattern: '^[0-9a-f]{64}$', maxLength: 64 }), Type.Null()], {
    description: '校验码 SHA-256 (hex) of the run\'s canonical content (every line, group, figure, review and the override), stored when it was finalized and printed on every statement; null for a draft',
  }),
  overrideReason: Type.Union([Type.String({ maxLength: 2000 }), Type.Null()], { description: '强制定稿理由 why the run was finalized although a line was disputed; null when no dispute was overridden' }),
}
export const RunOut = Type.Object({
  ...RunProps,
  lineCount: Count('结算行数 the lines in the caller\'s scope (GET …/lines pages through them)'),
  totals: TotalsOut,
}, {
  additionalProperties: false,
  description: '结算批次 a settlement run with the number and totals of its lines',
  examples: [{
    id: 2, fiscalYear: 2021, status: 'draft', minimumRate: '0.60', createdAt: '2026-01-01T00:00:00.000Z', createdBy: 'bootstrap', finalizedAt: null, finalizedBy: null,
    digest: null, overrideReason: null, lineCount: 1,
    totals: { revenueTotal: '1330000.00', zoneShare: '228000.00', districtShare: '1102000.00', advancesPaid: '100000.00', balanceDue: '128000.00', adjustment: '0.00', balanceAdjustment: '0.00' },
  }],
})

const LinesPage = PageOf(LineOut, '结算行 lines by zone, district and agreement')

const presentReview = (r: Review | null) => r === null ? null : { decision: r.decision, note: r.note, by: r.by, byRole: r.byRole, byLabel: r.byLabel, at: r.at }
const presentReviews = (reviews: LineReviews) => ({ district: presentReview(reviews.district), zone: presentReview(reviews.zone) })
/**
 * The request that gives the line's figures from POST /v1/calculations: the run's year, the line's floor (withDispositions), each
 * group as the engine took it, the line's advances. Absent for lines settled before it was kept, and
 * when a sum is longer than a request's amounts may be (§1).
 */
function calculationRequestOf (l: SettledLine): Type.Static<typeof CalculationRequestOut> | undefined {
  const groups: Array<Type.Static<typeof CalculationRequestOut>['groups'][number]> = []
  for (const g of l.groups) {
    if (g.input === null) return undefined
    // Written by groupJson (src/domain/calculation-request.ts) when the line was computed.
    groups.push(JSON.parse(g.input) as Type.Static<typeof CalculationRequestOut>['groups'][number])
  }
  const request = { fiscalYear: l.run.fiscalYear, minimumRate: formatRate(money(l.run.minimumRate)), groups, advancesPaid: l.advancesPaid }
  return requestTakes(request) ? request : undefined
}

function presentLine (l: SettledLine, lang: Language) {
  const calculationRequest = calculationRequestOf(l)
  return {
    agreementId: l.agreementId, zoneCode: l.zoneCode, districtCode: l.districtCode, kind: l.kind,
    revenueTotal: l.revenueTotal, zoneShare: l.zoneShare, districtShare: l.districtShare, advancesPaid: l.advancesPaid, balanceDue: l.balanceDue,
    ...(l.follows === null ? {} : { follows: l.follows }),
    ...(l.previousZoneShare === null ? {} : { previousZoneShare: l.previousZoneShare }),
    ...(l.adjustment === null ? {} : { adjustment: l.adjustment }),
    ...(l.balanceAdjustment === null ? {} : { balanceAdjustment: l.balanceAdjustment }),
    groups: l.groups.map((g) => {
      const disposition = l.dispositions.get(g.name)
      const result = deserializeGroupResult(g.result)
      return {
        name: g.name, basis: g.basis,
        ...(g.base === null ? {} : { base: g.base }),
        actual: g.actual,
        ...(g.increment === null ? {} : { increment: g.increment }),
        ...(g.carriedShortfallIn === null ? {} : { carriedShortfallIn: g.carriedShortfallIn }),
        ...(g.shareable === null ? {} : { shareable: g.shareable }),
        bands: JSON.parse(g.bands) as Array<{ rate: string, amount: string, zoneShare: string }>,
        zoneShare: g.zoneShare, districtShare: g.districtShare,
        ...(g.carriedShortfallOut === null ? {} : { carriedShortfallOut: g.carriedShortfallOut }),
        ...(disposition?.kind === 'written_off' ? { writtenOff: formatMoney(disposition.amount) } : {}),
        ...(disposition?.kind === 'carried' ? { carriedToAgreementId: disposition.agreementId } : {}),
        ...(disposition?.kind === 'awaiting_write_off' ? { awaitingWriteOff: formatMoney(disposition.amount) } : {}),
        ...(result.period === undefined ? {} : { period: result.period }),
        explanation: explainGroup(result, lang, disposition),
      }
    }),
    reviews: presentReviews(l.reviews),
    ...(calculationRequest === undefined ? {} : { calculationRequest }),
  }
}

export function presentLines (page: Page<SettledLine>, lang: Language) {
  return { items: page.items.map((l) => presentLine(l, lang)), nextCursor: page.nextCursor }
}

/** A run as it is shown, alone or in the list: the floor printed as the run itself prints it ("0.60"). */
export function presentRun ({ run: { digestFormat: _format, ...run }, lineCount, totals }: RunOverview) {
  return { ...run, minimumRate: formatRate(money(run.minimumRate)), lineCount, totals }
}

export const createSettlementRunSchema = {
  operationId: 'createSettlementRun', summary: '年度结算 compute a draft settlement for a fiscal year (admin)',
  description: 'One line per agreement in force that year (or per agreementIds), computed by the engine of POST /v1/calculations from the latest ' +
    'revenue revisions, the advances and the shortfall carried out of last year\'s finalized settlement. A second run for a year while one runs is 409; ' +
    'a carry_forward agreement whose previous year is not finalized is 409, and so is the first year of a new version while its previous version\'s finalized ' +
    'last year carries out a shortfall the new one does not carry forward and no statement has written off (settle that year again first); ' +
    'a figure beyond 18 integer digits is 422 naming the input. After a year is ' +
    'finalized, a new run is a supplementary settlement (补充结算) against the last finalized line. The answer gives the number and totals of the lines; ' +
    'GET …/lines pages through them.',
  headers: IdempotencyHeaders,
  body: Type.Object({
    fiscalYear: FiscalYear('财政年度 the fiscal year to settle'),
    agreementIds: Type.Optional(Type.Array(RecordId('分成办法 agreement id'), { minItems: 1, maxItems: MAX_RUN_AGREEMENT_IDS, uniqueItems: true, description: `分成办法 only these agreements, at most ${MAX_RUN_AGREEMENT_IDS.toLocaleString('en')} (all in force when absent)` })),
  }, { additionalProperties: false, examples: [{ fiscalYear: 2021 }] }),
  response: { 201: RunOut, ...problemResponses(400, 401, 403, 409, 422) },
}

export const listSettlementRunsSchema = {
  operationId: 'listSettlementRuns', summary: '结算批次列表 settlement runs with lines in the caller\'s scope, newest first, each with the number and totals of those lines',
  querystring: Type.Object({ ...PageQuery, fiscalYear: Type.Optional(FiscalYear()) }, { additionalProperties: false }),
  response: { 200: PageOf(RunOut, '结算批次 runs, each with the number and totals of its lines in the caller\'s scope'), ...problemResponses(400, 401) },
}

export const getSettlementRunSchema = {
  operationId: 'getSettlementRun', summary: '结算批次 a run, with the number and totals of its lines in the caller\'s scope',
  params: Type.Object({ id: RunId }),
  response: { 200: RunOut, ...problemResponses(400, 401, 404) },
}

export const finalizeSettlementRunSchema = {
  operationId: 'finalizeSettlementRun', summary: '定稿 finalize a draft run (admin): it can no longer change',
  description: 'Refused (409) when the run is already finalized; when anything a line was computed from changed after the run was computed, ' +
    'whichever transaction committed it (settlement-stale: the revenue of the year in the agreement\'s categories, its advances, base adjustments, responsibility transfers, ' +
    'terms or years, the finalized previous-year figures it carried in, or the finalized line it follows); when another run already finalized ' +
    'the year for one of its annual lines; or while a line is disputed by its district or zone (settlement-disputed, naming the lines), unless ' +
    '`override.reason` says why the disputes are set aside: the reason is stored and printed on every statement (an override with no disputed line is 422). ' +
    'Lines nobody reviewed are finalized as unreviewed (未确认). With REQUIRE_TWO_ADMINS=1 the key that computed the run may not finalize it (403). ' +
    'The answer carries the run\'s digest: SHA-256 of its canonical content, printed on every statement and checked by GET …/verification. ' +
    'Each line then follows the last finalized line of its agreement and year (calculation-rules.md §9).',
  params: Type.Object({ id: DraftRunId }), headers: IdempotencyHeaders,
  [OPTIONAL_BODY]: true,
  body: Type.Optional(Type.Object({
    override: Type.Optional(Type.Object({
      reason: Words(2000, '强制定稿理由 why the disputed lines are finalized as they stand (printed on every statement)'),
    }, { additionalProperties: false, description: '强制定稿 finalize although lines are disputed' })),
  }, { additionalProperties: false, examples: [{}] })),
  response: { 200: RunOut, ...problemResponses(400, 401, 403, 404, 409, 422) },
}

export const reviewSettlementLineSchema = {
  operationId: 'reviewSettlementLine', summary: '审核确认 confirm or dispute a line of a draft run (its district or zone; an admin on a party\'s behalf)',
  description: 'The district key of the line\'s district records the district\'s decision (区财政局), the zone key of its zone the zone\'s (功能区管委会); ' +
    'an admin (市财政局) may record either party\'s decision on its behalf, naming `party` and giving a `note`. A dispute needs a note. Every decision is ' +
    'kept (and in the audit log); the latest of each party is the one in force, shown on the line (GET …/lines) and on the statement. A line outside ' +
    'the key\'s scope answers 404 as if absent; a key recording the other party\'s decision 403; a finalized run takes no reviews (409). ' +
    'A disputed line stops finalizing until its party confirms it, or an admin overrides the dispute with a reason.',
  params: Type.Object({ id: DraftRunId, agreementId: IdParam('分成办法 the agreement id of the line', 1) }), headers: IdempotencyHeaders,
  body: Type.Object({
    decision: StringEnum([...REVIEW_DECISIONS], '审核结论 confirm (确认) or dispute (有异议)'),
    note: Type.Optional(Words(2000, '说明 why the line is disputed (required for a dispute), or on what grounds an admin records the decision (required for an admin)')),
    party: Type.Optional(StringEnum([...REVIEW_PARTIES], '当事方 the party whose decision it is: district (区财政局) or zone (功能区管委会); an admin names it, a district or zone key may only name its own')),
  }, { additionalProperties: false, examples: [{ decision: 'confirm', party: 'zone', note: '功能区管委会2026年1月5日书面确认（示例）' }] }),
  response: {
    201: Type.Object({
      runId: RecordId('结算批次 the run'),
      agreementId: RecordId('分成办法 the agreement of the line'),
      party: StringEnum([...REVIEW_PARTIES], '当事方 whose decision it is'),
      ...ReviewProps,
      reviews: ReviewsOut,
    }, {
      additionalProperties: false, description: '审核结论 the decision as recorded, and the decisions in force on the line',
      examples: [{
        runId: 2, agreementId: 1, party: 'zone', decision: 'confirm', note: '功能区管委会2026年1月5日书面确认（示例）', by: 'bootstrap', byRole: 'admin', byLabel: null,
        at: '2026-01-05T02:00:00.000Z',
        reviews: { district: null, zone: { decision: 'confirm', note: '功能区管委会2026年1月5日书面确认（示例）', by: 'bootstrap', byRole: 'admin', byLabel: null, at: '2026-01-05T02:00:00.000Z' } },
      }],
    }),
    ...problemResponses(400, 401, 403, 404, 409),
  },
}

export function presentRecordedReview ({ runId, review, reviews }: RecordedReview) {
  return { runId, agreementId: review.agreementId, party: review.party, ...presentReview(review), reviews: presentReviews(reviews) }
}

const MismatchOut = Type.Object({
  agreementId: Type.Optional(RecordId('分成办法 the line\'s agreement (absent for the digest)')),
  group: Type.Optional(Type.String({ maxLength: 100, description: '口径组 the group, for a group\'s figure' })),
  field: Type.String({ maxLength: 100, description: '项目 the figure: a line\'s or group\'s field, result/<field> for a figure inside the stored engine result, or digest' }),
  stored: Type.Union([Type.String({ maxLength: 100_000 }), Type.Null()], { description: '存储值 what is stored' }),
  recomputed: Type.Union([Type.String({ maxLength: 100_000 }), Type.Null()], { description: '重算值 what the stored inputs give today' }),
}, { additionalProperties: false, description: '不符 a stored figure that is not what it should be' })

export const verifySettlementRunSchema = {
  operationId: 'verifySettlementRun', summary: '核验 verify a finalized run: its digest and every line, recomputed from the stored rows',
  description: 'Recomputes the SHA-256 digest from the stored rows of the run (every line, group, figure and review, and the override) and compares it with ' +
    'the digest stored when the run was finalized, printed on every statement; and recomputes every line in the caller\'s scope from its stored inputs ' +
    '(each group\'s actual, base derivation, bands, rates, carried shortfall and policy, and the line\'s advances) with today\'s engine, listing every ' +
    'stored figure that differs. A draft has no digest yet (409).',
  params: Type.Object({ id: FinalizedRunId }),
  response: {
    200: Type.Object({
      runId: RecordId('结算批次 the run'),
      digest: Type.Union([Type.String({ maxLength: 64 }), Type.Null()], { description: '校验码 the digest stored when the run was finalized (null for a run finalized before digests were kept)' }),
      recomputedDigest: Type.String({ pattern: '^[0-9a-f]{64}$', maxLength: 64, description: '重算校验码 the digest of the rows as they are stored now' }),
      digestMatches: Type.Boolean({ description: '校验码一致 whether the stored rows are exactly those finalized' }),
      linesChecked: Count('核验行数 the lines recomputed (those in the caller\'s scope)'),
      mismatchCount: Count('不符项数 how many mismatches were found'),
      mismatches: Type.Array(MismatchOut, { maxItems: 1000, description: '不符 each mismatch (the first 1000)' }),
    }, {
      additionalProperties: false, description: '核验结果 what the verification found',
      examples: [{ runId: 1, digest: '3b0c4f1e9a7d2c5b8e6f0a1d4c7b2e5f8a3d6c9b0e2f4a7c1d5b8e3f6a9c0d2b', recomputedDigest: '3b0c4f1e9a7d2c5b8e6f0a1d4c7b2e5f8a3d6c9b0e2f4a7c1d5b8e3f6a9c0d2b', digestMatches: true, linesChecked: 3, mismatchCount: 0, mismatches: [] }],
    }),
    ...problemResponses(400, 401, 404, 409),
  },
}

export function presentVerification (v: Verification) {
  return {
    runId: v.run.id, digest: v.run.digest, recomputedDigest: v.recomputedDigest, digestMatches: v.digestMatches, linesChecked: v.linesChecked,
    mismatchCount: v.mismatchCount, mismatches: v.mismatches,
  }
}

/** The formats of the settlement statement: the tables, and a print-ready page. */
export const STATEMENT_FORMATS = [...TABLE_FORMATS, 'html'] as const

export const settlementStatementSchema = {
  operationId: 'settlementStatement', summary: '结算单 the settlement statement as CSV, xlsx or a print-ready HTML page',
  description: 'One row per agreement and group, a subtotal per agreement (with the district\'s and the zone\'s review) and a total, adding up to the cent; ' +
    'the title names the run, its status, its digest (SHA-256, see GET …/verification) and the override reason if any. CSV is UTF-8 with a BOM; xlsx has ' +
    'Chinese column titles, yuan formatting and a frozen header. html is a page to print and stamp: A4 landscape, one agreement a page, each group\'s base, ' +
    'actual, increment, bands, zone and district shares, the advances and balance due in 元 with thousands separators, the review record, the override ' +
    'reason, the digest, and signature and seal blocks for 市财政局, 区财政局 and 功能区管委会; no script, its own web font, served under a ' +
    'Content-Security-Policy that allows only its stylesheet and font.',
  params: Type.Object({ id: RunId }),
  querystring: Type.Object({ format: Type.Optional(StringEnum([...STATEMENT_FORMATS], '格式 csv (default), xlsx or html')) }, { additionalProperties: false }),
  produces: ['text/csv', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'text/html'],
  response: {
    200: Type.String({ maxLength: 1024 * 1024 * 1024, description: '结算单 the statement file', examples: ['\uFEFF2021年度结算单…'] }),
    ...problemResponses(400, 401, 404),
  },
}


export const listSettlementRunLinesSchema = {
  operationId: 'listSettlementRunLines', summary: '结算行 the run\'s lines in the caller\'s scope, a page at a time',
  description: 'One line per agreement, by zone, district and agreement, with its groups shaped as in the calculation response; ' +
    'supplementary lines name the finalized line they follow and the adjustments against it (calculation-rules.md §9).',
  params: Type.Object({ id: RunId }),
  querystring: Type.Object({ ...PageQuery, districtCode: Type.Optional(DistrictCode()), zoneCode: Type.Optional(ZoneCode()) }, { additionalProperties: false }),
  response: { 200: LinesPage, ...problemResponses(400, 401, 404) },
}
