import Type from 'typebox'
import type { StoredLine } from '../../db/settlements.js'
import { deserializeGroupResult, explainGroup, type Language } from '../../domain/explanation.js'
import { formatRate, money } from '../../domain/money.js'
import { RUN_STATUSES, runTotals, SETTLEMENT_KINDS } from '../../domain/settlement.js'
import type { RunWithLines } from '../../services/settlements.js'
import { CalculationGroup } from './calculations.js'
import {
  DistrictCode, FiscalYear, IdempotencyHeaders, IdParam, MoneyOut, PageOf, PageQuery, problemResponses, RateOut, RecordId, StringEnum, TABLE_FORMATS, Timestamp,
  ZoneCode,
} from './common.js'

/* Settlement runs (年度结算) — api-contract.md, Settlement runs; calculation-rules.md §4–§6. */

const RunId = IdParam('编号 run id', 1)
/** The demo data's draft run (2021) is the one its example finalizes. */
const DraftRunId = IdParam('编号 the id of a draft run', 2)

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
  previousZoneShare: Type.Optional(MoneyOut('原结算功能区分成 the zone share of the finalized settlement (supplementary only)')),
  adjustment: Type.Optional(MoneyOut('补充结算调整 zone share − previous zone share (supplementary only)')),
  groups: Type.Array(CalculationGroup, { maxItems: 50, description: '口径组 groups, shaped as in the calculation response' }),
}, { additionalProperties: false, description: '结算行 one agreement\'s line' })

const TotalsOut = Type.Object({
  revenueTotal: MoneyOut('收入合计 Σ line revenue'),
  zoneShare: MoneyOut('功能区分成合计 Σ line zone share'),
  districtShare: MoneyOut('属地政府留成合计 Σ line district share'),
  advancesPaid: MoneyOut('已预拨合计 Σ advances'),
  balanceDue: MoneyOut('应补(扣)合计 Σ balance due'),
  adjustment: MoneyOut('补充结算调整合计 Σ supplementary adjustments'),
}, { additionalProperties: false, description: '合计 totals of the lines shown' })

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
  totals: TotalsOut,
  lines: Type.Array(LineOut, { maxItems: 100_000, description: '结算行 one line per agreement in the caller\'s scope' }),
}, {
  additionalProperties: false,
  description: '结算批次 a settlement run with its lines',
  examples: [{
    id: 2, fiscalYear: 2021, status: 'draft', minimumRate: '0.60', createdAt: '2026-01-01T00:00:00.000Z', createdBy: 'bootstrap', finalizedAt: null, finalizedBy: null,
    totals: { revenueTotal: '1330000.00', zoneShare: '228000.00', districtShare: '1102000.00', advancesPaid: '100000.00', balanceDue: '128000.00', adjustment: '0.00' },
    lines: [{
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
  }],
})

function presentLine (l: StoredLine, lang: Language) {
  return {
    agreementId: l.agreementId, zoneCode: l.zoneCode, districtCode: l.districtCode, kind: l.kind,
    revenueTotal: l.revenueTotal, zoneShare: l.zoneShare, districtShare: l.districtShare, advancesPaid: l.advancesPaid, balanceDue: l.balanceDue,
    ...(l.previousZoneShare === null ? {} : { previousZoneShare: l.previousZoneShare }),
    ...(l.adjustment === null ? {} : { adjustment: l.adjustment }),
    groups: l.groups.map((g) => ({
      name: g.name, basis: g.basis,
      ...(g.base === null ? {} : { base: g.base }),
      actual: g.actual,
      ...(g.increment === null ? {} : { increment: g.increment }),
      ...(g.carriedShortfallIn === null ? {} : { carriedShortfallIn: g.carriedShortfallIn }),
      ...(g.shareable === null ? {} : { shareable: g.shareable }),
      bands: JSON.parse(g.bands) as Array<{ rate: string, amount: string, zoneShare: string }>,
      zoneShare: g.zoneShare, districtShare: g.districtShare,
      ...(g.carriedShortfallOut === null ? {} : { carriedShortfallOut: g.carriedShortfallOut }),
      explanation: explainGroup(deserializeGroupResult(g.result), lang),
    })),
  }
}

export function presentRun ({ run, lines }: RunWithLines, lang: Language) {
  return { ...run, minimumRate: formatRate(money(run.minimumRate)), totals: runTotals(lines), lines: lines.map((l) => presentLine(l, lang)) }
}

export const createSettlementRunSchema = {
  operationId: 'createSettlementRun', summary: '年度结算 compute a draft settlement for a fiscal year (admin)',
  description: 'One line per agreement in force that year (or per agreementIds), computed by the engine of POST /v1/calculations from the latest ' +
    'revenue revisions, the advances and the shortfall carried out of last year\'s finalized settlement. A second run for a year while one runs is 409; ' +
    'a carry_forward agreement whose previous year is not finalized is 409. After a year is finalized, a new run is a supplementary settlement (补充结算).',
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
  operationId: 'getSettlementRun', summary: '结算批次 a run with the lines in the caller\'s scope',
  params: Type.Object({ id: RunId }),
  response: { 200: RunOut, ...problemResponses(400, 401, 404) },
}

export const finalizeSettlementRunSchema = {
  operationId: 'finalizeSettlementRun', summary: '定稿 finalize a draft run (admin): it can no longer change',
  description: 'Refused (409) when the run is already finalized, when the year\'s revenue, advances, base adjustments or agreements changed after it ' +
    'was computed, or when another run already finalized the year for one of its annual lines.',
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

