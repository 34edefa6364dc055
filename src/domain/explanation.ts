import { Decimal, formatMoney, formatRate, sum } from './money.js'
import type { BandResult, BaseDerivation, GroupResult } from './types.js'

/** Explanations are Chinese by default and English on request (Accept-Language: en). */
export type Language = 'zh' | 'en'

const m = formatMoney
const r = formatRate

/** A band's product rate × amount, with its rounding shown when the exact product has more than two decimals. */
function product (band: BandResult): string {
  const shown = band.exactShare.decimalPlaces() > 2 ? `${band.exactShare.toString()} → ${m(band.zoneShare)}` : m(band.zoneShare)
  return `${exactAmount(band.portion)} × ${r(band.rate)} = ${shown}`
}

/** An amount that is whole cents prints as money; a fractional band limit prints exactly. */
function exactAmount (value: Decimal): string {
  return value.decimalPlaces() > 2 ? value.toString() : m(value)
}

function percent (ratio: Decimal): string {
  return `${ratio.times(100).toString()}%`
}

function adjustmentsText (d: BaseDerivation, lang: Language): string {
  return d.adjustments.map((a) => lang === 'zh'
    ? ` + 基数调整 ${m(a.amount)}（${a.fromYear}年起${a.documentNo === undefined ? '' : `，${a.documentNo}`}）`
    : ` + adjustment ${m(a.amount)} (from ${a.fromYear}${a.documentNo === undefined ? '' : `, ${a.documentNo}`})`).join('')
}

function baseLine (d: BaseDerivation, lang: Language): string {
  const adj = adjustmentsText(d, lang)
  const zh = lang === 'zh'
  switch (d.mode) {
    case 'given':
      return zh ? `基数 = ${m(d.base)}` : `Base = ${m(d.base)}`
    case 'fixed':
      return zh
        ? `基数（固定）= 核定基数 ${m(d.amount!)}（${d.baseYear}年）${adj} = ${m(d.base)}`
        : `Base (fixed) = verified base ${m(d.amount!)} (${d.baseYear})${adj} = ${m(d.base)}`
    case 'escalating': {
      const power = `${m(d.amount!)} × (1 + ${r(d.growthRate!)})^${d.years}`
      const exact = d.exactEscalated!
      const rounding = exact.decimalPlaces() > 2 ? ` = ${exact.toString()} → ${m(d.escalated!)}` : ` = ${m(d.escalated!)}`
      return zh
        ? `基数（递增）= 核定基数 ${power}${rounding}${adj} = ${m(d.base)}`
        : `Base (escalating) = verified base ${power}${rounding}${adj} = ${m(d.base)}`
    }
    case 'prior_year':
      return zh
        ? `基数（上年实际）= 上年实际收入 ${m(d.priorYearActual!)}${adj} = ${m(d.base)}`
        : `Base (prior year) = last year's actual revenue ${m(d.priorYearActual!)}${adj} = ${m(d.base)}`
  }
}

function bandLine (band: BandResult, k: number, count: number, lang: Language): string {
  const calc = product(band)
  if (count === 1) return lang === 'zh' ? `分成：${calc}` : `Share: ${calc}`
  if (band.limit !== undefined && band.upToGrowth !== undefined) {
    return lang === 'zh'
      ? `第${k + 1}档（增长不超过基数的${percent(band.upToGrowth)}，上限 ${exactAmount(band.limit)}）：${calc}`
      : `Band ${k + 1} (growth up to ${percent(band.upToGrowth)} of the base, limit ${exactAmount(band.limit)}): ${calc}`
  }
  return lang === 'zh' ? `第${k + 1}档（超出部分）：${calc}` : `Band ${k + 1} (the rest): ${calc}`
}

function shortfallLines (g: GroupResult, lang: Language): string[] {
  const shortfall = m(g.shareable!.negated())
  const zh = lang === 'zh'
  switch (g.shortfall) {
    case 'none':
      return [zh
        ? `可分成增量为负（短收 ${shortfall}），由属地政府承担：功能区分成 0.00`
        : `The shareable increment is negative (shortfall ${shortfall}); the district bears it: zone share 0.00`]
    case 'deduct': {
      const band = g.bands[0]!
      return [zh
        ? `可分成增量为负，功能区按第1档比例承担：${product(band)}`
        : `The shareable increment is negative; the zone bears its part at the first band's rate: ${product(band)}`]
    }
    case 'carry_forward':
      return [zh
        ? `可分成增量为负，短收 ${m(g.carriedShortfallOut!)} 结转以后年度增量抵扣：功能区分成 0.00`
        : `The shareable increment is negative; the shortfall of ${m(g.carriedShortfallOut!)} is carried forward against later increments: zone share 0.00`]
  }
}

/** The steps of one group's computation, in words, in the order §4–§5 take them. */
export function explainGroup (g: GroupResult, lang: Language): string[] {
  const zh = lang === 'zh'
  const lines: string[] = []
  if (g.basis === 'total') {
    const band = g.bands[0]!
    lines.push(zh
      ? `全额分成：实际 ${product(band)}`
      : `Whole amount shared: actual ${product(band)}`)
  } else {
    lines.push(baseLine(g.baseDerivation!, lang))
    lines.push(zh
      ? `增量 = 实际 ${m(g.actual)} − 基数 ${m(g.base!)} = ${m(g.increment!)}`
      : `Increment = actual ${m(g.actual)} − base ${m(g.base!)} = ${m(g.increment!)}`)
    if (g.shortfall === 'carry_forward') {
      lines.push(zh
        ? `可分成增量 = 增量 ${m(g.increment!)} − 上年结转短收 ${m(g.carriedShortfallIn!)} = ${m(g.shareable!)}`
        : `Shareable increment = increment ${m(g.increment!)} − shortfall carried in ${m(g.carriedShortfallIn!)} = ${m(g.shareable!)}`)
    }
    if (g.shareable!.isNegative()) {
      lines.push(...shortfallLines(g, lang))
    } else {
      g.bands.forEach((band, k) => lines.push(bandLine(band, k, g.bands.length, lang)))
      if (g.bands.length > 1) {
        const total = sum(g.bands.map((b) => b.zoneShare))
        lines.push(zh
          ? `各档合计 = ${g.bands.map((b) => m(b.zoneShare)).join(' + ')} = ${m(total)}`
          : `Bands together = ${g.bands.map((b) => m(b.zoneShare)).join(' + ')} = ${m(total)}`)
      }
    }
  }
  lines.push(zh
    ? `功能区分成 ${m(g.zoneShare)}；属地政府留成 = 实际 ${m(g.actual)} − ${m(g.zoneShare)} = ${m(g.districtShare)}`
    : `Zone share ${m(g.zoneShare)}; the district keeps actual ${m(g.actual)} − ${m(g.zoneShare)} = ${m(g.districtShare)}`)
  return lines
}

const DECIMAL_KEYS = new Set([
  'base', 'actual', 'increment', 'carriedShortfallIn', 'shareable', 'zoneShare', 'districtShare', 'carriedShortfallOut', 'amount',
  'growthRate', 'exactEscalated', 'escalated', 'priorYearActual', 'rate', 'limit', 'upToGrowth', 'portion', 'exactShare',
])

/**
 * A group's result as text to keep (Decimals as exact strings), and back: a stored settlement
 * explains itself in either language from the very figures it computed.
 */
export function serializeGroupResult (g: GroupResult): string {
  return JSON.stringify(g)
}

export function deserializeGroupResult (text: string): GroupResult {
  return JSON.parse(text, (key, value: unknown) => DECIMAL_KEYS.has(key) && typeof value === 'string' ? new Decimal(value) : value) as GroupResult
}
