import { type Kysely, sql } from 'kysely'
import type { Database } from './database.js'
import { decodeCursor, type Page, toPage } from './pagination.js'
import type { PageRequest } from './registry.js'

/* API keys (stored only as a hash) and the audit log. */

type Db = Kysely<Database>

export interface ApiKey {
  id: string
  role: 'admin' | 'district' | 'zone'
  districtCode: string | null
  zoneCode: string | null
  label: string
  createdAt: string
  createdBy: string
  revokedAt: string | null
}

const toKey = (r: { id: string, role: ApiKey['role'], district_code: string | null, zone_code: string | null, label: string, created_at: Date, created_by: string, revoked_at: Date | null }): ApiKey => ({
  id: r.id, role: r.role, districtCode: r.district_code, zoneCode: r.zone_code, label: r.label,
  createdAt: r.created_at.toISOString(), createdBy: r.created_by, revokedAt: r.revoked_at === null ? null : r.revoked_at.toISOString(),
})

const KEY_COLUMNS = ['id', 'role', 'district_code', 'zone_code', 'label', 'created_at', 'created_by', 'revoked_at'] as const

export async function insertApiKey (db: Db, key: { id: string, role: ApiKey['role'], districtCode: string | null, zoneCode: string | null, label: string, tokenHash: string, createdBy: string }): Promise<ApiKey> {
  const row = await db.insertInto('api_keys').values({
    id: key.id, role: key.role, district_code: key.districtCode, zone_code: key.zoneCode, label: key.label, token_hash: key.tokenHash, created_by: key.createdBy,
  }).returning(KEY_COLUMNS).executeTakeFirstOrThrow()
  return toKey(row)
}

export async function listApiKeys (db: Db, page: PageRequest): Promise<Page<ApiKey>> {
  const after = decodeCursor<string>(page.cursor, 'string')
  let query = db.selectFrom('api_keys').select(KEY_COLUMNS).orderBy('id').limit(page.limit + 1)
  if (after !== undefined) query = query.where('id', '>', after)
  return toPage(await query.execute(), page.limit, (r) => r.id, toKey)
}

/** Revokes a key at once; answers the key, or undefined when there is none. */
export async function revokeApiKey (db: Db, id: string): Promise<ApiKey | undefined> {
  const row = await db.updateTable('api_keys').set({ revoked_at: sql<Date>`coalesce(revoked_at, now())` }).where('id', '=', id).returning(KEY_COLUMNS).executeTakeFirst()
  return row === undefined ? undefined : toKey(row)
}

export interface AuditEvent {
  id: number
  occurredAt: string
  keyId: string
  role: string
  action: string
  entityType: string
  entityId: string
  requestId: string
  details: unknown
}

/** Newest first. */
export async function listAuditEvents (db: Db, page: PageRequest, filter: { entityType?: string | undefined, entityId?: string | undefined }): Promise<Page<AuditEvent>> {
  const before = decodeCursor<number>(page.cursor, 'number')
  let query = db.selectFrom('audit_events').selectAll().orderBy('id', 'desc').limit(page.limit + 1)
  if (before !== undefined) query = query.where('id', '<', before)
  if (filter.entityType !== undefined) query = query.where('entity_type', '=', filter.entityType)
  if (filter.entityId !== undefined) query = query.where('entity_id', '=', filter.entityId)
  return toPage(await query.execute(), page.limit, (r) => r.id, (r) => ({
    id: r.id, occurredAt: r.occurred_at.toISOString(), keyId: r.key_id, role: r.role, action: r.action,
    entityType: r.entity_type, entityId: r.entity_id, requestId: r.request_id, details: r.details === null ? null : JSON.parse(r.details) as unknown,
  }))
}
