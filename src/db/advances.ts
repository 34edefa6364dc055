import { sql } from 'kysely'
import type { AdvanceRow, Db } from './database.js'
import { fetchPage, mapPage, type Page, type PageRequest } from './pagination.js'
import { type Scope, scopeFilter } from './scope.js'

/* Advances (预拨) paid to a zone under an agreement for a fiscal year. */

export interface Advance {
  id: number
  agreementId: number
  fiscalYear: number
  paidOn: string
  amount: string
  documentNo: string
  createdAt: string
}

const toAdvance = (r: AdvanceRow): Advance => ({
  id: r.id, agreementId: r.agreement_id, fiscalYear: r.fiscal_year, paidOn: r.paid_on, amount: r.amount, documentNo: r.document_no, createdAt: r.created_at.toISOString(),
})

/** paid_on is a date: read as the day it names, YYYY-MM-DD. */
const PAID_ON = sql<string>`advances.paid_on::text`.as('paid_on')

export async function insertAdvance (db: Db, a: { agreementId: number, fiscalYear: number, paidOn: string, amount: string, documentNo: string }): Promise<Advance> {
  const row = await db.insertInto('advances').values({
    agreement_id: a.agreementId, fiscal_year: a.fiscalYear, paid_on: a.paidOn, amount: a.amount, document_no: a.documentNo,
  }).returning(['id', 'agreement_id', 'fiscal_year', PAID_ON, 'amount', 'document_no', 'created_at']).executeTakeFirstOrThrow()
  return toAdvance(row)
}

export async function listAdvances (db: Db, scope: Scope, filter: { agreementId?: number | undefined, fiscalYear?: number | undefined }, page: PageRequest): Promise<Page<Advance>> {
  let query = db.selectFrom('advances').innerJoin('agreements', 'agreements.id', 'advances.agreement_id')
    .select(['advances.id', 'advances.agreement_id', 'advances.fiscal_year', 'advances.amount', 'advances.document_no', 'advances.created_at', PAID_ON])
    .where(scopeFilter(scope, { zone: 'agreements.zone_code', district: 'agreements.district_code' }))
  if (filter.agreementId !== undefined) query = query.where('advances.agreement_id', '=', filter.agreementId)
  if (filter.fiscalYear !== undefined) query = query.where('advances.fiscal_year', '=', filter.fiscalYear)
  return mapPage(await fetchPage(query, page, { columns: ['advances.id'], types: ['int'], of: (r) => [r.id] }), toAdvance)
}

/**
 * The years after `year` in which the agreement's advances do not add up to zero (paid and not
 * recovered), with their sums, by year.
 */
export async function advancesAfter (db: Db, agreementId: number, year: number): Promise<Array<{ fiscalYear: number, total: string }>> {
  const rows = await db.selectFrom('advances').select(['fiscal_year', sql<string>`sum(amount)::text`.as('total')])
    .where('agreement_id', '=', agreementId).where('fiscal_year', '>', year)
    .groupBy('fiscal_year').having(sql<boolean>`sum(amount) <> 0`).orderBy('fiscal_year').execute()
  return rows.map((r) => ({ fiscalYear: r.fiscal_year, total: r.total }))
}

/** Σ advances per agreement for the year, with a digest of which advances they are (read in one statement). */
export async function advanceSums (db: Db, year: number, agreementIds?: readonly number[]): Promise<Map<number, { total: string, digest: string }>> {
  let query = db.selectFrom('advances')
    .select(['agreement_id', sql<string>`sum(amount)::text`.as('total'), sql<string>`md5(string_agg(id::text, ',' ORDER BY id))`.as('digest')])
    .where('fiscal_year', '=', year).groupBy('agreement_id')
  if (agreementIds !== undefined) query = query.where(sql<boolean>`agreement_id = ANY(${[...agreementIds]}::integer[])`)
  const rows = await query.execute()
  return new Map(rows.map((r) => [r.agreement_id, { total: r.total, digest: r.digest }]))
}
