import {
  allDebts, debtRegister, TODAY, listDebtsByMaturity, type DebtFilter, findDebt, insertDebt, insertDebtEvent, listDebts, registerSums, type StoredDebt, today,
} from '../db/debts.js'
import type { Db } from '../db/database.js'
import { repeatedMessages } from '../domain/repeats.js'
import { noteOf } from '../domain/review.js'
import { lockDebtRegister } from '../db/locks.js'
import { mapPage, type Page, type PageRequest } from '../db/pagination.js'
import { findDistrict, findZone } from '../db/registry.js'
import {
  checkDebtRegistration, type DebtGroupBy, type DebtKind, type DebtRegistrationText, type DebtStatus,
  datedAheadIssue, datedAheadProblem, registerRoom, repayableOn, repaymentDateProblem, reversalAmounts, reversalProblem, reversalReasonOf, summarizeDebts, transferOf, transferProblem, referenceKey,
} from '../domain/debt.js'
import { Problems } from '../domain/errors.js'
import { Decimal, formatMoney, money, ZERO } from '../domain/money.js'
import { ALL, onlyDistrictOf } from '../domain/principal.js'
import type { Context } from './context.js'
import { type ImportError, openCsvImport } from './csv-file.js'
import { inWriteTransaction } from './write.js'

/*
 * The legacy debt register (历史遗留债务, api-contract.md, Legacy debts): debts registered with
 * what was outstanding on a day, then transferred to the host district once (划转), repaid, and
 * corrected only by reversing entries (冲正). Every balance is computed from the events up to a day.
 */

export const DEBT_CSV_HEADER = ['zoneCode', 'reference', 'creditor', 'kind', 'principal', 'outstanding', 'interestRate', 'incurredOn', 'maturityDate', 'registeredOn', 'notes'] as const

/** A debt with the day its balances are read as of. */
export interface DebtAsOf {
  debt: StoredDebt
  asOf: string
}

export interface DebtTransfer {
  districtCode: string
  transferredOn: string
  documentNo: string
  /** Why the debt goes to a district other than the zone's host (required then; shown as the transfer's note). */
  reason?: string | undefined
}

export interface NewDebt {
  zoneCode: string
  reference: string
  creditor: string
  kind: DebtKind
  principal: string
  outstanding: string
  interestRate?: string | undefined
  incurredOn?: string | undefined
  maturityDate?: string | undefined
  registeredOn?: string | undefined
  notes?: string | undefined
  /** A debt already transferred to its district (a historical entry). */
  transfer?: DebtTransfer | undefined
}

/** How much more the register's sums may grow before a summary could not print them (§1). */
async function roomIn (tx: Db): Promise<{ outstanding: Decimal, interest: Decimal }> {
  const sums = await registerSums(tx)
  const room = registerRoom({ outstanding: money(sums.outstanding), interest: money(sums.interest) })
  return { outstanding: Decimal.max(room.outstanding, ZERO), interest: Decimal.max(room.interest, ZERO) }
}

const asText = (d: NewDebt): DebtRegistrationText => ({
  zoneCode: d.zoneCode, reference: d.reference, creditor: d.creditor, kind: d.kind, principal: d.principal, outstanding: d.outstanding,
  interestRate: d.interestRate ?? '', incurredOn: d.incurredOn ?? '', maturityDate: d.maturityDate ?? '', registeredOn: d.registeredOn ?? '', notes: d.notes ?? '',
})

async function reread (db: Db, id: number): Promise<StoredDebt> {
  const debt = await findDebt(db, ALL, id)
  if (debt === undefined) throw new Error(`debt ${id} vanished inside its own transaction`)
  return debt
}

/**
 * Registers one debt (admins): the registration rules, then the transfer if it comes with one. Its
 * reference and creditor are taken without the white space around them, as a CSV line's are, so that
 * "R5 " is the zone's R5 whichever way it comes.
 */
export function registerDebt (ctx: Context, given: NewDebt): Promise<DebtAsOf> {
  const d: NewDebt = { ...given, reference: given.reference.trim(), creditor: given.creditor.trim() }
  return inWriteTransaction(ctx, async (tx) => {
    await lockDebtRegister(tx)
    const register = await debtRegister(tx, d.zoneCode)
    const day = await today(tx)
    const issues = checkDebtRegistration(asText(d), {
      zoneExists: (code) => register.zones.has(code), referenceTaken: (zone, reference) => register.references.has(referenceKey(zone, reference)), today: day,
    })
    const broken = (rule: (typeof issues)[number]['rule']) => issues.some((i) => i.rule === rule)
    if (broken('principal-not-positive')) throw Problems.principalNotPositive()
    if (broken('outstanding-above-principal')) throw Problems.outstandingAbovePrincipal(d.outstanding, d.principal)
    const disagreeing = issues.filter((i) => i.rule === 'dates')
    if (disagreeing.length > 0) throw Problems.debtDatesDisagree(disagreeing.map((i) => ({ pointer: `/${i.field}`, message: i.message })))
    if (broken('unknown-zone')) throw Problems.zoneNotRegistered(d.zoneCode, '/zoneCode')
    if (d.transfer !== undefined && await findDistrict(tx, ALL, d.transfer.districtCode) === undefined) {
      throw Problems.districtNotRegistered(d.transfer.districtCode, '/transfer/districtCode')
    }
    if (broken('reference-taken')) throw Problems.debtReferenceTaken(d.zoneCode, d.reference)
    const room = await roomIn(tx)
    if (money(d.outstanding).greaterThan(room.outstanding)) throw Problems.registerFull('outstanding', formatMoney(room.outstanding), '/outstanding')
    const registeredOn = d.registeredOn ?? day
    const ahead = datedAheadProblem('registration', registeredOn, day, '/registeredOn') ??
      (d.transfer === undefined ? undefined : datedAheadProblem('transfer', d.transfer.transferredOn, day, '/transfer/transferredOn'))
    if (ahead !== undefined) throw ahead
    if (d.transfer !== undefined) {
      const unrecorded = { zoneCode: d.zoneCode, kind: d.kind, registeredOn, outstandingAtRegistration: money(d.outstanding), events: [] }
      const refused = transferProblem(unrecorded, d.transfer, await hostOf(tx, d.zoneCode), '/transfer')
      if (refused !== undefined) throw refused
    }
    const id = await insertDebt(tx, { ...d, registeredOn })
    if (d.transfer !== undefined) await recordTransfer(tx, ctx, id, d.transfer)
    return { value: { debt: await reread(tx, id), asOf: day }, audit: [{ action: 'register', entityType: 'debt', entityId: String(id), details: d }] }
  })
}

export interface DebtImportResult {
  rows: number
  registered: number
  rejected: number
  errors: ImportError[]
  unlistedErrors?: number
}

/** Registers debts from a CSV file (admins), a line at a time by the same rules as one debt. */
export function importDebts (ctx: Context, body: unknown, partial: boolean): Promise<DebtImportResult> {
  const file = openCsvImport(body, DEBT_CSV_HEADER, ctx.settings.importLimit, 'one debt as JSON goes to POST /v1/debts')
  return inWriteTransaction(ctx, async (tx) => {
    await lockDebtRegister(tx)
    const { zones, references } = await debtRegister(tx)
    const day = await today(tx)
    let room = (await roomIn(tx)).outstanding
    const good: Array<{ line: number, debt: Parameters<typeof insertDebt>[1] }> = []
    // The lines that give each zone's reference, bad ones too: a reference given twice is a repeat on every line that gives it.
    const referenceLines = new Map<string, number[]>()
    const badLines = new Set<number>()
    for await (const { line, fields } of file.lines) {
      const [zoneCode = '', quotedReference = '', quotedCreditor = '', kind = '', principal = '', outstanding = '', interestRate = '', incurredOn = '', maturityDate = '', registeredOn = '', notes = ''] = fields
      // Without the white space a field in quotes keeps, as registerDebt takes them: "R5 " is the zone's R5.
      const reference = quotedReference.trim()
      const creditor = quotedCreditor.trim()
      const text = { zoneCode, reference, creditor, kind, principal, outstanding, interestRate, incurredOn, maturityDate, registeredOn, notes }
      const issues = checkDebtRegistration(text, { zoneExists: (code) => zones.has(code), referenceTaken: (zone, ref) => references.has(referenceKey(zone, ref)), today: day })
      const ahead = registeredOn === '' || issues.some((i) => i.field === 'registeredOn') ? undefined : datedAheadIssue('registration', registeredOn, day)
      if (ahead !== undefined) issues.push({ field: 'registeredOn', rule: 'format', message: ahead })
      if (!issues.some((i) => i.field === 'reference' && i.rule === 'format')) {
        const key = referenceKey(zoneCode, reference)
        const lines = referenceLines.get(key)
        if (lines === undefined) referenceLines.set(key, [line])
        else lines.push(line)
      }
      if (issues.length > 0) {
        for (const issue of issues) file.reject(line, issue.field, issue.message)
        badLines.add(line)
        continue
      }
      good.push({
        line,
        debt: {
          zoneCode, reference, creditor, kind: kind as DebtKind, principal, outstanding, registeredOn: registeredOn === '' ? day : registeredOn,
          ...(interestRate === '' ? {} : { interestRate }), ...(incurredOn === '' ? {} : { incurredOn }),
          ...(maturityDate === '' ? {} : { maturityDate }), ...(notes === '' ? {} : { notes }),
        },
      })
    }
    // A reference given twice in the file is never resolved silently (as a month given twice in a
    // revenue import): every line that gives it is bad, naming the others, and none of them is registered.
    const repeated = new Set<number>()
    const same = 'the same zone and reference: one debt per reference in a zone'
    for (const lines of referenceLines.values()) {
      if (lines.length < 2) continue
      for (const { line, message } of repeatedMessages(lines, 'line', same)) {
        repeated.add(line)
        if (!badLines.has(line)) file.reject(line, 'reference', message)
      }
    }
    // What is left of the register's room (§1) is taken in line order by the lines that register, repeats not among them.
    const registered: Array<Parameters<typeof insertDebt>[1]> = []
    for (const { line, debt } of good) {
      if (repeated.has(line)) continue
      if (money(debt.outstanding).greaterThan(room)) {
        file.reject(line, 'outstanding', `would take the register's outstanding at registration, summed over every debt, beyond 18 integer digits ` +
          `(calculation-rules.md §1): at most ${formatMoney(room)} more can be registered`)
        continue
      }
      room = room.minus(money(debt.outstanding))
      registered.push(debt)
    }
    const listing = file.finish(partial, registered.length)
    const { rows, rejected } = listing
    const ids: number[] = []
    for (const debt of registered) ids.push(await insertDebt(tx, debt))
    return {
      value: { ...listing, registered: registered.length },
      // The import, and each debt it registered as a registration of one would be: who registered debt N is in the log under debt N.
      audit: [
        { action: 'import', entityType: 'debt_import', entityId: ctx.actor.requestId, details: { rows, registered: registered.length, rejected } },
        ...registered.map((debt, i) => ({ action: 'register', entityType: 'debt', entityId: String(ids[i]), details: debt })),
      ],
    }
  }, { streamedBody: file })
}

/** The host district (属地政府) of a registered zone. */
async function hostOf (tx: Db, zoneCode: string): Promise<string> {
  const zone = await findZone(tx, ALL, zoneCode)
  if (zone === undefined) throw Problems.zoneNotRegistered(zoneCode, '/zoneCode')
  return zone.hostDistrictCode
}

function recordTransfer (tx: Db, ctx: Context, debtId: number, transfer: DebtTransfer): Promise<number> {
  const { districtCode, transferredOn, documentNo } = transfer
  // Kept as a reversal's reason is: without the spaces around it.
  const reason = noteOf(transfer.reason)
  return insertDebtEvent(tx, {
    debtId, kind: 'transfer', occurredOn: transferredOn, districtCode, documentNo, keyId: ctx.actor.principal.keyId,
    ...(reason === null ? {} : { note: reason }),
  })
}

/** The day balances are read as of: the one asked for, or the database's today. */
async function dayOf (ctx: Context, asOf: string | undefined): Promise<string> {
  return asOf ?? await today(ctx.db)
}

/**
 * Debts in scope by id, with their balances as of a day; `status` keeps those in that state on the
 * day, `districtCode` those transferred to the district by then (as the summary of the day counts them).
 */
export async function debts (ctx: Context, filter: Omit<DebtFilter, 'transferredBy' | 'registeredBy' | 'status'>, page: PageRequest, asOf?: string, status?: DebtStatus): Promise<Page<DebtAsOf>> {
  const day = await dayOf(ctx, asOf)
  // The register as it stood on the day, as its summary counts it: a debt registered later is not listed.
  // The state is filtered in the query, so that every page is full and the last one ends the list.
  const asOfDay = (d: string): DebtFilter => ({ ...filter, transferredBy: d, registeredBy: d, ...(status === undefined ? {} : { status: { is: status, asOf: d } }) })
  // A list asked as of today is the same list after midnight: its identity holds TODAY where the day goes.
  const found = await listDebts(ctx.db, ctx.actor.scope, asOfDay(day), page, asOf === undefined ? asOfDay(TODAY) : undefined)
  return mapPage(found, (debt) => ({ debt, asOf: day }))
}

export async function debt (ctx: Context, id: number, asOf?: string): Promise<DebtAsOf> {
  const found = await findDebt(ctx.db, ctx.actor.scope, id)
  if (found === undefined) throw Problems.notFound(`debt ${id}`)
  return { debt: found, asOf: await dayOf(ctx, asOf) }
}

/** Balances as of a day, grouped, with a total row (every total the sum of the rows above it). */
export async function summary (ctx: Context, asOf: string | undefined, groupBy: DebtGroupBy) {
  const day = await dayOf(ctx, asOf)
  return { asOf: day, groupBy, ...summarizeDebts(await allDebts(ctx.db, ctx.actor.scope), day, groupBy) }
}

/** Debts falling due between two days with principal still outstanding today, by maturity date. */
export async function maturities (ctx: Context, from: string, to: string, page: PageRequest): Promise<Page<DebtAsOf>> {
  if (from > to) throw Problems.dateRangeReversed()
  const day = await today(ctx.db)
  // Outstanding today, whichever day that is: the list's identity holds TODAY where the day goes.
  const outstandingOn = (d: string): DebtFilter => ({ maturingFrom: from, maturingTo: to, outstandingOn: d })
  const found = await listDebtsByMaturity(ctx.db, ctx.actor.scope, outstandingOn(day), page, outstandingOn(TODAY))
  return mapPage(found, (debt) => ({ debt, asOf: day }))
}

/**
 * 划转: the district becomes responsible (admins), once, not dated before the registration or a
 * repayment; a district other than the zone's host only with a reason.
 */
export function transferDebt (ctx: Context, id: number, transfer: DebtTransfer): Promise<DebtAsOf> {
  return inWriteTransaction(ctx, async (tx) => {
    const found = await findDebt(tx, ALL, id, true)
    if (found === undefined) throw Problems.notFound(`debt ${id}`)
    const done = transferOf(found)
    if (done !== undefined) throw Problems.alreadyTransferred(found.id, done.districtCode, done.occurredOn)
    if (await findDistrict(tx, ALL, transfer.districtCode) === undefined) throw Problems.districtNotRegistered(transfer.districtCode, '/districtCode')
    const day = await today(tx)
    const refused = datedAheadProblem('transfer', transfer.transferredOn, day, '/transferredOn') ?? transferProblem(found, transfer, await hostOf(tx, found.zoneCode))
    if (refused !== undefined) throw refused
    await recordTransfer(tx, ctx, found.id, transfer)
    return { value: { debt: await reread(tx, found.id), asOf: day }, audit: [{ action: 'transfer', entityType: 'debt', entityId: String(found.id), details: transfer }] }
  })
}

export interface Repayment {
  paidOn: string
  principal: string
  interest: string
  documentNo?: string | undefined
}

export type RecordedEvent = StoredDebt['events'][number]

/**
 * A repayment by the responsible district, from the transfer on, or recorded by an admin (the zone's before the transfer
 * too): never more principal than is outstanding then or later.
 */
export function recordRepayment (ctx: Context, id: number, repayment: Repayment): Promise<RecordedEvent> {
  return inWriteTransaction(ctx, async (tx) => {
    await lockDebtRegister(tx)
    const found = await findDebt(tx, ctx.actor.scope, id, true)
    if (found === undefined) throw Problems.notFound(`debt ${id}`)
    if (money(repayment.principal).isZero() && money(repayment.interest).isZero()) throw Problems.repaymentEmpty()
    const misdated = datedAheadProblem('repayment', repayment.paidOn, await today(tx), '/paidOn') ??
      repaymentDateProblem(found, repayment.paidOn, onlyDistrictOf(ctx.actor.principal))
    if (misdated !== undefined) throw misdated
    const { limit, outstanding, lowestOn } = repayableOn(found, repayment.paidOn)
    if (money(repayment.principal).greaterThan(limit)) {
      throw Problems.repaymentExceedsOutstanding(repayment.principal, formatMoney(limit), repayment.paidOn, { outstanding: formatMoney(outstanding), on: lowestOn })
    }
    const room = await roomIn(tx)
    if (money(repayment.interest).greaterThan(room.interest)) throw Problems.registerFull('interest', formatMoney(room.interest), '/interest')
    const eventId = await insertDebtEvent(tx, {
      debtId: found.id, kind: 'repayment', occurredOn: repayment.paidOn, documentNo: repayment.documentNo, principal: repayment.principal, interest: repayment.interest,
      keyId: ctx.actor.principal.keyId,
    })
    return { value: await recorded(tx, found.id, eventId), audit: [{ action: 'repay', entityType: 'debt', entityId: String(found.id), details: { eventId, ...repayment } }] }
  })
}

/**
 * 冲正: a reversing entry for a repayment, never an edit; once, not dated before the repayment; a
 * district reverses only its own repayments (those since the transfer to it).
 */
export function reverseRepayment (ctx: Context, id: number, eventId: number, reversal: { reversedOn: string, reason: string }): Promise<RecordedEvent> {
  const reason = reversalReasonOf(reversal.reason)
  return inWriteTransaction(ctx, async (tx) => {
    const found = await findDebt(tx, ctx.actor.scope, id, true)
    if (found === undefined) throw Problems.notFound(`debt ${id}`)
    const target = found.events.find((e) => e.id === eventId)
    if (target === undefined) throw Problems.debtEventNotFound(found.id, String(eventId))
    const refused = datedAheadProblem('reversal', reversal.reversedOn, await today(tx), '/reversedOn') ??
      reversalProblem(found, target, reversal.reversedOn, onlyDistrictOf(ctx.actor.principal))
    if (refused !== undefined) throw refused
    const reversalId = await insertDebtEvent(tx, {
      debtId: found.id, kind: 'reversal', occurredOn: reversal.reversedOn, ...reversalAmounts(target),
      reversesEventId: target.id, note: reason, keyId: ctx.actor.principal.keyId,
    })
    return {
      value: await recorded(tx, found.id, reversalId),
      audit: [{ action: 'reverse', entityType: 'debt', entityId: String(found.id), details: { eventId: target.id, reversalEventId: reversalId, ...reversal } }],
    }
  })
}

async function recorded (tx: Db, debtId: number, eventId: number): Promise<RecordedEvent> {
  const event = (await reread(tx, debtId)).events.find((e) => e.id === eventId)
  if (event === undefined) throw new Error(`debt ${debtId} event ${eventId} vanished inside its own transaction`)
  return event
}
