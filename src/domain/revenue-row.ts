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
}

export interface CheckedRevenueRow {
  zoneCode: string
  districtCode: string
  categoryCode: string
  year: number
  month: number
  amount: string
}

export type RowCheck = { ok: true, row: CheckedRevenueRow } | { ok: false, problems: Array<{ field: string, message: string }> }

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

/** `onlyDistrict`: the district a district key is scoped to, if any. */
export function checkRevenueRow (input: RevenueRowInput, refs: RevenueRowReferences, onlyDistrict?: string): RowCheck {
  const problems: Array<{ field: string, message: string }> = []
  const host = refs.zoneHosts.get(input.zoneCode)
  if (host === undefined) problems.push({ field: 'zoneCode', message: `no zone ${quoted(input.zoneCode)} is registered` })
  const districtCode = input.districtCode === undefined || input.districtCode === '' ? host : input.districtCode
  if (districtCode !== undefined && !refs.districts.has(districtCode)) {
    problems.push({ field: 'districtCode', message: `no district ${quoted(districtCode)} is registered` })
  } else if (districtCode !== undefined && onlyDistrict !== undefined && districtCode !== onlyDistrict) {
    problems.push({ field: 'districtCode', message: `district ${quoted(districtCode)} is outside this key's scope (${onlyDistrict})` })
  }
  if (!refs.categories.has(input.category)) problems.push({ field: 'category', message: `no revenue category ${quoted(input.category)}` })
  const year = whole(input.year)
  if (year === undefined || year < 1990 || year > 2100) problems.push({ field: 'year', message: 'must be a year from 1990 to 2100' })
  const month = whole(input.month)
  if (month === undefined || month < 1 || month > 12) problems.push({ field: 'month', message: 'must be a month from 1 to 12' })
  if (!MONEY.test(input.amount)) problems.push({ field: 'amount', message: 'must be an amount in yuan with at most two decimals, e.g. 1000.00' })
  if (problems.length > 0 || districtCode === undefined || year === undefined || month === undefined) return { ok: false, problems }
  return { ok: true, row: { zoneCode: input.zoneCode, districtCode, categoryCode: input.category, year, month, amount: input.amount } }
}
