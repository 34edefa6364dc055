import { sql } from 'kysely'
import type { AgreementGroupTerms, AgreementTerms, BaseTerms } from '../domain/agreement.js'
import type { CarryTerms } from '../domain/ledger.js'
import { type Decimal, money } from '../domain/money.js'
import type { RateBand, RatePeriod } from '../domain/types.js'
import type { AgreementGroupRow, AgreementRow, BaseAdjustmentRow, Db } from './database.js'
import { LockSpace, lock } from './locks.js'
import { fetchPage, mapPageAsync, type Page, type PageRequest } from './pagination.js'
import { type Scope, scopeFilter } from './scope.js'
import { type StoredTransfer, toTransfer } from './transfers.js'

/*
 * Agreements (分成办法) with their groups, categories, bands or rate schedules (分段期限), base
 * adjustments (基数调整) and responsibility transfers (事权划转).
 */

export interface StoredAdjustment {
  id: number
  fromYear: number
  amount: Decimal
  reason: string
  documentNo: string
  createdAt: string
}

export type StoredGroup = AgreementGroupTerms & {
  position: number
  adjustments: StoredAdjustment[]
  transfers: StoredTransfer[]
}

export interface StoredAgreement extends Omit<AgreementTerms, 'groups'> {
  id: number
  createdAt: string
  groups: StoredGroup[]
}

/** Serializes writes that could make one zone–district pair's agreements overlap. */
export async function lockAgreementPair (tx: Db, zoneCode: string, districtCode: string): Promise<void> {
  await lock(tx, LockSpace.agreementPair, `agreement-pair:${zoneCode}|${districtCode}`)
}

/** Agreements of the pair whose years meet [from, to] (to null: open-ended), by id. */
export async function overlappingAgreements (db: Db, zoneCode: string, districtCode: string, from: number, to: number | null, exceptId?: number) {
  let query = db.selectFrom('agreements').select(['id', 'effective_from', 'effective_to', 'document_no'])
    .where('zone_code', '=', zoneCode).where('district_code', '=', districtCode)
    .where((eb) => eb.or([eb('effective_to', 'is', null), eb('effective_to', '>=', from)]))
    .orderBy('id')
  if (to !== null) query = query.where('effective_from', '<=', to)
  if (exceptId !== undefined) query = query.where('id', '<>', exceptId)
  const rows = await query.execute()
  return rows.map((r) => ({ id: r.id, effectiveFrom: r.effective_from, effectiveTo: r.effective_to, documentNo: r.document_no }))
}

/**
 * The agreement of the pair that begins the year after `year`, carries a shortfall forward, and whose
 * first year is finalized (its signed line carried in nothing from a previous version): one that an
 * agreement ending at `year` would become the previous version of, after the fact (§6, §9).
 */
export async function settledSuccessor (db: Db, zoneCode: string, districtCode: string, year: number, exceptId?: number): Promise<{ id: number, effectiveFrom: number } | undefined> {
  const { rows } = await sql<{ id: number, effective_from: number }>`
    SELECT v.id, v.effective_from FROM agreements v
    WHERE v.zone_code = ${zoneCode} AND v.district_code = ${districtCode} AND v.effective_from = ${year + 1} AND v.id <> ${exceptId ?? 0}
      AND EXISTS (SELECT 1 FROM agreement_groups g WHERE g.agreement_id = v.id AND g.shortfall = 'carry_forward')
      AND EXISTS (SELECT 1 FROM settlement_lines l WHERE l.agreement_id = v.id AND l.fiscal_year = v.effective_from AND l.finalized)
    ORDER BY v.id LIMIT 1`.execute(db)
  const row = rows[0]
  return row === undefined ? undefined : { id: row.id, effectiveFrom: row.effective_from }
}

export async function insertAgreement (tx: Db, terms: AgreementTerms): Promise<number> {
  const { id } = await tx.insertInto('agreements').values({
    zone_code: terms.zoneCode, district_code: terms.districtCode, document_no: terms.documentNo,
    base_year: terms.baseYear, effective_from: terms.effectiveFrom, effective_to: terms.effectiveTo,
  }).returning('id').executeTakeFirstOrThrow()
  await tx.insertInto('agreement_groups').values(terms.groups.map((g, position) => ({
    agreement_id: id, position, name: g.name, basis: g.basis,
    base_amount: g.basis === 'increment' ? g.base.amount?.toFixed(2) ?? null : null,
    base_mode: g.basis === 'increment' ? g.base.mode : null,
    growth_rate: g.basis === 'increment' && g.base.mode === 'escalating' ? g.base.growthRate.toString() : null,
    shortfall: g.shortfall,
  }))).execute()
  await tx.insertInto('agreement_group_categories').values(terms.groups.flatMap((g, position) =>
    g.categories.map((category_code) => ({ agreement_id: id, group_position: position, category_code })))).execute()
  const bands = terms.groups.flatMap((g, position) => (g.rates ?? []).map((band, k) => ({
    agreement_id: id, group_position: position, position: k,
    up_to_growth: band.upToGrowth?.toString() ?? null, rate: band.rate.toString(),
  })))
  if (bands.length > 0) await tx.insertInto('agreement_bands').values(bands).execute()
  const scheduled = terms.groups.flatMap((g, position) => (g.schedule ?? []).flatMap((period) => period.rates.map((band, k) => ({
    agreement_id: id, group_position: position, from_year: period.fromYear, position: k,
    up_to_growth: band.upToGrowth?.toString() ?? null, rate: band.rate.toString(),
  }))))
  if (scheduled.length > 0) await tx.insertInto('agreement_schedule_bands').values(scheduled).execute()
  return id
}

export async function setEffectiveTo (tx: Db, id: number, effectiveTo: number | null): Promise<void> {
  await tx.updateTable('agreements').set({ effective_to: effectiveTo }).where('id', '=', id).execute()
}

const toAdjustment = (a: BaseAdjustmentRow): StoredAdjustment => ({
  id: a.id, fromYear: a.from_year, amount: money(a.amount), reason: a.reason, documentNo: a.document_no, createdAt: a.created_at.toISOString(),
})

export async function insertBaseAdjustment (tx: Db, agreementId: number, groupPosition: number,
  a: { fromYear: number, amount: string, reason: string, documentNo: string }): Promise<StoredAdjustment> {
  const row = await tx.insertInto('base_adjustments').values({
    agreement_id: agreementId, group_position: groupPosition, from_year: a.fromYear, amount: a.amount, reason: a.reason, document_no: a.documentNo,
  }).returningAll().executeTakeFirstOrThrow()
  return toAdjustment(row)
}

/** The base rule a stored increment group holds; an increment group without one is a corrupt row. */
function baseTermsOf (g: AgreementGroupRow): BaseTerms {
  const amount = g.base_amount === null ? undefined : money(g.base_amount)
  switch (g.base_mode) {
    case 'fixed': if (amount !== undefined) return { mode: 'fixed', amount }
      break
    case 'escalating': if (amount !== undefined && g.growth_rate !== null) return { mode: 'escalating', amount, growthRate: money(g.growth_rate) }
      break
    case 'prior_year': return amount === undefined ? { mode: 'prior_year' } : { mode: 'prior_year', amount }
    case null: break
  }
  throw new Error(`agreement ${g.agreement_id} group ${g.position}: an increment group without a complete base rule`)
}

const bandOf = (b: { up_to_growth: string | null, rate: string }): RateBand =>
  b.up_to_growth === null ? { rate: money(b.rate) } : { upToGrowth: money(b.up_to_growth), rate: money(b.rate) }

/** The group's bands: its schedule's periods when it has one, else its one set of bands. */
interface GroupParts {
  categories: string[]
  rates: RateBand[]
  schedule: RatePeriod[]
  adjustments: StoredAdjustment[]
  transfers: StoredTransfer[]
}

/**
 * A stored group as whole literals, one per shape, without spreads (V8 builds a literal with spreads
 * property by property, and a settlement run reads these terms for every agreement).
 */
function groupOf (g: AgreementGroupRow, parts: GroupParts): StoredGroup {
  const { position, name } = g
  const { categories, adjustments, transfers } = parts
  const scheduled = parts.schedule.length > 0
  if (g.basis === 'total') {
    return scheduled
      ? { position, name, categories, schedule: parts.schedule, adjustments, transfers, basis: 'total', shortfall: 'none' }
      : { position, name, categories, rates: parts.rates, adjustments, transfers, basis: 'total', shortfall: 'none' }
  }
  const base = baseTermsOf(g)
  return scheduled
    ? { position, name, categories, schedule: parts.schedule, adjustments, transfers, basis: 'increment', base, shortfall: g.shortfall }
    : { position, name, categories, rates: parts.rates, adjustments, transfers, basis: 'increment', base, shortfall: g.shortfall }
}

/** Loads whole agreements (groups, categories, bands, adjustments) for the given rows. */
async function assemble (db: Db, rows: AgreementRow[]): Promise<StoredAgreement[]> {
  if (rows.length === 0) return []
  return assembleFrom(rows, await readParts(db, rows.map((r) => r.id)))
}

/** The groups of the agreements `ids` and what each group holds, each kind read with one statement. */
function readParts (db: Db, ids: readonly number[]) {
  const ofAgreements = sql<boolean>`agreement_id = ANY(${[...ids]}::integer[])`
  return Promise.all([
    db.selectFrom('agreement_groups').selectAll().where(ofAgreements).orderBy('agreement_id').orderBy('position').execute(),
    // One row per group with its codes: a fiftieth of the rows of one per category. As JSON, which
    // the driver reads with JSON.parse: a text array is parsed a character at a time in JavaScript.
    db.selectFrom('agreement_group_categories')
      .select(['agreement_id', 'group_position', sql<string[]>`json_agg(category_code ORDER BY category_code)`.as('codes')])
      .where(ofAgreements).groupBy(['agreement_id', 'group_position']).execute(),
    db.selectFrom('agreement_bands').selectAll().where(ofAgreements).orderBy('position').execute(),
    db.selectFrom('agreement_schedule_bands').selectAll().where(ofAgreements).orderBy('from_year').orderBy('position').execute(),
    db.selectFrom('base_adjustments').selectAll().where(ofAgreements).orderBy('from_year').orderBy('id').execute(),
    db.selectFrom('responsibility_transfers').selectAll().where(ofAgreements).orderBy('from_year').orderBy('id').execute(),
  ])
}

/** Whole agreements of `rows` from the parts read for them (parts of other agreements are left aside). */
function assembleFrom (rows: readonly AgreementRow[], [groups, categories, bands, scheduled, adjustments, transfers]: Awaited<ReturnType<typeof readParts>>): StoredAgreement[] {
  const key = (agreementId: number, position: number) => `${agreementId}/${position}`
  const parts = new Map<string, GroupParts>()
  const partsOf = (agreementId: number, position: number) => {
    let p = parts.get(key(agreementId, position))
    if (p === undefined) {
      p = { categories: [], rates: [], schedule: [], adjustments: [], transfers: [] }
      parts.set(key(agreementId, position), p)
    }
    return p
  }
  const names = new Map(groups.map((g) => [key(g.agreement_id, g.position), g.name]))
  for (const c of categories) partsOf(c.agreement_id, c.group_position).categories.push(...c.codes)
  for (const b of bands) partsOf(b.agreement_id, b.group_position).rates.push(bandOf(b))
  for (const b of scheduled) {
    const { schedule } = partsOf(b.agreement_id, b.group_position)
    const last = schedule[schedule.length - 1]
    if (last?.fromYear === b.from_year) schedule[schedule.length - 1] = { fromYear: last.fromYear, rates: [...last.rates, bandOf(b)] }
    else schedule.push({ fromYear: b.from_year, rates: [bandOf(b)] })
  }
  for (const a of adjustments) partsOf(a.agreement_id, a.group_position).adjustments.push(toAdjustment(a))
  for (const x of transfers) partsOf(x.agreement_id, x.group_position).transfers.push(toTransfer(x, names.get(key(x.agreement_id, x.group_position)) ?? ''))
  const byAgreement = new Map<number, StoredGroup[]>()
  for (const g of groups) {
    const group = groupOf(g, partsOf(g.agreement_id, g.position))
    const ofAgreement = byAgreement.get(g.agreement_id)
    if (ofAgreement === undefined) byAgreement.set(g.agreement_id, [group])
    else ofAgreement.push(group)
  }
  return rows.map((r) => ({
    id: r.id, zoneCode: r.zone_code, districtCode: r.district_code, documentNo: r.document_no, baseYear: r.base_year,
    effectiveFrom: r.effective_from, effectiveTo: r.effective_to, createdAt: r.created_at.toISOString(), groups: byAgreement.get(r.id) ?? [],
  }))
}

export async function findAgreement (db: Db, scope: Scope, id: number): Promise<StoredAgreement | undefined> {
  const row = await db.selectFrom('agreements').selectAll().where('id', '=', id)
    .where(scopeFilter(scope, { zone: 'agreements.zone_code', district: 'agreements.district_code' })).executeTakeFirst()
  return row === undefined ? undefined : (await assemble(db, [row]))[0]
}

function inForceQuery (db: Db, year: number, ids?: readonly number[]) {
  const query = db.selectFrom('agreements')
    .where('effective_from', '<=', year).where((eb) => eb.or([eb('effective_to', 'is', null), eb('effective_to', '>=', year)]))
  // One array parameter, whatever the number of ids (an IN list takes one bind parameter per id, at most 65,535).
  return ids === undefined ? query : query.where(sql<boolean>`id = ANY(${[...ids]}::integer[])`)
}

/** The agreements of `ids` in force in fiscal year Y, whole, by id (a run reads them a chunk at a time). */
export async function agreementsInForce (db: Db, year: number, ids: readonly number[]): Promise<StoredAgreement[]> {
  // The parts are asked for beside the rows, by the ids given: a run's chunk queues all its reads at
  // once, ahead of the lines it then stores, instead of asking for the parts a turn of the event loop later.
  const [rows, parts] = await Promise.all([inForceQuery(db, year, ids).selectAll().orderBy('id').execute(), readParts(db, ids)])
  return assembleFrom(rows, parts)
}

/**
 * The ids of every agreement in force in fiscal year Y (or of those of `ids` among them), in the
 * order of their zone–district pairs as the database sorts them (a run's chunks then cover
 * stretches of revenue_year_totals' key one after another: src/db/revenue.ts categoryActuals).
 */
export async function agreementIdsInForce (db: Db, year: number, ids?: readonly number[]): Promise<number[]> {
  return (await inForceQuery(db, year, ids).select('id').orderBy('zone_code').orderBy('district_code').orderBy('id').execute()).map((r) => r.id)
}

/** How many agreements are in force in fiscal year Y. */
export async function countInForce (db: Db, year: number): Promise<number> {
  const { n } = await inForceQuery(db, year).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
  return Number(n)
}

export interface AgreementFilter {
  zoneCode?: string | undefined
  districtCode?: string | undefined
  /** Only agreements in force in this fiscal year. */
  year?: number | undefined
}

export async function listAgreements (db: Db, scope: Scope, filter: AgreementFilter, page: PageRequest): Promise<Page<StoredAgreement>> {
  let query = db.selectFrom('agreements').selectAll()
    .where(scopeFilter(scope, { zone: 'agreements.zone_code', district: 'agreements.district_code' }))
  if (filter.zoneCode !== undefined) query = query.where('zone_code', '=', filter.zoneCode)
  if (filter.districtCode !== undefined) query = query.where('district_code', '=', filter.districtCode)
  if (filter.year !== undefined) {
    const year = filter.year
    query = query.where('effective_from', '<=', year).where((eb) => eb.or([eb('effective_to', 'is', null), eb('effective_to', '>=', year)]))
  }
  const rows = await fetchPage(query, page, { columns: ['id'], types: ['int'], of: (r) => [r.id] })
  return mapPageAsync(rows, (items) => assemble(db, items))
}

/**
 * The previous (or next) version of each agreement among `ids`: the agreement of the same
 * zone–district pair that ends the year before it starts (or starts the year after it ends),
 * with its groups' names and shortfall policies (calculation-rules.md §6). `inYear`: only of those
 * among them that start (or end) in that year.
 */
export async function adjacentVersions (db: Db, ids: readonly number[], which: 'previous' | 'next', inYear?: number): Promise<Map<number, CarryTerms>> {
  if (ids.length === 0) return new Map()
  const meets = which === 'previous' ? sql<boolean>`v.effective_to = a.effective_from - 1` : sql<boolean>`v.effective_from = a.effective_to + 1`
  const starting = inYear === undefined ? sql`` : which === 'previous' ? sql`AND a.effective_from = ${inYear}::integer` : sql`AND a.effective_to = ${inYear}::integer`
  const { rows } = await sql<{ agreement_id: number, id: number, effective_from: number, effective_to: number | null, name: string | null, shortfall: CarryTerms['groups'][number]['shortfall'] | null }>`
    SELECT a.id AS agreement_id, v.id, v.effective_from, v.effective_to, g.name, g.shortfall
    FROM agreements a
    JOIN agreements v ON v.zone_code = a.zone_code AND v.district_code = a.district_code AND v.id <> a.id AND ${meets}
    LEFT JOIN agreement_groups g ON g.agreement_id = v.id
    WHERE a.id = ANY(${[...ids]}::integer[]) ${starting}
    ORDER BY a.id, g.position`.execute(db)
  const versions = new Map<number, CarryTerms & { groups: Array<CarryTerms['groups'][number]> }>()
  for (const r of rows) {
    let version = versions.get(r.agreement_id)
    if (version === undefined) {
      version = { id: r.id, effectiveFrom: r.effective_from, effectiveTo: r.effective_to, groups: [] }
      versions.set(r.agreement_id, version)
    }
    if (r.name !== null && r.shortfall !== null) version.groups.push({ name: r.name, shortfall: r.shortfall })
  }
  return versions
}

/** The carry terms (years, groups' names and shortfall policies) of the agreements `ids`. */
export async function carryTermsOf (db: Db, ids: readonly number[]): Promise<Map<number, CarryTerms>> {
  if (ids.length === 0) return new Map()
  const rows = await db.selectFrom('agreements').leftJoin('agreement_groups', 'agreement_groups.agreement_id', 'agreements.id')
    .select(['agreements.id', 'agreements.effective_from', 'agreements.effective_to', 'agreement_groups.name', 'agreement_groups.shortfall'])
    .where(sql<boolean>`agreements.id = ANY(${[...new Set(ids)]}::integer[])`).orderBy('agreements.id').orderBy('agreement_groups.position').execute()
  const terms = new Map<number, CarryTerms & { groups: Array<CarryTerms['groups'][number]> }>()
  for (const r of rows) {
    let t = terms.get(r.id)
    if (t === undefined) {
      t = { id: r.id, effectiveFrom: r.effective_from, effectiveTo: r.effective_to, groups: [] }
      terms.set(r.id, t)
    }
    if (r.name !== null && r.shortfall !== null) t.groups.push({ name: r.name, shortfall: r.shortfall })
  }
  return terms
}
