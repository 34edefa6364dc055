import { sql } from 'kysely'
import { type DebtEvent, type DebtKind, type DebtRecord, type DebtStatus, referenceKey } from '../domain/debt.js'
import { money } from '../domain/money.js'
import type { Db, DebtRow } from './database.js'
import { fetchPage, mapPageAsync, type Page, type PageRequest } from './pagination.js'
import type { Scope } from './scope.js'

/* The legacy debt register (历史遗留债务) and its append-only events. */

export interface StoredDebt extends DebtRecord {
  id: number
  reference: string
  creditor: string
  principal: string
  interestRate: string | null
  incurredOn: string | null
  maturityDate: string | null
  notes: string | null
  createdAt: string
  events: Array<DebtEvent & { note?: string | undefined, createdAt: string, keyId: string }>
}

/** A district sees the debts transferred to it; a zone its own. */
function debtScope (scope: Scope) {
  switch (scope.kind) {
    case 'all': return sql<boolean>`true`
    case 'zone': return sql<boolean>`debts.zone_code = ${scope.zoneCode}`
    case 'district': return sql<boolean>`EXISTS (SELECT 1 FROM debt_events t WHERE t.debt_id = debts.id AND t.kind = 'transfer' AND t.district_code = ${scope.districtCode})`
  }
}

const DEBT_COLUMNS = [
  'debts.id', 'debts.zone_code', 'debts.reference', 'debts.creditor', 'debts.kind', 'debts.principal', 'debts.outstanding_at_registration',
  'debts.interest_rate', 'debts.notes', 'debts.created_at',
] as const
const DEBT_DATES = [
  sql<string | null>`debts.incurred_on::text`.as('incurred_on'), sql<string | null>`debts.maturity_date::text`.as('maturity_date'),
  sql<string>`debts.registered_on::text`.as('registered_on'),
] as const

/** A debts row with its dates read as the days they name (YYYY-MM-DD). */
type DebtDays = Omit<DebtRow, 'incurred_on' | 'maturity_date' | 'registered_on'> & { incurred_on: string | null, maturity_date: string | null, registered_on: string }

async function withEvents (db: Db, rows: DebtDays[]): Promise<StoredDebt[]> {
  if (rows.length === 0) return []
  const events = await db.selectFrom('debt_events')
    .select(['id', 'debt_id', 'kind', sql<string>`occurred_on::text`.as('occurred_on'), 'district_code', 'document_no', 'principal', 'interest', 'reverses_event_id', 'note', 'key_id', 'created_at'])
    .where(sql<boolean>`debt_id = ANY(${rows.map((r) => r.id)}::integer[])`).orderBy('occurred_on').orderBy('id').execute()
  const byDebt = new Map<number, StoredDebt['events']>()
  for (const e of events) {
    const list = byDebt.get(e.debt_id) ?? []
    list.push({
      id: e.id, kind: e.kind, occurredOn: e.occurred_on, districtCode: e.district_code ?? undefined, documentNo: e.document_no ?? undefined,
      principal: money(e.principal), interest: money(e.interest), reversesEventId: e.reverses_event_id ?? undefined, note: e.note ?? undefined,
      createdAt: e.created_at.toISOString(), keyId: e.key_id,
    })
    byDebt.set(e.debt_id, list)
  }
  return rows.map((r) => ({
    id: r.id, zoneCode: r.zone_code, reference: r.reference, creditor: r.creditor, kind: r.kind, principal: r.principal,
    outstandingAtRegistration: money(r.outstanding_at_registration), interestRate: r.interest_rate, incurredOn: r.incurred_on,
    maturityDate: r.maturity_date, registeredOn: r.registered_on, notes: r.notes, createdAt: r.created_at.toISOString(), events: byDebt.get(r.id) ?? [],
  }))
}

export async function findDebt (db: Db, scope: Scope, id: number, forUpdate = false): Promise<StoredDebt | undefined> {
  let query = db.selectFrom('debts').select([...DEBT_COLUMNS, ...DEBT_DATES]).where('debts.id', '=', id).where(debtScope(scope))
  if (forUpdate) query = query.forUpdate()
  const row = await query.executeTakeFirst()
  return row === undefined ? undefined : (await withEvents(db, [row]))[0]
}

export interface DebtFilter {
  zoneCode?: string | undefined
  /** Only debts transferred to this district (by the end of `transferredBy`, when given). */
  districtCode?: string | undefined
  transferredBy?: string | undefined
  maturingFrom?: string | undefined
  maturingTo?: string | undefined
  /** Only debts in this state at the end of `asOf` (debtStatus of src/domain/debt.ts, in SQL). */
  status?: { is: DebtStatus, asOf: string } | undefined
  /** Only debts registered by the end of this day: the register as it stood then. */
  registeredBy?: string | undefined
  /** Only debts with principal outstanding at the end of this day (registered, and neither repaid nor written down to zero). */
  outstandingOn?: string | undefined
}

/**
 * A debt's state at the end of a day, as debtStatus(positionAsOf(debt, day)) tells it: not yet
 * registered; repaid when the outstanding at registration less the principal of every repayment
 * and reversal up to the day is zero; transferred once a transfer is dated on or before the day.
 */
function statusAsOf (day: string) {
  return sql<DebtStatus>`CASE
    WHEN debts.registered_on > ${day}::date THEN 'not_registered'
    WHEN debts.outstanding_at_registration - coalesce((SELECT sum(p.principal) FROM debt_events p
      WHERE p.debt_id = debts.id AND p.kind <> 'transfer' AND p.occurred_on <= ${day}::date), 0) = 0 THEN 'repaid'
    WHEN EXISTS (SELECT 1 FROM debt_events t WHERE t.debt_id = debts.id AND t.kind = 'transfer' AND t.occurred_on <= ${day}::date) THEN 'transferred'
    ELSE 'zone' END`
}

function filtered (db: Db, scope: Scope, filter: DebtFilter) {
  let query = db.selectFrom('debts').select([...DEBT_COLUMNS, ...DEBT_DATES]).where(debtScope(scope))
  if (filter.zoneCode !== undefined) query = query.where('debts.zone_code', '=', filter.zoneCode)
  if (filter.districtCode !== undefined) {
    const code = filter.districtCode
    const dated = filter.transferredBy === undefined ? sql<boolean>`true` : sql<boolean>`t.occurred_on <= ${filter.transferredBy}::date`
    query = query.where(sql<boolean>`EXISTS (SELECT 1 FROM debt_events t WHERE t.debt_id = debts.id AND t.kind = 'transfer' AND t.district_code = ${code} AND ${dated})`)
  }
  if (filter.registeredBy !== undefined) query = query.where(sql<boolean>`debts.registered_on <= ${filter.registeredBy}::date`)
  if (filter.maturingFrom !== undefined) query = query.where(sql<boolean>`debts.maturity_date >= ${filter.maturingFrom}::date`)
  if (filter.maturingTo !== undefined) query = query.where(sql<boolean>`debts.maturity_date <= ${filter.maturingTo}::date`)
  if (filter.status !== undefined) query = query.where(sql<boolean>`${statusAsOf(filter.status.asOf)} = ${filter.status.is}`)
  if (filter.outstandingOn !== undefined) query = query.where(sql<boolean>`${statusAsOf(filter.outstandingOn)} IN ('zone', 'transferred')`)
  return query
}

/**
 * Stands in, in a list's identity (fetchPage), for the day the service filled in as today where the
 * caller named none: the list is the same list after midnight.
 */
export const TODAY = 'today'

/**
 * A page of the debts of `filter`, by id, with their events. `asCalled`: the filter as the caller
 * gave it, TODAY where the service filled in today (the list's identity); `filter` when it is the same.
 */
export async function listDebts (db: Db, scope: Scope, filter: DebtFilter, page: PageRequest, asCalled: DebtFilter = filter): Promise<Page<StoredDebt>> {
  const rows = await fetchPage(filtered(db, scope, filter), page, { columns: ['debts.id'], types: ['int'], of: (r) => [r.id] }, filtered(db, scope, asCalled))
  return mapPageAsync(rows, (items) => withEvents(db, items))
}

/** A page of the debts of `filter` that have a maturity date, by maturity date and id, with their events (`asCalled` as for listDebts). */
export async function listDebtsByMaturity (db: Db, scope: Scope, filter: DebtFilter, page: PageRequest, asCalled: DebtFilter = filter): Promise<Page<StoredDebt>> {
  const byMaturity = (f: DebtFilter) => filtered(db, scope, f).where('debts.maturity_date', 'is not', null)
  const rows = await fetchPage(byMaturity(filter), page,
    { columns: ['debts.maturity_date', 'debts.id'], types: ['day', 'int'], of: (r) => [r.maturity_date ?? '', r.id] }, byMaturity(asCalled))
  return mapPageAsync(rows, (items) => withEvents(db, items))
}

/** Every debt in scope (for summaries), with its events. */
export async function allDebts (db: Db, scope: Scope, filter: DebtFilter = {}): Promise<StoredDebt[]> {
  return withEvents(db, await filtered(db, scope, filter).orderBy('debts.id').execute())
}

/** The registered zones and the references their debts already use (of one zone, or of all), without white space around them. */
export async function debtRegister (db: Db, zoneCode?: string): Promise<{ zones: Set<string>, references: Set<string> }> {
  let zones = db.selectFrom('zones').select('code')
  let debts = db.selectFrom('debts').select(['zone_code', 'reference'])
  if (zoneCode !== undefined) {
    zones = zones.where('code', '=', zoneCode)
    debts = debts.where('zone_code', '=', zoneCode)
  }
  const [zoneRows, debtRows] = await Promise.all([zones.execute(), debts.execute()])
  // As the register compares them (trimmed: one stored with spaces around it before they were trimmed is the same reference).
  return { zones: new Set(zoneRows.map((z) => z.code)), references: new Set(debtRows.map((d) => referenceKey(d.zone_code, d.reference))) }
}

export async function insertDebt (tx: Db, d: {
  zoneCode: string, reference: string, creditor: string, kind: DebtKind, principal: string, outstanding: string,
  interestRate?: string | undefined, incurredOn?: string | undefined, maturityDate?: string | undefined, registeredOn: string, notes?: string | undefined
}): Promise<number> {
  const { id } = await tx.insertInto('debts').values({
    zone_code: d.zoneCode, reference: d.reference, creditor: d.creditor, kind: d.kind, principal: d.principal, outstanding_at_registration: d.outstanding,
    interest_rate: d.interestRate ?? null, incurred_on: d.incurredOn ?? null, maturity_date: d.maturityDate ?? null, registered_on: d.registeredOn, notes: d.notes ?? null,
  }).returning('id').executeTakeFirstOrThrow()
  return id
}

export async function insertDebtEvent (tx: Db, e: {
  debtId: number, kind: DebtEvent['kind'], occurredOn: string, districtCode?: string | undefined, documentNo?: string | undefined,
  principal?: string, interest?: string, reversesEventId?: number | undefined, note?: string | undefined, keyId: string
}): Promise<number> {
  const { id } = await tx.insertInto('debt_events').values({
    debt_id: e.debtId, kind: e.kind, occurred_on: e.occurredOn, district_code: e.districtCode ?? null, document_no: e.documentNo ?? null,
    principal: e.principal ?? '0', interest: e.interest ?? '0', reverses_event_id: e.reversesEventId ?? null, note: e.note ?? null, key_id: e.keyId,
  }).returning('id').executeTakeFirstOrThrow()
  return id
}

/**
 * The register's sums that bound every figure it prints (domain/debt.ts, registerRoom): what was
 * outstanding at registration over all debts, and the interest of every repayment (reversals not
 * netted off: a balance read as of a day between a repayment and its reversal includes it).
 */
export async function registerSums (db: Db): Promise<{ outstanding: string, interest: string }> {
  const { rows } = await sql<{ outstanding: string, interest: string }>`SELECT
    (SELECT coalesce(sum(outstanding_at_registration), 0) FROM debts)::text AS outstanding,
    (SELECT coalesce(sum(interest), 0) FROM debt_events WHERE kind = 'repayment')::text AS interest`.execute(db)
  const [row] = rows
  if (row === undefined) throw new Error('the register\'s sums answered no row')
  return row
}

/**
 * Today in Beijing time (UTC+8, no daylight saving), by the database's clock: what "today" means for every default
 * date and bound. current_date follows the session's time zone (UTC on PGlite, whatever the server is set to on
 * PostgreSQL), which in Qingdao is still yesterday until 08:00.
 */
export async function today (db: Db): Promise<string> {
  const { rows } = await sql<{ today: string }>`select ((now() at time zone 'UTC') + interval '8 hours')::date::text as today`.execute(db)
  const [row] = rows
  if (row === undefined) throw new Error('today answered no row')
  return row.today
}
