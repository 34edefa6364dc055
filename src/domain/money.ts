import * as decimalModule from 'decimal.js'

// decimal.js ships ESM whose only export is the default constructor, with CommonJS-style types;
// take the constructor from wherever this module system put it.
const DecimalJs: typeof decimalModule.Decimal =
  (decimalModule as unknown as { default?: typeof decimalModule.Decimal }).default ?? decimalModule.Decimal

/**
 * The one Decimal constructor of the service (calculation-rules.md §1).
 *
 * The precision is far above what any figure needs: amounts have at most 17 digits and rates
 * six decimals, and the engine never divides, so every product and power is exact
 * (an escalating base over 100 years at a six-decimal growth rate has at most 600 decimals).
 * Rounding is half up, away from zero, and happens only where `roundToCent` is called.
 */
export const Decimal = DecimalJs.clone({
  precision: 1000,
  rounding: DecimalJs.ROUND_HALF_UP,
  toExpNeg: -1000,
  toExpPos: 1000,
})
export type Decimal = InstanceType<typeof Decimal>

/** Amounts in JSON: a string, at most 15 integer digits and two decimals (§1). */
export const MONEY_PATTERN = '^-?\\d{1,15}(\\.\\d{1,2})?$'
/** Amounts that may not be negative (carried shortfall). */
export const NON_NEGATIVE_MONEY_PATTERN = '^\\d{1,15}(\\.\\d{1,2})?$'
/** Rates: a string between 0 and 1 with at most six decimals (§1). */
export const RATE_PATTERN = '^(0(\\.\\d{1,6})?|1(\\.0{1,6})?)$'
/** Growth ratios (band limits, escalation): at most six decimals, sign allowed for escalation. */
export const GROWTH_PATTERN = '^-?\\d{1,3}(\\.\\d{1,6})?$'

export const ZERO = new Decimal(0)

/** Half up, away from zero, to 0.01 yuan (§1): 0.005 → 0.01, −0.005 → −0.01. */
export function roundToCent (value: Decimal): Decimal {
  return value.toDecimalPlaces(2, Decimal.ROUND_HALF_UP)
}

/** Every printed amount has exactly two decimals (§1). Callers round first where §4/§5 say. */
export function formatMoney (value: Decimal): string {
  // toString prints plain notation (toExpNeg/toExpPos above) and never "-0"; padding it is
  // several times cheaper than toFixed, and refuses a value that would need rounding.
  const text = value.toString()
  const dot = text.indexOf('.')
  if (dot === -1) return `${text}.00`
  const decimals = text.length - dot - 1
  if (decimals === 2) return text
  if (decimals === 1) return `${text}0`
  throw new Error(`formatMoney: ${text} has more than two decimals; round it where the rules say first`)
}

/** Rates print with at least two decimals and no trailing zeros beyond that: "0.60", "0.625". */
export function formatRate (value: Decimal): string {
  const text = value.toString()
  const dot = text.indexOf('.')
  if (dot === -1) return `${text}.00`
  return text.length - dot - 1 === 1 ? `${text}0` : text
}

export function money (text: string): Decimal {
  return new Decimal(text)
}

export function sum (values: readonly Decimal[]): Decimal {
  return values.reduce((acc, v) => acc.plus(v), ZERO)
}

export function maxDecimal (a: Decimal, b: Decimal): Decimal {
  return a.greaterThan(b) ? a : b
}

export function minDecimal (a: Decimal, b: Decimal): Decimal {
  return a.lessThan(b) ? a : b
}

/** An amount as a printed statement shows it: 元 with thousands separators, "1,234,567.89", "-12,000.00". */
export function formatYuan (amount: string): string {
  const match = /^(-?)(\d+)\.(\d{2})$/.exec(amount)
  if (match === null) throw new Error(`formatYuan: "${amount}" is not an amount with two decimals`)
  const [, sign = '', whole = '', cents = ''] = match
  return `${sign}${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${cents}`
}

/** A rate as a percentage: "0.60" → "60%", "0.625" → "62.5%". */
export function formatPercent (rate: string): string {
  return `${new Decimal(rate).times(100).toString()}%`
}

/** The unit a chart's money axis is drawn in: 元, or 万元 (10,000 元) when the figures are large. */
export type ChartUnit = '元' | '万元'

/** 万元 when the largest amount reaches 1,000,000.00 元 (100 万元), 元 otherwise. */
export function chartUnit (amounts: readonly string[]): ChartUnit {
  const largest = amounts.reduce((max, a) => maxDecimal(max, money(a).abs()), ZERO)
  return largest.greaterThanOrEqualTo(1_000_000) ? '万元' : '元'
}

/** An amount in the chart's unit, two decimals (万元 rounded half up to the hundredth): "1330000.00" → "133.00". */
export function amountInUnit (amount: string, unit: ChartUnit): string {
  return unit === '元' ? formatMoney(money(amount)) : money(amount).dividedBy(10_000).toDecimalPlaces(2, Decimal.ROUND_HALF_UP).toFixed(2)
}
