import Type from 'typebox'
import type { StoredAgreement, StoredGroup } from '../../db/agreements.js'
import { formatMoney, formatRate } from '../../domain/money.js'
import type { PeriodInYear, RateBand } from '../../domain/types.js'
import type { GroupInYear } from '../../services/agreements.js'
import type { AgreementHistory } from '../../services/settlements.js'
import { SETTLEMENT_KINDS } from '../../domain/settlement.js'
import {
  CategoryCode, DistrictCode, FiscalYear, Growth, GrowthOut, IdempotencyHeaders, IdParam, MAX_BASE_ADJUSTMENTS, Money, MoneyOut, PageOf, PageQuery, problemResponses,
  RateOut, RecordId, StringEnum, Timestamp, ZoneCode, Words,
} from './common.js'
import {
  BaseModeEnum, BasisEnum, DirectionEnum, MAX_SCHEDULE_PERIODS, MAX_TRANSFERS, PeriodOut, RATE_BANDS_DESCRIPTION, RateBandIn, RateScheduleIn,
  ShortfallEnum,
} from './terms.js'
import { presentTransfer, TransferOut } from './transfers.js'

/*
 * Agreements (分成办法), base adjustments (基数调整) and the responsibility transfers (事权划转) of
 * their groups — api-contract.md, Registry and Responsibility transfers; calculation-rules.md §2–§4.
 */

const BasisSchema = BasisEnum()
const ModeSchema = BaseModeEnum('基数口径 fixed, escalating by growthRate, or last year\'s actual')
const ShortfallSchema = ShortfallEnum('短收处理 none (the district bears it), deduct (the zone bears its share) or carry_forward')
const BandIn = RateBandIn('档次上限 growth up to this share of the base; absent on the last band')

export const GroupIn = Type.Object({
  name: Words(100, '口径组名称 group name, unique in the agreement'),
  basis: BasisSchema,
  categories: Type.Array(CategoryCode(), { minItems: 1, maxItems: 200, description: '收入科目 the revenue categories of the group; a category belongs to at most one group' }),
  base: Type.Optional(Type.Object({
    amount: Type.Optional(Money('核定基数 verified base for the base year (fixed and escalating)')),
    mode: ModeSchema,
    growthRate: Type.Optional(Growth('基数递增率 yearly growth (escalating only)')),
  }, { additionalProperties: false, description: '基数 the base rule (basis increment only)' })),
  rates: Type.Optional(Type.Array(BandIn, { minItems: 1, maxItems: 10, description: `${RATE_BANDS_DESCRIPTION}; or a schedule instead` })),
  schedule: Type.Optional(RateScheduleIn(BandIn)),
  shortfall: Type.Optional(ShortfallSchema),
}, { additionalProperties: false, description: '分成口径组 a netting group: rates (one set of bands) or schedule (bands by period, the first from effectiveFrom)' })

const agreementExample = {
  zoneCode: 'QD-HT',
  districtCode: '370214',
  documentNo: '青政字〔2020〕12号',
  effectiveFrom: 2030,
  baseYear: 2029,
  groups: [
    {
      name: 'taxes', basis: 'increment', categories: ['10101', '10104', '10106'], base: { amount: '1000000.00', mode: 'fixed' },
      // 分段期限: all of the increment for three years, then 80% of growth up to 10% of the base and 60% beyond (超收分成).
      schedule: [{ fromYear: 2030, rates: [{ rate: '1.00' }] }, { fromYear: 2033, rates: [{ upToGrowth: '0.10', rate: '0.80' }, { rate: '0.60' }] }],
      shortfall: 'carry_forward',
    },
    { name: 'fees', basis: 'total', categories: ['10304'], rates: [{ rate: '0.60' }] },
  ],
}

export const AgreementIn = Type.Object({
  zoneCode: ZoneCode(),
  districtCode: DistrictCode(),
  documentNo: Words(100, '文号 the document that set the agreement, e.g. 青政字〔2020〕12号'),
  effectiveFrom: FiscalYear('起始年度 first fiscal year in force'),
  effectiveTo: Type.Optional(FiscalYear('终止年度 last fiscal year in force; open-ended when absent')),
  baseYear: FiscalYear('基期年度 the year of the verified base, before effectiveFrom'),
  groups: Type.Array(GroupIn, { minItems: 1, maxItems: 50, description: '分成口径组 one to fifty netting groups' }),
}, { additionalProperties: false, description: '新增分成办法 a new agreement', examples: [agreementExample] })

const AdjustmentOut = Type.Object({
  id: RecordId('编号 adjustment id'),
  fromYear: FiscalYear('起始年度 first fiscal year it applies to'),
  amount: MoneyOut('调整金额 signed amount'),
  reason: Type.String({ maxLength: 500, description: '调整原因 why the base moved' }),
  documentNo: Type.String({ maxLength: 100, description: '文号 the document that decided it' }),
  createdAt: Timestamp('登记时间 when it was recorded'),
}, { additionalProperties: false, description: '基数调整 a base adjustment', examples: [{ id: 1, fromYear: 2021, amount: '-50000.00', reason: '教育事权划转功能区', documentNo: '青财预〔2021〕3号', createdAt: '2026-01-01T00:00:00.000Z' }] })

function BandsOut (description: string) {
  return Type.Array(Type.Object({
    upToGrowth: Type.Optional(GrowthOut('档次上限 band limit as a share of the base (may exceed 1: "1.50" is growth up to 150%)')),
    rate: RateOut('分成比例 the band\'s rate'),
  }, { additionalProperties: false }), { maxItems: 10, description })
}

const GroupOut = Type.Object({
  name: Type.String({ maxLength: 100, description: '口径组名称 group name' }),
  basis: BasisSchema,
  categories: Type.Array(CategoryCode(), { maxItems: 200, description: '收入科目 categories' }),
  base: Type.Union([Type.Object({
    amount: Type.Union([MoneyOut('核定基数 verified base for the base year'), Type.Null()], { description: '核定基数 verified base for the base year (null for prior_year)' }),
    mode: ModeSchema,
    growthRate: Type.Union([GrowthOut('基数递增率 yearly growth, printed as agreed (e.g. "0.05", "-0.50", "10.00")'), Type.Null()], { description: '基数递增率 yearly growth (escalating only)' }),
  }, { additionalProperties: false }), Type.Null()], { description: '基数 the base rule, null for basis total' }),
  rates: Type.Optional(BandsOut('分档比例 bands (absent when the group has a schedule)')),
  schedule: Type.Optional(Type.Array(Type.Object({
    fromYear: FiscalYear('起始年度 the first fiscal year of the period'),
    rates: BandsOut('分档比例 the period\'s bands'),
  }, { additionalProperties: false }), { maxItems: MAX_SCHEDULE_PERIODS, description: '分段期限 the rate schedule by period (absent when the group has one set of bands)' })),
  shortfall: ShortfallSchema,
  adjustments: Type.Array(AdjustmentOut, { maxItems: MAX_BASE_ADJUSTMENTS, description: '基数调整 base adjustments by fromYear' }),
  transfers: Type.Array(TransferOut, { maxItems: MAX_TRANSFERS, description: '事权划转 responsibility transfers by fromYear (POST /v1/responsibility-transfers records them)' }),
  ratesForYear: Type.Optional(BandsOut('当年分档 the bands that apply in ?year= (of the schedule period in force)')),
  periodForYear: Type.Optional(PeriodOut),
  baseForYear: Type.Optional(Type.Union([MoneyOut('当年基数 the base for the requested year after adjustments and transfers'), Type.Null()],
    { description: '当年基数 B(Y) for ?year= (increment groups), after adjustments and responsibility transfers; null when it cannot be computed (see baseNote)' })),
  baseNote: Type.Optional(Type.String({ maxLength: 500, description: '说明 why baseForYear is null' })),
  transfersForYear: Type.Optional(Type.Array(Type.Object({
    id: RecordId('编号 the transfer\'s id'),
    function: Type.String({ maxLength: 200, description: '划转事项 the function moved' }),
    direction: DirectionEnum('划转方向 to_district or to_zone'),
    fundingForYear: MoneyOut('当年划转经费 F(Y) for ?year='),
    baseMove: MoneyOut('基数变动 +F(Y) to_district, −F(Y) to_zone'),
  }, { additionalProperties: false }), { maxItems: MAX_TRANSFERS, description: '当年事权划转 the transfers in force in ?year= and what each moves the base by (increment groups)' })),
}, { additionalProperties: false, description: '分成口径组 a group' })

export const AgreementOut = Type.Object({
  id: RecordId('编号 agreement id'),
  zoneCode: ZoneCode(),
  districtCode: DistrictCode(),
  documentNo: Type.String({ maxLength: 100, description: '文号 document number' }),
  baseYear: FiscalYear('基期年度 base year'),
  effectiveFrom: FiscalYear('起始年度 first fiscal year in force'),
  effectiveTo: Type.Union([FiscalYear('终止年度 last fiscal year in force'), Type.Null()], { description: '终止年度 last fiscal year in force, null when open-ended' }),
  createdAt: Timestamp('登记时间 when it was recorded'),
  year: Type.Optional(FiscalYear('查询年度 the year of ?year=')),
  inForce: Type.Optional(Type.Boolean({ description: '当年有效 whether the agreement is in force in ?year=' })),
  groups: Type.Array(GroupOut, { maxItems: 50, description: '分成口径组 groups in order' }),
}, { additionalProperties: false, description: '分成办法 an agreement' , examples: [{
    id: 1, zoneCode: 'QD-HT', districtCode: '370214', documentNo: '青政字〔2020〕12号', baseYear: 2019, effectiveFrom: 2020, effectiveTo: null, createdAt: '2026-01-01T00:00:00.000Z',
    groups: [
      { name: 'taxes', basis: 'increment', categories: ['10101', '10104'], base: { amount: '1000000.00', mode: 'fixed', growthRate: null }, rates: [{ upToGrowth: '0.10', rate: '0.60' }, { rate: '0.80' }], shortfall: 'carry_forward', adjustments: [], transfers: [] },
      { name: 'fees', basis: 'total', categories: ['10304'], base: null, rates: [{ rate: '0.60' }], shortfall: 'none', adjustments: [], transfers: [] },
    ],
  }] })

const AgreementIdParam = IdParam('编号 agreement id', 1)

export const createAgreementSchema = {
  operationId: 'createAgreement', summary: '新增分成办法 record an agreement (admin)',
  description: 'Checked on the way in (calculation-rules.md §2–§3): rates at or above the floor (they may rise or fall from band to band), band limits ' +
    'in order, a rate schedule (分段期限) starting in effectiveFrom with periods in order, a category in at most one group, ' +
    'baseYear before effectiveFrom, and no two agreements of one zone–district pair covering the same year (422).',
  headers: IdempotencyHeaders, body: AgreementIn,
  response: { 201: AgreementOut, ...problemResponses(400, 401, 403, 409, 422) },
}

export const listAgreementsSchema = {
  operationId: 'listAgreements', summary: '分成办法列表 list agreements in the caller\'s scope',
  querystring: Type.Object({
    ...PageQuery,
    zoneCode: Type.Optional(ZoneCode()),
    districtCode: Type.Optional(DistrictCode()),
    year: Type.Optional(FiscalYear('财政年度 only agreements in force this year')),
  }, { additionalProperties: false }),
  response: { 200: PageOf(AgreementOut, '分成办法 agreements by id'), ...problemResponses(400, 401) },
}

export const getAgreementSchema = {
  operationId: 'getAgreement', summary: '分成办法 one agreement; with ?year= the bands, the transfers and the base each group has that year',
  params: Type.Object({ id: AgreementIdParam }),
  querystring: Type.Object({ year: Type.Optional(FiscalYear('财政年度 show each group\'s bands (of the schedule period in force) and each increment group\'s transfers and B(Y) for this year')) }, { additionalProperties: false }),
  response: { 200: AgreementOut, ...problemResponses(400, 401, 404, 422) },
}

export const endAgreementSchema = {
  operationId: 'endAgreement', summary: '调整有效期 set the last year an agreement is in force (admin)',
  description: 'Agreements are not edited in place: a change is a new agreement from a later year. This ends (or reopens) the old one so that the new one does not overlap it. ' +
    'It is 409 when the agreement would end before a year it has a finalized settlement of (`agreement-settled`), or before a year it has advances (预拨) for that have not been recovered ' +
    '(`agreement-has-advances`: no settlement would count them; record their recovery, a negative advance, first).',
  params: Type.Object({ id: AgreementIdParam }), headers: IdempotencyHeaders,
  body: Type.Object({
    effectiveTo: Type.Union([FiscalYear('终止年度 last fiscal year in force'), Type.Null()], { description: '终止年度 last fiscal year in force; null for open-ended' }),
  }, { additionalProperties: false, examples: [{ effectiveTo: 2026 }] }),
  response: { 200: AgreementOut, ...problemResponses(400, 401, 403, 404, 409, 422) },
}

export const createBaseAdjustmentSchema = {
  operationId: 'createBaseAdjustment', summary: '基数调整 record a base adjustment (财随事走, admin)',
  params: Type.Object({ id: AgreementIdParam }),
  headers: IdempotencyHeaders,
  body: Type.Object({
    group: Words(100, '口径组名称 the group whose base moves (basis increment)'),
    fromYear: FiscalYear('起始年度 first fiscal year the adjustment applies to'),
    amount: Money('调整金额 + a function handed to the district, − a power or cost handed to the zone'),
    reason: Words(500, '调整原因 why the base moves'),
    documentNo: Words(100, '文号 the document that decided it'),
  }, { additionalProperties: false, examples: [{ group: 'taxes', fromYear: 2025, amount: '-50000.00', reason: '教育事权划转功能区', documentNo: '青财预〔2025〕3号' }] }),
  response: { 201: AdjustmentOut, ...problemResponses(400, 401, 403, 404, 409, 422) },
}

export function presentAdjustment (a: StoredAgreement['groups'][number]['adjustments'][number]) {
  return { ...a, amount: formatMoney(a.amount) }
}

const bandsJson = (rates: readonly RateBand[]) =>
  rates.map((b) => b.upToGrowth === undefined ? { rate: formatRate(b.rate) } : { upToGrowth: formatRate(b.upToGrowth), rate: formatRate(b.rate) })

const periodJson = (p: PeriodInYear) => ({ fromYear: p.fromYear, toYear: p.toYear, number: p.number, of: p.of })

function presentGroup (g: StoredGroup, year?: GroupInYear) {
  const base = year?.base
  return {
    name: g.name,
    basis: g.basis,
    categories: g.categories,
    base: g.basis === 'total'
      ? null
      : {
          amount: g.base.amount === undefined ? null : formatMoney(g.base.amount),
          mode: g.base.mode,
          growthRate: g.base.mode === 'escalating' ? formatRate(g.base.growthRate) : null,
        },
    ...(g.schedule === undefined
      ? { rates: bandsJson(g.rates) }
      : { schedule: g.schedule.map((p) => ({ fromYear: p.fromYear, rates: bandsJson(p.rates) })) }),
    shortfall: g.shortfall,
    adjustments: g.adjustments.map(presentAdjustment),
    transfers: g.transfers.map(presentTransfer),
    ...(year?.rates === undefined ? {} : { ratesForYear: bandsJson(year.rates) }),
    ...(year?.period === undefined ? {} : { periodForYear: periodJson(year.period) }),
    ...(base === undefined ? {} : { baseForYear: base.base === null ? null : formatMoney(base.base) }),
    ...(base?.note === undefined ? {} : { baseNote: base.note }),
    ...(base?.transfers === undefined
      ? {}
      : {
          transfersForYear: base.transfers.map((x) => ({
            id: x.id, function: x.function, direction: x.direction, fundingForYear: formatMoney(x.fundingForYear), baseMove: formatMoney(x.baseMove),
          })),
        }),
  }
}

export function presentAgreement (a: StoredAgreement, inYear?: { year: number, inForce: boolean, groups: readonly GroupInYear[] }) {
  return {
    id: a.id, zoneCode: a.zoneCode, districtCode: a.districtCode, documentNo: a.documentNo, baseYear: a.baseYear,
    effectiveFrom: a.effectiveFrom, effectiveTo: a.effectiveTo, createdAt: a.createdAt,
    ...(inYear === undefined ? {} : { year: inYear.year, inForce: inYear.inForce }),
    groups: a.groups.map((g, i) => presentGroup(g, inYear?.groups[i])),
  }
}

/** The formats of an agreement's history: the answer, the table, and a chart. */
export const HISTORY_FORMATS = ['json', 'csv', 'xlsx', 'svg'] as const

const HistoryYearOut = Type.Object({
  fiscalYear: FiscalYear(),
  runId: RecordId('结算批次 the run of the chain\'s last finalized line, whose figures these are', [1]),
  kind: StringEnum([...SETTLEMENT_KINDS], '结算类型 of that line: annual (年度结算), or supplementary (补充结算) when one followed it'),
  revenueTotal: MoneyOut('收入 revenue in the agreement\'s categories'),
  base: Type.Union([MoneyOut('核定基数 Σ the increment groups\' bases B(Y)'), Type.Null()], { description: '核定基数 Σ the increment groups\' bases; null when no group shares an increment' }),
  increment: Type.Union([MoneyOut('增量 Σ the increment groups\' increments'), Type.Null()], { description: '增量 Σ the increment groups\' increments A − B; null when no group shares an increment' }),
  zoneShare: MoneyOut('功能区分成 zone share'),
  districtShare: MoneyOut('属地政府留成 district share'),
  advancesPaid: MoneyOut('已预拨 advances paid'),
  balanceDue: MoneyOut('应补(扣) balance due: zone share − advances'),
  annualZoneShare: MoneyOut('年度结算功能区分成 the zone share of the annual settlement (the chain\'s first line)'),
  adjustmentTotal: MoneyOut('补充结算调整合计 Σ the supplementary adjustments: zoneShare − annualZoneShare'),
  supplementary: Type.Array(Type.Object({
    runId: RecordId('结算批次 the supplementary run', [3]),
    zoneShare: MoneyOut('功能区分成 its zone share'),
    adjustment: MoneyOut('补充结算调整 its zone share − that of the line it follows'),
    balanceAdjustment: MoneyOut('应补(扣)调整 its balance due − that of the line it follows'),
  }, { additionalProperties: false }), { maxItems: 1000, description: '补充结算 the supplementary settlements of the year, in the order of the chain (calculation-rules.md §9)' }),
}, { additionalProperties: false })

export const agreementHistorySchema = {
  operationId: 'agreementHistory', summary: '历年结算 every settled year of an agreement, as a table or a chart',
  description: 'One row per fiscal year with a finalized settlement, by year: the figures of the last finalized line of the year\'s chain (the annual ' +
    'settlement, then each supplementary settlement following it, calculation-rules.md §9), as stored, the base and increment being the sums of the ' +
    'stored groups\'; the zone share of the annual settlement and the adjustment each supplementary settlement paid. Years without a finalized ' +
    'settlement are absent. `format=csv` or `xlsx` gives the table as a file; `svg` a chart (收入, 核定基数 and 功能区分成 by year, in 元 or 万元 as the ' +
    'axis says). Visible to the keys that see the agreement (404 otherwise).',
  params: Type.Object({ id: AgreementIdParam }),
  querystring: Type.Object({ format: Type.Optional(StringEnum([...HISTORY_FORMATS], '格式 json (default), csv, xlsx or svg')) }, { additionalProperties: false }),
  produces: ['application/json', 'text/csv', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'image/svg+xml'],
  response: {
    200: Type.Object({
      agreementId: RecordId('编号 agreement id', [1]),
      zoneCode: ZoneCode(),
      zoneName: Type.String({ maxLength: 200, description: '功能区 zone name' }),
      districtCode: DistrictCode(),
      districtName: Type.String({ maxLength: 200, description: '属地政府 district name' }),
      documentNo: Type.String({ maxLength: 200, description: '分成办法文号 the agreement\'s document number' }),
      years: Type.Array(HistoryYearOut, { maxItems: 200, description: '历年 every settled year, by year' }),
    }, {
      additionalProperties: false,
      examples: [{
        agreementId: 1, zoneCode: 'QD-HT', zoneName: '青岛高新区（示例数据）', districtCode: '370214', districtName: '城阳区（示例数据）', documentNo: '示例〔2020〕1号（示例数据）',
        years: [{
          fiscalYear: 2021, runId: 5, kind: 'supplementary', revenueTotal: '121883637.84', base: '97160000.00', increment: '19695128.38', zoneShare: '16830008.38',
          districtShare: '105053629.46', advancesPaid: '12600000.00', balanceDue: '4230008.38', annualZoneShare: '15870008.38', adjustmentTotal: '960000.00',
          supplementary: [{ runId: 5, zoneShare: '16830008.38', adjustment: '960000.00', balanceAdjustment: '960000.00' }],
        }],
      }],
    }),
    ...problemResponses(400, 401, 404),
  },
}

export function presentHistory (h: AgreementHistory) {
  return {
    agreementId: h.agreement.id, zoneCode: h.agreement.zoneCode, zoneName: h.zoneName, districtCode: h.agreement.districtCode, districtName: h.districtName,
    documentNo: h.agreement.documentNo, years: h.years,
  }
}

/** The title of the history's table. */
export function historyTitle (h: AgreementHistory): string {
  return `${h.zoneName}—${h.districtName} 分成办法 ${h.agreement.documentNo} 历年结算 settled years`
}

/** The title and subtitle of the history's chart. */
export function historyChartTitles (h: AgreementHistory): { title: string, subtitle: string } {
  return { title: `${h.zoneName}—${h.districtName} 历年结算`, subtitle: `分成办法 ${h.agreement.documentNo} · 每年取最后一次定稿的结算（含补充结算）` }
}
