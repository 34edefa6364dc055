import Type from 'typebox'
import { type CalculationRequestJson, parseCalculationRequest } from '../../domain/calculation-request.js'
import { computeAgreementYear } from '../../domain/engine.js'
import { money } from '../../domain/money.js'
import { presentAgreementYear } from '../../domain/presentation.js'
import {
  EXPLANATION_LINE_MAX, FiscalYear, Growth, MAX_BASE_ADJUSTMENTS, Money, MoneyOut, NonNegativeMoney, problemResponses, Rate, RateOut, Words,
} from './common.js'
import { BaseModeEnum, BasisEnum, MAX_TRANSFERS, PeriodOut, RATE_BANDS_DESCRIPTION, RateBandIn, RateScheduleIn, ShortfallEnum, TransferFields } from './terms.js'

/* POST /v1/calculations — 试算: the engine on inputs given in full, nothing stored. */

const BaseAdjustment = Type.Object({
  fromYear: FiscalYear('起始年度 the first fiscal year the adjustment applies to'),
  amount: Money('调整金额 base adjustment (基数调整, 财随事走): + when a function moves to the district, − when it moves to the zone'),
  reason: Type.Optional(Words(500, '调整原因 why the base moves')),
  documentNo: Type.Optional(Words(100, '文号 the document that decided it')),
}, { additionalProperties: false, description: '基数调整 a signed base adjustment from a fiscal year on (calculation-rules.md §4)' })

const BaseRule = Type.Object({
  amount: Type.Optional(Money('核定基数 verified base for the base year (required for fixed and escalating)')),
  baseYear: FiscalYear('基期年度 base year, before the fiscal year'),
  mode: BaseModeEnum('基数口径 how the base moves: fixed, escalating by growthRate, or last year\'s actual'),
  growthRate: Type.Optional(Growth('基数递增率 yearly growth of an escalating base (escalating only), e.g. "0.05"')),
  adjustments: Type.Optional(Type.Array(BaseAdjustment, { maxItems: MAX_BASE_ADJUSTMENTS, description: '基数调整 base adjustments (财随事走)' })),
  transfers: Type.Optional(Type.Array(Type.Object(TransferFields, { additionalProperties: false, description: '事权划转 a responsibility transfer (calculation-rules.md §4)' }),
    { maxItems: MAX_TRANSFERS, description: '事权划转 responsibility transfers: each moves the base by F(Y) in every year fromYear..toYear, up to_district, down to_zone' })),
  priorYearActual: Type.Optional(Money('上年实际收入 the group\'s actual revenue of the previous year (prior_year only)')),
}, { additionalProperties: false, description: '基数规则 a base rule evaluated for the fiscal year (calculation-rules.md §4)' })

const BandIn = RateBandIn('档次上限 the band covers growth up to this share of the base, e.g. "0.10" for 10%; absent on the last band')

const GroupIn = Type.Object({
  name: Words(100, '口径组名称 group name, unique in the request'),
  basis: BasisEnum(),
  base: Type.Optional(Type.Union([
    Money('核定基数 the base for this fiscal year'),
    BaseRule,
  ], { description: '基数 the base for the year as an amount, or a base rule; required for increment, forbidden for total' })),
  actual: Money('实际收入 the group\'s local-level revenue for the year'),
  rates: Type.Optional(Type.Array(BandIn, { minItems: 1, maxItems: 10, description: `${RATE_BANDS_DESCRIPTION}; or a schedule instead` })),
  schedule: Type.Optional(RateScheduleIn(BandIn)),
  shortfall: Type.Optional(ShortfallEnum(
    '短收处理 when actual falls short of the base: none (the district bears it), deduct (the zone bears its share), carry_forward (deducted from later increments); default none')),
  carriedShortfall: Type.Optional(NonNegativeMoney('上年结转短收 shortfall carried in from the previous year (carry_forward only)')),
}, { additionalProperties: false, description: '分成口径组 a netting group: rates (one set of bands) or schedule (bands by period)' })

const example = {
  fiscalYear: 2021,
  minimumRate: '0.60',
  groups: [
    {
      name: 'taxes',
      basis: 'increment',
      base: '1000000.00',
      actual: '1250000.00',
      rates: [{ upToGrowth: '0.10', rate: '0.60' }, { rate: '0.80' }],
      shortfall: 'carry_forward',
      carriedShortfall: '0.00',
    },
    { name: 'fees', basis: 'total', actual: '80000.00', rates: [{ rate: '0.60' }] },
    {
      name: 'escalating',
      basis: 'increment',
      base: { amount: '500000.00', baseYear: 2019, mode: 'escalating', growthRate: '0.05', adjustments: [{ fromYear: 2021, amount: '-20000.00', reason: '教育事权划转属地', documentNo: '青政字〔2020〕12号' }] },
      actual: '560000.00',
      rates: [{ rate: '0.60' }],
      shortfall: 'deduct',
    },
    {
      name: 'scheduled',
      basis: 'increment',
      base: {
        amount: '800000.00', baseYear: 2019, mode: 'fixed',
        transfers: [{ function: '卫生健康', direction: 'to_district', fromYear: 2021, documentNo: '青政字〔2021〕5号', funding: { method: 'headcount', headcount: 12, unitCost: '5000.00' } }],
      },
      actual: '1000000.00',
      // 分段期限: all of the increment in 2020, then 80% of growth up to 10% of the base and 60% beyond (超收分成).
      schedule: [{ fromYear: 2020, rates: [{ rate: '1.00' }] }, { fromYear: 2021, rates: [{ upToGrowth: '0.10', rate: '0.80' }, { rate: '0.60' }] }],
    },
  ],
  advancesPaid: '100000.00',
}

export const CalculationRequest = Type.Object({
  fiscalYear: FiscalYear('财政年度 the fiscal year computed'),
  minimumRate: Type.Optional(Rate('分成比例下限 the floor for this computation; defaults to the deployment floor (MIN_ZONE_RATE), never lower')),
  groups: Type.Array(GroupIn, { minItems: 1, maxItems: 50, description: '分成口径组 one to fifty netting groups' }),
  advancesPaid: Type.Optional(Money('预拨 advances already paid to the zone for the year; default "0.00"')),
}, { additionalProperties: false, description: '试算请求 a stateless calculation', examples: [example] })

const BandOut = Type.Object({
  rate: RateOut('分成比例 the band\'s rate'),
  amount: MoneyOut('分档金额 the part of the shareable amount in this band'),
  zoneShare: MoneyOut('功能区分成 the zone\'s share of this band, rounded half up to the cent'),
}, { additionalProperties: false, description: '分档结果 one band' })

/** One group's result: the calculation response's and every settlement line's. */
export const CalculationGroup = Type.Object({
  name: Type.String({ maxLength: 100, description: '口径组名称 group name' }),
  basis: BasisEnum('分成口径 basis'),
  base: Type.Optional(MoneyOut('核定基数 the base for the fiscal year, after adjustments (increment only)')),
  actual: MoneyOut('实际收入 actual revenue'),
  increment: Type.Optional(MoneyOut('增量 actual − base (increment only)')),
  carriedShortfallIn: Type.Optional(MoneyOut('上年结转短收 shortfall carried in (increment only)')),
  shareable: Type.Optional(MoneyOut('可分成增量 increment − carried shortfall (increment only)')),
  bands: Type.Array(BandOut, { maxItems: 10, description: '分档 how the shareable amount falls into bands' }),
  zoneShare: MoneyOut('功能区分成 the zone\'s share'),
  districtShare: MoneyOut('属地政府留成 what the district keeps: actual − zone share'),
  carriedShortfallOut: Type.Optional(MoneyOut('结转下年短收 shortfall carried to next year (increment only)')),
  period: Type.Optional(PeriodOut),
  explanation: Type.Array(Type.String({ maxLength: EXPLANATION_LINE_MAX }), { maxItems: 200, description: '计算说明 each step in words (Chinese; English with Accept-Language: en)' }),
}, { additionalProperties: false, description: '口径组结果 one group\'s result' })

/**
 * A settlement line's inputs as a request to this endpoint (the request schema, without its example):
 * posting it gives the line's figures.
 */
export const CalculationRequestOut = Type.Object(CalculationRequest.properties, {
  additionalProperties: false,
  description: '试算请求 the line\'s inputs as a POST /v1/calculations body: posting it gives this line\'s figures, figure for figure ' +
    '(absent for lines settled before it was kept, and when a sum has more integer digits than a request\'s amounts may)',
})

/** The documented answer to the example is computed by the engine itself, so the two cannot drift. */
const exampleResponse = presentAgreementYear(
  computeAgreementYear(parseCalculationRequest(example as CalculationRequestJson, money('0.60'))), 'zh')

export const CalculationResponse = Type.Object({
  fiscalYear: FiscalYear('财政年度 fiscal year'),
  minimumRate: RateOut('分成比例下限 the floor applied'),
  revenueTotal: MoneyOut('收入合计 Σ actual over the groups'),
  zoneShare: MoneyOut('功能区分成合计 Σ zone share'),
  districtShare: MoneyOut('属地政府留成合计 revenue total − zone share'),
  advancesPaid: MoneyOut('预拨 advances paid'),
  balanceDue: MoneyOut('应补(扣)金额 zone share − advances: positive, the district still owes the zone (补拨); negative, the zone returns the excess (扣回)'),
  groups: Type.Array(CalculationGroup, { maxItems: 50, description: '口径组结果 per group, in request order' }),
}, { additionalProperties: false, description: '试算结果 the calculation result', examples: [exampleResponse] })

export const calculateSchema = {
  operationId: 'calculate',
  summary: '试算 compute the zone–district split for one year',
  description: 'Applies calculation-rules.md §4–§6 to the inputs given (核定基数、增量分成): the base for the year (with its adjustments and ' +
    'responsibility transfers, 事权划转), the increment, the bands (one set, or those of the year in a rate schedule, 分段期限), the shortfall policy, ' +
    'the shares and the balance after advances. It takes the same inputs as a stored agreement: every settlement line shows the request that gives its figures. ' +
    'Nothing is stored. ' +
    'Explanations are in Chinese, or English with `Accept-Language: en`.',
  body: CalculationRequest,
  response: { 200: CalculationResponse, ...problemResponses(400, 401, 413, 415, 422) },
}
