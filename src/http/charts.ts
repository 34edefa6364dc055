import { createRequire } from 'node:module'
import type * as echarts from 'echarts'
import { amountInUnit, type ChartUnit, chartUnit, formatYuan } from '../domain/money.js'
import { escapeHtml } from './statement-html.js'
import { xmlText } from './xml-text.js'

/*
 * The pictures of an agreement's history and of a scenario (api-contract.md, Scenarios:
 * ?format=svg), drawn on the server by Apache ECharts (SVG renderer, server-side, no DOM): a
 * chart a budget officer reads at a glance, with a Chinese title, axis names and legend, money in
 * 元 or — when the figures are large — 万元, as the axis says. Pure of I/O: figures in, SVG text out.
 *
 * Money arrives as the strings of the answers. Every figure written into the picture (labels, the
 * description) is formatted from those strings by the domain (amountInUnit, formatYuan); the
 * drawing alone (the height of a bar, the place of a point) uses a JavaScript number of the
 * figure in the axis' unit, which is display and never printed.
 *
 * The text names a CJK web font first: with `stylesheet` (the URL of the statement stylesheet,
 * relative to where the SVG is served) the picture links it with an xml-stylesheet instruction, so
 * a browser opening it loads the service's Noto Sans SC as the statement does; otherwise (or in an
 * <img>) the office machine's own CJK fonts are used.
 */

export const CHART_FONT = '\'Noto Sans SC Variable\', \'Noto Sans SC\', \'Microsoft YaHei\', \'PingFang SC\', \'Noto Sans CJK SC\', sans-serif'
export const SVG_TYPE = 'image/svg+xml; charset=utf-8'
/**
 * What a chart served by the service may load: the stylesheet and its font, from this origin. ECharts
 * writes its text styles as style attributes, hence 'unsafe-inline' for styles (the picture has no script).
 */
export const CHART_CSP = "default-src 'none'; style-src 'self' 'unsafe-inline'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const WIDTH = 960
const HEIGHT = 540
const COLORS = { revenue: '#8fb4e3', base: '#c9ced6', zone: '#c23531', agreed: '#2f4554', scenario: '#c23531', projected: 'rgba(230, 162, 60, 0.12)' }

export interface ChartOptions {
  /** The title drawn at the top (a default says what the chart shows). */
  title?: string
  /** A line under the title (the agreement's document number, the assumptions). */
  subtitle?: string
  /** The statement stylesheet (its @font-face), as a URL relative to where the SVG is served. */
  stylesheet?: string
}

/** A settled year of GET /v1/agreements/{id}/history, as much as the chart draws. */
export interface HistoryChartYear {
  fiscalYear: number
  revenueTotal: string
  base: string | null
  zoneShare: string
  /** The year's supplementary settlements (补充结算): a year with any is labelled so. */
  supplementary?: readonly unknown[]
}

/** A year of the POST /v1/scenarios answer, as much as the chart draws. */
export interface ScenarioChartYear {
  fiscalYear: number
  projected: boolean
  totals: { agreed: { zoneShare: string }, scenario: { zoneShare: string }, difference?: string }
}

interface Series {
  name: string
  type: 'bar' | 'line'
  color: string
  /** The figures (money strings; null: none that year). */
  figures: ReadonlyArray<string | null>
  dashed?: boolean
}

/** The figure in the axis' unit, as a number for drawing only. */
const drawn = (figure: string | null, unit: ChartUnit): number | null => figure === null ? null : Number(amountInUnit(figure, unit))
/** The figure as written in the picture: in the axis' unit, with thousands separators. */
const written = (figure: string | null, unit: ChartUnit): string => figure === null ? '—' : formatYuan(amountInUnit(figure, unit))

let library: typeof echarts | undefined
/**
 * ECharts, loaded on the first chart drawn rather than when the service starts (the library takes
 * a second or two to load, and most instances never draw a chart); its CommonJS build, so that
 * drawing stays synchronous.
 */
function charts (): typeof echarts {
  library ??= createRequire(import.meta.url)('echarts') as typeof echarts
  return library
}

function render (option: echarts.EChartsOption): string {
  const chart = charts().init(null, null, { renderer: 'svg', ssr: true, width: WIDTH, height: HEIGHT, locale: 'ZH' })
  try {
    chart.setOption(option)
    return numberedPerDrawing(chart.renderToSVGString())
  } finally {
    chart.dispose()
  }
}

/** ECharts's names of a drawing's elements and classes (zr3-c0, zr3-cls-17, zr3-ani-0): in markup and the stylesheet, never in text. */
const MARKUP = /<style[^>]*>[\s\S]*?<\/style>|<[^>]*>/g
const ECHARTS_NAME = /\bzr\d+-(cls-\d+|[a-z]+\d*)\b/g

/**
 * ECharts numbers its charts, and the classes of their styles, across the process: the same
 * figures drawn twice gave other bytes (zr5-cls-40, then zr6-cls-48; found by a probe of backups,
 * comparing a restored service's charts with the original's). Renamed in the order they first
 * appear, within tags and the stylesheet only (a name or a code in the text is left as written),
 * the same chart is the same bytes, whenever it is drawn.
 */
function numberedPerDrawing (svg: string): string {
  const classes = new Map<string, string>()
  return svg.replace(MARKUP, (markup) => markup.replace(ECHARTS_NAME, (_name, rest: string) => {
    if (!rest.startsWith('cls-')) return `zr0-${rest}`
    let renamed = classes.get(rest)
    if (renamed === undefined) classes.set(rest, renamed = `cls-${classes.size}`)
    return `zr0-${renamed}`
  }))
}

/** The SVG document: the XML declaration, the stylesheet link, a <title> and a <desc> (every figure, as written) inside the <svg>. */
function document (svg: string, title: string, description: string, stylesheet: string | undefined): string {
  const head = '<?xml version="1.0" encoding="UTF-8"?>\n' +
    (stylesheet === undefined ? '' : `<?xml-stylesheet type="text/css" href="${escapeHtml(stylesheet)}"?>\n`)
  const open = svg.indexOf('>') + 1
  // A name or document number may hold a character XML cannot (a control): shown as U+FFFD, the chart opens.
  return xmlText(`${head}${svg.slice(0, open)}\n<title>${escapeHtml(title)}</title>\n<desc>${escapeHtml(description)}</desc>${svg.slice(open)}`)
}

function chartOption (title: string, subtitle: string | undefined, categories: readonly string[], unit: ChartUnit, series: readonly Series[]): echarts.EChartsOption {
  return {
    animation: false,
    backgroundColor: '#ffffff',
    textStyle: { fontFamily: CHART_FONT },
    title: {
      text: title, subtext: subtitle ?? '', left: 'center', top: 10, itemGap: 6,
      textStyle: { fontSize: 18, fontWeight: 'bold', fontFamily: CHART_FONT }, subtextStyle: { fontSize: 12, color: '#555', fontFamily: CHART_FONT },
    },
    legend: { top: subtitle === undefined ? 46 : 62, data: series.map((s) => s.name), textStyle: { fontSize: 13, fontFamily: CHART_FONT } },
    grid: { left: 96, right: 72, top: subtitle === undefined ? 96 : 112, bottom: 64 },
    xAxis: {
      type: 'category', name: '年度', nameLocation: 'end', nameGap: 12, data: [...categories],
      axisLabel: { fontSize: 12, fontFamily: CHART_FONT }, nameTextStyle: { fontSize: 13, fontFamily: CHART_FONT },
    },
    yAxis: {
      type: 'value', name: `金额（${unit}）`, nameGap: 16, nameTextStyle: { fontSize: 13, fontFamily: CHART_FONT, align: 'right' },
      axisLabel: { fontSize: 12, fontFamily: CHART_FONT, formatter: (value: number) => value.toLocaleString('en-US') },
    },
    series: series.map((s) => ({
      name: s.name,
      type: s.type,
      color: s.color,
      data: s.figures.map((f) => drawn(f, unit)),
      ...(s.type === 'bar' ? { barMaxWidth: 36, barGap: '10%' } : { symbol: 'circle', symbolSize: 7, lineStyle: { width: 2.5, type: s.dashed === true ? 'dashed' : 'solid' } }),
      label: {
        show: true, position: 'top', fontSize: 10, fontFamily: CHART_FONT, color: s.type === 'line' ? s.color : '#333',
        // A line's figures sit over the bars: on white, to be read.
        ...(s.type === 'line' ? { backgroundColor: 'rgba(255, 255, 255, 0.9)', padding: [1, 3], borderRadius: 2 } : {}),
        formatter: (p: { dataIndex: number }) => written(s.figures[p.dataIndex] ?? null, unit),
      },
    })) as echarts.SeriesOption[],
  }
}

function describe (title: string, unit: ChartUnit, categories: readonly string[], series: readonly Series[]): string {
  const years = categories.map((c, i) => `${c}：${series.map((s) => `${s.name} ${written(s.figures[i] ?? null, unit)}`).join('，')}`)
  return `${title}（单位：${unit}）。${years.length === 0 ? '暂无数据。' : `${years.join('；')}。`}`
}

function empty (title: string, says: string): echarts.EChartsOption {
  return {
    animation: false, backgroundColor: '#ffffff', textStyle: { fontFamily: CHART_FONT },
    title: { text: title, subtext: says, left: 'center', top: 'middle', textStyle: { fontSize: 18, fontFamily: CHART_FONT }, subtextStyle: { fontSize: 13, fontFamily: CHART_FONT } },
  }
}

/**
 * The history of an agreement (GET /v1/agreements/{id}/history?format=svg): 收入 and 核定基数 as
 * bars, 功能区分成 as a line, by year, each figure written above its bar or point.
 */
export function renderHistoryChart (years: readonly HistoryChartYear[], options: ChartOptions = {}): string {
  const title = options.title ?? '历年结算：收入、核定基数与功能区分成'
  const unit = chartUnit(years.flatMap((y) => [y.revenueTotal, y.zoneShare, ...(y.base === null ? [] : [y.base])]))
  const categories = years.map((y) => ((y.supplementary?.length ?? 0) > 0 ? `${y.fiscalYear}（含补充结算）` : String(y.fiscalYear)))
  const series: Series[] = [
    { name: '收入', type: 'bar', color: COLORS.revenue, figures: years.map((y) => y.revenueTotal) },
    { name: '核定基数', type: 'bar', color: COLORS.base, figures: years.map((y) => y.base) },
    { name: '功能区分成', type: 'line', color: COLORS.zone, figures: years.map((y) => y.zoneShare) },
  ]
  const svg = render(years.length === 0 ? empty(title, '暂无已定稿的年度结算 no finalized settlement yet') : chartOption(title, options.subtitle, categories, unit, series))
  return document(svg, title, describe(title, unit, categories, series), options.stylesheet)
}

/**
 * A scenario (POST /v1/scenarios?format=svg): the zone share under the agreement as it is (现行办法)
 * and as changed (测算方案), by year; projected years labelled “2024（预测）”, shaded and marked 预测,
 * the lines dashed over them.
 */
export function renderScenarioChart (years: readonly ScenarioChartYear[], options: ChartOptions = {}): string {
  const title = options.title ?? '测算：功能区分成（现行办法与测算方案）'
  const unit = chartUnit(years.flatMap((y) => [y.totals.agreed.zoneShare, y.totals.scenario.zoneShare]))
  const categories = years.map((y) => (y.projected ? `${y.fiscalYear}（预测）` : String(y.fiscalYear)))
  const firstProjected = years.findIndex((y) => y.projected)
  // A line is solid over the years on record and dashed over the projected ones (the two meet at the last year on record).
  const split = (pick: (y: ScenarioChartYear) => string, projected: boolean) => years.map((y, i) =>
    firstProjected === -1 ? (projected ? null : pick(y)) : projected ? (i >= firstProjected - 1 ? pick(y) : null) : (i < firstProjected ? pick(y) : null))
  const series: Series[] = [
    { name: '现行办法', type: 'line', color: COLORS.agreed, figures: split((y) => y.totals.agreed.zoneShare, false) },
    { name: '测算方案', type: 'line', color: COLORS.scenario, figures: split((y) => y.totals.scenario.zoneShare, false) },
  ]
  const projectedSeries: Series[] = firstProjected === -1
    ? []
    : [
        { name: '现行办法', type: 'line', color: COLORS.agreed, figures: split((y) => y.totals.agreed.zoneShare, true), dashed: true },
        { name: '测算方案', type: 'line', color: COLORS.scenario, figures: split((y) => y.totals.scenario.zoneShare, true), dashed: true },
      ]
  if (years.length === 0) return document(render(empty(title, '暂无测算年度 no year to show')), title, describe(title, unit, [], []), options.stylesheet)
  const option = chartOption(title, options.subtitle, categories, unit, [...series, ...projectedSeries])
  const drawnSeries = option.series as echarts.LineSeriesOption[]
  // The joining point of the dashed part is the last year on record: labelled once, by the solid part.
  for (const s of drawnSeries.slice(series.length)) {
    s.label = { ...s.label, formatter: (p: { dataIndex: number }) => (p.dataIndex < firstProjected ? '' : written(pickFigure(years, String(s.name), p.dataIndex), unit)) }
  }
  // Where the two lines come close their figures would overlap: the higher line's figure goes
  // above its point, the lower one's below (现行办法 below when they are equal).
  const heights = years.map((y) => ({ agreed: drawn(y.totals.agreed.zoneShare, unit) ?? 0, scenario: drawn(y.totals.scenario.zoneShare, unit) ?? 0 }))
  for (const s of drawnSeries) {
    const agreed = s.name === '现行办法'
    s.data = (s.data ?? []).map((value, i) => {
      const h = heights[i]
      const below = h !== undefined && (agreed ? h.agreed <= h.scenario : h.scenario < h.agreed)
      return value === null ? null : { value: value as number, label: { position: below ? 'bottom' : 'top' } }
    })
  }
  const [agreedLine] = drawnSeries
  const lastCategory = categories[categories.length - 1]
  const firstProjectedCategory = categories[firstProjected]
  if (agreedLine !== undefined && firstProjectedCategory !== undefined && lastCategory !== undefined) {
    agreedLine.markArea = {
      silent: true,
      itemStyle: { color: COLORS.projected },
      label: { show: true, position: 'insideTop', color: '#b8741a', fontSize: 13, fontFamily: CHART_FONT },
      data: [[{ name: '预测', xAxis: firstProjectedCategory }, { xAxis: lastCategory }]],
    }
  }
  const table = years.map((y) => ({ agreed: y.totals.agreed.zoneShare, scenario: y.totals.scenario.zoneShare }))
  const described: Series[] = [
    { name: '现行办法', type: 'line', color: COLORS.agreed, figures: table.map((r) => r.agreed) },
    { name: '测算方案', type: 'line', color: COLORS.scenario, figures: table.map((r) => r.scenario) },
  ]
  return document(render(option), title, describe(title, unit, categories, described), options.stylesheet)
}

function pickFigure (years: readonly ScenarioChartYear[], name: string, index: number): string | null {
  const y = years[index]
  if (y === undefined) return null
  return name === '现行办法' ? y.totals.agreed.zoneShare : y.totals.scenario.zoneShare
}
