import { sql } from 'kysely'
import { type Decimal, money } from '../domain/money.js'
import type { RunStatus, SettledGroupFigures, SettlementKind } from '../domain/settlement.js'
import type { Db, SettlementRunRow } from './database.js'
import { LockSpace, tryLock } from './locks.js'
import { fetchPage, mapPage, type Page, type PageRequest } from './pagination.js'
import { type Scope, scopeFilter } from './scope.js'

/* Settlement runs (年度结算), their lines and groups. */

/** Only one run (or finalize) per fiscal year at a time: false when another holds the year. */
export function tryLockYear (tx: Db, year: number): Promise<boolean> {
  return tryLock(tx, LockSpace.settlementYear, `settlement-year:${year}`)
}

export interface FinalizedLine {
  agreementId: number
  fiscalYear: number
  zoneShare: string
  /** C_out per group position (increment groups only). */
  carriedOut: Map<number, Decimal>
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
    for (const g of groups) {
      if (g.carried_shortfall_out !== null) byRunAgreement.get(`${g.run_id}|${g.agreement_id}`)?.carriedOut.set(g.position, money(g.carried_shortfall_out))
    }
  }
  return latest
}

export interface NewSettlementLine {
  agreementId: number
  zoneCode: string
  districtCode: string
  kind: SettlementKind
  revenueTotal: string
  zoneShare: string
  districtShare: string
  advancesPaid: string
  balanceDue: string
  previousZoneShare: string | null
  adjustment: string | null
  groups: Array<SettledGroupFigures & {
    /** The printed bands, as JSON. */
    bands: string
    /** The engine's GroupResult, serialized. */
    result: string
  }>
}

export async function insertRun (tx: Db, run: { fiscalYear: number, minimumRate: string, createdBy: string }): Promise<number> {
  const { id } = await tx.insertInto('settlement_runs').values({
    fiscal_year: run.fiscalYear, status: 'draft', minimum_rate: run.minimumRate, created_by: run.createdBy,
  }).returning('id').executeTakeFirstOrThrow()
  return id
}

/** Stores lines and their groups: column arrays through unnest, two statements whatever the number of lines. */
export async function insertLines (tx: Db, id: number, fiscalYear: number, chunk: readonly NewSettlementLine[]): Promise<void> {
  if (chunk.length === 0) return
  {
    const col = <T>(pick: (l: NewSettlementLine) => T) => chunk.map(pick)
    await sql`INSERT INTO settlement_lines (run_id, agreement_id, fiscal_year, kind, zone_code, district_code, revenue_total, zone_share,
        district_share, advances_paid, balance_due, previous_zone_share, adjustment)
      SELECT ${id}, u.agreement_id, ${fiscalYear}, u.kind, u.zone_code, u.district_code, u.revenue_total, u.zone_share, u.district_share,
        u.advances_paid, u.balance_due, u.previous_zone_share, u.adjustment
      FROM unnest(${col((l) => l.agreementId)}::integer[], ${col((l) => l.kind)}::text[], ${col((l) => l.zoneCode)}::text[],
        ${col((l) => l.districtCode)}::text[], ${col((l) => l.revenueTotal)}::numeric[], ${col((l) => l.zoneShare)}::numeric[],
        ${col((l) => l.districtShare)}::numeric[], ${col((l) => l.advancesPaid)}::numeric[], ${col((l) => l.balanceDue)}::numeric[],
        ${col((l) => l.previousZoneShare)}::numeric[], ${col((l) => l.adjustment)}::numeric[])
        AS u(agreement_id, kind, zone_code, district_code, revenue_total, zone_share, district_share, advances_paid, balance_due, previous_zone_share, adjustment)`.execute(tx)
    const groups = chunk.flatMap((l) => l.groups.map((g, position) => ({ agreementId: l.agreementId, position, ...g })))
    const gcol = <T>(pick: (g: typeof groups[number]) => T) => groups.map(pick)
    await sql`INSERT INTO settlement_groups (run_id, agreement_id, position, name, basis, base, actual, increment, carried_shortfall_in, shareable,
        zone_share, district_share, carried_shortfall_out, bands, result)
      SELECT ${id}, u.*
      FROM unnest(${gcol((g) => g.agreementId)}::integer[], ${gcol((g) => g.position)}::integer[], ${gcol((g) => g.name)}::text[],
        ${gcol((g) => g.basis)}::text[], ${gcol((g) => g.base)}::numeric[], ${gcol((g) => g.actual)}::numeric[], ${gcol((g) => g.increment)}::numeric[],
        ${gcol((g) => g.carriedShortfallIn)}::numeric[], ${gcol((g) => g.shareable)}::numeric[], ${gcol((g) => g.zoneShare)}::numeric[],
        ${gcol((g) => g.districtShare)}::numeric[], ${gcol((g) => g.carriedShortfallOut)}::numeric[], ${gcol((g) => g.bands)}::text[],
        ${gcol((g) => g.result)}::text[]) AS u`.execute(tx)
  }
}

export interface StoredRun {
  id: number
  fiscalYear: number
  status: RunStatus
  minimumRate: string
  createdAt: string
  createdBy: string
  finalizedAt: string | null
  finalizedBy: string | null
}

const toRun = (r: SettlementRunRow): StoredRun => ({
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
      bands: g.bands, result: g.result,
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
  let query = db.selectFrom('settlement_runs').selectAll()
  if (scope.kind !== 'all') {
    query = query.where((eb) => eb.exists(eb.selectFrom('settlement_lines').select('run_id')
      .whereRef('settlement_lines.run_id', '=', 'settlement_runs.id')
      .where(scopeFilter(scope, { zone: 'settlement_lines.zone_code', district: 'settlement_lines.district_code' }))))
  }
  if (fiscalYear !== undefined) query = query.where('fiscal_year', '=', fiscalYear)
  return mapPage(await fetchPage(query, page, { columns: ['id'], types: ['int'], of: (r) => [r.id], descending: true }), toRun)
}

/** A run's line figures by district (no groups): what a summary needs, whatever the size of the run. */
export async function runLineFigures (db: Db, id: number) {
  return db.selectFrom('settlement_lines')
    .select(['district_code', 'revenue_total', 'zone_share', 'district_share', 'advances_paid', 'balance_due', 'adjustment'])
    .where('run_id', '=', id).orderBy('district_code').execute()
}

export async function findRunHeader (db: Db, id: number): Promise<StoredRun | undefined> {
  const run = await db.selectFrom('settlement_runs').selectAll().where('id', '=', id).executeTakeFirst()
  return run === undefined ? undefined : toRun(run)
}

export async function markFinalized (tx: Db, id: number, keyId: string): Promise<void> {
  await tx.updateTable('settlement_lines').set({ finalized: true }).where('run_id', '=', id).execute()
  await tx.updateTable('settlement_runs').set({ status: 'finalized', finalized_at: sql<Date>`now()`, finalized_by: keyId }).where('id', '=', id).execute()
}

/** What a run read that has changed since it was computed: revenue, advances, base adjustments, agreements. */
export async function changedSince (db: Db, runId: number, fiscalYear: number): Promise<string[]> {
  // Compared in the database, at its own (microsecond) precision.
  const since = sql<Date>`(SELECT created_at FROM settlement_runs WHERE id = ${runId})`
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

/** The latest fiscal year a finalized settlement of the agreement covers, if any. */
export async function lastFinalizedYear (db: Db, agreementId: number): Promise<number | undefined> {
  const row = await db.selectFrom('settlement_lines').select((eb) => eb.fn.max('fiscal_year').as('year'))
    .where('agreement_id', '=', agreementId).where('finalized', '=', true).executeTakeFirst()
  return row?.year ?? undefined
}
