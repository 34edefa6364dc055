import type { Kysely } from 'kysely'
import type { Database } from './database.js'
import { decodeCursor, type Page, toPage } from './pagination.js'
import { districtFilter, type Scope, zoneFilter } from './scope.js'

/* Revenue categories, districts and zones (api-contract.md, Registry). */

type Db = Kysely<Database>

export interface PageRequest { limit: number, cursor?: string | undefined }

export interface RevenueCategory {
  code: string
  parentCode: string | null
  nameZh: string
  nameEn: string
  kind: 'tax' | 'fee' | 'non_tax'
  localShare: string | null
  note: string | null
  origin: 'national' | 'local'
}

export async function listRevenueCategories (db: Db, page: PageRequest, kind?: RevenueCategory['kind']): Promise<Page<RevenueCategory>> {
  const after = decodeCursor<string>(page.cursor, 'string')
  let query = db.selectFrom('revenue_categories').selectAll().orderBy('code').limit(page.limit + 1)
  if (after !== undefined) query = query.where('code', '>', after)
  if (kind !== undefined) query = query.where('kind', '=', kind)
  return toPage(await query.execute(), page.limit, (r) => r.code, (r) => ({
    code: r.code, parentCode: r.parent_code, nameZh: r.name_zh, nameEn: r.name_en, kind: r.kind,
    localShare: r.local_share, note: r.note, origin: r.origin,
  }))
}

export async function categoryExists (db: Db, code: string): Promise<boolean> {
  return (await db.selectFrom('revenue_categories').select('code').where('code', '=', code).executeTakeFirst()) !== undefined
}

export async function insertRevenueCategory (db: Db, c: Omit<RevenueCategory, 'origin'>): Promise<RevenueCategory> {
  await db.insertInto('revenue_categories').values({
    code: c.code, parent_code: c.parentCode, name_zh: c.nameZh, name_en: c.nameEn, kind: c.kind,
    local_share: c.localShare, note: c.note, origin: 'local',
  }).execute()
  return { ...c, origin: 'local' }
}

export interface District { code: string, name: string, createdAt: string }

export async function listDistricts (db: Db, scope: Scope, page: PageRequest): Promise<Page<District>> {
  const after = decodeCursor<string>(page.cursor, 'string')
  let query = db.selectFrom('districts').selectAll().where(districtFilter(scope, 'districts.code')).orderBy('code').limit(page.limit + 1)
  if (after !== undefined) query = query.where('code', '>', after)
  return toPage(await query.execute(), page.limit, (r) => r.code, (r) => ({ code: r.code, name: r.name, createdAt: r.created_at.toISOString() }))
}

export async function findDistrict (db: Db, scope: Scope, code: string): Promise<District | undefined> {
  const row = await db.selectFrom('districts').selectAll().where('code', '=', code).where(districtFilter(scope, 'districts.code')).executeTakeFirst()
  return row === undefined ? undefined : { code: row.code, name: row.name, createdAt: row.created_at.toISOString() }
}

export async function insertDistrict (db: Db, d: { code: string, name: string }): Promise<District> {
  const row = await db.insertInto('districts').values(d).returningAll().executeTakeFirstOrThrow()
  return { code: row.code, name: row.name, createdAt: row.created_at.toISOString() }
}

export interface Zone { code: string, name: string, hostDistrictCode: string, createdAt: string }

const toZone = (r: { code: string, name: string, host_district_code: string, created_at: Date }): Zone =>
  ({ code: r.code, name: r.name, hostDistrictCode: r.host_district_code, createdAt: r.created_at.toISOString() })

export async function listZones (db: Db, scope: Scope, page: PageRequest): Promise<Page<Zone>> {
  const after = decodeCursor<string>(page.cursor, 'string')
  let query = db.selectFrom('zones').selectAll().where(zoneFilter(scope, 'zones.code', 'zones.host_district_code')).orderBy('code').limit(page.limit + 1)
  if (after !== undefined) query = query.where('code', '>', after)
  return toPage(await query.execute(), page.limit, (r) => r.code, toZone)
}

export async function findZone (db: Db, scope: Scope, code: string): Promise<Zone | undefined> {
  const row = await db.selectFrom('zones').selectAll().where('code', '=', code)
    .where(zoneFilter(scope, 'zones.code', 'zones.host_district_code')).executeTakeFirst()
  return row === undefined ? undefined : toZone(row)
}

export async function insertZone (db: Db, z: { code: string, name: string, hostDistrictCode: string }): Promise<Zone> {
  const row = await db.insertInto('zones').values({ code: z.code, name: z.name, host_district_code: z.hostDistrictCode }).returningAll().executeTakeFirstOrThrow()
  return toZone(row)
}
