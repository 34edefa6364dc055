import t from 'tap'
import {
  computeGroup, deserializeGroupResult, explainGroup, formatYuan, type GroupInput, money, serializeGroupResult, storedTransfersCited, transfersCitation, transfersCited, ZERO,
} from '../../src/domain/index.js'

// settlement_groups.result holds serializeGroupResult(g), and a stored settlement explains itself
// from it. The texts below were stored by the code of a80d17b, before GroupResult and BaseDerivation
// became unions: one per kind of result and base. They must still read back and explain themselves
// word for word (the base line as it reads since every "=" in it holds: each term signed and its
// details in parentheses, stop 51), and the same inputs must still store the very same text. The last two pin what a
// group with a rate schedule (分段期限) and responsibility transfers (事权划转) stores (calculation-rules.md §2, §4).

/** An adjustment as the settlement run reads it from the database, with its id and createdAt. */
const adjustment = (fromYear: number, amount: string, documentNo?: string) => ({
  id: fromYear, fromYear, amount: money(amount), reason: '财随事走', ...(documentNo === undefined ? {} : { documentNo }), createdAt: '2026-01-05T08:00:00.000Z',
})

const inputs: Record<string, [GroupInput, number]> = {
  'total': [{ name: 'fees', basis: 'total', actual: money('80000.05'), rates: [{ rate: money('0.65') }], shortfall: 'none', carriedShortfall: ZERO }, 2021],
  'given, two bands': [{
    name: 'taxes', basis: 'increment', base: { kind: 'amount', amount: money('1000000.00') }, actual: money('1250000.00'),
    rates: [{ upToGrowth: money('0.1'), rate: money('0.6') }, { rate: money('0.8') }], shortfall: 'none', carriedShortfall: ZERO,
  }, 2021],
  'fixed, adjustments, carried in': [{
    name: 'taxes', basis: 'increment',
    base: { kind: 'rule', rule: { amount: money('1000.00'), baseYear: 2019, mode: 'fixed', adjustments: [adjustment(2020, '200.00', '青财预〔2020〕3号'), adjustment(2021, '-50.00')] } },
    actual: money('1400.00'), rates: [{ rate: money('0.7') }], shortfall: 'carry_forward', carriedShortfall: money('50.00'),
  }, 2021],
  'escalating, exact power rounded, fractional limit': [{
    name: 'taxes', basis: 'increment',
    base: { kind: 'rule', rule: { amount: money('1000.01'), baseYear: 2019, mode: 'escalating', growthRate: money('0.033'), adjustments: [adjustment(2021, '-0.50', '青政字〔2021〕7号')] } },
    actual: money('3000.00'), rates: [{ upToGrowth: money('0.333333'), rate: money('0.6') }, { upToGrowth: money('0.5'), rate: money('0.75') }, { rate: money('0.65') }],
    shortfall: 'none', carriedShortfall: ZERO,
  }, 2022],
  'escalating, whole cents, deduct': [{
    name: 'taxes', basis: 'increment',
    base: { kind: 'rule', rule: { amount: money('1000000.00'), baseYear: 2019, mode: 'escalating', growthRate: money('0.05'), adjustments: [] } },
    actual: money('1000000.05'), rates: [{ rate: money('0.65') }], shortfall: 'deduct', carriedShortfall: ZERO,
  }, 2022],
  'prior year, shortfall none': [{
    name: 'taxes', basis: 'increment',
    base: { kind: 'rule', rule: { baseYear: 2019, mode: 'prior_year', priorYearActual: money('1300.00'), adjustments: [adjustment(2021, '200.00'), adjustment(2022, '-50.00', 'X')] } },
    actual: money('1000.00'), rates: [{ rate: money('0.6') }], shortfall: 'none', carriedShortfall: ZERO,
  }, 2022],
  'given, carry forward out': [{
    name: 'taxes', basis: 'increment', base: { kind: 'amount', amount: money('1000.00') }, actual: money('900.00'),
    rates: [{ rate: money('0.6') }], shortfall: 'carry_forward', carriedShortfall: money('20.00'),
  }, 2021],
  'schedule, transfers of every method': [{
    name: 'taxes', basis: 'increment',
    base: {
      kind: 'rule',
      rule: {
        amount: money('1000000.00'), baseYear: 2019, mode: 'fixed', adjustments: [],
        transfers: [
          { function: '教育', direction: 'to_district', fromYear: 2021, toYear: 2023, documentNo: '青政字〔2021〕5号', funding: { method: 'fixed', amount: money('50000.00') } },
          { function: '卫生健康', direction: 'to_district', fromYear: 2022, documentNo: '青政字〔2022〕2号', funding: { method: 'headcount', headcount: 12, unitCost: money('1800.00') } },
          { function: '城市管理', direction: 'to_zone', fromYear: 2020, documentNo: '青政字〔2020〕7号', funding: { method: 'indexed', amount: money('12345.67'), growthRate: money('0.035') } },
          { function: '交通', direction: 'to_zone', fromYear: 2024, documentNo: 'X', funding: { method: 'fixed', amount: money('1.00') } },
        ],
      },
    },
    actual: money('1300000.00'),
    schedule: [
      { fromYear: 2020, rates: [{ rate: money('1') }] },
      { fromYear: 2022, rates: [{ upToGrowth: money('0.1'), rate: money('0.8') }, { rate: money('0.6') }] },
      { fromYear: 2025, rates: [{ rate: money('0.6') }] },
    ],
    shortfall: 'none', carriedShortfall: ZERO,
  }, 2022],
  'total, schedule': [{
    name: 'fees', basis: 'total', actual: money('9999.99'), schedule: [{ fromYear: 2020, rates: [{ rate: money('1') }] }, { fromYear: 2021, rates: [{ rate: money('0.7') }] }],
    shortfall: 'none', carriedShortfall: ZERO,
  }, 2021],
}

const stored: Record<string, { stored: string, zh: string[], en: string[] }> = {
  'total': {
    stored: '{"name":"fees","basis":"total","shortfall":"none","actual":"80000.05","bands":[{"rate":"0.65","amount":"80000.05","portion":"80000.05","exactShare":"52000.0325","zoneShare":"52000.03"}],"zoneShare":"52000.03","districtShare":"28000.02"}',
    zh: [
      '全额分成：实际 80000.05 × 0.65 = 52000.0325 → 52000.03',
      '功能区分成 52000.03；属地政府留成 = 实际 80000.05 − 52000.03 = 28000.02',
    ],
    en: [
      'Whole amount shared: actual 80000.05 × 0.65 = 52000.0325 → 52000.03',
      'Zone share 52000.03; the district keeps actual 80000.05 − 52000.03 = 28000.02',
    ],
  },
  'given, two bands': {
    stored: '{"name":"taxes","basis":"increment","shortfall":"none","base":"1000000","baseDerivation":{"mode":"given","adjustments":[],"base":"1000000"},"actual":"1250000","increment":"250000","carriedShortfallIn":"0","shareable":"250000","bands":[{"rate":"0.6","limit":"100000","upToGrowth":"0.1","amount":"100000","portion":"100000","exactShare":"60000","zoneShare":"60000"},{"rate":"0.8","amount":"150000","portion":"150000","exactShare":"120000","zoneShare":"120000"}],"zoneShare":"180000","districtShare":"1070000","carriedShortfallOut":"0"}',
    zh: [
      '基数 = 1000000.00',
      '增量 = 实际 1250000.00 − 基数 1000000.00 = 250000.00',
      '第1档（增长不超过基数的10%，上限 100000.00）：100000.00 × 0.60 = 60000.00',
      '第2档（超出部分）：150000.00 × 0.80 = 120000.00',
      '各档合计 = 60000.00 + 120000.00 = 180000.00',
      '功能区分成 180000.00；属地政府留成 = 实际 1250000.00 − 180000.00 = 1070000.00',
    ],
    en: [
      'Base = 1000000.00',
      'Increment = actual 1250000.00 − base 1000000.00 = 250000.00',
      'Band 1 (growth up to 10% of the base, limit 100000.00): 100000.00 × 0.60 = 60000.00',
      'Band 2 (the rest): 150000.00 × 0.80 = 120000.00',
      'Bands together = 60000.00 + 120000.00 = 180000.00',
      'Zone share 180000.00; the district keeps actual 1250000.00 − 180000.00 = 1070000.00',
    ],
  },
  'fixed, adjustments, carried in': {
    stored: '{"name":"taxes","basis":"increment","shortfall":"carry_forward","base":"1150","baseDerivation":{"mode":"fixed","baseYear":2019,"amount":"1000","adjustments":[{"id":2020,"fromYear":2020,"amount":"200","reason":"财随事走","documentNo":"青财预〔2020〕3号","createdAt":"2026-01-05T08:00:00.000Z"},{"id":2021,"fromYear":2021,"amount":"-50","reason":"财随事走","createdAt":"2026-01-05T08:00:00.000Z"}],"base":"1150"},"actual":"1400","increment":"250","carriedShortfallIn":"50","shareable":"200","bands":[{"rate":"0.7","amount":"200","portion":"200","exactShare":"140","zoneShare":"140"}],"zoneShare":"140","districtShare":"1260","carriedShortfallOut":"0"}',
    zh: [
      '基数（固定）= 核定基数 1000.00（2019年） + 基数调整 200.00（2020年起，青财预〔2020〕3号） − 基数调整 50.00（2021年起） = 1150.00',
      '增量 = 实际 1400.00 − 基数 1150.00 = 250.00',
      '可分成增量 = 增量 250.00 − 上年结转短收 50.00 = 200.00',
      '分成：200.00 × 0.70 = 140.00',
      '功能区分成 140.00；属地政府留成 = 实际 1400.00 − 140.00 = 1260.00',
    ],
    en: [
      'Base (fixed) = verified base 1000.00 (2019) + adjustment 200.00 (from 2020, 青财预〔2020〕3号) − adjustment 50.00 (from 2021) = 1150.00',
      'Increment = actual 1400.00 − base 1150.00 = 250.00',
      'Shareable increment = increment 250.00 − shortfall carried in 50.00 = 200.00',
      'Share: 200.00 × 0.70 = 140.00',
      'Zone share 140.00; the district keeps actual 1400.00 − 140.00 = 1260.00',
    ],
  },
  'escalating, exact power rounded, fractional limit': {
    stored: '{"name":"taxes","basis":"increment","shortfall":"none","base":"1101.81","baseDerivation":{"mode":"escalating","baseYear":2019,"amount":"1000.01","growthRate":"0.033","years":3,"exactEscalated":"1102.31396002937","escalated":"1102.31","adjustments":[{"id":2021,"fromYear":2021,"amount":"-0.5","reason":"财随事走","documentNo":"青政字〔2021〕7号","createdAt":"2026-01-05T08:00:00.000Z"}],"base":"1101.81"},"actual":"3000","increment":"1898.19","carriedShortfallIn":"0","shareable":"1898.19","bands":[{"rate":"0.6","limit":"367.26963273","upToGrowth":"0.333333","amount":"367.27","portion":"367.26963273","exactShare":"220.361779638","zoneShare":"220.36"},{"rate":"0.75","limit":"550.905","upToGrowth":"0.5","amount":"183.64","portion":"183.63536727","exactShare":"137.7265254525","zoneShare":"137.73"},{"rate":"0.65","amount":"1347.28","portion":"1347.285","exactShare":"875.73525","zoneShare":"875.74"}],"zoneShare":"1233.83","districtShare":"1766.17","carriedShortfallOut":"0"}',
    zh: [
      '基数（递增）= 递增后核定基数 1102.31（1000.01 × (1 + 0.033)^3 = 1102.31396002937 → 1102.31） − 基数调整 0.50（2021年起，青政字〔2021〕7号） = 1101.81',
      '增量 = 实际 3000.00 − 基数 1101.81 = 1898.19',
      '第1档（增长不超过基数的33.3333%，上限 367.26963273）：367.26963273 × 0.60 = 220.361779638 → 220.36',
      '第2档（增长不超过基数的50%，上限 550.905）：183.63536727 × 0.75 = 137.7265254525 → 137.73',
      '第3档（超出部分）：1347.285 × 0.65 = 875.73525 → 875.74',
      '各档合计 = 220.36 + 137.73 + 875.74 = 1233.83',
      '功能区分成 1233.83；属地政府留成 = 实际 3000.00 − 1233.83 = 1766.17',
    ],
    en: [
      'Base (escalating) = escalated verified base 1102.31 (1000.01 × (1 + 0.033)^3 = 1102.31396002937 → 1102.31) − adjustment 0.50 (from 2021, 青政字〔2021〕7号) = 1101.81',
      'Increment = actual 3000.00 − base 1101.81 = 1898.19',
      'Band 1 (growth up to 33.3333% of the base, limit 367.26963273): 367.26963273 × 0.60 = 220.361779638 → 220.36',
      'Band 2 (growth up to 50% of the base, limit 550.905): 183.63536727 × 0.75 = 137.7265254525 → 137.73',
      'Band 3 (the rest): 1347.285 × 0.65 = 875.73525 → 875.74',
      'Bands together = 220.36 + 137.73 + 875.74 = 1233.83',
      'Zone share 1233.83; the district keeps actual 3000.00 − 1233.83 = 1766.17',
    ],
  },
  'escalating, whole cents, deduct': {
    stored: '{"name":"taxes","basis":"increment","shortfall":"deduct","base":"1157625","baseDerivation":{"mode":"escalating","baseYear":2019,"amount":"1000000","growthRate":"0.05","years":3,"exactEscalated":"1157625","escalated":"1157625","adjustments":[],"base":"1157625"},"actual":"1000000.05","increment":"-157624.95","carriedShortfallIn":"0","shareable":"-157624.95","bands":[{"rate":"0.65","amount":"-157624.95","portion":"-157624.95","exactShare":"-102456.2175","zoneShare":"-102456.22"}],"zoneShare":"-102456.22","districtShare":"1102456.27","carriedShortfallOut":"0"}',
    zh: [
      '基数（递增）= 核定基数 1000000.00 × (1 + 0.05)^3 = 1157625.00',
      '增量 = 实际 1000000.05 − 基数 1157625.00 = -157624.95',
      '可分成增量为负，功能区按第1档比例承担：-157624.95 × 0.65 = -102456.2175 → -102456.22',
      '功能区分成 -102456.22；属地政府留成 = 实际 1000000.05 − (-102456.22) = 1102456.27',
    ],
    en: [
      'Base (escalating) = verified base 1000000.00 × (1 + 0.05)^3 = 1157625.00',
      'Increment = actual 1000000.05 − base 1157625.00 = -157624.95',
      'The shareable increment is negative; the zone bears its part at the first band\'s rate: -157624.95 × 0.65 = -102456.2175 → -102456.22',
      'Zone share -102456.22; the district keeps actual 1000000.05 − (-102456.22) = 1102456.27',
    ],
  },
  'prior year, shortfall none': {
    stored: '{"name":"taxes","basis":"increment","shortfall":"none","base":"1250","baseDerivation":{"mode":"prior_year","baseYear":2019,"priorYearActual":"1300","adjustments":[{"id":2022,"fromYear":2022,"amount":"-50","reason":"财随事走","documentNo":"X","createdAt":"2026-01-05T08:00:00.000Z"}],"base":"1250"},"actual":"1000","increment":"-250","carriedShortfallIn":"0","shareable":"-250","bands":[],"zoneShare":"0","districtShare":"1000","carriedShortfallOut":"0"}',
    zh: [
      '基数（上年实际）= 上年实际收入 1300.00 − 基数调整 50.00（2022年起，X） = 1250.00',
      '增量 = 实际 1000.00 − 基数 1250.00 = -250.00',
      '可分成增量为负（短收 250.00），由属地政府承担：功能区分成 0.00',
      '功能区分成 0.00；属地政府留成 = 实际 1000.00 − 0.00 = 1000.00',
    ],
    en: [
      'Base (prior year) = last year\'s actual revenue 1300.00 − adjustment 50.00 (from 2022, X) = 1250.00',
      'Increment = actual 1000.00 − base 1250.00 = -250.00',
      'The shareable increment is negative (shortfall 250.00); the district bears it: zone share 0.00',
      'Zone share 0.00; the district keeps actual 1000.00 − 0.00 = 1000.00',
    ],
  },
  'given, carry forward out': {
    stored: '{"name":"taxes","basis":"increment","shortfall":"carry_forward","base":"1000","baseDerivation":{"mode":"given","adjustments":[],"base":"1000"},"actual":"900","increment":"-100","carriedShortfallIn":"20","shareable":"-120","bands":[],"zoneShare":"0","districtShare":"900","carriedShortfallOut":"120"}',
    zh: [
      '基数 = 1000.00',
      '增量 = 实际 900.00 − 基数 1000.00 = -100.00',
      '可分成增量 = 增量 -100.00 − 上年结转短收 20.00 = -120.00',
      '可分成增量为负，短收 120.00 结转以后年度增量抵扣：功能区分成 0.00',
      '功能区分成 0.00；属地政府留成 = 实际 900.00 − 0.00 = 900.00',
    ],
    en: [
      'Base = 1000.00',
      'Increment = actual 900.00 − base 1000.00 = -100.00',
      'Shareable increment = increment -100.00 − shortfall carried in 20.00 = -120.00',
      'The shareable increment is negative; the shortfall of 120.00 is carried forward against later increments: zone share 0.00',
      'Zone share 0.00; the district keeps actual 900.00 − 0.00 = 900.00',
    ],
  },
  'schedule, transfers of every method': {
    stored: '{"name":"taxes","basis":"increment","shortfall":"none","base":"1058375.01","baseDerivation":{"mode":"fixed","baseYear":2019,"amount":"1000000","adjustments":[],"transfers":[{"function":"教育","direction":"to_district","fromYear":2021,"toYear":2023,"documentNo":"青政字〔2021〕5号","funding":{"method":"fixed","amount":"50000"},"fiscalYear":2022,"exactFunding":"50000","fundingForYear":"50000","baseMove":"50000"},{"function":"卫生健康","direction":"to_district","fromYear":2022,"documentNo":"青政字〔2022〕2号","funding":{"method":"headcount","headcount":12,"unitCost":"1800"},"fiscalYear":2022,"exactFunding":"21600","fundingForYear":"21600","baseMove":"21600"},{"function":"城市管理","direction":"to_zone","fromYear":2020,"documentNo":"青政字〔2020〕7号","funding":{"method":"indexed","amount":"12345.67","growthRate":"0.035"},"fiscalYear":2022,"exactFunding":"13224.99034575","fundingForYear":"13224.99","baseMove":"-13224.99"}],"base":"1058375.01"},"actual":"1300000","increment":"241624.99","carriedShortfallIn":"0","shareable":"241624.99","bands":[{"rate":"0.8","limit":"105837.501","upToGrowth":"0.1","amount":"105837.5","portion":"105837.501","exactShare":"84670.0008","zoneShare":"84670"},{"rate":"0.6","amount":"135787.49","portion":"135787.489","exactShare":"81472.4934","zoneShare":"81472.49"}],"zoneShare":"166142.49","districtShare":"1133857.51","carriedShortfallOut":"0","period":{"fromYear":2022,"toYear":2024,"number":2,"of":3}}',
    zh: [
      '分段期限：第2段（共3段），2022–2024年，适用本段分成比例',
      '基数（固定）= 核定基数 1000000.00（2019年） + 事权划转 50000.00（「教育」划归属地，青政字〔2021〕5号，F(2022) = 50000.00） + 事权划转 21600.00（「卫生健康」划归属地，青政字〔2022〕2号，F(2022) = 12人 × 1800.00 = 21600.00） − 事权划转 13224.99（「城市管理」划归功能区，青政字〔2020〕7号，F(2022) = 12345.67 × (1 + 0.035)^2 = 13224.99034575 → 13224.99） = 1058375.01',
      '增量 = 实际 1300000.00 − 基数 1058375.01 = 241624.99',
      '第1档（增长不超过基数的10%，上限 105837.501）：105837.501 × 0.80 = 84670.0008 → 84670.00',
      '第2档（超出部分）：135787.489 × 0.60 = 81472.4934 → 81472.49',
      '各档合计 = 84670.00 + 81472.49 = 166142.49',
      '功能区分成 166142.49；属地政府留成 = 实际 1300000.00 − 166142.49 = 1133857.51',
    ],
    en: [
      'Rate schedule: period 2 of 3, 2022–2024: its bands apply',
      'Base (fixed) = verified base 1000000.00 (2019) + transfer 50000.00 ("教育" to the district, 青政字〔2021〕5号, F(2022) = 50000.00) + transfer 21600.00 ("卫生健康" to the district, 青政字〔2022〕2号, F(2022) = 12 staff × 1800.00 = 21600.00) − transfer 13224.99 ("城市管理" to the zone, 青政字〔2020〕7号, F(2022) = 12345.67 × (1 + 0.035)^2 = 13224.99034575 → 13224.99) = 1058375.01',
      'Increment = actual 1300000.00 − base 1058375.01 = 241624.99',
      'Band 1 (growth up to 10% of the base, limit 105837.501): 105837.501 × 0.80 = 84670.0008 → 84670.00',
      'Band 2 (the rest): 135787.489 × 0.60 = 81472.4934 → 81472.49',
      'Bands together = 84670.00 + 81472.49 = 166142.49',
      'Zone share 166142.49; the district keeps actual 1300000.00 − 166142.49 = 1133857.51',
    ],
  },
  'total, schedule': {
    stored: '{"name":"fees","basis":"total","shortfall":"none","actual":"9999.99","bands":[{"rate":"0.7","amount":"9999.99","portion":"9999.99","exactShare":"6999.993","zoneShare":"6999.99"}],"zoneShare":"6999.99","districtShare":"3000","period":{"fromYear":2021,"toYear":null,"number":2,"of":2}}',
    zh: [
      '分段期限：第2段（共2段），2021年起，适用本段分成比例',
      '全额分成：实际 9999.99 × 0.70 = 6999.993 → 6999.99',
      '功能区分成 6999.99；属地政府留成 = 实际 9999.99 − 6999.99 = 3000.00',
    ],
    en: [
      'Rate schedule: period 2 of 2, from 2021 on: its bands apply',
      'Whole amount shared: actual 9999.99 × 0.70 = 6999.993 → 6999.99',
      'Zone share 6999.99; the district keeps actual 9999.99 − 6999.99 = 3000.00',
    ],
  },
}

for (const [label, [input, year]] of Object.entries(inputs)) {
  t.test(`${label}: the stored text reads back and explains itself as it did`, async (t) => {
    const expected = stored[label]!
    t.equal(serializeGroupResult(computeGroup(input, year)), expected.stored, 'the same inputs store the same text')
    const read = deserializeGroupResult(expected.stored)
    t.same(explainGroup(read, 'zh'), expected.zh)
    t.same(explainGroup(read, 'en'), expected.en)
  })
}

/** A line with what stands in parentheses (a term's details, a power's (1 + g)) taken out, innermost first. */
function topLevel (line: string): string {
  let shown = line
  for (let before = ''; before !== shown;) {
    before = shown
    shown = shown.replace(/（[^（）]*）|\([^()]*\)/g, '')
  }
  return shown
}

t.test('a base line is one true sum: the starting amount and each signed term, outside the parentheses, add up to the base after its last "="', async (t) => {
  let sums = 0
  for (const [label, { stored: text }] of Object.entries(stored)) {
    for (const language of ['zh', 'en'] as const) {
      const line = explainGroup(deserializeGroupResult(text), language).find((l) => l.startsWith('基数') || l.startsWith('Base'))
      if (line === undefined) continue
      const [, ...sides] = topLevel(line).split('=')
      if (sides.length < 2 || sides[0]!.includes('×')) continue // "基数 = 1000.00", "基数（递增）= 核定基数 A × (1 + g)^n = B": no terms
      t.equal(sides.length, 2, `${label} (${language}): one "=" between the terms and the base, outside the parentheses: ${line}`)
      const terms = [...sides[0]!.matchAll(/([+−]?)[^\d+−]*?(-?\d+\.\d\d)\b/g)]
      const total = terms.reduce((acc, [, sign, amount]) => sign === '−' ? acc.minus(money(amount!)) : acc.plus(money(amount!)), ZERO)
      t.ok(terms.every(([, , amount]) => !amount!.startsWith('-')), `${label} (${language}): a term is signed by its operator, never "+ -50.00"`)
      t.equal(total.toFixed(2), money(sides[1]!.trim()).toFixed(2), `${label} (${language}): ${line}`)
      sums++
    }
  }
  t.ok(sums >= 8, `every example with terms checked (${sums} lines)`)
})

t.test('a statement cites the transfers of a stored text as the result read back cites them, reading back only texts that name transfers (§4)', async (t) => {
  for (const [label, { stored: text }] of Object.entries(stored)) {
    t.same(storedTransfersCited(text), transfersCited(deserializeGroupResult(text)), label)
  }
  t.equal(transfersCitation(storedTransfersCited(stored['schedule, transfers of every method']!.stored)),
    '教育 划归属地 to the district +50000.00（青政字〔2021〕5号）；卫生健康 划归属地 to the district +21600.00（青政字〔2022〕2号）；城市管理 划归功能区 to the zone -13224.99（青政字〔2020〕7号）')
  t.same(storedTransfersCited(stored['given, two bands']!.stored), [], 'none without transfers')
  t.equal(transfersCitation(storedTransfersCited(stored['schedule, transfers of every method']!.stored), formatYuan),
    '教育 划归属地 to the district +50,000.00（青政字〔2021〕5号）；卫生健康 划归属地 to the district +21,600.00（青政字〔2022〕2号）；城市管理 划归功能区 to the zone -13,224.99（青政字〔2020〕7号）',
    'the printed page\'s amounts with thousands separators, as its tables print them')
})

t.test('a stored text that is not a result of its basis and mode is an error naming the field', async (t) => {
  type StoredJson = { basis: unknown, shareable?: unknown, bands: unknown[], baseDerivation: { mode: unknown, escalated?: unknown } }
  const edited = (label: string, edit: (g: StoredJson) => void) => {
    const g: StoredJson = JSON.parse(stored[label]!.stored)
    edit(g)
    return JSON.stringify(g)
  }
  t.throws(() => deserializeGroupResult(edited('given, carry forward out', (g) => { delete g.shareable })), /\/shareable is not a decimal string/)
  t.throws(() => deserializeGroupResult(edited('escalating, whole cents, deduct', (g) => { delete g.baseDerivation.escalated })),
    /\/baseDerivation\/escalated is not a decimal string/)
  t.throws(() => deserializeGroupResult(edited('fixed, adjustments, carried in', (g) => { g.baseDerivation.mode = 'rising' })), /\/baseDerivation\/mode is not one of/)
  t.throws(() => deserializeGroupResult(edited('total', (g) => { g.bands.push(g.bands[0]) })), /\/bands is not one band/)
  t.throws(() => deserializeGroupResult(edited('total', (g) => { g.basis = 'whole' })), /\/basis is not one of/)
})
