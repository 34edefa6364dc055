import { type Kysely, sql } from 'kysely'
import type { Database } from './database.js'
import { decodeCursor, type Page, toPage } from './pagination.js'
import type { PageRequest } from './registry.js'
import { type Scope, scopeFilter } from './scope.js'

/* Settlement runs (年度结算), their lines and groups. */

type Db = Kysely<Database>

/** Only one run (or finalize) per fiscal year at a time: false when another holds the year. */
export async function tryLockYear (tx: Db, year: number): Promise<boolean> {
  const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(hashtextextended(${`settlement-year:${year}`}, 7303)) as locked`.execute(tx)
  return rows[0]?.locked === true
}

/** Σ amount and the number of monthly records per zone, district, category and year. */
export async function revenueSums (db: Db, years: readonly number[]): Promise<Map<string, { total: string, records: number }>> {
  const rows = await db.selectFrom('revenue_records')
    .select(['zone_code', 'district_code', 'category_code', 'year', sql<string>`sum(amount)::text`.as('total'), sql<number>`count(*)::int`.as('records')])
    .where('year', 'in', [...years])
    .groupBy(['zone_code', 'district_code', 'category_code', 'year'])
    .execute()
  return new Map(rows.map((r) => [revenueKey(r.zone_code, r.district_code, r.category_code, r.year), { total: r.total, records: r.records }]))
}

export const revenueKey = (zone: string, district: string, category: string, year: number) => `${zone}|${district}|${category}|${year}`

/** Σ advances per agreement for the year. */
export async function advanceSums (db: Db, year: number): Promise<Map<number, string>> {
  const rows = await db.selectFrom('advances').select(['agreement_id', sql<string>`sum(amount)::text`.as('total')])
    .where('fiscal_year', '=', year).groupBy('agreement_id').execute()
  return new Map(rows.map((r) => [r.agreement_id, r.total]))
}

export interface FinalizedLine {
  agreementId: number
  fiscalYear: number
  zoneShare: string
  /** C_out per group position. */
  carriedOut: Map<number, string | null>
}

/** The latest finalized line (annual or supplementary) of each agreement for each of the years. */
export async function latestFinalizedLines (db: Db, years: readonly number[]): Promise<Map<string, FinalizedLine>> {
  const lines = await db.selectFrom('settlement_lines').innerJoin('settlement_runs', 'settlement_runs.id', 'settlement_lines.run_id')
    .select(['settlement_lines.run_id', 'settlement_lines.agreement_id', 'settlement_lines.fiscal_year', 'settlement_lines.zone_share'])
    .where('settlement_lines.finalized', '=', true).where('settlement_lines.fiscal_year', 'in', [...years])
    .orderBy('settlement_lines.agreement_id').orderBy('settlement_lines.fiscal_year')
    .orderBy('settlement_runs.finalized_at', 'desc').orderBy('settlement_runs.id', 'desc')
    .execute()
  const latest = new Map<string, FinalizedLine & { runId: number }>()
  for (const l of lines) {
    const key = `${l.agreement_id}|${l.fiscal_year}`
    if (!latest.has(key)) latest.set(key, { runId: l.run_id, agreementId: l.agreement_id, fiscalYear: l.fiscal_year, zoneShare: l.zone_share, carriedOut: new Map() })
  }
  if (latest.size > 0) {
    const runIds = [...new Set([...latest.values()].map((l) => l.runId))]
    const groups = await db.selectFrom('settlement_groups').select(['run_id', 'agreement_id', 'position', 'carried_shortfall_out'])
      .where('run_id', 'in', runIds).execute()
    const byRunAgreement = new Map([...latest.values()].map((l) => [`${l.runId}|${l.agreementId}`, l]))
    for (const g of groups) byRunAgreement.get(`${g.run_id}|${g.agreement_id}`)?.carriedOut.set(g.position, g.carried_shortfall_out)
  }
  return latest
}

export interface NewSettlementLine {
  agreementId: number
  zoneCode: string
  districtCode: string
  kind: 'annual' | 'supplementary'
  revenueTotal: string
  zoneShare: string
  districtShare: string
  advancesPaid: string
  balanceDue: string
  previousZoneShare: string | null
  adjustment: string | null
  groups: Array<{
    name: string
    basis: 'increment' | 'total'
    base: string | null
    actual: string
    increment: string | null
    carriedShortfallIn: string | null
    shareable: string | null
    zoneShare: string
    districtShare: string
    carriedShortfallOut: string | null
    bands: string
    explanationZh: string
    explanationEn: string
  }>
}

const CHUNK = 1000

export async function insertRun (tx: Db, run: { fiscalYear: number, minimumRate: string, createdBy: string }, lines: readonly NewSettlementLine[]): Promise<number> {
  const { id } = await tx.insertInto('settlement_runs').values({
    fiscal_year: run.fiscalYear, status: 'draft', minimum_rate: run.minimumRate, created_by: run.createdBy,
  }).returning('id').executeTakeFirstOrThrow()
  for (let i = 0; i < lines.length; i += CHUNK) {
    const chunk = lines.slice(i, i + CHUNK)
    await tx.insertInto('settlement_lines').values(chunk.map((l) => ({
      run_id: id, agreement_id: l.agreementId, fiscal_year: run.fiscalYear, kind: l.kind, zone_code: l.zoneCode, district_code: l.districtCode,
      revenue_total: l.revenueTotal, zone_share: l.zoneShare, district_share: l.districtShare, advances_paid: l.advancesPaid,
      balance_due: l.balanceDue, previous_zone_share: l.previousZoneShare, adjustment: l.adjustment,
    }))).execute()
    await tx.insertInto('settlement_groups').values(chunk.flatMap((l) => l.groups.map((g, position) => ({
      run_id: id, agreement_id: l.agreementId, position, name: g.name, basis: g.basis, base: g.base, actual: g.actual,
      increment: g.increment, carried_shortfall_in: g.carriedShortfallIn, shareable: g.shareable, zone_share: g.zoneShare,
      district_share: g.districtShare, carried_shortfall_out: g.carriedShortfallOut, bands: g.bands,
      explanation_zh: g.explanationZh, explanation_en: g.explanationEn,
    })))).execute()
  }
  return id
}

export interface StoredRun {
  id: number
  fiscalYear: number
  status: 'draft' | 'finalized'
  minimumRate: string
  createdAt: string
  createdBy: string
  finalizedAt: string | null
  finalizedBy: string | null
}

const toRun = (r: { id: number, fiscal_year: number, status: 'draft' | 'finalized', minimum_rate: string, created_at: Date, created_by: string, finalized_at: Date | null, finalized_by: string | null }): StoredRun => ({
  id: r.id, fiscalYear: r.fiscal_year, status: r.status, minimumRate: r.minimum_rate, createdAt: r.created_at.toISOString(),
  createdBy: r.created_by, finalizedAt: r.finalized_at?.toISOString() ?? null, finalizedBy: r.finalized_by,
})

export interface StoredLine extends Omit<NewSettlementLine, 'groups'> {
  groups: Array<NewSettlementLine['groups'][number]>
}

/** A run with the lines the caller may see; undefined when none (out of scope reads as absent). */
export async function findRun (db: Db, scope: Scope, id: number): Promise<{ run: StoredRun, lines: StoredLine[] } | undefined> {
  const run = await db.selectFrom('settlement_runs').selectAll().where('id', '=', id).executeTakeFirst()
  if (run === undefined) return undefined
  const lineRows = await db.selectFrom('settlement_lines').selectAll().where('run_id', '=', id)
    .where(scopeFilter(scope, { zone: 'settlement_lines.zone_code', district: 'settlement_lines.district_code' }))
    .orderBy('zone_code').orderBy('district_code').orderBy('agreement_id').execute()
  if (lineRows.length === 0 && scope.kind !== 'all') return undefined
  const groupRows = await db.selectFrom('settlement_groups').selectAll().where('run_id', '=', id).orderBy('agreement_id').orderBy('position').execute()
  const groups = new Map<number, StoredLine['groups']>()
  for (const g of groupRows) {
    const list = groups.get(g.agreement_id) ?? []
    list.push({
      name: g.name, basis: g.basis, base: g.base, actual: g.actual, increment: g.increment, carriedShortfallIn: g.carried_shortfall_in,
      shareable: g.shareable, zoneShare: g.zone_share, districtShare: g.district_share, carriedShortfallOut: g.carried_shortfall_out,
      bands: g.bands, explanationZh: g.explanation_zh, explanationEn: g.explanation_en,
    })
    groups.set(g.agreement_id, list)
  }
  return {
    run: toRun(run),
    lines: lineRows.map((l) => ({
      agreementId: l.agreement_id, zoneCode: l.zone_code, districtCode: l.district_code, kind: l.kind, revenueTotal: l.revenue_total,
      zoneShare: l.zone_share, districtShare: l.district_share, advancesPaid: l.advances_paid, balanceDue: l.balance_due,
      previousZoneShare: l.previous_zone_share, adjustment: l.adjustment, groups: groups.get(l.agreement_id) ?? [],
    })),
  }
}

/** Runs with at least one line in the caller's scope (all runs for admins), newest first. */
export async function listRuns (db: Db, scope: Scope, fiscalYear: number | undefined, page: PageRequest): Promise<Page<StoredRun>> {
  const before = decodeCursor<number>(page.cursor, 'number')
  let query = db.selectFrom('settlement_runs').selectAll().orderBy('id', 'desc').limit(page.limit + 1)
  if (scope.kind !== 'all') {
    query = query.where((eb) => eb.exists(eb.selectFrom('settlement_lines').select('run_id')
      .whereRef('settlement_lines.run_id', '=', 'settlement_runs.id')
      .where(scopeFilter(scope, { zone: 'settlement_lines.zone_code', district: 'settlement_lines.district_code' }))))
  }
  if (before !== undefined) query = query.where('id', '<', before)
  if (fiscalYear !== undefined) query = query.where('fiscal_year', '=', fiscalYear)
  return toPage(await query.execute(), page.limit, (r) => r.id, toRun)
}

export async function markFinalized (tx: Db, id: number, keyId: string): Promise<void> {
  await tx.updateTable('settlement_lines').set({ finalized: true }).where('run_id', '=', id).execute()
  await tx.updateTable('settlement_runs').set({ status: 'finalized', finalized_at: sql<Date>`now()`, finalized_by: keyId }).where('id', '=', id).execute()
}

/** Whether anything a run read has changed since it was computed (revenue, advances, base adjustments). */
export async function changedSince (db: Db, fiscalYear: number, since: Date): Promise<string[]> {
  const changes: string[] = []
  const revenue = await db.selectFrom('revenue_revisions').select('zone_code').where('year', 'in', [fiscalYear - 1, fiscalYear]).where('recorded_at', '>', since).limit(1).executeTakeFirst()
  if (revenue !== undefined) changes.push('revenue')
  const advance = await db.selectFrom('advances').select('id').where('fiscal_year', '=', fiscalYear).where('created_at', '>', since).limit(1).executeTakeFirst()
  if (advance !== undefined) changes.push('advances')
  const adjustment = await db.selectFrom('base_adjustments').select('id').where('from_year', '<=', fiscalYear).where('created_at', '>', since).limit(1).executeTakeFirst()
  if (adjustment !== undefined) changes.push('base adjustments')
  const agreement = await db.selectFrom('agreements').select('id').where('created_at', '>', since)
    .where('effective_from', '<=', fiscalYear).where((eb) => eb.or([eb('effective_to', 'is', null), eb('effective_to', '>=', fiscalYear)]))
    .limit(1).executeTakeFirst()
  if (agreement !== undefined) changes.push('agreements')
  return changes
}
