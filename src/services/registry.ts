import type { PageRequest } from '../db/pagination.js'
import {
  categoryExists, codeInAnyCase, type District, findDistrict, findZone, insertDistrict, insertRevenueCategory, insertZone, listDistricts, listRevenueCategories,
  listZones, type RevenueCategory, type Zone,
} from '../db/registry.js'
import { classifyDatabaseError } from '../db/errors.js'
import { type Problem, Problems } from '../domain/errors.js'
import { ALL } from '../domain/principal.js'
import type { Context } from './context.js'
import { inWriteTransaction } from './write.js'

/* The registry (api-contract.md, Registry): the revenue classification, districts and zones. */

/**
 * The insert, or `taken` when a request creating the same code at once inserted it first (on
 * PostgreSQL the check before the insert cannot see a row not yet committed; the key refuses it):
 * the same 409, at the same place, as a duplicate sent later.
 */
async function unlessTaken<T> (insert: Promise<T>, taken: () => Problem): Promise<T> {
  try {
    return await insert
  } catch (error) {
    if (classifyDatabaseError(error) === 'unique-violation') throw taken()
    throw error
  }
}

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
    const taken = () => Problems.alreadyExists(`Revenue category ${c.code}`, '/code')
    const registered = await codeInAnyCase(tx, 'revenue_categories', c.code)
    if (registered === c.code) throw taken()
    if (registered !== undefined) throw Problems.codeTakenInOtherCase('Revenue category', c.code, registered)
    if (c.parentCode !== undefined && !(await categoryExists(tx, c.parentCode))) throw Problems.parentCategoryUnknown(c.parentCode)
    const created = await unlessTaken(insertRevenueCategory(tx, {
      code: c.code, parentCode: c.parentCode ?? null, nameZh: c.nameZh, nameEn: c.nameEn, kind: c.kind, localShare: c.localShare ?? null, note: c.note ?? null,
    }), taken)
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
    const taken = () => Problems.alreadyExists(`District ${d.code}`, '/code')
    if (await findDistrict(tx, ALL, d.code) !== undefined) throw taken()
    const created = await unlessTaken(insertDistrict(tx, d), taken)
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
    const taken = () => Problems.alreadyExists(`Zone ${z.code}`, '/code')
    const registered = await codeInAnyCase(tx, 'zones', z.code)
    if (registered === z.code) throw taken()
    if (registered !== undefined) throw Problems.codeTakenInOtherCase('Zone', z.code, registered)
    if (await findDistrict(tx, ALL, z.hostDistrictCode) === undefined) throw Problems.districtNotRegistered(z.hostDistrictCode, '/hostDistrictCode')
    const created = await unlessTaken(insertZone(tx, z), taken)
    return { value: created, audit: [{ action: 'create', entityType: 'zone', entityId: created.code, details: z }] }
  })
}
