import t from 'tap'
import { renderHistoryChart, renderScenarioChart, type ScenarioChartYear } from '../../src/http/charts.js'
import type { ScenarioJson } from '../../src/domain/scenario.js'
import { scenarioChartTitles } from '../../src/http/schemas/scenarios.js'
import { parseSvg } from '../svg.js'

/*
 * The charts of src/http/charts.ts as pure functions (api-contract.md, Scenarios: ?format=svg):
 * well-formed SVG, Chinese title, axis names and legend, 元 or 万元 as the figures need, one data
 * point per year and series, every figure written as the formatted string it arrived as.
 */

t.test('history: 万元 once a figure reaches 1,000,000.00 元, figures written to the hundredth of 万元', async (t) => {
  const svg = parseSvg(renderHistoryChart([
    { fiscalYear: 2022, revenueTotal: '128505717.84', base: '97160000.00', zoneShare: '22062488.38' },
    { fiscalYear: 2023, revenueTotal: '135210357.84', base: '97160000.00', zoneShare: '27370328.38' },
    { fiscalYear: 2024, revenueTotal: '999.99', base: null, zoneShare: '-0.01' },
  ], { title: '示例 <历年> & 结算', subtitle: '分成办法 示例〔2020〕1号' }))
  t.ok(svg.texts.includes('金额（万元）'), 'the money axis in 万元')
  t.ok(svg.texts.includes('年度'))
  for (const name of ['收入', '核定基数', '功能区分成']) t.ok(svg.texts.includes(name), `the legend names ${name}`)
  t.ok(svg.texts.includes('示例 <历年> & 结算'), 'the title, escaped as XML and read back')
  t.ok(svg.texts.includes('分成办法 示例〔2020〕1号'), 'the subtitle')
  // 128505717.84 元 = 12850.571784 万元 → 12,850.57; 27370328.38 → 2,737.03; 999.99 → 0.10; −0.01 → 0.00 (−0.000001 rounds to zero, written unsigned).
  for (const label of ['12,850.57', '9,716.00', '2,206.25', '2,737.03', '0.10']) t.ok(svg.texts.includes(label), `the label ${label}`)
  t.same(svg.points.get(0), [0, 1, 2], '收入: a bar per year')
  t.same(svg.points.get(1), [0, 1], '核定基数: none for a year without a base')
  t.same(svg.points.get(2), [0, 1, 2], '功能区分成: a point per year')
  const desc = svg.elements.find((e) => e.name === 'desc')?.text ?? ''
  t.match(desc, /单位：万元/)
  t.match(desc, /2024：收入 0\.10，核定基数 —，功能区分成 0\.00。/, 'the description writes every figure, — for none')
})

t.test('history: 元 for small figures, exactly as stored', async (t) => {
  const svg = parseSvg(renderHistoryChart([{ fiscalYear: 2020, revenueTotal: '999999.99', base: '1000.00', zoneShare: '660.00' }]))
  t.ok(svg.texts.includes('金额（元）'))
  for (const label of ['999,999.99', '1,000.00', '660.00']) t.ok(svg.texts.includes(label), `the label ${label}`)
  t.match(svg.elements.find((e) => e.name === 'title')?.text, /历年结算/, 'a default title')
  t.equal(svg.prolog, '<?xml version="1.0" encoding="UTF-8"?>\n', 'no stylesheet unless given')
})

const years: ScenarioChartYear[] = [2021, 2022, 2023, 2024, 2025].map((fiscalYear, i) => ({
  fiscalYear, projected: fiscalYear >= 2024,
  totals: { agreed: { zoneShare: `${100 + i * 10}.00` }, scenario: { zoneShare: `${120 + i * 15}.50` }, difference: `${20 + i * 5}.50` },
}))

t.test('scenario: both zone shares by year, the projected years labelled and marked 预测', async (t) => {
  const text = renderScenarioChart(years, { stylesheet: '../assets/statement-abc.css' })
  const svg = parseSvg(text)
  t.match(svg.prolog, /<\?xml-stylesheet type="text\/css" href="\.\.\/assets\/statement-abc\.css"\?>/)
  for (const name of ['年度', '金额（元）', '现行办法', '测算方案', '预测', '2021', '2023', '2024（预测）', '2025（预测）']) t.ok(svg.texts.includes(name), `names ${name}`)
  t.notOk(svg.texts.includes('2023（预测）'), 'a year on record is not labelled 预测')
  // The solid lines (series 0, 1) over the years on record; the dashed ones (2, 3) from the last of them on.
  const drawn = (series: number) => [...new Set(svg.points.get(series) ?? [])].sort()
  t.same(drawn(1), [0, 1, 2], '测算方案, on record: 2021–2023')
  t.same(drawn(3), [2, 3, 4], '测算方案, projected: from 2023 (joined) to 2025')
  t.same([...new Set([...drawn(0), ...drawn(2)])].sort(), [0, 1, 2, 3, 4], '现行办法: a point for every year')
  t.match(text, /stroke-dasharray/, 'the projected part dashed')
  for (const label of ['100.00', '120.50', '140.00', '180.50']) t.ok(svg.texts.includes(label), `the label ${label}`)
  t.equal(svg.texts.filter((l) => l === '150.50').length, 1, 'the joining year (2023) labelled once')
  t.match(text, /Noto Sans SC/, 'names a CJK font')
})

t.test('scenario: all on record, or nothing', async (t) => {
  const settled = parseSvg(renderScenarioChart(years.slice(0, 3).map((y) => ({ ...y, projected: false }))))
  t.notOk(settled.texts.includes('预测'), 'nothing marked 预测')
  t.same([...settled.points.keys()].sort(), [0, 1], 'two lines, no dashed part')
  const none = parseSvg(renderScenarioChart([]))
  t.ok(none.texts.some((l) => l.includes('暂无测算年度')))
})

t.test('scenario: the higher line\'s figure above its point, the lower one\'s below, so that the two never overlap', async (t) => {
  const crossing: ScenarioChartYear[] = [
    { fiscalYear: 2021, projected: false, totals: { agreed: { zoneShare: '100.00' }, scenario: { zoneShare: '104.00' }, difference: '4.00' } },
    { fiscalYear: 2022, projected: false, totals: { agreed: { zoneShare: '130.00' }, scenario: { zoneShare: '126.00' }, difference: '-4.00' } },
    { fiscalYear: 2023, projected: false, totals: { agreed: { zoneShare: '150.00' }, scenario: { zoneShare: '150.00' }, difference: '0.00' } },
  ]
  const svg = parseSvg(renderScenarioChart(crossing))
  const numbers = (text: string | undefined) => (text ?? '').match(/-?[\d.]+/g)?.map(Number) ?? []
  // A point: ECharts' symbol path at matrix(…, x, y); a label: a <text> at translate(x y), moved by its y attribute.
  const pointY = (series: number, index: number) => numbers(svg.elements.find((e) => e.name === 'path' &&
    e.attributes['ecmeta_series_index'] === String(series) && e.attributes['ecmeta_data_index'] === String(index))?.attributes['transform']).at(-1) ?? NaN
  const labelY = (label: string) => {
    const found = svg.elements.filter((e) => e.name === 'text' && e.text === label)
    t.equal(found.length, 1, `one label ${label}`)
    return (numbers(found[0]?.attributes['transform']).at(-1) ?? NaN) + Number(found[0]?.attributes['y'] ?? 0)
  }
  // SVG's y grows downwards: below a point is a larger y.
  t.ok(labelY('100.00') > pointY(0, 0), '2021: 现行办法 is lower, its figure below its point')
  t.ok(labelY('104.00') < pointY(1, 0), '2021: 测算方案 is higher, its figure above')
  t.ok(labelY('130.00') < pointY(0, 1), '2022: 现行办法 is higher, its figure above')
  t.ok(labelY('126.00') > pointY(1, 1), '2022: 测算方案 is lower, its figure below')
  const equal = svg.elements.filter((e) => e.name === 'text' && e.text === '150.00').map((e) => (numbers(e.attributes['transform']).at(-1) ?? NaN) + Number(e.attributes['y'] ?? 0))
  t.equal(equal.length, 2, '2023: both figures written')
  t.ok(Math.abs((equal[0] ?? 0) - (equal[1] ?? 0)) >= 10, '2023: equal shares, one figure above and one below the shared point')
})

t.test('a name or document number holding a character XML cannot (a control character, U+FFFF) is shown as U+FFFD: the SVG stays well-formed XML (before, it opened nowhere)', async (t) => {
  const svg = renderHistoryChart([{ fiscalYear: 2020, revenueTotal: '1000.00', base: '900.00', zoneShare: '60.00' }],
    { title: '历年结算：高新\u0007区', subtitle: '青政字〔2020〕\u0001号 \uFFFF' })
  t.notOk([...svg].some((c) => (c < ' ' && c !== '\t' && c !== '\n' && c !== '\r') || c === '\ufffe' || c === '\uffff'), 'no character XML 1.0 forbids')
  const parsed = parseSvg(svg)
  t.equal(parsed.elements.find((e) => e.name === 'title')?.text, '历年结算：高新\uFFFD区', 'the title, each such character shown as U+FFFD')
  t.ok(parsed.elements.some((e) => e.name === 'text' && e.text.includes('青政字〔2020〕\uFFFD号')), 'the subtitle too, drawn by ECharts')
})

t.test('scenario chart subtitle: the difference says it is in 元 (the axis may be in 万元), and "其后为预测" only when a year is projected', async (t) => {
  const titles = (lastRecordedYear: number) => scenarioChartTitles({
    agreementId: 1, fromYear: 2022, toYear: 2025, lastRecordedYear, minimumRate: { agreed: '0.60', scenario: '0.60' }, totals: { difference: '3886400.00' },
  } as unknown as ScenarioJson).subtitle
  t.equal(titles(2024), '2022–2025 年 · 实际收入至 2024 年，其后为预测 · 下限 0.60 / 0.60 · 差额合计 3886400.00 元', 'before, "差额合计 3886400.00" under an axis in 万元')
  t.equal(titles(2025), '2022–2025 年 · 实际收入至 2025 年 · 下限 0.60 / 0.60 · 差额合计 3886400.00 元', 'nothing projected: nothing said of it')
})

t.test('the same chart is the same bytes, whenever it is drawn: ECharts\'s names are numbered per drawing, in markup and the stylesheet only (found by a probe of backups)', async (t) => {
  const years = [{ fiscalYear: 2022, revenueTotal: '1285.84', base: '971.00', zoneShare: '220.38' }, { fiscalYear: 2023, revenueTotal: '1352.84', base: '971.00', zoneShare: '273.38' }]
  const title = '示例 zr5-cls-40 zr7-c0 区'
  const first = renderHistoryChart(years, { title })
  renderScenarioChart([])
  const again = renderHistoryChart(years, { title })
  t.equal(again, first, 'drawn again, after another chart')
  const names = [...new Set(first.replace(/(<(title|desc|text)\b[^>]*>)[^<]*<\/\2>/g, '$1').match(/\bzr\d+-[\w-]+/g))]
  t.ok(names.length > 3 && names.every((name) => name.startsWith('zr0-')), `every name is the drawing's own: ${names.join(' ')}`)
  const classes = names.filter((name) => name.startsWith('zr0-cls-')).map((name) => Number(name.slice('zr0-cls-'.length))).sort((x, y) => x - y)
  t.same(classes, classes.map((_, i) => i), 'classes numbered from 0')
  for (const name of classes.map((n) => `zr0-cls-${n}`)) t.match(first, new RegExp(`\\.${name}[: {]`), `${name} is styled under its new name`)
  const svg = parseSvg(first)
  t.equal(svg.elements.find((e) => e.name === 'title')?.text, title, 'a title that looks like one of those names is left as written')
  t.match(svg.elements.find((e) => e.name === 'desc')?.text, /^示例 zr5-cls-40 zr7-c0 区（单位：元）/)
  t.ok(svg.texts.includes(title), 'and so is the chart\'s own title')
})
