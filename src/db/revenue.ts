import { type Kysely, sql } from 'kysely'
import { InputError } from '../domain/errors.js'
import type { CheckedRevenueRow } from '../domain/revenue-row.js'
import type { Database } from './database.js'
import { decodeCursor, type Page, toPage } from './pagination.js'
import type { PageRequest } from './registry.js'
import { type Scope, scopeFilter } from './scope.js'

/*
 * Revenue records (实际收入) and their revisions. Every write, a JSON batch or a CSV import of
 * any size, goes the same way: rows are staged in a temporary table in batches (one multi-row
 * INSERT … SELECT FROM unnest(…) per batch), then merged with set-based SQL: a month whose
 * amount changed gets a new revision in revenue_revisions and its current amount in
 * revenue_records; an unchanged amount adds nothing. The last line wins within one request.
 */

type Db = Kysely<Database>

export interface StagedRevenue extends CheckedRevenueRow {
  /** Where the row came from: its index in a JSON batch, or its line in a CSV file. */
  line: number
}

export async function createStaging (tx: Db): Promise<void> {
  await sql`CREATE TEMP TABLE revenue_staging (
    line integer NOT NULL, zone_code text NOT NULL, district_code text NOT NULL, category_code text NOT NULL,
    year integer NOT NULL, month integer NOT NULL, amount numeric(17, 2) NOT NULL) ON COMMIT DROP`.execute(tx)
}

export async function stageRows (tx: Db, rows: readonly StagedRevenue[]): Promise<void> {
  if (rows.length === 0) return
  await sql`INSERT INTO revenue_staging (line, zone_code, district_code, category_code, year, month, amount)
    SELECT * FROM unnest(${rows.map((r) => r.line)}::integer[], ${rows.map((r) => r.zoneCode)}::text[],
      ${rows.map((r) => r.districtCode)}::text[], ${rows.map((r) => r.categoryCode)}::text[],
      ${rows.map((r) => r.year)}::integer[], ${rows.map((r) => r.month)}::integer[], ${rows.map((r) => r.amount)}::numeric[])`.execute(tx)
}

export interface MergeCounts {
  /** Months recorded for the first time. */
  created: number
  /** Months whose amount changed: a new revision. */
  revised: number
  /** Months whose amount was already the one sent. */
  unchanged: number
}

export async function mergeStaging (tx: Db, keyId: string, requestId: string): Promise<MergeCounts> {
  // Merges take turns (staging does not): two writes of one month at once must both land, as
  // revisions n+1 and n+2, not as the same revision twice. The lock ends with the transaction.
  await sql`select pg_advisory_xact_lock(hashtextextended('revenue-merge', 7304))`.execute(tx)
  await sql`CREATE TEMP TABLE revenue_changes ON COMMIT DROP AS
    WITH latest AS (
      SELECT DISTINCT ON (zone_code, district_code, category_code, year, month) zone_code, district_code, category_code, year, month, amount
      FROM revenue_staging ORDER BY zone_code, district_code, category_code, year, month, line DESC)
    SELECT l.*, coalesce(r.revision, 0) + 1 AS revision, r.revision IS NULL AS is_new, r.amount IS NOT DISTINCT FROM l.amount AS same
    FROM latest l LEFT JOIN revenue_records r USING (zone_code, district_code, category_code, year, month)`.execute(tx)
  await sql`INSERT INTO revenue_revisions (zone_code, district_code, category_code, year, month, revision, amount, key_id, request_id)
    SELECT zone_code, district_code, category_code, year, month, revision, amount, ${keyId}, ${requestId}
    FROM revenue_changes WHERE NOT same`.execute(tx)
  await sql`INSERT INTO revenue_records (zone_code, district_code, category_code, year, month, amount, revision)
    SELECT zone_code, district_code, category_code, year, month, amount, revision FROM revenue_changes WHERE NOT same
    ON CONFLICT (zone_code, district_code, category_code, year, month)
    DO UPDATE SET amount = excluded.amount, revision = excluded.revision, updated_at = now()`.execute(tx)
  const { rows } = await sql<MergeCounts>`SELECT
      count(*) FILTER (WHERE is_new)::int AS created,
      count(*) FILTER (WHERE NOT is_new AND NOT same)::int AS revised,
      count(*) FILTER (WHERE same)::int AS unchanged
    FROM revenue_changes`.execute(tx)
  return rows[0]!
}

/** What a row may refer to: loaded once per request, so that validating a row is a lookup. */
export interface RevenueReferences {
  zoneHosts: Map<string, string>
  districts: Set<string>
  categories: Set<string>
}

export async function loadRevenueReferences (db: Db): Promise<RevenueReferences> {
  const [zones, districts, categories] = await Promise.all([
    db.selectFrom('zones').select(['code', 'host_district_code']).execute(),
    db.selectFrom('districts').select('code').execute(),
    db.selectFrom('revenue_categories').select('code').execute(),
  ])
  return {
    zoneHosts: new Map(zones.map((z) => [z.code, z.host_district_code])),
    districts: new Set(districts.map((d) => d.code)),
    categories: new Set(categories.map((c) => c.code)),
  }
}

export interface RevenueRecord {
  zoneCode: string
  districtCode: string
  category: string
  year: number
  month: number
  amount: string
  revision: number
  updatedAt: string
}

export interface RevenueFilter {
  zoneCode?: string | undefined
  districtCode?: string | undefined
  year?: number | undefined
  category?: string | undefined
}

type Key = [string, string, string, number, number]

function parseKey (text: string): Key {
  try {
    const key = JSON.parse(text) as unknown
    if (Array.isArray(key) && key.length === 5 && key.slice(0, 3).every((k) => typeof k === 'string') && key.slice(3).every((k) => Number.isInteger(k))) return key as Key
  } catch { /* reported below */ }
  throw new InputError('malformed', [{ pointer: '/querystring/cursor', message: 'is not a cursor this list gave out' }])
}

export async function listRevenue (db: Db, scope: Scope, filter: RevenueFilter, page: PageRequest): Promise<Page<RevenueRecord>> {
  const after = decodeCursor<string>(page.cursor, 'string')
  let query = db.selectFrom('revenue_records').selectAll()
    .where(scopeFilter(scope, { zone: 'revenue_records.zone_code', district: 'revenue_records.district_code' }))
    .orderBy('zone_code').orderBy('district_code').orderBy('category_code').orderBy('year').orderBy('month')
    .limit(page.limit + 1)
  if (after !== undefined) {
    const [z, d, c, y, m] = parseKey(after)
    query = query.where(sql<boolean>`(zone_code, district_code, category_code, year, month) > (${z}, ${d}, ${c}, ${y}, ${m})`)
  }
  if (filter.zoneCode !== undefined) query = query.where('zone_code', '=', filter.zoneCode)
  if (filter.districtCode !== undefined) query = query.where('district_code', '=', filter.districtCode)
  if (filter.year !== undefined) query = query.where('year', '=', filter.year)
  if (filter.category !== undefined) query = query.where('category_code', '=', filter.category)
  return toPage(await query.execute(), page.limit,
    (r) => JSON.stringify([r.zone_code, r.district_code, r.category_code, r.year, r.month]),
    (r) => ({
      zoneCode: r.zone_code, districtCode: r.district_code, category: r.category_code, year: r.year, month: r.month,
      amount: r.amount, revision: r.revision, updatedAt: r.updated_at.toISOString(),
    }))
}

export interface RevenueRevision {
  revision: number
  amount: string
  recordedAt: string
  keyId: string
  requestId: string
}

/** Every revision of one month's record, oldest first; empty when it is unknown or out of scope. */
export async function revenueHistory (db: Db, scope: Scope, key: { zoneCode: string, districtCode: string, category: string, year: number, month: number }): Promise<RevenueRevision[]> {
  const rows = await db.selectFrom('revenue_revisions').selectAll()
    .where('zone_code', '=', key.zoneCode).where('district_code', '=', key.districtCode).where('category_code', '=', key.category)
    .where('year', '=', key.year).where('month', '=', key.month)
    .where(scopeFilter(scope, { zone: 'revenue_revisions.zone_code', district: 'revenue_revisions.district_code' }))
    .orderBy('revision').execute()
  return rows.map((r) => ({ revision: r.revision, amount: r.amount, recordedAt: r.recorded_at.toISOString(), keyId: r.key_id, requestId: r.request_id }))
}
