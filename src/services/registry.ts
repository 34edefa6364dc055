import type { PageRequest } from '../db/pagination.js'
import {
  categoryExists, type District, findDistrict, findZone, insertDistrict, insertRevenueCategory, insertZone, listDistricts, listRevenueCategories,
  listZones, type RevenueCategory, type Zone,
} from '../db/registry.js'
import { Problems } from '../domain/errors.js'
import { ALL } from '../domain/principal.js'
import type { Context } from './context.js'
import { inWriteTransaction } from './write.js'

/* The registry (api-contract.md, Registry): the revenue classification, districts and zones. */

export type NewRevenueCategory = Omit<RevenueCategory, 'origin' | 'parentCode' | 'localShare' | 'note'> & {
  parentCode?: string | undefined
  localShare?: string | undefined
  note?: string | undefined
}

export function listCategories (ctx: Context, page: PageRequest, kind?: RevenueCategory['kind']) {
  return listRevenueCategories(ctx.db, page, kind)
}

/** A local code (admins): its parent, if named, must exist. */
export function createCategory (ctx: Context, c: NewRevenueCategory): Promise<RevenueCategory> {
  return inWriteTransaction(ctx, async (tx) => {
    if (await categoryExists(tx, c.code)) throw Problems.alreadyExists(`Revenue category ${c.code}`, '/code')
    if (c.parentCode !== undefined && !(await categoryExists(tx, c.parentCode))) throw Problems.parentCategoryUnknown(c.parentCode)
    const created = await insertRevenueCategory(tx, {
      code: c.code, parentCode: c.parentCode ?? null, nameZh: c.nameZh, nameEn: c.nameEn, kind: c.kind, localShare: c.localShare ?? null, note: c.note ?? null,
    })
    return { value: created, audit: [{ action: 'create', entityType: 'revenue_category', entityId: c.code, details: c }] }
  })
}

export function districts (ctx: Context, page: PageRequest) {
  return listDistricts(ctx.db, ctx.actor.scope, page)
}

export async function district (ctx: Context, code: string): Promise<District> {
  const found = await findDistrict(ctx.db, ctx.actor.scope, code)
  if (found === undefined) throw Problems.notFound(`district ${code}`)
  return found
}

export function createDistrict (ctx: Context, d: { code: string, name: string }): Promise<District> {
  return inWriteTransaction(ctx, async (tx) => {
    if (await findDistrict(tx, ALL, d.code) !== undefined) throw Problems.alreadyExists(`District ${d.code}`, '/code')
    const created = await insertDistrict(tx, d)
    return { value: created, audit: [{ action: 'create', entityType: 'district', entityId: created.code, details: d }] }
  })
}

export function zones (ctx: Context, page: PageRequest) {
  return listZones(ctx.db, ctx.actor.scope, page)
}

export async function zone (ctx: Context, code: string): Promise<Zone> {
  const found = await findZone(ctx.db, ctx.actor.scope, code)
  if (found === undefined) throw Problems.notFound(`zone ${code}`)
  return found
}

export function createZone (ctx: Context, z: { code: string, name: string, hostDistrictCode: string }): Promise<Zone> {
  return inWriteTransaction(ctx, async (tx) => {
    if (await findZone(tx, ALL, z.code) !== undefined) throw Problems.alreadyExists(`Zone ${z.code}`, '/code')
    if (await findDistrict(tx, ALL, z.hostDistrictCode) === undefined) throw Problems.districtNotRegistered(z.hostDistrictCode, '/hostDistrictCode')
    const created = await insertZone(tx, z)
    return { value: created, audit: [{ action: 'create', entityType: 'zone', entityId: created.code, details: z }] }
  })
}
