import { type Decimal, money } from '../domain/money.js'
import type { ResponsibilityTransfer, TransferFunding } from '../domain/types.js'
import type { Db, ResponsibilityTransferRow } from './database.js'
import { fetchPage, mapPage, type Page, type PageRequest } from './pagination.js'
import { type Scope, scopeFilter } from './scope.js'

/* Responsibility transfers (事权划转, 财随事走) of agreements' groups (calculation-rules.md §4). */

export interface StoredTransfer extends ResponsibilityTransfer {
  id: number
  agreementId: number
  /** The name of the group whose base it moves. */
  group: string
  createdAt: string
}

/** The funding a stored row holds; a row whose columns do not make one is corrupt (the table's checks prevent it). */
function fundingOf (r: Pick<ResponsibilityTransferRow, 'id' | 'method' | 'amount' | 'headcount' | 'unit_cost' | 'growth_rate'>): TransferFunding {
  const amount: Decimal | undefined = r.amount === null ? undefined : money(r.amount)
  switch (r.method) {
    case 'fixed': if (amount !== undefined) return { method: 'fixed', amount }
      break
    case 'headcount': if (r.headcount !== null && r.unit_cost !== null) return { method: 'headcount', headcount: r.headcount, unitCost: money(r.unit_cost) }
      break
    case 'indexed': if (amount !== undefined && r.growth_rate !== null) return { method: 'indexed', amount, growthRate: money(r.growth_rate) }
      break
  }
  throw new Error(`responsibility transfer ${r.id}: method ${r.method} without its funding`)
}

export function toTransfer (r: ResponsibilityTransferRow, group: string): StoredTransfer {
  return {
    id: r.id, agreementId: r.agreement_id, group, function: r.function, direction: r.direction, fromYear: r.from_year,
    ...(r.to_year === null ? {} : { toYear: r.to_year }),
    documentNo: r.document_no, funding: fundingOf(r), createdAt: r.created_at.toISOString(),
  }
}

export async function insertTransfer (tx: Db, agreementId: number, groupPosition: number, group: string, x: ResponsibilityTransfer): Promise<StoredTransfer> {
  const f = x.funding
  const row = await tx.insertInto('responsibility_transfers').values({
    agreement_id: agreementId, group_position: groupPosition, function: x.function, direction: x.direction, from_year: x.fromYear,
    to_year: x.toYear ?? null, document_no: x.documentNo, method: f.method,
    amount: f.method === 'headcount' ? null : f.amount.toFixed(2),
    headcount: f.method === 'headcount' ? f.headcount : null,
    unit_cost: f.method === 'headcount' ? f.unitCost.toFixed(2) : null,
    growth_rate: f.method === 'indexed' ? f.growthRate.toString() : null,
  }).returningAll().executeTakeFirstOrThrow()
  return toTransfer(row, group)
}

export interface TransferFilter {
  agreementId?: number | undefined
}

/** The transfers of agreements in the caller's scope, by id. */
export async function listTransfers (db: Db, scope: Scope, filter: TransferFilter, page: PageRequest): Promise<Page<StoredTransfer>> {
  let query = db.selectFrom('responsibility_transfers')
    .innerJoin('agreements', 'agreements.id', 'responsibility_transfers.agreement_id')
    .innerJoin('agreement_groups', (join) => join
      .onRef('agreement_groups.agreement_id', '=', 'responsibility_transfers.agreement_id')
      .onRef('agreement_groups.position', '=', 'responsibility_transfers.group_position'))
    .selectAll('responsibility_transfers').select('agreement_groups.name as group_name')
    .where(scopeFilter(scope, { zone: 'agreements.zone_code', district: 'agreements.district_code' }))
  if (filter.agreementId !== undefined) query = query.where('responsibility_transfers.agreement_id', '=', filter.agreementId)
  const rows = await fetchPage(query, page, { columns: ['responsibility_transfers.id'], types: ['int'], of: (r) => [r.id] })
  return mapPage(rows, (r) => toTransfer(r, r.group_name))
}
