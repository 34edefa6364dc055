import { type Advance, advanceSums, insertAdvance, listAdvances } from '../db/advances.js'
import { findAgreement } from '../db/agreements.js'
import { holdSettlementInputs, lockAgreement } from '../db/locks.js'
import type { PageRequest } from '../db/pagination.js'
import { yearFinalized } from '../db/settlements.js'
import { inForce } from '../domain/agreement.js'
import { advancePaidInWindow } from '../domain/days.js'
import { Problems } from '../domain/errors.js'
import { fitsFigure } from '../domain/magnitudes.js'
import { formatMoney, money } from '../domain/money.js'
import type { Context } from './context.js'
import { inWriteTransaction } from './write.js'

/* Advances (预拨) paid to a zone before its year is settled (api-contract.md, Advances; calculation-rules.md §6). */

export interface NewAdvance {
  agreementId: number
  fiscalYear: number
  paidOn: string
  amount: string
  documentNo: string
}

/**
 * An advance under an agreement in the caller's scope, for a year the agreement is in force and
 * that is not settled yet (calculation-rules.md §9: afterwards money moves through the balance due),
 * paid from the year before to the year after it.
 */
export function recordAdvance (ctx: Context, advance: NewAdvance): Promise<Advance> {
  return inWriteTransaction(ctx, async (tx) => {
    await holdSettlementInputs(tx)
    // Concurrent advances of the agreement take turns (each sees the others' in the year's sum), and
    // the agreement's years are read under the lock that ending it takes (endAgreement): no advance
    // lands in a year the agreement has just stopped covering.
    await lockAgreement(tx, advance.agreementId)
    const agreement = await findAgreement(tx, ctx.actor.scope, advance.agreementId)
    if (agreement === undefined) throw Problems.agreementNotInScope(advance.agreementId)
    if (money(advance.amount).isZero()) throw Problems.advanceEmpty()
    if (!inForce(agreement, advance.fiscalYear)) throw Problems.agreementNotInForce(agreement, advance.fiscalYear)
    if (!advancePaidInWindow(advance.fiscalYear, advance.paidOn)) throw Problems.advancePaidOutsideYear(advance.fiscalYear, advance.paidOn)
    if (await yearFinalized(tx, agreement.id, advance.fiscalYear)) throw Problems.yearSettled(agreement.id, advance.fiscalYear)
    const paid = (await advanceSums(tx, advance.fiscalYear, [agreement.id])).get(agreement.id)?.total ?? '0'
    const total = money(paid).plus(money(advance.amount))
    if (total.isNegative()) throw Problems.advancesBelowZero(agreement.id, advance.fiscalYear, formatMoney(money(paid)), formatMoney(total))
    if (!fitsFigure(total)) throw Problems.advancesTooLarge(agreement.id, advance.fiscalYear, formatMoney(total))
    const recorded = await insertAdvance(tx, advance)
    return { value: recorded, audit: [{ action: 'create', entityType: 'advance', entityId: String(recorded.id), details: advance }] }
  })
}

export function advances (ctx: Context, filter: { agreementId?: number | undefined, fiscalYear?: number | undefined }, page: PageRequest) {
  return listAdvances(ctx.db, ctx.actor.scope, filter, page)
}
