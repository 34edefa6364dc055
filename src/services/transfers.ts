import { findAgreement } from '../db/agreements.js'
import { holdSettlementInputs, lockAgreement } from '../db/locks.js'
import type { PageRequest } from '../db/pagination.js'
import { lastFinalizedYear } from '../db/settlements.js'
import { insertTransfer, listTransfers, type StoredTransfer, type TransferFilter } from '../db/transfers.js'
import { inForce, MAX_TRANSFERS } from '../domain/agreement.js'
import { parseTransfer, type TransferJson } from '../domain/calculation-request.js'
import { transferForYear } from '../domain/engine.js'
import { IssueCollector, Problems } from '../domain/errors.js'
import { fitsFigure, MAX_FIGURE_DIGITS } from '../domain/magnitudes.js'
import { ALL } from '../domain/principal.js'
import type { Context } from './context.js'
import { inWriteTransaction } from './write.js'

/*
 * Responsibility transfers (事权划转, 财随事走): calculation-rules.md §4, api-contract.md
 * (Responsibility transfers). A transfer moves an increment group's base by F(Y) in every year it
 * is in force; like a base adjustment, it never reaches into a settled year.
 */

export interface NewTransfer extends TransferJson {
  agreementId: number
  group: string
}

/** Records a transfer (admins) for a group of an agreement, from a year the agreement is in force and not settled. */
export function recordTransfer (ctx: Context, json: NewTransfer): Promise<StoredTransfer> {
  return inWriteTransaction(ctx, async (tx) => {
    const issues = new IssueCollector()
    const transfer = parseTransfer(issues, '', json)
    // F(fromYear) beyond 18 integer digits (§1): no year of the agreement from fromYear on could be
    // settled, and a transfer is never taken back. Only headcount × unitCost can be: an amount given has 15.
    if (!fitsFigure(transferForYear(transfer, transfer.fromYear).fundingForYear)) {
      issues.ruleAt(transfer.funding.method === 'headcount' ? '/funding/unitCost' : '/funding/amount',
        `the funding of its first year (F(Y), calculation-rules.md §4) has more than ${MAX_FIGURE_DIGITS} integer digits (§1): no year it is in force could be settled`)
    }
    issues.throwIfAny()
    await holdSettlementInputs(tx)
    // Read after the lock: concurrent transfers of the agreement count each other (at most MAX_TRANSFERS).
    await lockAgreement(tx, json.agreementId)
    const found = await findAgreement(tx, ALL, json.agreementId)
    if (found === undefined) throw Problems.agreementNotInScope(json.agreementId)
    const group = found.groups.find((g) => g.name === json.group)
    if (group === undefined) throw Problems.agreementGroupUnknown(found.id, json.group, found.groups.map((g) => g.name))
    if (group.basis !== 'increment') throw Problems.totalGroupHasNoBase(group.name)
    if (!inForce(found, transfer.fromYear)) throw Problems.fromYearOutsideAgreement('transfer', found, transfer.fromYear)
    if (group.transfers.length >= MAX_TRANSFERS) throw Problems.tooManyTransfers(group.name, group.transfers.length, MAX_TRANSFERS)
    const settled = await lastFinalizedYear(tx, found.id)
    if (settled !== undefined && transfer.fromYear <= settled) throw Problems.agreementSettledTransfer(found.id, settled, transfer.fromYear, found.effectiveTo)
    const recorded = await insertTransfer(tx, found.id, group.position, group.name, transfer)
    return {
      value: recorded,
      audit: [{ action: 'create', entityType: 'responsibility_transfer', entityId: String(recorded.id), details: json }],
    }
  })
}

/** The transfers of the agreements in the caller's scope (of one agreement with agreementId). */
export function transfers (ctx: Context, filter: TransferFilter, page: PageRequest) {
  return listTransfers(ctx.db, ctx.actor.scope, filter, page)
}
