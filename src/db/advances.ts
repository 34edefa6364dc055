import { type Kysely, sql } from 'kysely'
import type { Database } from './database.js'
import { decodeCursor, type Page, toPage } from './pagination.js'
import type { PageRequest } from './registry.js'
import { type Scope, scopeFilter } from './scope.js'

/* Advances (预拨) paid to a zone under an agreement for a fiscal year. */

type Db = Kysely<Database>

export interface Advance {
  id: number
  agreementId: number
  fiscalYear: number
  paidOn: string
  amount: string
  documentNo: string
  createdAt: string
}

const COLUMNS = ['advances.id', 'advances.agreement_id', 'advances.fiscal_year', 'advances.amount', 'advances.document_no', 'advances.created_at'] as const

type Row = { id: number, agreement_id: number, fiscal_year: number, paid_on: string, amount: string, document_no: string, created_at: Date }
const toAdvance = (r: Row): Advance => ({
  id: r.id, agreementId: r.agreement_id, fiscalYear: r.fiscal_year, paidOn: r.paid_on, amount: r.amount, documentNo: r.document_no, createdAt: r.created_at.toISOString(),
})

export async function insertAdvance (db: Db, a: { agreementId: number, fiscalYear: number, paidOn: string, amount: string, documentNo: string }): Promise<Advance> {
  const row = await db.insertInto('advances').values({
    agreement_id: a.agreementId, fiscal_year: a.fiscalYear, paid_on: a.paidOn, amount: a.amount, document_no: a.documentNo,
  }).returning(['id', 'agreement_id', 'fiscal_year', sql<string>`paid_on::text`.as('paid_on'), 'amount', 'document_no', 'created_at']).executeTakeFirstOrThrow()
  return toAdvance(row)
}

export async function listAdvances (db: Db, scope: Scope, filter: { agreementId?: number | undefined, fiscalYear?: number | undefined }, page: PageRequest): Promise<Page<Advance>> {
  const after = decodeCursor<number>(page.cursor, 'number')
  let query = db.selectFrom('advances').innerJoin('agreements', 'agreements.id', 'advances.agreement_id')
    .select([...COLUMNS, sql<string>`advances.paid_on::text`.as('paid_on')])
    .where(scopeFilter(scope, { zone: 'agreements.zone_code', district: 'agreements.district_code' }))
    .orderBy('advances.id').limit(page.limit + 1)
  if (after !== undefined) query = query.where('advances.id', '>', after)
  if (filter.agreementId !== undefined) query = query.where('advances.agreement_id', '=', filter.agreementId)
  if (filter.fiscalYear !== undefined) query = query.where('advances.fiscal_year', '=', filter.fiscalYear)
  return toPage(await query.execute(), page.limit, (r) => r.id, toAdvance)
}
