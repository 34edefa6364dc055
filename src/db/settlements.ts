import { sql } from 'kysely'
import type { FinalizedLine } from '../domain/history.js'
import { groupedBy } from '../domain/grouping.js'
import type { LineInputs } from '../domain/ledger.js'
import { type Decimal, money } from '../domain/money.js'
import type { LineFigures, RunStatus, SettledGroupFigures, SettlementKind } from '../domain/settlement.js'
import type { Review } from '../domain/review.js'
import type { GroupContent, LineContent, ReviewContent } from '../domain/verification.js'
import type { Db, SettlementGroupRow, SettlementLineRow, SettlementReviewRow, SettlementRunRow } from './database.js'
import { copyRows } from './copy.js'
import { LockSpace, tryLock } from './locks.js'
import { fetchPage, mapPage, type Page, type PageRequest } from './pagination.js'
import { type Scope, scopeFilter } from './scope.js'

/* Settlement runs (年度结算), their lines and groups, and the chains of finalized lines (calculation-rules.md §9). */

/** Only one run (or finalize) per fiscal year at a time: false when another holds the year. */
export function tryLockYear (tx: Db, year: number): Promise<boolean> {
  return tryLock(tx, LockSpace.settlementYear, `settlement-year:${year}`)
}

/**
 * No JIT compilation for the rest of the transaction: a run's queries are many and short, and the
 * planner, which cannot tell how much of the yearly sums a chunk's stretch of pairs holds, would
 * compile each one (about 25 ms a query on PostgreSQL; PGlite has no JIT).
 */
export async function withoutJit (tx: Db): Promise<void> {
  await sql`SET LOCAL jit = off`.execute(tx)
}

/** The last finalized line of an agreement's chain for a year: the one no finalized line follows. */
export interface ChainHead {
  runId: number
  agreementId: number
  fiscalYear: number
  zoneShare: Decimal
  balanceDue: Decimal
  /** C_out by group name (increment groups). */
  carriedOut: Map<string, Decimal>
}

const headKey = (agreementId: number, year: number) => `${agreementId}|${year}`

export interface ChainHeads {
  of: (agreementId: number, year: number) => ChainHead | undefined
}

/**
 * The chain heads of every agreement (or those of `agreementIds`) for the years, with their groups'
 * shortfalls carried out, in one statement. `previousVersionsStartingIn`: the heads of the previous
 * versions of those of `agreementIds` that start in that year are read too (a run's carry-in, §6).
 */
export async function chainHeads (db: Db, years: readonly number[], agreementIds?: readonly number[], previousVersionsStartingIn?: number): Promise<ChainHeads> {
  const given = agreementIds === undefined ? undefined : sql`${[...agreementIds]}::integer[]`
  // One array of ids, the previous versions' appended to those given: `= ANY` of it finds the lines
  // through the (agreement, year) index; an OR beside a subquery read every finalized line of the years.
  const ids = given === undefined || previousVersionsStartingIn === undefined
    ? given
    : sql`(${given} || ARRAY(SELECT v.id FROM agreements a
        JOIN agreements v ON v.zone_code = a.zone_code AND v.district_code = a.district_code AND v.id <> a.id AND v.effective_to = a.effective_from - 1
        WHERE a.id = ANY(${given}) AND a.effective_from = ${previousVersionsStartingIn}::integer))`
  const { rows } = await sql<{ run_id: number, agreement_id: number, fiscal_year: number, zone_share: string, balance_due: string, carried_out: Array<[string, string]> }>`
    SELECT l.run_id, l.agreement_id, l.fiscal_year, l.zone_share, l.balance_due,
      -- A shortfall its finalized line wrote off (sql/013) is carried by nothing (calculation-rules.md §6). Amounts as text, never a JSON number.
      coalesce((SELECT json_agg(json_build_array(g.name, g.carried_shortfall_out::text) ORDER BY g.position) FROM settlement_groups g
        WHERE g.run_id = l.run_id AND g.agreement_id = l.agreement_id AND g.carried_shortfall_out IS NOT NULL AND g.written_off IS NULL AND g.written_off_before_013 IS NULL), '[]') AS carried_out
    FROM settlement_lines l
    WHERE l.finalized AND l.fiscal_year = ANY(${[...years]}::integer[])
      ${ids === undefined ? sql`` : sql`AND l.agreement_id = ANY(${ids})`}
      AND NOT EXISTS (SELECT 1 FROM settlement_lines n
        WHERE n.finalized AND n.agreement_id = l.agreement_id AND n.fiscal_year = l.fiscal_year AND n.follows_run_id = l.run_id)`.execute(db)
  const heads = new Map<string, ChainHead>()
  for (const r of rows) {
    heads.set(headKey(r.agreement_id, r.fiscal_year), {
      runId: r.run_id, agreementId: r.agreement_id, fiscalYear: r.fiscal_year, zoneShare: money(r.zone_share), balanceDue: money(r.balance_due),
      carriedOut: new Map(r.carried_out.map(([name, amount]) => [name, money(amount)])),
    })
  }
  return { of: (agreementId, year) => heads.get(headKey(agreementId, year)) }
}

/** A computed line as it is stored: its printed figures, its groups, and what it was computed from. */
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
  /** Supplementary lines: the finalized line followed (its run), and the figures against it. */
  follows: number | null
  previousZoneShare: string | null
  adjustment: string | null
  balanceAdjustment: string | null
  inputs: LineInputs
  groups: Array<SettledGroupFigures & {
    /** The printed bands, as JSON. */
    bands: string
    /** The engine's GroupResult, serialized. */
    result: string
    /** The group as a POST /v1/calculations request (GroupJson); null for groups settled before it was kept. */
    input: string | null
  }>
}

export async function insertRun (tx: Db, run: { fiscalYear: number, minimumRate: string, createdBy: string }): Promise<number> {
  const { id } = await tx.insertInto('settlement_runs').values({
    fiscal_year: run.fiscalYear, status: 'draft', minimum_rate: run.minimumRate, created_by: run.createdBy,
  }).returning('id').executeTakeFirstOrThrow()
  return id
}

/** Stores lines and their groups: one COPY each, whatever the number of lines. */
export async function insertLines (tx: Db, id: number, fiscalYear: number, chunk: readonly NewSettlementLine[]): Promise<void> {
  if (chunk.length === 0) return
  await sql`COPY settlement_lines (run_id, agreement_id, fiscal_year, kind, zone_code, district_code, revenue_total, zone_share,
      district_share, advances_paid, balance_due, follows_run_id, previous_zone_share, adjustment, balance_adjustment, inputs)
    FROM STDIN ${copyRows(chunk, (l) => [id, l.agreementId, fiscalYear, l.kind, l.zoneCode, l.districtCode, l.revenueTotal, l.zoneShare,
      l.districtShare, l.advancesPaid, l.balanceDue, l.follows, l.previousZoneShare, l.adjustment, l.balanceAdjustment, JSON.stringify(l.inputs)])}`.execute(tx)
  const groups = chunk.flatMap((l) => l.groups.map((g, position) => ({ agreementId: l.agreementId, position, ...g })))
  await sql`COPY settlement_groups (run_id, agreement_id, position, name, basis, base, actual, increment, carried_shortfall_in, shareable,
      zone_share, district_share, carried_shortfall_out, bands, result, input)
    FROM STDIN ${copyRows(groups, (g) => [id, g.agreementId, g.position, g.name, g.basis, g.base, g.actual, g.increment, g.carriedShortfallIn,
      g.shareable, g.zoneShare, g.districtShare, g.carriedShortfallOut, g.bands, g.result, g.input])}`.execute(tx)
}

/** The groups of a run that carry a shortfall out (C_out > 0), by agreement: what finalizing decides the disposition of. */
export async function shortfallsOut (db: Db, runId: number): Promise<Array<{ agreementId: number, groups: Array<{ name: string, carriedShortfallOut: string }> }>> {
  const rows = await db.selectFrom('settlement_groups').select(['agreement_id', 'name', 'carried_shortfall_out'])
    .where('run_id', '=', runId).where('carried_shortfall_out', '>', '0').orderBy('agreement_id').orderBy('position').execute()
  const byAgreement = groupedBy(rows, (r) => r.agreement_id, (r) => ({ name: r.name, carriedShortfallOut: r.carried_shortfall_out ?? '0' }))
  return [...byAgreement].map(([agreementId, groups]) => ({ agreementId, groups }))
}

/** Records the shortfalls a draft run's lines write off (核销), as its finalization decides them (sql/013). */
export async function recordWriteOffs (tx: Db, runId: number, writeOffs: ReadonlyArray<{ agreementId: number, group: string, amount: string }>): Promise<void> {
  if (writeOffs.length === 0) return
  await sql`UPDATE settlement_groups g SET written_off = w.amount
    FROM unnest(${writeOffs.map((w) => w.agreementId)}::integer[], ${writeOffs.map((w) => w.group)}::text[], ${writeOffs.map((w) => w.amount)}::numeric[]) AS w (agreement_id, name, amount)
    WHERE g.run_id = ${runId} AND g.agreement_id = w.agreement_id AND g.name = w.name`.execute(tx)
}

/**
 * The groups (`${agreementId}/${group name}`) of agreements `ids` whose shortfall of `year` a finalized line
 * has written off (sql/013): once written off on a signed statement, the later lines of the chain write it off too.
 * `onlyEnding`: of those among them that end in `year` (a run's chunk: only a last year writes off).
 */
export async function chainWriteOffs (db: Db, year: number, ids: readonly number[], onlyEnding = false): Promise<Set<string>> {
  if (ids.length === 0) return new Set()
  const given = sql`${[...ids]}::integer[]`
  const which = onlyEnding ? sql`ARRAY(SELECT id FROM agreements WHERE id = ANY(${given}) AND effective_to = ${year}::integer)` : given
  // From the finalized lines, through their (agreement, year) index, to their groups by key: by the
  // groups' agreement, PostgreSQL read every group of every run (34 ms a chunk beside 600,000 groups).
  const { rows } = await sql<{ agreement_id: number, name: string }>`
    SELECT DISTINCT g.agreement_id, g.name FROM settlement_lines l
    JOIN settlement_groups g ON g.run_id = l.run_id AND g.agreement_id = l.agreement_id
    WHERE l.finalized AND l.fiscal_year = ${year}::integer AND l.agreement_id = ANY(${which}) AND coalesce(g.written_off, g.written_off_before_013) IS NOT NULL`.execute(db)
  return new Set(rows.map((r) => `${r.agreement_id}/${r.name}`))
}

/** The write-offs recorded on a finalized run's groups of the agreements `ids`, by `${agreementId}/${group name}`. */
export async function recordedWriteOffs (db: Db, runId: number, ids: readonly number[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map()
  // A line finalized before sql/013 has its write-off in a column of its own (sql/016), outside its digest.
  const rows = await db.selectFrom('settlement_groups').select(['agreement_id', 'name', sql<string>`coalesce(written_off, written_off_before_013)`.as('written_off')])
    .where('run_id', '=', runId).where(sql<boolean>`coalesce(written_off, written_off_before_013) IS NOT NULL`).where(sql<boolean>`agreement_id = ANY(${[...ids]}::integer[])`).execute()
  return new Map(rows.map((r) => [`${r.agreement_id}/${r.name}`, r.written_off]))
}

/**
 * The floor each agreement's year was first settled under: that of the run of its finalized annual
 * line of `year` (the line a supplementary settlement of the year re-settles), for the agreements `ids`.
 */
export async function annualFloors (db: Db, year: number, ids: readonly number[]): Promise<Map<number, string>> {
  if (ids.length === 0) return new Map()
  const rows = await db.selectFrom('settlement_lines as l').innerJoin('settlement_runs as r', 'r.id', 'l.run_id')
    .select(['l.agreement_id', 'r.minimum_rate'])
    .where('r.fiscal_year', '=', year).where('r.status', '=', 'finalized').where('l.kind', '=', 'annual')
    .where(sql<boolean>`l.agreement_id = ANY(${[...ids]}::integer[])`).execute()
  return new Map(rows.map((r) => [r.agreement_id, r.minimum_rate]))
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
  /** SHA-256 of the run's canonical content, stored when it was finalized (null for drafts and runs finalized before sql/006). */
  digest: string | null
  /** The canonical text the digest was taken over (DIGEST_FORMATS of src/domain/verification.ts); null for v1 and drafts. */
  digestFormat?: string | null
  /** 强制定稿理由: why it was finalized although a line was disputed. */
  overrideReason: string | null
}

const toRun = (r: SettlementRunRow): StoredRun => ({
  id: r.id, fiscalYear: r.fiscal_year, status: r.status, minimumRate: r.minimum_rate, createdAt: r.created_at.toISOString(),
  createdBy: r.created_by, finalizedAt: r.finalized_at?.toISOString() ?? null, finalizedBy: r.finalized_by,
  digest: r.digest, digestFormat: r.digest_format, overrideReason: r.override_reason,
})

export interface StoredLine extends Omit<NewSettlementLine, 'groups' | 'inputs'> {
  groups: Array<NewSettlementLine['groups'][number]>
}

const toGroup = (g: SettlementGroupRow): StoredLine['groups'][number] => ({
  name: g.name, basis: g.basis, base: g.base, actual: g.actual, increment: g.increment, carriedShortfallIn: g.carried_shortfall_in,
  shareable: g.shareable, zoneShare: g.zone_share, districtShare: g.district_share, carriedShortfallOut: g.carried_shortfall_out,
  bands: g.bands, result: g.result, input: g.input,
})

/** Lines with their groups (two statements for any number of lines). */
async function withGroups (db: Db, runId: number, lines: SettlementLineRow[]): Promise<StoredLine[]> {
  if (lines.length === 0) return []
  const groupRows = await db.selectFrom('settlement_groups').selectAll().where('run_id', '=', runId)
    .where(sql<boolean>`agreement_id = ANY(${lines.map((l) => l.agreement_id)}::integer[])`).orderBy('agreement_id').orderBy('position').execute()
  const groups = groupedBy(groupRows, (g) => g.agreement_id, toGroup)
  return lines.map((l) => ({
    agreementId: l.agreement_id, zoneCode: l.zone_code, districtCode: l.district_code, kind: l.kind, revenueTotal: l.revenue_total,
    zoneShare: l.zone_share, districtShare: l.district_share, advancesPaid: l.advances_paid, balanceDue: l.balance_due,
    follows: l.follows_run_id, previousZoneShare: l.previous_zone_share, adjustment: l.adjustment, balanceAdjustment: l.balance_adjustment,
    groups: groups.get(l.agreement_id) ?? [],
  }))
}

const lineScope = (scope: Scope) => scopeFilter(scope, { zone: 'settlement_lines.zone_code', district: 'settlement_lines.district_code' })

export async function findRunHeader (db: Db, id: number): Promise<StoredRun | undefined> {
  const run = await db.selectFrom('settlement_runs').selectAll().where('id', '=', id).executeTakeFirst()
  return run === undefined ? undefined : toRun(run)
}

export interface LineFilter {
  districtCode?: string | undefined
  zoneCode?: string | undefined
}

/** A page of a run's lines in the caller's scope, by zone, district and agreement. */
export async function runLinesPage (db: Db, scope: Scope, runId: number, filter: LineFilter, page: PageRequest): Promise<Page<StoredLine>> {
  let query = db.selectFrom('settlement_lines').selectAll().where('run_id', '=', runId).where(lineScope(scope))
  if (filter.districtCode !== undefined) query = query.where('district_code', '=', filter.districtCode)
  if (filter.zoneCode !== undefined) query = query.where('zone_code', '=', filter.zoneCode)
  const rows = await fetchPage(query, page, {
    columns: ['zone_code', 'district_code', 'agreement_id'], types: ['text', 'text', 'int'], of: (r) => [r.zone_code, r.district_code, r.agreement_id],
  })
  return { items: await withGroups(db, runId, rows.items), nextCursor: rows.nextCursor }
}

/** A line as its statement prints it: the stored line without what it was computed from. */
export interface StatementSourceLine extends Omit<StoredLine, 'groups'> {
  groups: Array<Omit<StoredLine['groups'][number], 'result' | 'input'> & {
    /** The group's stored result when it names responsibility transfers (§4), the one thing the statement cites from it; null otherwise. */
    resultCitingTransfers: string | null
  }>
}

/** The agreements of a run's lines in the caller's scope, in the statement's order (by zone, district and agreement), with each line's kind. */
export async function statementLineOrder (db: Db, scope: Scope, runId: number): Promise<Array<{ agreementId: number, kind: SettlementKind }>> {
  const rows = await db.selectFrom('settlement_lines').select(['agreement_id', 'kind']).where('run_id', '=', runId).where(lineScope(scope))
    .orderBy('zone_code').orderBy('district_code').orderBy('agreement_id').execute()
  return rows.map((r) => ({ agreementId: r.agreement_id, kind: r.kind }))
}

/**
 * The run's lines of the agreements `ids`, with groups, in the order of `ids` (the statement reads
 * them a page at a time, in statementLineOrder's order). Only what the statement prints is read: not
 * the lines' inputs nor the groups' requests, and a group's stored result only when it names
 * transfers (a national run's results are tens of MB).
 */
export async function statementSourceLines (db: Db, runId: number, ids: readonly number[]): Promise<StatementSourceLine[]> {
  if (ids.length === 0) return []
  const wanted = sql<boolean>`agreement_id = ANY(${[...ids]}::integer[])`
  const [lineRows, groupRows] = await Promise.all([
    db.selectFrom('settlement_lines')
      .select(['agreement_id', 'zone_code', 'district_code', 'kind', 'revenue_total', 'zone_share', 'district_share', 'advances_paid', 'balance_due',
        'follows_run_id', 'previous_zone_share', 'adjustment', 'balance_adjustment'])
      .where('run_id', '=', runId).where(wanted).execute(),
    db.selectFrom('settlement_groups')
      .select(['agreement_id', 'name', 'basis', 'base', 'actual', 'increment', 'carried_shortfall_in', 'shareable', 'zone_share', 'district_share',
        'carried_shortfall_out', 'bands', sql<string | null>`CASE WHEN strpos(result, '"transfers"') > 0 THEN result END`.as('result_citing_transfers')])
      .where('run_id', '=', runId).where(wanted).orderBy('agreement_id').orderBy('position').execute(),
  ])
  const lines = new Map(lineRows.map((l) => [l.agreement_id, l]))
  const groups = groupedBy(groupRows, (g) => g.agreement_id, (g): StatementSourceLine['groups'][number] => ({
    name: g.name, basis: g.basis, base: g.base, actual: g.actual, increment: g.increment, carriedShortfallIn: g.carried_shortfall_in,
    shareable: g.shareable, zoneShare: g.zone_share, districtShare: g.district_share, carriedShortfallOut: g.carried_shortfall_out,
    bands: g.bands, resultCitingTransfers: g.result_citing_transfers,
  }))
  return ids.flatMap((id) => {
    const l = lines.get(id)
    return l === undefined
      ? []
      : [{
          agreementId: l.agreement_id, zoneCode: l.zone_code, districtCode: l.district_code, kind: l.kind, revenueTotal: l.revenue_total,
          zoneShare: l.zone_share, districtShare: l.district_share, advancesPaid: l.advances_paid, balanceDue: l.balance_due,
          follows: l.follows_run_id, previousZoneShare: l.previous_zone_share, adjustment: l.adjustment, balanceAdjustment: l.balance_adjustment,
          groups: groups.get(l.agreement_id) ?? [],
        }]
  })
}

/** Whether the run has a line in the caller's scope (always true for admins' scope if the run has lines). */
export async function hasLineInScope (db: Db, scope: Scope, runId: number): Promise<boolean> {
  const row = await db.selectFrom('settlement_lines').select('agreement_id').where('run_id', '=', runId).where(lineScope(scope)).limit(1).executeTakeFirst()
  return row !== undefined
}

/** A run's line figures in the caller's scope (no groups): what totals and summaries need, whatever the size of the run. */
export async function runLineFigures (db: Db, scope: Scope, id: number): Promise<Array<LineFigures & { districtCode: string }>> {
  const rows = await db.selectFrom('settlement_lines')
    .select(['district_code', 'revenue_total', 'zone_share', 'district_share', 'advances_paid', 'balance_due', 'adjustment', 'balance_adjustment'])
    .where('run_id', '=', id).where(lineScope(scope)).orderBy('district_code').execute()
  return rows.map((l) => ({
    districtCode: l.district_code, revenueTotal: l.revenue_total, zoneShare: l.zone_share, districtShare: l.district_share,
    advancesPaid: l.advances_paid, balanceDue: l.balance_due, adjustment: l.adjustment, balanceAdjustment: l.balance_adjustment,
  }))
}

/**
 * For each run of `ids`, how many of its lines are in the caller's scope and the sums of their printed
 * figures, summed by the database (numeric: exact), in one statement for a page of runs: a national run
 * has tens of thousands of lines, and a list of runs reads none of them. A run none of whose lines are
 * in scope is absent. An adjustment that no line has is null.
 */
export async function runLineSums (db: Db, scope: Scope, ids: readonly number[]): Promise<Map<number, { lineCount: number, sums: LineFigures }>> {
  if (ids.length === 0) return new Map()
  const rows = await db.selectFrom('settlement_lines')
    .select([
      'run_id', sql<string>`count(*)::text`.as('lines'),
      sql<string>`sum(revenue_total)::text`.as('revenue_total'), sql<string>`sum(zone_share)::text`.as('zone_share'), sql<string>`sum(district_share)::text`.as('district_share'),
      sql<string>`sum(advances_paid)::text`.as('advances_paid'), sql<string>`sum(balance_due)::text`.as('balance_due'),
      sql<string | null>`sum(adjustment)::text`.as('adjustment'), sql<string | null>`sum(balance_adjustment)::text`.as('balance_adjustment'),
    ])
    .where(sql<boolean>`run_id = ANY(${[...ids]}::integer[])`).where(lineScope(scope)).groupBy('run_id').execute()
  return new Map(rows.map((r) => [r.run_id, {
    lineCount: Number(r.lines),
    sums: {
      revenueTotal: r.revenue_total, zoneShare: r.zone_share, districtShare: r.district_share, advancesPaid: r.advances_paid, balanceDue: r.balance_due,
      adjustment: r.adjustment, balanceAdjustment: r.balance_adjustment,
    },
  }]))
}

/** Whether the agreement has a finalized settlement of the year. */
export async function yearFinalized (db: Db, agreementId: number, year: number): Promise<boolean> {
  const row = await db.selectFrom('settlement_lines').select('run_id')
    .where('agreement_id', '=', agreementId).where('fiscal_year', '=', year).where('finalized', '=', true).limit(1).executeTakeFirst()
  return row !== undefined
}

/** What each line of a run was computed from, and the line it follows: what finalizing checks (in the order of the lines' zone–district pairs, as agreementIdsInForce). */
export async function runLineInputs (db: Db, id: number) {
  const rows = await db.selectFrom('settlement_lines').select(['agreement_id', 'zone_code', 'district_code', 'kind', 'follows_run_id', 'inputs'])
    // The groups that carry a shortfall out and how much, by position (as JSON: the same on PGlite and pg).
    .select(sql<Array<[string, string]>>`coalesce((SELECT json_agg(json_build_array(g.name, g.carried_shortfall_out::text) ORDER BY g.position) FROM settlement_groups g
      WHERE g.run_id = settlement_lines.run_id AND g.agreement_id = settlement_lines.agreement_id AND g.carried_shortfall_out > 0), '[]'::json)`.as('groups_out'))
    .where('run_id', '=', id).orderBy('zone_code').orderBy('district_code').orderBy('agreement_id').execute()
  return rows.map((r) => ({
    agreementId: r.agreement_id, zoneCode: r.zone_code, districtCode: r.district_code, kind: r.kind, follows: r.follows_run_id,
    inputs: r.inputs === '' ? undefined : JSON.parse(r.inputs) as LineInputs,
    carriedOut: r.groups_out.map(([name, amount]) => ({ name, amount: money(amount) })),
  }))
}

/** Runs with at least one line in the caller's scope (all runs for admins), newest first. */
export async function listRuns (db: Db, scope: Scope, fiscalYear: number | undefined, page: PageRequest): Promise<Page<StoredRun>> {
  let query = db.selectFrom('settlement_runs').selectAll()
  if (scope.kind !== 'all') {
    query = query.where((eb) => eb.exists(eb.selectFrom('settlement_lines').select('run_id')
      .whereRef('settlement_lines.run_id', '=', 'settlement_runs.id').where(lineScope(scope))))
  }
  if (fiscalYear !== undefined) query = query.where('fiscal_year', '=', fiscalYear)
  return mapPage(await fetchPage(query, page, { columns: ['id'], types: ['int'], of: (r) => [r.id], descending: true }), toRun)
}

/**
 * Marks the run and its lines finalized, with the digest of its content and the override reason
 * if any, in the UPDATE that finalizes it (the 003 triggers allow no change after it). finalized_at
 * is the transaction's now(), the instant `transactionNow` answers and the digest was taken with.
 */
export async function markFinalized (tx: Db, id: number, finalized: { keyId: string, digest: string, digestFormat: string, overrideReason: string | null }): Promise<void> {
  await tx.updateTable('settlement_lines').set({ finalized: true }).where('run_id', '=', id).execute()
  await tx.updateTable('settlement_runs').set({
    status: 'finalized', finalized_at: sql<Date>`now()`, finalized_by: finalized.keyId, digest: finalized.digest, digest_format: finalized.digestFormat,
    override_reason: finalized.overrideReason,
  }).where('id', '=', id).execute()
}

/** The transaction's now() (what markFinalized stores as finalized_at), to the millisecond as every timestamp is read back. */
export async function transactionNow (tx: Db): Promise<string> {
  const { rows } = await sql<{ now: Date }>`SELECT now() AS now`.execute(tx)
  const now = rows[0]?.now
  if (now === undefined) throw new Error('SELECT now() answered no row')
  return now.toISOString()
}

/**
 * The run's header, locked until the transaction ends: FOR UPDATE by finalizing, FOR SHARE by a
 * review. So a review waits for a finalization under way (and then sees the run finalized), and a
 * finalization waits for the reviews under way (and then takes them into its digest).
 */
export async function lockRunHeader (tx: Db, id: number, mode: 'update' | 'share'): Promise<StoredRun | undefined> {
  const query = tx.selectFrom('settlement_runs').selectAll().where('id', '=', id)
  const run = await (mode === 'update' ? query.forUpdate() : query.forShare()).executeTakeFirst()
  return run === undefined ? undefined : toRun(run)
}

/** A line of the run in the caller's scope (who it concerns), if there is one. */
export async function findLineParties (db: Db, scope: Scope, runId: number, agreementId: number) {
  const row = await db.selectFrom('settlement_lines').select(['agreement_id', 'zone_code', 'district_code'])
    .where('run_id', '=', runId).where('agreement_id', '=', agreementId).where(lineScope(scope)).executeTakeFirst()
  return row === undefined ? undefined : { agreementId: row.agreement_id, zoneCode: row.zone_code, districtCode: row.district_code }
}

const toReview = (r: SettlementReviewRow): ReviewContent => ({
  id: r.id, agreementId: r.agreement_id, party: r.party, decision: r.decision, note: r.note, by: r.recorded_by, byRole: r.recorded_by_role,
  byLabel: r.recorded_by_label, at: r.recorded_at.toISOString(),
})

/** Records a party's decision on a line of a draft run (the 006 trigger refuses one on a finalized run). */
export async function insertReview (tx: Db, runId: number, agreementId: number, review: Omit<Review, 'at'>): Promise<ReviewContent> {
  const row = await tx.insertInto('settlement_reviews').values({
    run_id: runId, agreement_id: agreementId, party: review.party, decision: review.decision, note: review.note,
    recorded_by: review.by, recorded_by_role: review.byRole, recorded_by_label: review.byLabel,
  }).returningAll().executeTakeFirstOrThrow()
  return toReview(row)
}

/** The review history of the run's lines (of `agreementIds`, or all), oldest first, by agreement. */
export async function reviewHistory (db: Db, runId: number, agreementIds?: readonly number[], upToId?: number): Promise<Map<number, ReviewContent[]>> {
  if (agreementIds?.length === 0) return new Map()
  let query = db.selectFrom('settlement_reviews').selectAll().where('run_id', '=', runId)
  if (upToId !== undefined) query = query.where('id', '<=', upToId)
  if (agreementIds !== undefined) query = query.where(sql<boolean>`agreement_id = ANY(${[...agreementIds]}::integer[])`)
  return groupedBy(await query.orderBy('id').execute(), (row) => row.agreement_id, toReview)
}

/** The id of the run's last review so far (0 when it has none). */
export async function lastReviewId (db: Db, runId: number): Promise<number> {
  const row = await db.selectFrom('settlement_reviews').select((eb) => eb.fn.max('id').as('id')).where('run_id', '=', runId).executeTakeFirst()
  return row?.id ?? 0
}

/** The lines whose district or zone disputes them (the latest decision of the party is a dispute), by agreement. */
export async function disputedLines (db: Db, runId: number) {
  const { rows } = await sql<{ agreement_id: number, zone_code: string, district_code: string, party: 'district' | 'zone', note: string | null }>`
    SELECT l.agreement_id, l.zone_code, l.district_code, r.party, r.note
    FROM (SELECT DISTINCT ON (agreement_id, party) agreement_id, party, decision, note
          FROM settlement_reviews WHERE run_id = ${runId} ORDER BY agreement_id, party, id DESC) r
    JOIN settlement_lines l ON l.run_id = ${runId} AND l.agreement_id = r.agreement_id
    WHERE r.decision = 'dispute'
    ORDER BY l.agreement_id, r.party`.execute(db)
  const lines = new Map<number, { agreementId: number, zoneCode: string, districtCode: string, parties: Array<'district' | 'zone'>, notes: string[] }>()
  for (const r of rows) {
    const line = lines.get(r.agreement_id) ?? { agreementId: r.agreement_id, zoneCode: r.zone_code, districtCode: r.district_code, parties: [], notes: [] }
    line.parties.push(r.party)
    if (r.note !== null) line.notes.push(r.note)
    lines.set(r.agreement_id, line)
  }
  return [...lines.values()]
}

const toGroupContent = (g: SettlementGroupRow): GroupContent => ({
  position: g.position, name: g.name, basis: g.basis, base: g.base, actual: g.actual, increment: g.increment, carriedShortfallIn: g.carried_shortfall_in,
  shareable: g.shareable, zoneShare: g.zone_share, districtShare: g.district_share, carriedShortfallOut: g.carried_shortfall_out, bands: g.bands, result: g.result,
  writtenOff: g.written_off, input: g.input,
})

/** A page of the run's lines as stored, every column and every group, by agreement id (the order of the digest). */
export async function runContentPage (db: Db, runId: number, page: PageRequest): Promise<Page<LineContent>> {
  const rows = await fetchPage(db.selectFrom('settlement_lines').selectAll().where('run_id', '=', runId), page,
    { columns: ['agreement_id'], types: ['int'], of: (r) => [r.agreement_id] })
  const ids = rows.items.map((l) => l.agreement_id)
  const groupRows = ids.length === 0 ? [] : await db.selectFrom('settlement_groups').selectAll().where('run_id', '=', runId)
    .where(sql<boolean>`agreement_id = ANY(${ids}::integer[])`).orderBy('agreement_id').orderBy('position').execute()
  const groups = groupedBy(groupRows, (g) => g.agreement_id, toGroupContent)
  return mapPage(rows, (l) => ({
    agreementId: l.agreement_id, zoneCode: l.zone_code, districtCode: l.district_code, kind: l.kind, follows: l.follows_run_id,
    revenueTotal: l.revenue_total, zoneShare: l.zone_share, districtShare: l.district_share, advancesPaid: l.advances_paid, balanceDue: l.balance_due,
    previousZoneShare: l.previous_zone_share, adjustment: l.adjustment, balanceAdjustment: l.balance_adjustment, inputs: l.inputs,
    groups: groups.get(l.agreement_id) ?? [],
  }))
}

/** A page of the run's reviews, in the order they were recorded. */
export async function runReviewsPage (db: Db, runId: number, page: PageRequest): Promise<Page<ReviewContent>> {
  return mapPage(await fetchPage(db.selectFrom('settlement_reviews').selectAll().where('run_id', '=', runId), page,
    { columns: ['id'], types: ['int'], of: (r) => [r.id] }), toReview)
}

/** The stored zone share and balance due of the lines that supplementary lines follow: (run, agreement) → figures. */
export async function followedFigures (db: Db, lines: ReadonlyArray<{ agreementId: number, follows: number | null }>) {
  const followed = lines.filter((l) => l.follows !== null)
  const figures = new Map<string, { zoneShare: string, balanceDue: string }>()
  if (followed.length === 0) return figures
  const { rows } = await sql<{ run_id: number, agreement_id: number, zone_share: string, balance_due: string }>`
    SELECT l.run_id, l.agreement_id, l.zone_share, l.balance_due FROM settlement_lines l
    JOIN unnest(${followed.map((f) => f.follows)}::integer[], ${followed.map((f) => f.agreementId)}::integer[]) AS u(run_id, agreement_id)
      ON l.run_id = u.run_id AND l.agreement_id = u.agreement_id`.execute(db)
  for (const r of rows) figures.set(`${r.run_id}/${r.agreement_id}`, { zoneShare: r.zone_share, balanceDue: r.balance_due })
  return figures
}

/** The latest fiscal year a finalized settlement of the agreement covers, if any. */
export async function lastFinalizedYear (db: Db, agreementId: number): Promise<number | undefined> {
  const row = await db.selectFrom('settlement_lines').select((eb) => eb.fn.max('fiscal_year').as('year'))
    .where('agreement_id', '=', agreementId).where('finalized', '=', true).executeTakeFirst()
  return row?.year ?? undefined
}

/** Every finalized line of the agreement, with its groups' stored base and increment, by year and run (its history, §9). */
export async function finalizedLinesOf (db: Db, agreementId: number): Promise<FinalizedLine[]> {
  const lines = await db.selectFrom('settlement_lines')
    .select(['run_id', 'fiscal_year', 'kind', 'follows_run_id', 'revenue_total', 'zone_share', 'district_share', 'advances_paid', 'balance_due', 'adjustment', 'balance_adjustment'])
    .where('agreement_id', '=', agreementId).where('finalized', '=', true).orderBy('fiscal_year').orderBy('run_id').execute()
  if (lines.length === 0) return []
  const groupRows = await db.selectFrom('settlement_groups').select(['run_id', 'base', 'increment'])
    .where('agreement_id', '=', agreementId).where(sql<boolean>`run_id = ANY(${lines.map((l) => l.run_id)}::integer[])`)
    .orderBy('run_id').orderBy('position').execute()
  const groups = groupedBy(groupRows, (g) => g.run_id, (g) => ({ base: g.base, increment: g.increment }))
  return lines.map((l) => ({
    runId: l.run_id, fiscalYear: l.fiscal_year, kind: l.kind, follows: l.follows_run_id, revenueTotal: l.revenue_total, zoneShare: l.zone_share,
    districtShare: l.district_share, advancesPaid: l.advances_paid, balanceDue: l.balance_due, adjustment: l.adjustment, balanceAdjustment: l.balance_adjustment,
    groups: groups.get(l.run_id) ?? [],
  }))
}
