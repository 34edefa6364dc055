import Type from 'typebox'
import type { Page } from '../../db/pagination.js'
import { deserializeGroupResult, explainGroup, type Language } from '../../domain/explanation.js'
import { formatMoney, formatRate, money } from '../../domain/money.js'
import { RUN_STATUSES, SETTLEMENT_KINDS } from '../../domain/settlement.js'
import type { RunOverview, SettledLine } from '../../services/settlements.js'
import { requestTakes } from '../../domain/calculation-request.js'
import { CalculationGroup, CalculationRequestOut } from './calculations.js'
import {
  Count, DistrictCode, FiscalYear, IdempotencyHeaders, IdParam, MoneyOut, PageOf, PageQuery, problemResponses, RateOut, RecordId, StringEnum, TABLE_FORMATS, Timestamp,
  ZoneCode,
} from './common.js'

/* Settlement runs (年度结算) — api-contract.md, Settlement runs; calculation-rules.md §4–§6. */

const RunId = IdParam('编号 run id', 1)
/** The demo data's draft run (2021) is the one its example finalizes. */
const DraftRunId = IdParam('编号 the id of a draft run', 2)

const SettledGroup = Type.Object({
  ...CalculationGroup.properties,
  writtenOff: Type.Optional(MoneyOut('核销短收 the shortfall carried out of the agreement\'s last year that no next version carries: written off (calculation-rules.md §6)')),
  carriedToAgreementId: Type.Optional(RecordId('结转至 the next version of the agreement, whose group of the same name carries the shortfall in (calculation-rules.md §6)')),
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
  minimumRate: RateOut('分成比例下限 the floor in force'),
  createdAt: Timestamp('计算时间 when it was computed'),
  createdBy: Type.String({ maxLength: 40, description: '经办 the key that ran it' }),
  finalizedAt: Type.Union([Timestamp('定稿时间 when it was finalized'), Type.Null()], { description: '定稿时间 when it was finalized, null for a draft' }),
  finalizedBy: Type.Union([Type.String({ maxLength: 40 }), Type.Null()], { description: '定稿人 the key that finalized it' }),
}
export const RunSummary = Type.Object(RunProps, { additionalProperties: false, description: '结算批次 a settlement run',
  examples: [{ id: 1, fiscalYear: 2021, status: 'draft', minimumRate: '0.60', createdAt: '2026-01-01T00:00:00.000Z', createdBy: 'bootstrap', finalizedAt: null, finalizedBy: null }] })
export const RunOut = Type.Object({
  ...RunProps,
  lineCount: Count('结算行数 the lines in the caller\'s scope (GET …/lines pages through them)'),
  totals: TotalsOut,
}, {
  additionalProperties: false,
  description: '结算批次 a settlement run with the number and totals of its lines',
  examples: [{
    id: 2, fiscalYear: 2021, status: 'draft', minimumRate: '0.60', createdAt: '2026-01-01T00:00:00.000Z', createdBy: 'bootstrap', finalizedAt: null, finalizedBy: null,
    lineCount: 1,
    totals: { revenueTotal: '1330000.00', zoneShare: '228000.00', districtShare: '1102000.00', advancesPaid: '100000.00', balanceDue: '128000.00', adjustment: '0.00', balanceAdjustment: '0.00' },
  }],
})

const LinesPage = PageOf(LineOut, '结算行 lines by zone, district and agreement')

/**
 * The request that gives the line's figures from POST /v1/calculations: the run's year and floor, each
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
        ...(result.period === undefined ? {} : { period: result.period }),
        explanation: explainGroup(result, lang),
      }
    }),
    ...(calculationRequest === undefined ? {} : { calculationRequest }),
  }
}

export function presentLines (page: Page<SettledLine>, lang: Language) {
  return { items: page.items.map((l) => presentLine(l, lang)), nextCursor: page.nextCursor }
}

export function presentRun ({ run, lineCount, totals }: RunOverview) {
  return { ...run, minimumRate: formatRate(money(run.minimumRate)), lineCount, totals }
}

export const createSettlementRunSchema = {
  operationId: 'createSettlementRun', summary: '年度结算 compute a draft settlement for a fiscal year (admin)',
  description: 'One line per agreement in force that year (or per agreementIds), computed by the engine of POST /v1/calculations from the latest ' +
    'revenue revisions, the advances and the shortfall carried out of last year\'s finalized settlement. A second run for a year while one runs is 409; ' +
    'a carry_forward agreement whose previous year is not finalized is 409; a figure beyond 18 integer digits is 422 naming the input. After a year is ' +
    'finalized, a new run is a supplementary settlement (补充结算) against the last finalized line. The answer gives the number and totals of the lines; ' +
    'GET …/lines pages through them.',
  headers: IdempotencyHeaders,
  body: Type.Object({
    fiscalYear: FiscalYear('财政年度 the fiscal year to settle'),
    agreementIds: Type.Optional(Type.Array(RecordId('分成办法 agreement id'), { minItems: 1, maxItems: 100_000, uniqueItems: true, description: '分成办法 only these agreements (all in force when absent)' })),
  }, { additionalProperties: false, examples: [{ fiscalYear: 2021 }] }),
  response: { 201: RunOut, ...problemResponses(400, 401, 403, 409, 422) },
}

export const listSettlementRunsSchema = {
  operationId: 'listSettlementRuns', summary: '结算批次列表 settlement runs with lines in the caller\'s scope, newest first',
  querystring: Type.Object({ ...PageQuery, fiscalYear: Type.Optional(FiscalYear()) }, { additionalProperties: false }),
  response: { 200: PageOf(RunSummary, '结算批次 runs'), ...problemResponses(400, 401) },
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
    'terms or years, the finalized previous-year figures it carried in, or the finalized line it follows); or when another run already finalized ' +
    'the year for one of its annual lines. Each line then follows the last finalized line of its agreement and year (calculation-rules.md §9).',
  params: Type.Object({ id: DraftRunId }), headers: IdempotencyHeaders,
  response: { 200: RunOut, ...problemResponses(400, 401, 403, 404, 409) },
}

export const settlementStatementSchema = {
  operationId: 'settlementStatement', summary: '结算单 the settlement statement as CSV or xlsx',
  description: 'One row per agreement and group, a subtotal per agreement and a total, adding up to the cent. CSV is UTF-8 with a BOM; xlsx has Chinese column titles, yuan formatting and a frozen header.',
  params: Type.Object({ id: RunId }),
  querystring: Type.Object({ format: Type.Optional(StringEnum([...TABLE_FORMATS], '格式 csv (default) or xlsx')) }, { additionalProperties: false }),
  produces: ['text/csv', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
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
