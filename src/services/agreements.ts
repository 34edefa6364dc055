import {
  type AgreementFilter, findAgreement, insertAgreement, insertBaseAdjustment, listAgreements, lockAgreementPair, overlappingAgreements, setEffectiveTo, settledSuccessor,
  type StoredAdjustment, type StoredAgreement,
} from '../db/agreements.js'
import { advancesAfter } from '../db/advances.js'
import { holdSettlementInputs, lockAgreement } from '../db/locks.js'
import type { PageRequest } from '../db/pagination.js'
import { findDistrict, findZone, unknownCategories } from '../db/registry.js'
import { groupActuals } from '../db/revenue.js'
import { lastFinalizedYear } from '../db/settlements.js'
import { type AgreementJson, groupBaseForYear, inForce, MAX_BASE_ADJUSTMENTS, parseAgreement } from '../domain/agreement.js'
import { InputError, type InputIssue, Problems } from '../domain/errors.js'
import { baseInYearIssue, transfersInYearIssue } from '../domain/magnitudes.js'
import { type Decimal, money } from '../domain/money.js'
import { ratesForYear, transferForYear, transferInForce } from '../domain/engine.js'
import type { PeriodInYear, RateBand, TransferInYear } from '../domain/types.js'
import { ALL } from '../domain/principal.js'
import type { Context } from './context.js'
import { inWriteTransaction } from './write.js'

/*
 * Agreements (分成办法) and their base adjustments (基数调整): calculation-rules.md §2–§4,
 * api-contract.md (Registry). An agreement is checked on the way in; once a finalized settlement
 * uses it, it may be ended (for a new version to follow) but no settled year may change.
 */

/** Records an agreement (admins): codes registered, and no other agreement of the pair covering its years. */
export function createAgreement (ctx: Context, json: AgreementJson): Promise<StoredAgreement> {
  return inWriteTransaction(ctx, async (tx) => {
    const terms = parseAgreement(json, ctx.settings.minZoneRate)
    const problems: InputIssue[] = []
    if (await findZone(tx, ALL, terms.zoneCode) === undefined) problems.push({ pointer: '/zoneCode', message: `no zone ${terms.zoneCode} is registered` })
    if (await findDistrict(tx, ALL, terms.districtCode) === undefined) problems.push({ pointer: '/districtCode', message: `no district ${terms.districtCode} is registered` })
    const unknown = await unknownCategories(tx, terms.groups.flatMap((g) => g.categories))
    terms.groups.forEach((g, i) => g.categories.forEach((c, j) => {
      if (unknown.has(c)) problems.push({ pointer: `/groups/${i}/categories/${j}`, message: `no revenue category ${c}` })
    }))
    if (problems.length > 0) throw Problems.unknownReferences('The agreement refers to codes that are not registered.', problems)
    await holdSettlementInputs(tx)
    await lockAgreementPair(tx, terms.zoneCode, terms.districtCode)
    const [other] = await overlappingAgreements(tx, terms.zoneCode, terms.districtCode, terms.effectiveFrom, terms.effectiveTo)
    if (other !== undefined) throw Problems.overlappingAgreement(other, terms)
    const successor = terms.effectiveTo === null ? undefined : await settledSuccessor(tx, terms.zoneCode, terms.districtCode, terms.effectiveTo)
    if (successor !== undefined) throw Problems.successorSettled(successor, '/effectiveTo')
    const id = await insertAgreement(tx, terms)
    return { value: await stored(tx, id), audit: [{ action: 'create', entityType: 'agreement', entityId: String(id), details: json }] }
  })
}

async function stored (db: Context['db'], id: number): Promise<StoredAgreement> {
  const found = await findAgreement(db, ALL, id)
  if (found === undefined) throw new Error(`agreement ${id} vanished inside its own transaction`)
  return found
}

export function agreements (ctx: Context, filter: AgreementFilter, page: PageRequest) {
  return listAgreements(ctx.db, ctx.actor.scope, filter, page)
}

export async function agreement (ctx: Context, id: number): Promise<StoredAgreement> {
  const found = await findAgreement(ctx.db, ctx.actor.scope, id)
  if (found === undefined) throw Problems.notFound(`agreement ${id}`)
  return found
}

/** An increment group's base in a year: B(Y), or null with the reason it cannot be computed; the transfers in force that year. */
export interface GroupBaseInYear {
  base: Decimal | null
  note?: string
  transfers: ReadonlyArray<TransferInYear & { id: number }>
}

/** A group in a year: its bands (those of the schedule period in force, 分段期限) and, for basis increment, its base. */
export interface GroupInYear {
  /** Undefined when a schedule has not started yet (a year before effectiveFrom). */
  rates: readonly RateBand[] | undefined
  period?: PeriodInYear
  /** Absent for basis total. */
  base?: GroupBaseInYear
}

export interface AgreementInYear {
  agreement: StoredAgreement
  year: number
  inForce: boolean
  /** By group position. */
  groups: readonly GroupInYear[]
}

/**
 * The agreement with each increment group's base for `year` (calculation-rules.md §4); a base
 * beyond 18 integer digits (§1, an escalating base compounded over many years) is refused, naming
 * the rule that led there.
 */
export async function agreementInYear (ctx: Context, id: number, year: number): Promise<AgreementInYear> {
  const found = await agreement(ctx, id)
  const actuals = await groupActuals(ctx.db, [year - 1], [found.id])
  const tooLarge: InputIssue[] = []
  const groups = found.groups.map((g, position): GroupInYear => {
    const bands = ratesForYear(g, year)
    const rates = { rates: bands?.rates, ...(bands?.period === undefined ? {} : { period: bands.period }) }
    if (g.basis === 'total') return rates
    const base = groupBaseForYear(g.base, found.baseYear, g.adjustments, g.transfers, year, actuals.of(found.id, position, year - 1))
    const transfers = g.transfers.filter((x) => transferInForce(x, year)).map((x) => ({ ...transferForYear(x, year), id: x.id }))
    const tooLargeHere = base.ok ? baseInYearIssue({ name: g.name, position }, year, base.derivation, transfers) : transfersInYearIssue({ name: g.name, position }, year, transfers)
    if (tooLargeHere !== undefined) tooLarge.push(tooLargeHere)
    return { ...rates, base: base.ok ? { base: base.derivation.base, transfers } : { base: null, note: base.reason, transfers } }
  })
  if (tooLarge.length > 0) throw new InputError('rule', tooLarge)
  return { agreement: found, year, inForce: inForce(found, year), groups }
}

/** Ends (or reopens) an agreement so that a new version can follow it; never before a settled year. */
export function endAgreement (ctx: Context, id: number, effectiveTo: number | null): Promise<StoredAgreement> {
  return inWriteTransaction(ctx, async (tx) => {
    const found = await findAgreement(tx, ALL, id)
    if (found === undefined) throw Problems.notFound(`agreement ${id}`)
    if (effectiveTo !== null && effectiveTo < found.effectiveFrom) throw Problems.effectiveToBeforeFrom(effectiveTo, found.effectiveFrom)
    await holdSettlementInputs(tx)
    const settled = await lastFinalizedYear(tx, found.id)
    if (settled !== undefined && effectiveTo !== null && effectiveTo < settled) throw Problems.agreementSettledEnd(found.id, settled)
    await lockAgreementPair(tx, found.zoneCode, found.districtCode)
    if (effectiveTo !== null) {
      // Advances are recorded under the agreement's lock, for a year it is in force, read after the lock (src/services/advances.ts).
      await lockAgreement(tx, found.id)
      const advanced = await advancesAfter(tx, found.id, effectiveTo)
      if (advanced.length > 0) throw Problems.agreementAdvancedEnd(found.id, advanced)
    }
    const [other] = await overlappingAgreements(tx, found.zoneCode, found.districtCode, found.effectiveFrom, effectiveTo, found.id)
    if (other !== undefined) throw Problems.endOverlaps(other.id)
    const successor = effectiveTo === null || effectiveTo === found.effectiveTo ? undefined : await settledSuccessor(tx, found.zoneCode, found.districtCode, effectiveTo, found.id)
    if (successor !== undefined) throw Problems.successorSettled(successor, '/effectiveTo')
    await setEffectiveTo(tx, found.id, effectiveTo)
    return {
      value: { ...found, effectiveTo },
      // The year it already ends changes nothing, and the audit log says nothing of it (as a revoked key revoked again).
      audit: effectiveTo === found.effectiveTo ? [] : [{ action: 'set_effective_to', entityType: 'agreement', entityId: String(found.id), details: { from: found.effectiveTo, to: effectiveTo } }],
    }
  })
}

export interface NewBaseAdjustment {
  group: string
  fromYear: number
  amount: string
  reason: string
  documentNo: string
}

/** 基数调整 (财随事走): moves an increment group's base from a year on, never into a settled year (§4). */
export function addBaseAdjustment (ctx: Context, id: number, adjustment: NewBaseAdjustment): Promise<StoredAdjustment> {
  return inWriteTransaction(ctx, async (tx) => {
    await holdSettlementInputs(tx)
    // Read after the lock: concurrent adjustments of the agreement count each other (at most MAX_BASE_ADJUSTMENTS).
    await lockAgreement(tx, id)
    const found = await findAgreement(tx, ALL, id)
    if (found === undefined) throw Problems.notFound(`agreement ${id}`)
    const group = found.groups.find((g) => g.name === adjustment.group)
    if (group === undefined) throw Problems.agreementGroupUnknown(found.id, adjustment.group, found.groups.map((g) => g.name))
    if (group.basis !== 'increment') throw Problems.totalGroupHasNoBase(group.name)
    if (money(adjustment.amount).isZero()) throw Problems.adjustmentEmpty()
    if (group.adjustments.length >= MAX_BASE_ADJUSTMENTS) throw Problems.tooManyAdjustments(group.name, group.adjustments.length, MAX_BASE_ADJUSTMENTS)
    const settled = await lastFinalizedYear(tx, found.id)
    if (settled !== undefined && adjustment.fromYear <= settled) throw Problems.agreementSettledAdjustment(found.id, settled, adjustment.fromYear, found.effectiveTo)
    if (adjustment.fromYear <= found.baseYear) throw Problems.adjustmentNotAfterBaseYear(found.baseYear)
    if (found.effectiveTo !== null && adjustment.fromYear > found.effectiveTo) throw Problems.fromYearOutsideAgreement('adjustment', found, adjustment.fromYear)
    const recorded = await insertBaseAdjustment(tx, found.id, group.position, adjustment)
    return {
      value: recorded,
      audit: [{ action: 'create', entityType: 'base_adjustment', entityId: String(recorded.id), details: { agreementId: found.id, ...adjustment } }],
    }
  })
}
