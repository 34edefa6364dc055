import Type from 'typebox'
import { type AgreementJson, parseAgreement } from '../../domain/agreement.js'
import { money, ZERO } from '../../domain/money.js'
import { MAX_SCENARIO_YEARS, planScenario, presentScenario, runScenario, type ScenarioJson, type ScenarioRequestJson } from '../../domain/scenario.js'
import { GroupIn } from './agreements.js'
import { CalculationGroup } from './calculations.js'
import { FiscalYear, Growth, MoneyOut, problemResponses, Rate, RateOut, RecordId, StringEnum, Words } from './common.js'
import { BasisEnum, MAX_TRANSFERS, TransferFields } from './terms.js'

/* POST /v1/scenarios — 测算 (api-contract.md, Scenarios): an agreement as it is and as changed, year by year. */

const { base, rates, schedule, shortfall } = GroupIn.properties

const GroupChange = Type.Object({
  name: Words(100, '口径组名称 the agreement\'s group to change'),
  basis: Type.Optional(BasisEnum('分成口径 increment or total instead of the agreed basis')),
  base, rates, schedule, shortfall,
  transfers: Type.Optional(Type.Array(Type.Object(TransferFields, { additionalProperties: false, description: '事权划转 a responsibility transfer (calculation-rules.md §4)' }),
    { maxItems: MAX_TRANSFERS, description: '事权划转 the responsibility transfers to try instead of the recorded ones ([] for none); each moves the base by F(Y) in every year fromYear..toYear' })),
}, {
  additionalProperties: false,
  description: '口径组变更 the fields to try instead of the agreed ones (rates or schedule, base, shortfall, basis, transfers); fields not given stay as agreed',
})

const GroupFigures = Type.Object(Object.fromEntries(Object.entries(CalculationGroup.properties).filter(([key]) => key !== 'explanation')),
  { additionalProperties: false, description: '口径组结果 the group\'s figures under the agreement as it is (no explanation)' })

const requestExample = {
  agreementId: 1,
  changes: { groups: [{ name: 'taxes', rates: [{ upToGrowth: '0.10', rate: '0.70' }, { rate: '0.80' }] }] },
  fromYear: 2020,
  // 2024: the demo's agreements run to 2025, and the example of PATCH /v1/agreements/{id} ends agreement 1 with 2024.
  toYear: 2024,
  growth: { default: '0.05', byGroup: { fees: '0.00' } },
}

export const ScenarioRequest = Type.Object({
  agreementId: RecordId('分成办法编号 the agreement to try other terms on', [1]),
  changes: Type.Object({
    groups: Type.Optional(Type.Array(GroupChange, { maxItems: 50, description: '口径组变更 the groups to change, by name; each at most once' })),
    minimumRate: Type.Optional(Rate('分成比例下限 a higher floor for the changed terms (never below the deployment floor); the agreed terms keep the deployment floor')),
  }, { additionalProperties: false, description: '变更 the terms to try; {} is the agreement as it is' }),
  fromYear: FiscalYear('起始年度 the first fiscal year shown, in the agreement\'s years'),
  toYear: FiscalYear(`终止年度 the last fiscal year shown, in the agreement's years; at most ${MAX_SCENARIO_YEARS} years from fromYear`),
  growth: Type.Optional(Type.Object({
    default: Type.Optional(Growth('默认增长率 the yearly growth of every group\'s revenue after the last year on record, greater than −1; 0 when not given')),
    byGroup: Type.Optional(Type.Record(Type.String({ maxLength: 100 }), Growth('分组增长率 a group\'s yearly growth, by group name'),
      { maxProperties: 50, propertyNames: { maxLength: 100 }, description: '分组增长率 the yearly growth of named groups, instead of the default' })),
  }, { additionalProperties: false, description: '增长假设 how revenue after the last year on record is projected: A(Y) = round(A(last) × (1 + g)^(Y − last))' })),
}, { additionalProperties: false, description: '测算请求 a scenario', examples: [requestExample] })

const Totals = (description: string) => Type.Object({
  revenueTotal: MoneyOut('收入合计 Σ actual over the groups'),
  zoneShare: MoneyOut('功能区分成合计 Σ zone share'),
  districtShare: MoneyOut('属地政府留成合计 revenue total − zone share'),
}, { additionalProperties: false, description })

const TotalsPair = (description: string) => Type.Object({
  agreed: Totals('现行 under the agreement as it is'),
  scenario: Totals('测算 under the changed terms'),
  difference: MoneyOut('差额 scenario zone share − agreed zone share'),
}, { additionalProperties: false, description })

const ScenarioYear = Type.Object({
  fiscalYear: FiscalYear('财政年度 fiscal year'),
  projected: Type.Boolean({ description: '预测 true when the year\'s revenue is projected (after the last year on record); false when it is the revenue on record' }),
  groups: Type.Array(Type.Object({
    name: Type.String({ maxLength: 100, description: '口径组名称 group name' }),
    agreed: GroupFigures,
    scenario: CalculationGroup,
    difference: MoneyOut('差额 scenario zone share − agreed zone share'),
  }, { additionalProperties: false, description: '口径组对比 the group as agreed and as changed' }), { maxItems: 50, description: '口径组 in the agreement\'s order' }),
  totals: TotalsPair('年度合计 the year\'s totals, as agreed and as changed'),
}, { additionalProperties: false, description: '年度对比 one year settled as agreed and as changed' })

/** The worked example of README (Scenarios): the agreement, its revenue of 2020–2021, one rate changed from 0.60 to 0.70. */
const exampleAgreement: AgreementJson = {
  zoneCode: 'QD-HT', districtCode: '370214', documentNo: '青政字〔2020〕12号', effectiveFrom: 2020, baseYear: 2019,
  groups: [
    { name: 'taxes', basis: 'increment', categories: ['10101', '10104'], base: { amount: '1000.00', mode: 'fixed' }, rates: [{ upToGrowth: '0.10', rate: '0.60' }, { rate: '0.80' }], shortfall: 'carry_forward' },
    { name: 'fees', basis: 'total', categories: ['10304'], rates: [{ rate: '0.60' }] },
  ],
}
const exampleRevenue: Record<string, [string, string]> = { 2020: ['900.00', '100.00'], 2021: ['1150.00', '200.00'] }
const exampleResponse = (() => {
  const terms = parseAgreement(exampleAgreement, money('0.60'))
  const agreement = { ...terms, id: 1, groups: terms.groups.map((g) => ({ ...g, adjustments: [], transfers: [] })) }
  const plan = planScenario(agreement, { ...requestExample, toYear: 2023, growth: { default: '0.05', byGroup: { fees: '0.00' } } } satisfies ScenarioRequestJson, money('0.60'))
  return presentScenario(runScenario(plan, {
    recorded: (position, year) => {
      const amount = exampleRevenue[year]?.[position]
      return amount === undefined ? { total: ZERO, records: 0 } : { total: money(amount), records: 1 }
    },
    lastRecordedYear: 2021, predecessor: undefined, predecessorCarriedOut: undefined,
  }), 'zh')
})()

export const ScenarioResponse = Type.Object({
  agreementId: RecordId('分成办法编号 the agreement'),
  fromYear: FiscalYear('起始年度 the first year shown'),
  toYear: FiscalYear('终止年度 the last year shown'),
  lastRecordedYear: FiscalYear('实际收入截至年度 the last year on record: with revenue in any of the agreement\'s groups (up to its last year: after it, the revenue is the next version\'s), or settled and finalized; later years are projected from it'),
  minimumRate: Type.Object({
    agreed: RateOut('现行下限 the floor of the agreement as it is (the deployment floor)'),
    scenario: RateOut('测算下限 the floor of the changed terms'),
  }, { additionalProperties: false, description: '分成比例下限 the floors applied' }),
  years: Type.Array(ScenarioYear, { maxItems: MAX_SCENARIO_YEARS, description: '年度 fromYear..toYear' }),
  totals: TotalsPair('合计 Σ over the years, as agreed and as changed'),
}, { additionalProperties: false, description: '测算结果 the agreement as it is and as changed, year by year', examples: [exampleResponse] })

/** The formats of a scenario: the answer, the table, and a chart. */
export const SCENARIO_FORMATS = ['json', 'csv', 'xlsx', 'svg'] as const

/** The chart's title and the line under it: the agreement, where recorded revenue ends, the floors. */
export function scenarioChartTitles (s: ScenarioJson): { title: string, subtitle: string } {
  return {
    title: `测算：分成办法 ${s.agreementId} 功能区分成（现行办法与测算方案）`,
    // The difference in 元 and says so: the axis may be in 万元, and a bare figure read in the axis's unit is 10,000 times too large.
    subtitle: `${s.fromYear}–${s.toYear} 年 · 实际收入至 ${s.lastRecordedYear} 年${s.lastRecordedYear < s.toYear ? '，其后为预测' : ''} · ` +
      `下限 ${s.minimumRate.agreed} / ${s.minimumRate.scenario} · 差额合计 ${s.totals.difference} 元`,
  }
}

export const scenarioSchema = {
  operationId: 'runScenario',
  summary: '测算 what an agreement would have paid, and will pay, under other terms',
  description: 'Applies the changes to the agreement\'s terms (checked as an agreement is: the floor, bands, schedules, calculation-rules.md §2–§3) and settles ' +
    'each year fromYear..toYear twice with the settlement run\'s engine (§4–§6): as agreed and as changed, side by side, each version running its own ' +
    'carry-forward chain from the agreement\'s first year. Years up to the last with revenue on record use the recorded revenue, as a settlement run reads ' +
    'it; later years project each group\'s revenue from that year: A(Y) = round(A(last) × (1 + g)^(Y − last)). Advances and the balance due are left out: ' +
    'a scenario compares shares. Nothing is stored; every key may run one within its scope. `format=csv` or `xlsx` gives the table, one row per year and ' +
    'group and a total per year; `svg` a chart of both zone shares by year (现行办法 / 测算方案, in 元 or 万元 as the axis says), the projected years ' +
    'shaded and labelled 预测. The response example is the worked example of the README (2020–2023); the request example runs on the demo data.',
  querystring: Type.Object({ format: Type.Optional(StringEnum([...SCENARIO_FORMATS], '格式 json (default), csv, xlsx or svg')) }, { additionalProperties: false }),
  body: ScenarioRequest,
  produces: ['application/json', 'text/csv', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'image/svg+xml'],
  response: { 200: ScenarioResponse, ...problemResponses(400, 401, 404, 409, 422) },
}
