import { sql } from 'kysely'
import type { Db, DistrictRow, RevenueCategoryRow, ZoneRow } from './database.js'
import { fetchPage, mapPage, type Page, type PageRequest } from './pagination.js'
import { districtFilter, type Scope, zoneFilter } from './scope.js'

/* Revenue categories, districts and zones (api-contract.md, Registry). */

export interface RevenueCategory {
  code: string
  parentCode: string | null
  nameZh: string
  nameEn: string
  kind: RevenueCategoryRow['kind']
  localShare: string | null
  note: string | null
  origin: 'national' | 'local'
}

const toCategory = (r: RevenueCategoryRow): RevenueCategory => ({
  code: r.code, parentCode: r.parent_code, nameZh: r.name_zh, nameEn: r.name_en, kind: r.kind, localShare: r.local_share, note: r.note, origin: r.origin,
})

const BY_CODE = { columns: ['code'], types: ['text'], of: (r: { code: string }) => [r.code] } as const

export async function listRevenueCategories (db: Db, page: PageRequest, kind?: RevenueCategory['kind']): Promise<Page<RevenueCategory>> {
  let query = db.selectFrom('revenue_categories').selectAll()
  if (kind !== undefined) query = query.where('kind', '=', kind)
  return mapPage(await fetchPage(query, page, BY_CODE), toCategory)
}

/** The code registered in `table` that is `code` but for its case (`code` itself when registered as written). */
export async function codeInAnyCase (db: Db, table: 'zones' | 'revenue_categories', code: string): Promise<string | undefined> {
  const rows = await db.selectFrom(table).select('code').where(sql<boolean>`lower(code) = lower(${code})`).execute()
  return rows.find((r) => r.code === code)?.code ?? rows[0]?.code
}

export async function categoryExists (db: Db, code: string): Promise<boolean> {
  return (await db.selectFrom('revenue_categories').select('code').where('code', '=', code).executeTakeFirst()) !== undefined
}

/** The codes among `codes` that are not registered revenue categories. */
export async function unknownCategories (db: Db, codes: readonly string[]): Promise<Set<string>> {
  if (codes.length === 0) return new Set()
  const known = await db.selectFrom('revenue_categories').select('code').where(sql<boolean>`code = ANY(${[...new Set(codes)]}::text[])`).execute()
  const knownSet = new Set(known.map((r) => r.code))
  return new Set(codes.filter((c) => !knownSet.has(c)))
}

export async function insertRevenueCategory (db: Db, c: Omit<RevenueCategory, 'origin'>): Promise<RevenueCategory> {
  // Answered as stored (a local share of "1" reads "1.000000" afterwards), so the 201 and every later read agree.
  const row = await db.insertInto('revenue_categories').values({
    code: c.code, parent_code: c.parentCode, name_zh: c.nameZh, name_en: c.nameEn, kind: c.kind,
    local_share: c.localShare, note: c.note, origin: 'local',
  }).returningAll().executeTakeFirstOrThrow()
  return toCategory(row)
}

export interface District { code: string, name: string, createdAt: string }

const toDistrict = (r: DistrictRow): District => ({ code: r.code, name: r.name, createdAt: r.created_at.toISOString() })

export async function listDistricts (db: Db, scope: Scope, page: PageRequest): Promise<Page<District>> {
  const query = db.selectFrom('districts').selectAll().where(districtFilter(scope, 'districts.code'))
  return mapPage(await fetchPage(query, page, BY_CODE), toDistrict)
}

export async function findDistrict (db: Db, scope: Scope, code: string): Promise<District | undefined> {
  const row = await db.selectFrom('districts').selectAll().where('code', '=', code).where(districtFilter(scope, 'districts.code')).executeTakeFirst()
  return row === undefined ? undefined : toDistrict(row)
}

export async function insertDistrict (db: Db, d: { code: string, name: string }): Promise<District> {
  return toDistrict(await db.insertInto('districts').values(d).returningAll().executeTakeFirstOrThrow())
}

export interface Zone { code: string, name: string, hostDistrictCode: string, createdAt: string }

const toZone = (r: ZoneRow): Zone => ({ code: r.code, name: r.name, hostDistrictCode: r.host_district_code, createdAt: r.created_at.toISOString() })

export async function listZones (db: Db, scope: Scope, page: PageRequest): Promise<Page<Zone>> {
  const query = db.selectFrom('zones').selectAll().where(zoneFilter(scope, 'zones.code', 'zones.host_district_code'))
  return mapPage(await fetchPage(query, page, BY_CODE), toZone)
}

export async function findZone (db: Db, scope: Scope, code: string): Promise<Zone | undefined> {
  const row = await db.selectFrom('zones').selectAll().where('code', '=', code)
    .where(zoneFilter(scope, 'zones.code', 'zones.host_district_code')).executeTakeFirst()
  return row === undefined ? undefined : toZone(row)
}

export async function insertZone (db: Db, z: { code: string, name: string, hostDistrictCode: string }): Promise<Zone> {
  return toZone(await db.insertInto('zones').values({ code: z.code, name: z.name, host_district_code: z.hostDistrictCode }).returningAll().executeTakeFirstOrThrow())
}

/** Names of zones, districts and agreements' documents, for statements. */
export async function registryNames (db: Db, lines: ReadonlyArray<{ agreementId: number, zoneCode: string, districtCode: string }>) {
  if (lines.length === 0) return { zone: new Map<string, string>(), district: new Map<string, string>(), documentNo: new Map<number, string>() }
  const codes = (pick: (l: typeof lines[number]) => string) => [...new Set(lines.map(pick))]
  const [zones, districts, agreements] = await Promise.all([
    db.selectFrom('zones').select(['code', 'name']).where(sql<boolean>`code = ANY(${codes((l) => l.zoneCode)}::text[])`).execute(),
    db.selectFrom('districts').select(['code', 'name']).where(sql<boolean>`code = ANY(${codes((l) => l.districtCode)}::text[])`).execute(),
    db.selectFrom('agreements').select(['id', 'document_no']).where(sql<boolean>`id = ANY(${lines.map((l) => l.agreementId)}::integer[])`).execute(),
  ])
  return {
    zone: new Map(zones.map((z) => [z.code, z.name])),
    district: new Map(districts.map((d) => [d.code, d.name])),
    documentNo: new Map(agreements.map((a) => [a.id, a.document_no])),
  }
}
