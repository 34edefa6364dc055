import { type Kysely, sql } from 'kysely'
import type { AgreementGroupTerms, AgreementTerms } from '../domain/agreement.js'
import { type Decimal, money } from '../domain/money.js'
import type { Database } from './database.js'
import { decodeCursor, type Page, toPage } from './pagination.js'
import type { PageRequest } from './registry.js'
import { type Scope, scopeFilter } from './scope.js'

/* Agreements (分成办法) with their groups, categories, bands and base adjustments (基数调整). */

type Db = Kysely<Database>

export interface StoredAdjustment {
  id: number
  fromYear: number
  amount: Decimal
  reason: string
  documentNo: string
  createdAt: string
}

export interface StoredGroup extends AgreementGroupTerms {
  position: number
  adjustments: StoredAdjustment[]
}

export interface StoredAgreement extends Omit<AgreementTerms, 'groups'> {
  id: number
  createdAt: string
  groups: StoredGroup[]
}

/** Serializes writes that could make one zone–district pair's agreements overlap. */
export async function lockAgreementPair (tx: Db, zoneCode: string, districtCode: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`agreement-pair:${zoneCode}|${districtCode}`}, 7302))`.execute(tx)
}

/** Agreements of the pair whose years meet [from, to] (to null: open-ended). */
export async function overlappingAgreements (db: Db, zoneCode: string, districtCode: string, from: number, to: number | null, exceptId?: number) {
  let query = db.selectFrom('agreements').select(['id', 'effective_from', 'effective_to', 'document_no'])
    .where('zone_code', '=', zoneCode).where('district_code', '=', districtCode)
    .where((eb) => eb.or([eb('effective_to', 'is', null), eb('effective_to', '>=', from)]))
    .orderBy('id')
  if (to !== null) query = query.where('effective_from', '<=', to)
  if (exceptId !== undefined) query = query.where('id', '<>', exceptId)
  return query.execute()
}

/** The codes among `codes` that are not registered revenue categories. */
export async function unknownCategories (db: Db, codes: readonly string[]): Promise<Set<string>> {
  if (codes.length === 0) return new Set()
  const known = await db.selectFrom('revenue_categories').select('code').where('code', 'in', [...new Set(codes)]).execute()
  const knownSet = new Set(known.map((r) => r.code))
  return new Set(codes.filter((c) => !knownSet.has(c)))
}

export async function insertAgreement (tx: Db, terms: AgreementTerms): Promise<number> {
  const { id } = await tx.insertInto('agreements').values({
    zone_code: terms.zoneCode, district_code: terms.districtCode, document_no: terms.documentNo,
    base_year: terms.baseYear, effective_from: terms.effectiveFrom, effective_to: terms.effectiveTo,
  }).returning('id').executeTakeFirstOrThrow()
  await tx.insertInto('agreement_groups').values(terms.groups.map((g, position) => ({
    agreement_id: id, position, name: g.name, basis: g.basis,
    base_amount: g.base?.amount?.toFixed(2) ?? null, base_mode: g.base?.mode ?? null,
    growth_rate: g.base?.growthRate?.toString() ?? null, shortfall: g.shortfall,
  }))).execute()
  await tx.insertInto('agreement_group_categories').values(terms.groups.flatMap((g, position) =>
    g.categories.map((category_code) => ({ agreement_id: id, group_position: position, category_code })))).execute()
  await tx.insertInto('agreement_bands').values(terms.groups.flatMap((g, position) => g.rates.map((band, k) => ({
    agreement_id: id, group_position: position, position: k,
    up_to_growth: band.upToGrowth?.toString() ?? null, rate: band.rate.toString(),
  })))).execute()
  return id
}

export async function setEffectiveTo (tx: Db, id: number, effectiveTo: number | null): Promise<void> {
  await tx.updateTable('agreements').set({ effective_to: effectiveTo }).where('id', '=', id).execute()
}

export async function insertBaseAdjustment (tx: Db, agreementId: number, groupPosition: number,
  a: { fromYear: number, amount: string, reason: string, documentNo: string }): Promise<StoredAdjustment> {
  const row = await tx.insertInto('base_adjustments').values({
    agreement_id: agreementId, group_position: groupPosition, from_year: a.fromYear, amount: a.amount, reason: a.reason, document_no: a.documentNo,
  }).returningAll().executeTakeFirstOrThrow()
  return { id: row.id, fromYear: row.from_year, amount: money(row.amount), reason: row.reason, documentNo: row.document_no, createdAt: row.created_at.toISOString() }
}

type AgreementRowOf = { id: number, zone_code: string, district_code: string, document_no: string, base_year: number, effective_from: number, effective_to: number | null, created_at: Date }

/**
 * Loads whole agreements (groups, categories, bands, adjustments) for the given rows. `inForce`
 * selects the parts by the agreements' years instead of by a list of ids, for whole-year loads.
 */
async function assemble (db: Db, rows: AgreementRowOf[], inForce?: number): Promise<StoredAgreement[]> {
  if (rows.length === 0) return []
  const ids = rows.map((r) => r.id)
  const ofAgreements = inForce === undefined
    ? sql<boolean>`agreement_id = ANY(${ids}::integer[])`
    : sql<boolean>`agreement_id IN (SELECT id FROM agreements WHERE effective_from <= ${inForce} AND (effective_to IS NULL OR effective_to >= ${inForce}))`
  const [groups, categories, bands, adjustments] = await Promise.all([
    db.selectFrom('agreement_groups').selectAll().where(ofAgreements).orderBy('agreement_id').orderBy('position').execute(),
    // One row per group with its codes: a fiftieth of the rows of one per category.
    db.selectFrom('agreement_group_categories')
      .select(['agreement_id', 'group_position', sql<string[]>`array_agg(category_code ORDER BY category_code)`.as('codes')])
      .where(ofAgreements).groupBy(['agreement_id', 'group_position']).execute(),
    db.selectFrom('agreement_bands').selectAll().where(ofAgreements).orderBy('position').execute(),
    db.selectFrom('base_adjustments').selectAll().where(ofAgreements).orderBy('from_year').orderBy('id').execute(),
  ])
  const key = (agreementId: number, position: number) => `${agreementId}/${position}`
  const groupMap = new Map<string, StoredGroup>()
  const byAgreement = new Map<number, StoredGroup[]>()
  for (const g of groups) {
    const group: StoredGroup = {
      position: g.position, name: g.name, basis: g.basis, categories: [], rates: [], shortfall: g.shortfall, adjustments: [],
      ...(g.base_mode === null ? {} : {
        base: {
          mode: g.base_mode,
          ...(g.base_amount === null ? {} : { amount: money(g.base_amount) }),
          ...(g.growth_rate === null ? {} : { growthRate: money(g.growth_rate) }),
        },
      }),
    }
    groupMap.set(key(g.agreement_id, g.position), group)
    byAgreement.set(g.agreement_id, [...(byAgreement.get(g.agreement_id) ?? []), group])
  }
  for (const c of categories) groupMap.get(key(c.agreement_id, c.group_position))?.categories.push(...c.codes)
  for (const b of bands) {
    groupMap.get(key(b.agreement_id, b.group_position))?.rates.push(b.up_to_growth === null
      ? { rate: money(b.rate) }
      : { upToGrowth: money(b.up_to_growth), rate: money(b.rate) })
  }
  for (const a of adjustments) {
    groupMap.get(key(a.agreement_id, a.group_position))?.adjustments.push({
      id: a.id, fromYear: a.from_year, amount: money(a.amount), reason: a.reason, documentNo: a.document_no, createdAt: a.created_at.toISOString(),
    })
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

/** Every agreement in force in fiscal year Y (or those of `ids` among them), by id. */
export async function agreementsInForce (db: Db, year: number, ids?: readonly number[]): Promise<StoredAgreement[]> {
  let query = db.selectFrom('agreements').selectAll()
    .where('effective_from', '<=', year).where((eb) => eb.or([eb('effective_to', 'is', null), eb('effective_to', '>=', year)]))
    .orderBy('id')
  if (ids !== undefined) query = query.where('id', 'in', ids.length === 0 ? [0] : [...ids])
  return assemble(db, await query.execute(), ids === undefined ? year : undefined)
}

/** The latest fiscal year a finalized settlement of the agreement covers, if any. */
export async function lastFinalizedYear (db: Db, agreementId: number): Promise<number | undefined> {
  const row = await db.selectFrom('settlement_lines').select((eb) => eb.fn.max('fiscal_year').as('year'))
    .where('agreement_id', '=', agreementId).where('finalized', '=', true).executeTakeFirst()
  return row?.year ?? undefined
}

export interface AgreementFilter {
  zoneCode?: string | undefined
  districtCode?: string | undefined
  /** Only agreements in force in this fiscal year. */
  year?: number | undefined
}

export async function listAgreements (db: Db, scope: Scope, filter: AgreementFilter, page: PageRequest): Promise<Page<StoredAgreement>> {
  const after = decodeCursor<number>(page.cursor, 'number')
  let query = db.selectFrom('agreements').selectAll()
    .where(scopeFilter(scope, { zone: 'agreements.zone_code', district: 'agreements.district_code' }))
    .orderBy('id').limit(page.limit + 1)
  if (after !== undefined) query = query.where('id', '>', after)
  if (filter.zoneCode !== undefined) query = query.where('zone_code', '=', filter.zoneCode)
  if (filter.districtCode !== undefined) query = query.where('district_code', '=', filter.districtCode)
  if (filter.year !== undefined) {
    const year = filter.year
    query = query.where('effective_from', '<=', year).where((eb) => eb.or([eb('effective_to', 'is', null), eb('effective_to', '>=', year)]))
  }
  const rows = await query.execute()
  const page1 = toPage(rows, page.limit, (r) => r.id, (r) => r)
  return { items: await assemble(db, page1.items), nextCursor: page1.nextCursor }
}

/**
 * A(Y) of a zone in a district over some categories: the sum of the latest revision of each
 * month (calculation-rules.md §5), and how many monthly records there are (0: none recorded).
 */
export async function revenueTotal (db: Db, zoneCode: string, districtCode: string, categories: readonly string[], year: number): Promise<{ total: string, records: number }> {
  if (categories.length === 0) return { total: '0.00', records: 0 }
  const row = await db.selectFrom('revenue_records')
    .select([sql<string>`coalesce(sum(amount), 0)::text`.as('total'), sql<number>`count(*)::int`.as('records')])
    .where('zone_code', '=', zoneCode).where('district_code', '=', districtCode)
    .where('category_code', 'in', [...categories]).where('year', '=', year)
    .executeTakeFirstOrThrow()
  return { total: row.total, records: row.records }
}
