import { type Decimal, formatMoney, sum, ZERO } from './money.js'

/*
 * Legacy debts (历史遗留债务) as an event history: a debt is registered with what was outstanding
 * on its registration date; transfers (划转), repayments and reversals follow. Every balance is
 * computed from the events up to a date, so any date can be reconstructed and nothing is
 * rewritten. Dates are ISO strings (YYYY-MM-DD), which order as the days they name.
 */

export type DebtKind = 'bank_loan' | 'bond' | 'project_payable' | 'ppp' | 'other'
export const DEBT_KINDS: readonly DebtKind[] = ['bank_loan', 'bond', 'project_payable', 'ppp', 'other']

export interface DebtEvent {
  id: number
  kind: 'transfer' | 'repayment' | 'reversal'
  occurredOn: string
  districtCode?: string | undefined
  documentNo?: string | undefined
  /** Repayments positive; a reversal negates the repayment it corrects. */
  principal: Decimal
  interest: Decimal
  reversesEventId?: number | undefined
}

export interface DebtRecord {
  zoneCode: string
  kind: DebtKind
  registeredOn: string
  outstandingAtRegistration: Decimal
  events: readonly DebtEvent[]
}

export interface DebtPosition {
  /** Whether the debt was registered by the date at all. */
  registered: boolean
  outstanding: Decimal
  principalRepaid: Decimal
  interestPaid: Decimal
  /** The district responsible by the date (划转), if transferred. */
  transfer?: { districtCode: string, on: string, documentNo?: string | undefined }
}

/** A transfer event as the position shows it; the register holds a transfer only with its district (004_debts.sql checks it). */
function transferOf (event: DebtEvent): NonNullable<DebtPosition['transfer']> {
  if (event.districtCode === undefined) throw new Error(`debt event ${event.id}: a transfer names no district`)
  return { districtCode: event.districtCode, on: event.occurredOn, documentNo: event.documentNo }
}

/** The debt as it stood at the end of `asOf`. */
export function positionAsOf (debt: DebtRecord, asOf: string): DebtPosition {
  if (asOf < debt.registeredOn) return { registered: false, outstanding: ZERO, principalRepaid: ZERO, interestPaid: ZERO }
  const upTo = debt.events.filter((e) => e.occurredOn <= asOf)
  const payments = upTo.filter((e) => e.kind !== 'transfer')
  const principalRepaid = sum(payments.map((e) => e.principal))
  const transfer = upTo.find((e) => e.kind === 'transfer')
  return {
    registered: true,
    outstanding: debt.outstandingAtRegistration.minus(principalRepaid),
    principalRepaid,
    interestPaid: sum(payments.map((e) => e.interest)),
    ...(transfer === undefined ? {} : { transfer: transferOf(transfer) }),
  }
}

/**
 * The most principal a repayment on `date` may carry: the least outstanding on that day or any
 * later day with an event, so that no balance, then or afterwards, goes below zero.
 */
export function maxRepayable (debt: DebtRecord, date: string): Decimal {
  const later = [...new Set(debt.events.map((e) => e.occurredOn).filter((d) => d > date))]
  return [date, ...later].map((d) => positionAsOf(debt, d).outstanding).reduce((a, b) => (a.lessThan(b) ? a : b))
}

/** A reversing entry (冲正) carries the negated amounts of the repayment it corrects. */
export function reversalAmounts (repayment: DebtEvent): { principal: string, interest: string } {
  return { principal: formatMoney(repayment.principal.negated()), interest: formatMoney(repayment.interest.negated()) }
}

export type DebtGroupBy = 'district' | 'zone' | 'kind'

export interface DebtSummaryRow {
  /** The district (or null while the zone still carries the debt), the zone or the kind. */
  key: string | null
  debts: number
  registeredOutstanding: string
  principalRepaid: string
  interestPaid: string
  outstanding: string
  transferred: number
  transferredOutstanding: string
}

/** Balances as of a date, grouped, with a total row; every total is the sum of the rows above. */
export function summarizeDebts (debts: readonly DebtRecord[], asOf: string, groupBy: DebtGroupBy): { rows: DebtSummaryRow[], total: DebtSummaryRow } {
  const groups = new Map<string | null, Array<{ debt: DebtRecord, position: DebtPosition }>>()
  for (const debt of debts) {
    const position = positionAsOf(debt, asOf)
    if (!position.registered) continue
    const key = groupBy === 'zone' ? debt.zoneCode : groupBy === 'kind' ? debt.kind : position.transfer?.districtCode ?? null
    const list = groups.get(key) ?? []
    list.push({ debt, position })
    groups.set(key, list)
  }
  const row = (key: string | null, items: Array<{ debt: DebtRecord, position: DebtPosition }>): DebtSummaryRow => {
    const transferred = items.filter((i) => i.position.transfer !== undefined)
    return {
      key,
      debts: items.length,
      registeredOutstanding: formatMoney(sum(items.map((i) => i.debt.outstandingAtRegistration))),
      principalRepaid: formatMoney(sum(items.map((i) => i.position.principalRepaid))),
      interestPaid: formatMoney(sum(items.map((i) => i.position.interestPaid))),
      outstanding: formatMoney(sum(items.map((i) => i.position.outstanding))),
      transferred: transferred.length,
      transferredOutstanding: formatMoney(sum(transferred.map((i) => i.position.outstanding))),
    }
  }
  const sorted = [...groups.entries()].sort(([a], [b]) => (a ?? '').localeCompare(b ?? ''))
  return { rows: sorted.map(([key, items]) => row(key, items)), total: row(null, [...groups.values()].flat()) }
}
