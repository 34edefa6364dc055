import { type RawBuilder, sql } from 'kysely'
import { type CategoryActual, type GroupActual, groupActualKey, NOTHING_RECORDED, type RecordedActual, recordsDigest, sumGroupActuals } from '../domain/agreement.js'
import { money } from '../domain/money.js'
import type { RevenueMonthKey } from '../domain/revenue-row.js'
import { copyRows } from './copy.js'
import type { Db } from './database.js'
import { LockSpace, lock } from './locks.js'
import { fetchPage, mapPage, type Page, type PageRequest } from './pagination.js'
import { type Scope, scopeFilter, zoneFilter } from './scope.js'

/*
 * Revenue records (实际收入) and their revisions. Every write, a JSON batch or a CSV import of
 * any size, goes the same way: rows are streamed into a temporary table with one COPY as they are
 * checked (src/db/copy.ts), then merged with set-based SQL: a month whose
 * amount changed gets a new revision in revenue_revisions and its current amount in
 * revenue_records; an unchanged amount adds nothing. A month given twice in one request is refused
 * (repeatedMonths), never silently resolved.
 */

export interface StagedRevenue extends RevenueMonthKey {
  /** Where the row came from: its index in a JSON batch, or its line in a CSV file. */
  line: number
  /**
   * Null for a CSV line refused for its amount alone: staged only so that a month given twice is
   * found whatever its lines' amounts (repeatedMonths), never merged.
   */
  amount: string | null
}

/** A new staging table for the transaction (a transaction that records revenue twice, as the demo loader does, gets an empty one). */
export async function createStaging (tx: Db): Promise<void> {
  await sql`DROP TABLE IF EXISTS pg_temp.revenue_staging`.execute(tx)
  await sql`CREATE TEMP TABLE revenue_staging (
    line integer NOT NULL, zone_code text NOT NULL, district_code text NOT NULL, category_code text NOT NULL,
    year integer NOT NULL, month integer NOT NULL, amount numeric(17, 2)) ON COMMIT DROP`.execute(tx)
}

/**
 * Stages rows as they come (a JSON batch, or a CSV file's checked lines as they are read) with one
 * COPY; only a piece of them is held at a time. Answers how many rows with an amount were staged.
 */
export async function stageRows (tx: Db, rows: AsyncIterable<StagedRevenue> | Iterable<StagedRevenue>): Promise<number> {
  let staged = 0
  const data = copyRows(rows, (r) => {
    if (r.amount !== null) staged++
    return [r.line, r.zoneCode, r.districtCode, r.categoryCode, r.year, r.month, r.amount]
  })
  await sql`COPY revenue_staging (line, zone_code, district_code, category_code, year, month, amount) FROM STDIN ${data}`.execute(tx)
  return staged
}

export interface MergeCounts {
  /** Months recorded for the first time. */
  created: number
  /** Months whose amount changed: a new revision. */
  revised: number
  /** Months whose amount was already the one sent. */
  unchanged: number
}

/** Merges the staged rows, none of whose months is staged twice (repeatedMonths finds them first). */
export async function mergeStaging (tx: Db, keyId: string, requestId: string): Promise<MergeCounts> {
  // Merges take turns (staging does not): two writes of one month at once must both land, as
  // revisions n+1 and n+2, not as the same revision twice. The lock ends with the transaction.
  await lock(tx, LockSpace.revenueMerge, 'revenue-merge')
  // The revisions are timed when they are numbered, under the lock, not when the transaction began
  // (now()): a large import begun before a small write and merged after it makes the later revision,
  // and its time must say so.
  const { rows: [clock] } = await sql<{ at: string }>`SELECT clock_timestamp()::text AS at`.execute(tx)
  const recordedAt = clock?.at
  if (recordedAt === undefined) throw new Error('clock_timestamp() answered no row')
  await sql`DROP TABLE IF EXISTS pg_temp.revenue_changes`.execute(tx)
  // Each month is staged once by now (a month given twice is refused, or taken out of a partial
  // import, before the merge); were one staged twice, revenue_records' key would refuse the insert.
  await sql`CREATE TEMP TABLE revenue_changes ON COMMIT DROP AS
    SELECT s.zone_code, s.district_code, s.category_code, s.year, s.month, s.amount,
      coalesce(r.revision, 0) + 1 AS revision, r.revision IS NULL AS is_new, r.amount IS NOT DISTINCT FROM s.amount AS same
    FROM revenue_staging s LEFT JOIN revenue_records r USING (zone_code, district_code, category_code, year, month)
    WHERE s.amount IS NOT NULL`.execute(tx)
  await sql`INSERT INTO revenue_revisions (zone_code, district_code, category_code, year, month, revision, amount, key_id, request_id, recorded_at)
    SELECT zone_code, district_code, category_code, year, month, revision, amount, ${keyId}, ${requestId}, ${recordedAt}::timestamptz
    FROM revenue_changes WHERE NOT same`.execute(tx)
  // The merge lock keeps every other writer of these months out, so a new month is a plain INSERT
  // (no speculative ON CONFLICT insertion: the bulk of a large import) and a changed one an UPDATE.
  await sql`INSERT INTO revenue_records (zone_code, district_code, category_code, year, month, amount, revision, updated_at)
    SELECT zone_code, district_code, category_code, year, month, amount, revision, ${recordedAt}::timestamptz FROM revenue_changes WHERE is_new`.execute(tx)
  await sql`UPDATE revenue_records r SET amount = c.amount, revision = c.revision, updated_at = ${recordedAt}::timestamptz FROM revenue_changes c
    WHERE NOT c.is_new AND NOT c.same
      AND (r.zone_code, r.district_code, r.category_code, r.year, r.month) = (c.zone_code, c.district_code, c.category_code, c.year, c.month)`.execute(tx)
  const { rows } = await sql<MergeCounts>`SELECT
      count(*) FILTER (WHERE is_new)::int AS created,
      count(*) FILTER (WHERE NOT is_new AND NOT same)::int AS revised,
      count(*) FILTER (WHERE same)::int AS unchanged
    FROM revenue_changes`.execute(tx)
  return rows[0] ?? { created: 0, revised: 0, unchanged: 0 }
}

/** What a row may refer to: loaded once per request, so that validating a row is a lookup. */
export interface RevenueReferences {
  zoneHosts: Map<string, string>
  districts: Set<string>
  categories: Set<string>
  /** For a district key: the zones it may see (src/db/scope.ts zoneFilter). */
  zonesInScope?: Set<string> | undefined
}

/** `onlyDistrict`: a district key's district, whose zones in scope are loaded too. */
export async function loadRevenueReferences (db: Db, onlyDistrict?: string): Promise<RevenueReferences> {
  const [zones, districts, categories, inScope] = await Promise.all([
    db.selectFrom('zones').select(['code', 'host_district_code']).execute(),
    db.selectFrom('districts').select('code').execute(),
    db.selectFrom('revenue_categories').select('code').execute(),
    onlyDistrict === undefined
      ? undefined
      : db.selectFrom('zones').select('code').where(zoneFilter({ kind: 'district', districtCode: onlyDistrict }, 'zones.code', 'zones.host_district_code')).execute(),
  ])
  return {
    zoneHosts: new Map(zones.map((z) => [z.code, z.host_district_code])),
    districts: new Set(districts.map((d) => d.code)),
    categories: new Set(categories.map((c) => c.code)),
    zonesInScope: inScope === undefined ? undefined : new Set(inScope.map((z) => z.code)),
  }
}

/** Staged rows for one zone, district, category, year and month given more than once. */
export interface RepeatedMonth {
  /** The lines (JSON indexes or CSV line numbers) in order; at most `perMonth` of them. */
  lines: number[]
  /** Those of `lines` refused already for their amount (staged without one). */
  refused: number[]
  /** How many lines give the month, those beyond `perMonth` too. */
  count: number
}

/**
 * The months staged more than once in this request, by their first line (at most `limit` months),
 * and how many staged lines with an amount repeat a month in all (a line staged without one was
 * refused already, and is named only beside the others of its month).
 */
export async function repeatedMonths (tx: Db, limit: number, perMonth = 1000): Promise<{ months: RepeatedMonth[], lines: number }> {
  const { rows: [total] } = await sql<{ lines: number }>`SELECT coalesce(sum(n), 0)::int AS lines FROM (
    SELECT count(amount) AS n FROM revenue_staging GROUP BY zone_code, district_code, category_code, year, month HAVING count(*) > 1) repeated`.execute(tx)
  const lines = total?.lines ?? 0
  // Listing them costs a second pass over the staged rows: only when there are some.
  if (lines === 0) return { months: [], lines }
  const { rows } = await sql<{ lines: number[], refused: number[] | null, count: number }>`
    SELECT (array_agg(line ORDER BY line))[1:${perMonth}::int] AS lines, (array_agg(line ORDER BY line) FILTER (WHERE amount IS NULL))[1:${perMonth}::int] AS refused, count(*)::int AS count
    FROM revenue_staging
    GROUP BY zone_code, district_code, category_code, year, month HAVING count(*) > 1 AND count(amount) > 0
    ORDER BY min(line) LIMIT ${limit}::int`.execute(tx)
  return { months: rows.map((r) => ({ lines: r.lines, refused: r.refused ?? [], count: r.count })), lines }
}

/** Takes every staged row of a month staged more than once out of the staging table; answers how many of them had an amount. */
export async function unstageRepeatedMonths (tx: Db): Promise<number> {
  const { rows: [deleted] } = await sql<{ lines: number }>`WITH deleted AS (
    DELETE FROM revenue_staging s WHERE (zone_code, district_code, category_code, year, month) IN (
      SELECT zone_code, district_code, category_code, year, month FROM revenue_staging
      GROUP BY zone_code, district_code, category_code, year, month HAVING count(*) > 1)
    RETURNING amount)
    SELECT count(amount)::int AS lines FROM deleted`.execute(tx)
  return deleted?.lines ?? 0
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

export async function listRevenue (db: Db, scope: Scope, filter: RevenueFilter, page: PageRequest): Promise<Page<RevenueRecord>> {
  let query = db.selectFrom('revenue_records').selectAll()
    .where(scopeFilter(scope, { zone: 'revenue_records.zone_code', district: 'revenue_records.district_code' }))
  if (filter.zoneCode !== undefined) query = query.where('zone_code', '=', filter.zoneCode)
  if (filter.districtCode !== undefined) query = query.where('district_code', '=', filter.districtCode)
  if (filter.year !== undefined) query = query.where('year', '=', filter.year)
  if (filter.category !== undefined) query = query.where('category_code', '=', filter.category)
  const rows = await fetchPage(query, page, {
    columns: ['zone_code', 'district_code', 'category_code', 'year', 'month'],
    types: ['text', 'text', 'text', 'int', 'int'],
    of: (r) => [r.zone_code, r.district_code, r.category_code, r.year, r.month],
  })
  return mapPage(rows, (r) => ({
    zoneCode: r.zone_code, districtCode: r.district_code, category: r.category_code, year: r.year, month: r.month,
    amount: r.amount, revision: r.revision, updatedAt: r.updated_at.toISOString(),
  }))
}

/**
 * A(y) of agreement groups (calculation-rules.md §5): the sum of the latest revision of each month
 * of the zone's revenue in the agreement's district over the group's categories, and how many
 * monthly records there are (none recorded is not the same as zero), with a digest of the records
 * it summed (recordsDigest). All three read revenue_year_totals, the yearly sums per zone, district
 * and category that sql/010's triggers keep with every write of revenue_records, and give the same
 * figures and digests:
 * - `groupActuals`, by agreement: each agreement's sums found through the table's key (a few
 *   agreements, or agreements scattered over the registry);
 * - `yearGroupActuals`, every agreement in force in a year, in one pass (a whole year's run);
 * - `categoryActuals` and `groupActualsOf`, by zone–district pair: one pass over the stretch of the
 *   key that the agreements' pairs span, summed per group in sumGroupActuals (a chunk of
 *   agreements that are most of those in force, read in the order of their pairs, so that the
 *   chunks' stretches follow one another).
 */
export async function groupActuals (db: Db, years: readonly number[], ids: readonly number[]): Promise<GroupActuals> {
  const { rows } = await groupSums(years, sql`a.id = ANY(${[...ids]}::integer[])`).execute(db)
  return fromGroupRows(rows)
}

/**
 * A(y) of the groups of every agreement in force in `inForceIn` (see groupActuals), in one pass
 * over the year's sums, joined by hashing. The planner, which cannot know that a zone has one host
 * district, takes the sums of an agreement's zone and district for a fiftieth of what they are and
 * would look up each category's sum on its own: 500,000 index probes at 25,000 agreements, twice as
 * slow as one hash join (1.2 s against 0.54 s). So nested loops are off for this one statement: in a
 * transaction (a run's, or the read-only one beside it), the three statements go out together on its
 * one connection, and nothing runs between them.
 */
export async function yearGroupActuals (db: Db, years: readonly number[], inForceIn: number): Promise<GroupActuals> {
  const [, { rows }] = await Promise.all([
    sql`SET LOCAL enable_nestloop = off`.execute(db),
    groupSums(years, sql`a.effective_from <= ${inForceIn} AND (a.effective_to IS NULL OR a.effective_to >= ${inForceIn})`).execute(db),
    sql`SET LOCAL enable_nestloop TO DEFAULT`.execute(db),
  ])
  return fromGroupRows(rows)
}

/**
 * The per-category sums (revenue_year_totals) over the stretch of its key that the pairs of the
 * agreements `ids` span, from the lowest pair to the highest as the database orders them (see
 * groupActuals; groupActualsOf sums them per group).
 */
export async function categoryActuals (db: Db, years: readonly number[], ids: readonly number[]): Promise<CategoryActual[]> {
  const { rows } = await sql<{ zone_code: string, district_code: string, category_code: string, year: number, total: string, records: number, revisions: number }>`
    WITH pairs AS (SELECT zone_code, district_code FROM agreements WHERE id = ANY(${[...ids]}::integer[]))
    SELECT zone_code, district_code, category_code, year, total::text AS total, records, revisions::int AS revisions
    FROM revenue_year_totals
    WHERE (zone_code, district_code) >= (SELECT zone_code, district_code FROM pairs ORDER BY zone_code, district_code LIMIT 1)
      AND (zone_code, district_code) <= (SELECT zone_code, district_code FROM pairs ORDER BY zone_code DESC, district_code DESC LIMIT 1)
      AND year = ANY(${[...years]}::integer[])`.execute(db)
  return rows.map((r) => ({
    zoneCode: r.zone_code, districtCode: r.district_code, categoryCode: r.category_code, year: r.year, total: money(r.total), records: r.records, revisions: r.revisions,
  }))
}

/** A(y) of the groups of `agreements` from categoryActuals read for them (all of them, whole). */
export const groupActualsOf = (agreements: Parameters<typeof sumGroupActuals>[0], rows: readonly CategoryActual[]): GroupActuals => actualsFrom(sumGroupActuals(agreements, rows))

/** A row of group sums as groupActuals and yearGroupActuals read them. */
interface GroupRow { agreement_id: number, group_position: number, year: number, total: string, records: number, revisions: string }

/** The yearly sums of `years` summed per group of the agreements `which` selects (a condition on `a`, the agreements). */
const groupSums = (years: readonly number[], which: RawBuilder<unknown>) => sql<GroupRow>`
  SELECT a.id AS agreement_id, gc.group_position, t.year, sum(t.total)::text AS total, sum(t.records)::int AS records, sum(t.revisions)::text AS revisions
  FROM agreements a
  JOIN agreement_group_categories gc ON gc.agreement_id = a.id
  JOIN revenue_year_totals t ON t.zone_code = a.zone_code AND t.district_code = a.district_code AND t.category_code = gc.category_code
  WHERE t.year = ANY(${[...years]}::integer[]) AND ${which}
  GROUP BY a.id, gc.group_position, t.year`

const fromGroupRows = (rows: readonly GroupRow[]): GroupActuals =>
  actualsFrom(new Map(rows.map((r) => [groupActualKey(r.agreement_id, r.group_position, r.year), { total: money(r.total), records: r.records, revisions: Number(r.revisions) }])))

function actualsFrom (found: ReadonlyMap<string, GroupActual>): GroupActuals {
  return {
    of: (agreementId, position, year) => found.get(groupActualKey(agreementId, position, year)) ?? NOTHING_RECORDED,
    digestOf: (agreementId, position, year) => recordsDigest(found.get(groupActualKey(agreementId, position, year))),
  }
}

export interface GroupActuals {
  of: (agreementId: number, position: number, year: number) => RecordedActual
  /** Which records make up A(y) (recordsDigest): '' when none are recorded. */
  digestOf: (agreementId: number, position: number, year: number) => string
}

export interface RevenueRevision {
  revision: number
  amount: string
  recordedAt: string
  keyId: string
  requestId: string
}

/** Every revision of one month's record, oldest first; empty when it is unknown or out of scope. */
export async function revenueHistory (
  db: Db, scope: Scope, key: { zoneCode: string, districtCode: string, category: string, year: number, month: number }, page: PageRequest,
): Promise<Page<RevenueRevision>> {
  const query = db.selectFrom('revenue_revisions').selectAll()
    .where('zone_code', '=', key.zoneCode).where('district_code', '=', key.districtCode).where('category_code', '=', key.category)
    .where('year', '=', key.year).where('month', '=', key.month)
    .where(scopeFilter(scope, { zone: 'revenue_revisions.zone_code', district: 'revenue_revisions.district_code' }))
  const rows = await fetchPage(query, page, { columns: ['revision'], types: ['int'], of: (r) => [r.revision] })
  return mapPage(rows, (r) => ({ revision: r.revision, amount: r.amount, recordedAt: r.recorded_at.toISOString(), keyId: r.key_id, requestId: r.request_id }))
}

/**
 * The last fiscal year with revenue on record in any of the agreement's groups (its zone, its district,
 * its groups' categories), up to the agreement's last year; undefined when none is recorded.
 */
export async function lastRevenueYear (db: Db, agreementId: number): Promise<number | undefined> {
  const { rows } = await sql<{ year: number | null }>`
    SELECT max(r.year)::int AS year
    FROM agreements a
    JOIN agreement_group_categories gc ON gc.agreement_id = a.id
    JOIN revenue_year_totals r ON r.zone_code = a.zone_code AND r.district_code = a.district_code AND r.category_code = gc.category_code
    -- After its last year the pair's revenue is the next version's: it says nothing of this agreement's years.
    WHERE a.id = ${agreementId} AND (a.effective_to IS NULL OR r.year <= a.effective_to)`.execute(db)
  return rows[0]?.year ?? undefined
}
