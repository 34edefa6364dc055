import { repeatedMessages } from './repeats.js'
import { MONEY_PATTERN } from './money.js'

/*
 * One revenue record as it arrives (a JSON batch element or a CSV line), checked against the
 * registry: the zone, the district (by default the zone's host) and the category must exist,
 * the month be 1–12, the amount a yuan string with at most two decimals. A district bureau
 * records revenue for its own district only.
 */

export interface RevenueRowInput {
  zoneCode: string
  districtCode?: string | undefined
  category: string
  year: string | number
  month: string | number
  amount: string
}

export interface RevenueRowReferences {
  zoneHosts: ReadonlyMap<string, string>
  districts: ReadonlySet<string>
  categories: ReadonlySet<string>
  /** For a district key: the zones it may see (hosted by its district, or bound to it by an agreement). */
  zonesInScope?: ReadonlySet<string> | undefined
}

export interface CheckedRevenueRow {
  zoneCode: string
  districtCode: string
  categoryCode: string
  year: number
  month: number
  amount: string
}

/** The month a row gives: every field of it but the amount. */
export type RevenueMonthKey = Omit<CheckedRevenueRow, 'amount'>

/**
 * A row checked: loadable, or its problems; a row refused for its amount alone still names the month
 * it gives (`month`), so that another row of the same month is not loaded as if it were the only one.
 */
export type RowCheck = { ok: true, row: CheckedRevenueRow } | { ok: false, problems: Array<{ field: string, message: string }>, month?: RevenueMonthKey }

const MONEY = new RegExp(MONEY_PATTERN)

/** A code as a message quotes it: a CSV cell may be any length, a message is at most 500 characters. */
function quoted (value: string): string {
  return value.length > 64 ? `${value.slice(0, 64)}…` : value
}
const WHOLE = /^\d{1,4}$/

function whole (value: string | number): number | undefined {
  const text = String(value)
  return WHOLE.test(text) ? Number.parseInt(text, 10) : undefined
}

/**
 * `onlyDistrict`: the district a district key is scoped to, if any. For such a key a zone or a
 * district outside its scope reads exactly as one that does not exist (api-contract.md, Roles and
 * scope): "no zone X in this key's scope", "no district X in this key's scope" — and a zone it may
 * not see lends no host district to check either, so nothing tells the two apart.
 */
export function checkRevenueRow (input: RevenueRowInput, refs: RevenueRowReferences, onlyDistrict?: string): RowCheck {
  const problems: Array<{ field: string, message: string }> = []
  const scoped = onlyDistrict !== undefined
  const missing = (what: 'zone' | 'district', code: string) => scoped ? `no ${what} ${quoted(code)} in this key's scope` : `no ${what} ${quoted(code)} is registered`
  const zoneSeen = refs.zoneHosts.has(input.zoneCode) && (!scoped || refs.zonesInScope?.has(input.zoneCode) === true)
  const host = zoneSeen ? refs.zoneHosts.get(input.zoneCode) : undefined
  if (!zoneSeen) problems.push({ field: 'zoneCode', message: missing('zone', input.zoneCode) })
  const districtCode = input.districtCode === undefined || input.districtCode === '' ? host : input.districtCode
  if (districtCode !== undefined && (!refs.districts.has(districtCode) || (scoped && districtCode !== onlyDistrict))) {
    problems.push({ field: 'districtCode', message: missing('district', districtCode) })
  }
  if (!refs.categories.has(input.category)) problems.push({ field: 'category', message: `no revenue category ${quoted(input.category)}` })
  const year = whole(input.year)
  if (year === undefined || year < 1990 || year > 2100) problems.push({ field: 'year', message: 'must be a year from 1990 to 2100' })
  const month = whole(input.month)
  if (month === undefined || month < 1 || month > 12) problems.push({ field: 'month', message: 'must be a month from 1 to 12' })
  if (!MONEY.test(input.amount)) problems.push({ field: 'amount', message: 'must be an amount in yuan with at most 15 integer digits and two decimals, e.g. 1000.00' })
  if (problems.length > 0 || districtCode === undefined || year === undefined || month === undefined) {
    const given = districtCode !== undefined && year !== undefined && month !== undefined && problems.every((p) => p.field === 'amount')
    return given ? { ok: false, problems, month: { zoneCode: input.zoneCode, districtCode, categoryCode: input.category, year, month } } : { ok: false, problems }
  }
  return { ok: true, row: { zoneCode: input.zoneCode, districtCode, categoryCode: input.category, year, month, amount: input.amount } }
}

/**
 * What a batch says of the records it holds twice (the same zone, district, category, year and
 * month): one amount per month, so each of them is refused naming the others, and none is
 * dropped without a word. `lines` are the records' indexes (JSON) or line numbers (CSV), in order.
 */
export function repeatedMonthMessages (lines: readonly number[], noun: 'record' | 'line', count = lines.length): Array<{ line: number, message: string }> {
  return repeatedMessages(lines, noun, 'the same zone, district, category, year and month: one amount per month, in one record', count)
}
