import { endOfNextYear, isDay } from './days.js'
import { InputError, type Problem, Problems } from './errors.js'
import { MAX_FIGURE_DIGITS } from './magnitudes.js'
import { Decimal, formatMoney, money, MONEY_PATTERN, RATE_PATTERN, sum, ZERO } from './money.js'
import { noteOf } from './review.js'
import { saysSomething } from './text.js'

/*
 * Legacy debts (历史遗留债务) as an event history: a debt is registered with what was outstanding
 * on its registration date; transfers (划转), repayments and reversals follow. Every balance is
 * computed from the events up to a date, so any date can be reconstructed and nothing is
 * rewritten. Dates are ISO strings (YYYY-MM-DD), which order as the days they name.
 */

export type DebtKind = 'bank_loan' | 'bond' | 'project_payable' | 'ppp' | 'other'
export const DEBT_KINDS: readonly DebtKind[] = ['bank_loan', 'bond', 'project_payable', 'ppp', 'other']
/** Each kind as a budget office names it (债务类型), for the tables it prints. */
export const DEBT_KIND_TITLES: Readonly<Record<DebtKind, string>> = { bank_loan: '银行贷款', bond: '债券', project_payable: '工程欠款', ppp: 'PPP项目', other: '其他' }

/** 划转, 偿还, 冲正 */
export type DebtEventKind = 'transfer' | 'repayment' | 'reversal'
export const DEBT_EVENT_KINDS: readonly DebtEventKind[] = ['transfer', 'repayment', 'reversal']

export interface DebtEvent {
  id: number
  kind: DebtEventKind
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
function transferPosition (event: DebtEvent): NonNullable<DebtPosition['transfer']> {
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
    ...(transfer === undefined ? {} : { transfer: transferPosition(transfer) }),
  }
}

/** 状态: who carries the debt on the day, or that it is repaid or not registered yet. */
export type DebtStatus = 'zone' | 'transferred' | 'repaid' | 'not_registered'
export const DEBT_STATUSES: readonly DebtStatus[] = ['zone', 'transferred', 'repaid', 'not_registered']

export function debtStatus (position: DebtPosition): DebtStatus {
  if (!position.registered) return 'not_registered'
  if (position.outstanding.isZero()) return 'repaid'
  return position.transfer === undefined ? 'zone' : 'transferred'
}

/**
 * The most principal a repayment on `date` may carry (`limit`): the least outstanding on that day or
 * any later day with an event, so that no balance, then or afterwards, goes below zero. With what a
 * refusal says: the outstanding on `date`, and the first day the least is outstanding.
 */
export function repayableOn (debt: DebtRecord, date: string): { limit: Decimal, outstanding: Decimal, lowestOn: string } {
  const later = [...new Set(debt.events.map((e) => e.occurredOn).filter((d) => d > date))].sort()
  const outstanding = positionAsOf(debt, date).outstanding
  let lowest = { limit: outstanding, lowestOn: date }
  for (const day of later) {
    const then = positionAsOf(debt, day).outstanding
    if (then.lessThan(lowest.limit)) lowest = { limit: then, lowestOn: day }
  }
  return { ...lowest, outstanding }
}

/** A reversing entry (冲正) carries the negated amounts of the repayment it corrects. */
export function reversalAmounts (repayment: DebtEvent): { principal: string, interest: string } {
  return { principal: formatMoney(repayment.principal.negated()), interest: formatMoney(repayment.interest.negated()) }
}

export type DebtGroupBy = 'district' | 'zone' | 'kind'
export const DEBT_GROUPINGS: readonly DebtGroupBy[] = ['district', 'zone', 'kind']

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

/**
 * Magnitudes (calculation-rules.md §1) in the register: every figure it prints, a debt's balances,
 * a group's or the total's in the summary, is at most Σ outstanding at registration over all debts
 * (principal repaid and outstanding never exceed it) or Σ interest over all repayments. Each amount
 * given has at most 15 integer digits; a registration or a repayment that would take either sum
 * beyond 18 is refused, so no summary ever prints a longer figure. `room` says how much either sum
 * may still grow.
 */
export function registerRoom (sums: { outstanding: Decimal, interest: Decimal }): { outstanding: Decimal, interest: Decimal } {
  const limit = new Decimal(10).pow(MAX_FIGURE_DIGITS).minus('0.01')
  return { outstanding: limit.minus(sums.outstanding), interest: limit.minus(sums.interest) }
}

/** A debt to register, as text (a JSON body's fields or a CSV line's); an empty string is a field left out. */
export interface DebtRegistrationText {
  zoneCode: string
  reference: string
  creditor: string
  kind: string
  principal: string
  outstanding: string
  interestRate: string
  incurredOn: string
  maturityDate: string
  registeredOn: string
  notes: string
}

/**
 * A debt's reference as the register compares it (unique in its zone): without the white space
 * around it, in Unicode NFKC form, so that a reference typed or pasted otherwise is the same one
 * (ＨＴ－２０１６－００１ is HT-2016-001; an accent composed or not is one letter). It is stored as given.
 */
export const referenceKey = (zoneCode: string, reference: string): string => `${zoneCode}|${reference.trim().normalize('NFKC')}`

/** What the register already holds that a new debt must fit. */
export interface DebtRegister {
  zoneExists: (zoneCode: string) => boolean
  referenceTaken: (zoneCode: string, reference: string) => boolean
  /** Today in Beijing: the day a registration without registeredOn is of. */
  today: string
}

/**
 * One thing wrong with a debt to register. `rule` says which rule it breaks: the zone must be
 * registered, the reference unique in the zone, principal above zero, outstanding at most the
 * principal; `format` is a field that is not what its column holds.
 */
export interface DebtRegistrationIssue {
  field: keyof DebtRegistrationText
  rule: 'unknown-zone' | 'reference-taken' | 'principal-not-positive' | 'outstanding-above-principal' | 'dates' | 'format'
  message: string
}

const MONEY = new RegExp(MONEY_PATTERN)
const RATE = new RegExp(RATE_PATTERN)

/** A real calendar day written YYYY-MM-DD (src/domain/days.ts). */
export { isDay } from './days.js'

/** Characters as the JSON schema counts them (code points): a CJK character outside the BMP is one, not two. */
const characters = (text: string) => { let n = 0; for (const _ of text) n++; return n }

/** The registration rules of a legacy debt (api-contract.md, Legacy debts), for one JSON body or one CSV line alike. */
export function checkDebtRegistration (d: DebtRegistrationText, register: DebtRegister): DebtRegistrationIssue[] {
  const issues: DebtRegistrationIssue[] = []
  const issue = (field: DebtRegistrationIssue['field'], rule: DebtRegistrationIssue['rule'], message: string) => issues.push({ field, rule, message })
  if (!register.zoneExists(d.zoneCode)) issue('zoneCode', 'unknown-zone', `no zone ${d.zoneCode} is registered`)
  if (!saysSomething(d.reference) || characters(d.reference) > 100) issue('reference', 'format', 'is required, at most 100 characters')
  else if (register.referenceTaken(d.zoneCode, d.reference)) issue('reference', 'reference-taken', `zone ${d.zoneCode} already has a debt ${d.reference}`)
  if (!saysSomething(d.creditor) || characters(d.creditor) > 200) issue('creditor', 'format', 'is required, at most 200 characters')
  if (!(DEBT_KINDS as readonly string[]).includes(d.kind)) issue('kind', 'format', `must be one of ${DEBT_KINDS.join(', ')}`)
  const principalIsMoney = MONEY.test(d.principal)
  const principalOk = principalIsMoney && money(d.principal).greaterThan(0)
  if (!principalIsMoney) issue('principal', 'format', 'must be an amount above 0.00 with at most 15 integer digits and two decimals')
  else if (!principalOk) issue('principal', 'principal-not-positive', 'must be an amount above 0.00 with at most two decimals')
  if (!MONEY.test(d.outstanding) || money(d.outstanding).isNegative()) issue('outstanding', 'format', 'must be an amount of at least 0.00 with at most 15 integer digits and two decimals')
  else if (principalOk && money(d.outstanding).greaterThan(money(d.principal))) issue('outstanding', 'outstanding-above-principal', 'is more than the principal')
  if (d.interestRate !== '' && !RATE.test(d.interestRate)) issue('interestRate', 'format', 'must be a rate between 0 and 1 with at most six decimals')
  const days = (['incurredOn', 'maturityDate', 'registeredOn'] as const).filter((field) => {
    if (d[field] === '' || isDay(d[field])) return true
    issue(field, 'format', 'must be a date written YYYY-MM-DD, from 1900-01-01 to 2199-12-31')
    return false
  })
  // The days must agree: the outstanding figure is of a day the debt existed on, and it matures after it was incurred.
  if (days.length === 3 && d.incurredOn !== '') {
    const registeredOn = d.registeredOn === '' ? register.today : d.registeredOn
    if (d.incurredOn > registeredOn) {
      issue('incurredOn', 'dates', `is after ${registeredOn}, the day the outstanding figure is of (registeredOn${d.registeredOn === '' ? ', today by default' : ''}): a debt is registered once it was incurred`)
    }
    if (d.maturityDate !== '' && d.maturityDate < d.incurredOn) issue('maturityDate', 'dates', `is before ${d.incurredOn}, the day the debt was incurred`)
  }
  if (characters(d.notes) > 2000) issue('notes', 'format', 'at most 2000 characters')
  return issues
}

/** What a debt's record is dated by: its registration, its transfer, a repayment or a reversal. */
export type DatedRecord = 'registration' | 'transfer' | 'repayment' | 'reversal'

const AHEAD_REASONS: Record<DatedRecord, string> = {
  registration: 'the outstanding figure registered is of a day that has come (today, Beijing time, at the latest)',
  transfer: 'a transfer decided ahead takes effect by the end of next year at the latest',
  repayment: 'a repayment is recorded once it is paid (today, Beijing time, at the latest)',
  reversal: 'a reversal is recorded once it is made (today, Beijing time, at the latest)',
}

/**
 * The latest day a record may carry, `today` being Beijing's date: a mistyped year (2062 for 2026) would otherwise
 * stand for decades, since events are append-only and a transfer is once only.
 */
export function latestDayFor (what: DatedRecord, today: string): string {
  return what === 'transfer' ? endOfNextYear(today) : today
}

/** Why `day` is too far ahead for the record, if it is. */
export function datedAheadProblem (what: DatedRecord, day: string, today: string, pointer: string): Problem | undefined {
  const latest = latestIfAhead(what, day, today)
  return latest === undefined ? undefined : Problems.datedAhead(what, day, latest, AHEAD_REASONS[what], pointer)
}

/** The same, said of a field of a CSV line ("line 5, registeredOn: is after …"), as the line's other problems are. */
export function datedAheadIssue (what: DatedRecord, day: string, today: string): string | undefined {
  const latest = latestIfAhead(what, day, today)
  return latest === undefined ? undefined : `is after ${latest}: ${AHEAD_REASONS[what]}`
}

/** The latest day the record may carry, when `day` is after it. */
function latestIfAhead (what: DatedRecord, day: string, today: string): string | undefined {
  const latest = latestDayFor(what, today)
  return day > latest ? latest : undefined
}

/**
 * A debt's last repayment day, if any: a transfer may not be dated before it. A repayment that has
 * been reversed (冲正: keyed with a wrong date or amount) was not made, and its reversal is not one
 * either; counting them, a repayment keyed with a wrong date would stop the transfer ever being
 * recorded on its own date, events being append-only.
 */
export function lastPaymentDay (debt: DebtRecord): string | undefined {
  const reversed = new Set(debt.events.map((e) => e.reversesEventId).filter((id) => id !== undefined))
  return debt.events.filter((e) => e.kind === 'repayment' && !reversed.has(e.id)).map((e) => e.occurredOn).sort().at(-1)
}

/** The transfer (划转) of a debt, if it has one. */
export function transferOf (debt: DebtRecord): DebtEvent | undefined {
  return debt.events.find((e) => e.kind === 'transfer')
}

/*
 * When and by whom a debt's events may be recorded (api-contract.md, Legacy debts). One rule for
 * every date: nothing about the debt — transfer, repayment, reversal — is dated before its
 * registration. A transfer goes to the zone's host district (属地政府) unless the request says why
 * not. A district reverses only its own repayments (those made since the debt was transferred to
 * it), never dated before the repayment it corrects or before the transfer.
 */

export interface TransferRequest {
  districtCode: string
  transferredOn: string
  reason?: string | undefined
}

/**
 * Why a transfer (划转) cannot be recorded, if it cannot: `at` is the pointer of the transfer in
 * the request ('' for POST …/transfer, '/transfer' inside a registration, where the debt has no id yet).
 */
export function transferProblem (debt: DebtRecord & { id?: number }, transfer: TransferRequest, hostDistrictCode: string, at = ''): Problem | undefined {
  if (transfer.transferredOn < debt.registeredOn) return Problems.datedBeforeRegistration(debt.registeredOn, 'transfer', `${at}/transferredOn`)
  const lastPayment = lastPaymentDay(debt)
  if (lastPayment !== undefined && transfer.transferredOn < lastPayment) return Problems.transferBeforeRepayments(lastPayment)
  if (transfer.districtCode !== hostDistrictCode && (transfer.reason === undefined || transfer.reason.trim() === '')) {
    return Problems.transferReasonRequired(debt.id, debt.zoneCode, hostDistrictCode, transfer.districtCode, `${at}/reason`)
  }
  return undefined
}

/**
 * Why a repayment dated `paidOn` cannot be recorded, if it cannot (principal and amounts aside).
 * `byDistrict`: the district of a district key, which repays only from the transfer to it on; an
 * admin also records what the zone repaid before the transfer, whenever it learns of it.
 */
export function repaymentDateProblem (debt: DebtRecord & { id: number }, paidOn: string, byDistrict?: string): Problem | undefined {
  if (paidOn < debt.registeredOn) return Problems.repaymentBeforeRegistration(debt.registeredOn)
  const transfer = transferOf(debt)
  if (byDistrict !== undefined && transfer !== undefined && paidOn < transfer.occurredOn) return Problems.repaymentBeforeTransfer(debt.id, transfer.districtCode, transfer.occurredOn)
  return undefined
}

/** A reversal's reason as kept, trimmed; a blank one is malformed (400), as a blank override reason is. */
export function reversalReasonOf (reason: string): string {
  const kept = noteOf(reason)
  if (kept === null) throw new InputError('malformed', [{ pointer: '/reason', message: 'a reversal says why the repayment is corrected' }])
  return kept
}

/**
 * Why `target` cannot be reversed on `reversedOn`, if it cannot. `byDistrict`: the district of a
 * district key, which reverses only repayments made since the debt was transferred to it.
 */
export function reversalProblem (debt: DebtRecord & { id: number }, target: DebtEvent, reversedOn: string, byDistrict?: string): Problem | undefined {
  if (target.kind !== 'repayment') return Problems.notARepayment(target.id, target.kind)
  if (debt.events.some((e) => e.reversesEventId === target.id)) return Problems.alreadyReversed(target.id)
  if (reversedOn < debt.registeredOn) return Problems.datedBeforeRegistration(debt.registeredOn, 'reversal', '/reversedOn')
  if (reversedOn < target.occurredOn) return Problems.reversalBeforeRepayment(target.occurredOn)
  if (byDistrict !== undefined) {
    const transfer = transferOf(debt)
    if (transfer === undefined || transfer.districtCode !== byDistrict || target.occurredOn < transfer.occurredOn) {
      return Problems.notOwnRepayment(target.id, target.occurredOn, byDistrict, transfer?.occurredOn)
    }
  }
  return undefined
}
