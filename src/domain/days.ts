/*
 * Days as the service takes them: a real calendar day written YYYY-MM-DD, in the years a budget
 * office's records can hold (1900–2199). Year 0000, which the date format lets through and
 * PostgreSQL refuses, and days centuries away are refused as input (400), not stored.
 */

/** A day written YYYY-MM-DD from 1900-01-01 to 2199-12-31 (whether it exists is checked as format "date"). */
export const DAY_PATTERN = '^(19|20|21)\\d{2}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])$'

const DAY = new RegExp(DAY_PATTERN)

/** A real calendar day written YYYY-MM-DD, from 1900-01-01 to 2199-12-31. */
export function isDay (text: string): boolean {
  if (!DAY.test(text)) return false
  const date = new Date(`${text}T00:00:00Z`)
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === text
}

/**
 * An advance (预拨) for fiscal year Y is paid from the year before (ahead of the year) to the year
 * after (before the year is settled): a paidOn further away cannot be right.
 */
export function advancePaidInWindow (fiscalYear: number, paidOn: string): boolean {
  const year = yearOf(paidOn)
  return year >= fiscalYear - 1 && year <= fiscalYear + 1
}

/**
 * The instants of Beijing's days `from` to `to` (both written YYYY-MM-DD, both included), as ISO
 * timestamps: from the first day's midnight at UTC+8 up to, not including, the midnight after the last.
 */
export function beijingDays (from: string, to: string): { since: string, before: string } {
  const midnight = (day: string) => Date.parse(`${day}T00:00:00+08:00`)
  return { since: new Date(midnight(from)).toISOString(), before: new Date(midnight(to) + 86_400_000).toISOString() }
}

/** The calendar year of a day written YYYY-MM-DD (an integer). */
export function yearOf (day: string): number {
  return Number.parseInt(day.slice(0, 4), 10)
}

/** The last day of the year after `day`'s. */
export function endOfNextYear (day: string): string {
  return `${yearOf(day) + 1}-12-31`
}
