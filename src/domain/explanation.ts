import { Decimal, formatMoney, formatRate, sum } from './money.js'
import {
  BASE_MODES, BASES, type BandResult, type BaseAdjustment, type BaseDerivation, FUNDING_METHODS, type GroupResult, type IncrementGroupResult, type PeriodInYear,
  SHORTFALL_POLICIES, TRANSFER_DIRECTIONS, type TransferDirection, type TransferFunding, type TransferInYear,
} from './types.js'
import type { LineShortfallDisposition } from './ledger.js'

/** Explanations are Chinese by default and English on request (Accept-Language: en). */
export type Language = 'zh' | 'en'

const m = formatMoney
/** An amount subtracted, in parentheses when it is negative: "0.00 − (-20.00)", never "0.00 − -20.00". */
const minus = (value: Decimal): string => value.lt(0) ? `(${m(value)})` : m(value)
const r = formatRate

/** A computed amount as it was rounded: "exact → rounded" when the exact value has more than two decimals, else the amount. */
function roundedFrom (exact: Decimal, rounded: Decimal): string {
  return exact.decimalPlaces() > 2 ? `${exact.toString()} → ${m(rounded)}` : m(rounded)
}

/** A band's product rate × amount, with its rounding shown when the exact product has more than two decimals. */
function product (band: BandResult): string {
  return `${exactAmount(band.portion)} × ${r(band.rate)} = ${roundedFrom(band.exactShare, band.zoneShare)}`
}

/** An amount that is whole cents prints as money; a fractional band limit prints exactly. */
function exactAmount (value: Decimal): string {
  return value.decimalPlaces() > 2 ? value.toString() : m(value)
}

function percent (ratio: Decimal): string {
  return `${ratio.times(100).toString()}%`
}

/** A term added to or taken from the base: " + label amount" or " − label amount", the amount as a magnitude. */
function term (amount: Decimal, label: string): string {
  return amount.lt(0) ? ` − ${label} ${m(amount.abs())}` : ` + ${label} ${m(amount)}`
}

function adjustmentsText (d: BaseDerivation, lang: Language): string {
  return d.adjustments.map((a) => lang === 'zh'
    ? `${term(a.amount, '基数调整')}（${a.fromYear}年起${a.documentNo === undefined ? '' : `，${a.documentNo}`}）`
    : `${term(a.amount, 'adjustment')} (from ${a.fromYear}${a.documentNo === undefined ? '' : `, ${a.documentNo}`})`).join('')
}

/** F(Y) of a transfer, as computed: the amount; headcount × unit cost; amount × (1 + g)^n, with its rounding. */
function fundingText (x: TransferInYear, year: number, lang: Language): string {
  const f = x.funding
  const rounded = roundedFrom(x.exactFunding, x.fundingForYear)
  switch (f.method) {
    case 'fixed': return m(x.fundingForYear)
    case 'headcount': return lang === 'zh'
      ? `${f.headcount}人 × ${m(f.unitCost)} = ${rounded}`
      : `${f.headcount} staff × ${m(f.unitCost)} = ${rounded}`
    case 'indexed': return `${m(f.amount)} × (1 + ${r(f.growthRate)})^${year - x.fromYear} = ${rounded}`
  }
}

/**
 * Each responsibility transfer in force, as a term of the base: F(Y) added when the function went
 * to the district, taken when it went to the zone, then its function, direction, document and how
 * F(Y) was computed, in parentheses, so that the line's last "=" is the base (§4).
 */
function transfersText (d: BaseDerivation, lang: Language): string {
  return (d.transfers ?? []).map((x) => {
    const toDistrict = x.direction === 'to_district'
    const y = x.fiscalYear
    const funding = toDistrict ? x.fundingForYear : x.fundingForYear.negated()
    return lang === 'zh'
      ? `${term(funding, '事权划转')}（「${x.function}」${toDistrict ? '划归属地' : '划归功能区'}，${x.documentNo}，F(${y}) = ${fundingText(x, y, lang)}）`
      : `${term(funding, 'transfer')} ("${x.function}" ${toDistrict ? 'to the district' : 'to the zone'}, ${x.documentNo}, F(${y}) = ${fundingText(x, y, lang)})`
  }).join('')
}

/**
 * How a group's base was found, as one line whose every "=" holds: the starting amount, each
 * adjustment and transfer as a signed term, then the base. An escalated base with terms shows its
 * power in parentheses after the rounded amount, so "+ term" follows an amount, not an equation.
 */
function baseLine (d: BaseDerivation, lang: Language): string {
  const adj = adjustmentsText(d, lang) + transfersText(d, lang)
  const zh = lang === 'zh'
  switch (d.mode) {
    case 'given':
      return zh ? `基数 = ${m(d.base)}` : `Base = ${m(d.base)}`
    case 'fixed':
      return zh
        ? `基数（固定）= 核定基数 ${m(d.amount)}（${d.baseYear}年）${adj} = ${m(d.base)}`
        : `Base (fixed) = verified base ${m(d.amount)} (${d.baseYear})${adj} = ${m(d.base)}`
    case 'escalating': {
      const computed = `${m(d.amount)} × (1 + ${r(d.growthRate)})^${d.years} = ${roundedFrom(d.exactEscalated, d.escalated)}`
      if (adj === '') return zh ? `基数（递增）= 核定基数 ${computed}` : `Base (escalating) = verified base ${computed}`
      return zh
        ? `基数（递增）= 递增后核定基数 ${m(d.escalated)}（${computed}）${adj} = ${m(d.base)}`
        : `Base (escalating) = escalated verified base ${m(d.escalated)} (${computed})${adj} = ${m(d.base)}`
    }
    case 'prior_year':
      return zh
        ? `基数（上年实际）= 上年实际收入 ${m(d.priorYearActual)}${adj} = ${m(d.base)}`
        : `Base (prior year) = last year's actual revenue ${m(d.priorYearActual)}${adj} = ${m(d.base)}`
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

/**
 * What becomes of a shortfall carried out (§5 step 5, carry_forward): carried to later years, or, in
 * the agreement's last year, as the line's disposition says (§6).
 */
function carriedShortfallLine (g: IncrementGroupResult, lang: Language, disposition: LineShortfallDisposition | undefined): string {
  const shortfall = m(g.carriedShortfallOut)
  const zh = lang === 'zh'
  switch (disposition?.kind) {
    case undefined:
      return zh
        ? `可分成增量为负，短收 ${shortfall} 结转以后年度增量抵扣：功能区分成 0.00`
        : `The shareable increment is negative; the shortfall of ${shortfall} is carried forward against later increments: zone share 0.00`
    case 'carried':
      return zh
        ? `可分成增量为负，短收 ${shortfall} 结转后续分成办法（编号 ${disposition.agreementId}）以后年度增量抵扣：功能区分成 0.00`
        : `The shareable increment is negative; the shortfall of ${shortfall} is carried into the next version of the agreement (id ${disposition.agreementId}) against its later increments: zone share 0.00`
    case 'written_off':
      return zh
        ? `可分成增量为负，短收 ${shortfall} 于分成办法最后一年予以核销，不转入后续办法：功能区分成 0.00`
        : `The shareable increment is negative; the shortfall of ${shortfall} is written off in the agreement's last year, not carried into a next version: zone share 0.00`
    case 'awaiting_write_off':
      return zh
        ? `可分成增量为负，短收 ${shortfall} 待核销（本年度已为分成办法最后一年）：功能区分成 0.00`
        : `The shareable increment is negative; the shortfall of ${shortfall} awaits its write-off (the year has become the agreement's last): zone share 0.00`
  }
}

function shortfallLines (g: IncrementGroupResult, lang: Language, disposition: LineShortfallDisposition | undefined): string[] {
  const shortfall = m(g.shareable.negated())
  const zh = lang === 'zh'
  switch (g.shortfall) {
    case 'none':
      return [zh
        ? `可分成增量为负（短收 ${shortfall}），由属地政府承担：功能区分成 0.00`
        : `The shareable increment is negative (shortfall ${shortfall}); the district bears it: zone share 0.00`]
    case 'deduct': {
      // A deducted shortfall is one band: round(rate₁ × S), §5 step 5.
      const [band] = g.bands
      if (band === undefined) throw new Error(`group ${g.name}: a deducted shortfall has its band`)
      return [zh
        ? `可分成增量为负，功能区按第1档比例承担：${product(band)}`
        : `The shareable increment is negative; the zone bears its part at the first band's rate: ${product(band)}`]
    }
    case 'carry_forward':
      return [carriedShortfallLine(g, lang, disposition)]
  }
}

/** A responsibility transfer (事权划转) behind a group's base as a statement cites it: F(Y) as it moved the base, to the cent (§4). */
export interface CitedTransfer {
  function: string
  direction: TransferDirection
  documentNo: string
  baseMove: string
}

/** The responsibility transfers behind a group's base in its year; none when none is in force. */
export function transfersCited (g: GroupResult): CitedTransfer[] {
  if (g.basis !== 'increment') return []
  return (g.baseDerivation.transfers ?? []).map((x) => ({ function: x.function, direction: x.direction, documentNo: x.documentNo, baseMove: m(x.baseMove) }))
}

/**
 * transfersCited of a group's stored result (serializeGroupResult's text), read back only when it
 * names transfers at all: a national statement has tens of thousands of groups, most without. A
 * statement prints the figures stored in the line's columns; a result that is not what
 * serializeGroupResult wrote is found by GET …/verification, which reads every line back.
 */
export function storedTransfersCited (result: string): CitedTransfer[] {
  return result.includes('"transfers"') ? transfersCited(deserializeGroupResult(result)) : []
}

/**
 * The transfers' citation for a statement's cell or note: each with its function, direction,
 * F(Y) signed as it moved the base (printed by `amount`: as stored for a cell, with thousands
 * separators on the printed page) and its document.
 */
export function transfersCitation (cited: readonly CitedTransfer[], amount: (baseMove: string) => string = (baseMove) => baseMove): string {
  return cited.map((x) =>
    `${x.function} ${x.direction === 'to_district' ? '划归属地 to the district' : '划归功能区 to the zone'} ${x.baseMove.startsWith('-') ? '' : '+'}${amount(x.baseMove)}（${x.documentNo}）`).join('；')
}

/** The schedule period (分段期限) whose bands the year used (§2). */
function periodLine (p: PeriodInYear, lang: Language): string {
  if (lang === 'zh') {
    const years = p.toYear === null ? `${p.fromYear}年起` : `${p.fromYear}–${p.toYear}年`
    return `分段期限：第${p.number}段（共${p.of}段），${years}，适用本段分成比例`
  }
  const years = p.toYear === null ? `from ${p.fromYear} on` : `${p.fromYear}–${p.toYear}`
  return `Rate schedule: period ${p.number} of ${p.of}, ${years}: its bands apply`
}

/**
 * The steps of one group's computation, in words, in the order §4–§5 take them. `disposition`: on a
 * settled line, what becomes of the shortfall it carries out of the agreement's last year (§6); a
 * calculation has none.
 */
export function explainGroup (g: GroupResult, lang: Language, disposition?: LineShortfallDisposition): string[] {
  const zh = lang === 'zh'
  const lines: string[] = []
  if (g.period !== undefined) lines.push(periodLine(g.period, lang))
  if (g.basis === 'total') {
    const [band] = g.bands
    lines.push(zh
      ? `全额分成：实际 ${product(band)}`
      : `Whole amount shared: actual ${product(band)}`)
  } else {
    lines.push(baseLine(g.baseDerivation, lang))
    lines.push(zh
      ? `增量 = 实际 ${m(g.actual)} − 基数 ${minus(g.base)} = ${m(g.increment)}`
      : `Increment = actual ${m(g.actual)} − base ${minus(g.base)} = ${m(g.increment)}`)
    if (g.shortfall === 'carry_forward') {
      lines.push(zh
        ? `可分成增量 = 增量 ${m(g.increment)} − 上年结转短收 ${minus(g.carriedShortfallIn)} = ${m(g.shareable)}`
        : `Shareable increment = increment ${m(g.increment)} − shortfall carried in ${minus(g.carriedShortfallIn)} = ${m(g.shareable)}`)
    }
    if (g.shareable.isNegative()) {
      lines.push(...shortfallLines(g, lang, disposition))
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
    ? `功能区分成 ${m(g.zoneShare)}；属地政府留成 = 实际 ${m(g.actual)} − ${minus(g.zoneShare)} = ${m(g.districtShare)}`
    : `Zone share ${m(g.zoneShare)}; the district keeps actual ${m(g.actual)} − ${minus(g.zoneShare)} = ${m(g.districtShare)}`)
  return lines
}

/**
 * A group's result as text to keep (Decimals as exact strings), and back: a stored settlement
 * explains itself in either language from the very figures it computed.
 */
export function serializeGroupResult (g: GroupResult): string {
  return JSON.stringify(g)
}

/**
 * Reads the text back field by field: a result of its `basis`, with the base derivation of its
 * `mode`, every figure a Decimal again; text that is not what serializeGroupResult wrote is an
 * error naming the field, never a result with figures missing.
 */
export function deserializeGroupResult (text: string): GroupResult {
  const g = objectAt(JSON.parse(text), '')
  const name = stringAt(g, 'name', '')
  const basis = oneOfAt(g, 'basis', BASES, '')
  const shortfall = oneOfAt(g, 'shortfall', SHORTFALL_POLICIES, '')
  const actual = decimalAt(g, 'actual', '')
  const bands = arrayAt(g, 'bands', '').map((b, k) => readBand(b, `/bands/${k}`))
  const zoneShare = decimalAt(g, 'zoneShare', '')
  const districtShare = decimalAt(g, 'districtShare', '')
  const period = g['period'] === undefined ? {} : { period: readPeriod(g['period'], '/period') }
  if (basis === 'total') {
    const [band, ...more] = bands
    if (band === undefined || more.length > 0) throw malformed('/bands', 'one band (basis total)')
    return { name, basis, shortfall, actual, bands: [band], zoneShare, districtShare, ...period }
  }
  return {
    ...period,
    name, basis, shortfall,
    base: decimalAt(g, 'base', ''),
    baseDerivation: readBaseDerivation(g['baseDerivation'], '/baseDerivation'),
    actual,
    increment: decimalAt(g, 'increment', ''),
    carriedShortfallIn: decimalAt(g, 'carriedShortfallIn', ''),
    shareable: decimalAt(g, 'shareable', ''),
    bands, zoneShare, districtShare,
    carriedShortfallOut: decimalAt(g, 'carriedShortfallOut', ''),
  }
}

const DERIVATION_MODES: readonly BaseDerivation['mode'][] = ['given', ...BASE_MODES]

function readBaseDerivation (value: unknown, at: string): BaseDerivation {
  const d = objectAt(value, at)
  const mode = oneOfAt(d, 'mode', DERIVATION_MODES, at)
  const adjustments = arrayAt(d, 'adjustments', at).map((a, i) => readAdjustment(a, `${at}/adjustments/${i}`))
  const transfers = d['transfers'] === undefined ? {} : { transfers: arrayAt(d, 'transfers', at).map((x, i) => readTransfer(x, `${at}/transfers/${i}`)) }
  const base = decimalAt(d, 'base', at)
  switch (mode) {
    case 'given':
      return { mode, adjustments, ...transfers, base }
    case 'fixed':
      return { mode, baseYear: integerAt(d, 'baseYear', at), amount: decimalAt(d, 'amount', at), adjustments, ...transfers, base }
    case 'escalating':
      return {
        mode, baseYear: integerAt(d, 'baseYear', at), amount: decimalAt(d, 'amount', at), growthRate: decimalAt(d, 'growthRate', at),
        years: integerAt(d, 'years', at), exactEscalated: decimalAt(d, 'exactEscalated', at), escalated: decimalAt(d, 'escalated', at),
        adjustments, ...transfers, base,
      }
    case 'prior_year':
      return { mode, baseYear: integerAt(d, 'baseYear', at), priorYearActual: decimalAt(d, 'priorYearActual', at), adjustments, ...transfers, base }
  }
}

function readFunding (value: unknown, at: string): TransferFunding {
  const f = objectAt(value, at)
  const method = oneOfAt(f, 'method', FUNDING_METHODS, at)
  switch (method) {
    case 'fixed': return { method, amount: decimalAt(f, 'amount', at) }
    case 'headcount': return { method, headcount: integerAt(f, 'headcount', at), unitCost: decimalAt(f, 'unitCost', at) }
    case 'indexed': return { method, amount: decimalAt(f, 'amount', at), growthRate: decimalAt(f, 'growthRate', at) }
  }
}

function readTransfer (value: unknown, at: string): TransferInYear {
  const x = objectAt(value, at)
  return {
    function: stringAt(x, 'function', at),
    direction: oneOfAt(x, 'direction', TRANSFER_DIRECTIONS, at),
    fromYear: integerAt(x, 'fromYear', at),
    ...(x['toYear'] === undefined ? {} : { toYear: integerAt(x, 'toYear', at) }),
    documentNo: stringAt(x, 'documentNo', at),
    funding: readFunding(x['funding'], `${at}/funding`),
    fiscalYear: integerAt(x, 'fiscalYear', at),
    exactFunding: decimalAt(x, 'exactFunding', at),
    fundingForYear: decimalAt(x, 'fundingForYear', at),
    baseMove: decimalAt(x, 'baseMove', at),
  }
}

function readPeriod (value: unknown, at: string): PeriodInYear {
  const p = objectAt(value, at)
  const toYear = p['toYear']
  return {
    fromYear: integerAt(p, 'fromYear', at),
    toYear: toYear === null ? null : integerAt(p, 'toYear', at),
    number: integerAt(p, 'number', at),
    of: integerAt(p, 'of', at),
  }
}

/** An adjustment as the explanation reads it (stored ones may carry more, e.g. their id). */
function readAdjustment (value: unknown, at: string): BaseAdjustment {
  const a = objectAt(value, at)
  return {
    fromYear: integerAt(a, 'fromYear', at),
    amount: decimalAt(a, 'amount', at),
    ...(a['reason'] === undefined ? {} : { reason: stringAt(a, 'reason', at) }),
    ...(a['documentNo'] === undefined ? {} : { documentNo: stringAt(a, 'documentNo', at) }),
  }
}

function readBand (value: unknown, at: string): BandResult {
  const b = objectAt(value, at)
  return {
    rate: decimalAt(b, 'rate', at),
    ...(b['limit'] === undefined ? {} : { limit: decimalAt(b, 'limit', at) }),
    ...(b['upToGrowth'] === undefined ? {} : { upToGrowth: decimalAt(b, 'upToGrowth', at) }),
    amount: decimalAt(b, 'amount', at),
    portion: decimalAt(b, 'portion', at),
    exactShare: decimalAt(b, 'exactShare', at),
    zoneShare: decimalAt(b, 'zoneShare', at),
  }
}

type JsonObject = Readonly<Record<string, unknown>>

function malformed (at: string, what: string): Error {
  return new Error(`stored group result: ${at === '' ? 'the result' : at} is not ${what}`)
}

function objectAt (value: unknown, at: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed(at, 'an object')
  // A JSON object: string keys, values still to be checked.
  return value as JsonObject
}

function arrayAt (o: JsonObject, key: string, at: string): unknown[] {
  const value = o[key]
  if (!Array.isArray(value)) throw malformed(`${at}/${key}`, 'an array')
  return value
}

function stringAt (o: JsonObject, key: string, at: string): string {
  const value = o[key]
  if (typeof value !== 'string') throw malformed(`${at}/${key}`, 'a string')
  return value
}

function integerAt (o: JsonObject, key: string, at: string): number {
  const value = o[key]
  if (typeof value !== 'number' || !Number.isInteger(value)) throw malformed(`${at}/${key}`, 'an integer')
  return value
}

/** Decimals are stored as their exact strings (Decimal's toJSON). */
function decimalAt (o: JsonObject, key: string, at: string): Decimal {
  const value = o[key]
  if (typeof value !== 'string') throw malformed(`${at}/${key}`, 'a decimal string')
  try {
    return new Decimal(value)
  } catch {
    throw malformed(`${at}/${key}`, 'a decimal string')
  }
}

function oneOfAt<T extends string> (o: JsonObject, key: string, values: readonly T[], at: string): T {
  const value = values.find((v) => v === o[key])
  if (value === undefined) throw malformed(`${at}/${key}`, `one of ${values.join(', ')}`)
  return value
}
