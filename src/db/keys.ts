import { sql } from 'kysely'
import type { ApiKeyRow, Db } from './database.js'
import { fetchPage, mapPage, type Page, type PageRequest } from './pagination.js'
import { LockSpace } from './locks.js'

/* API keys, stored only as the SHA-256 hash of their token (api-contract.md, Roles and scope). */

export interface ApiKey {
  id: string
  role: ApiKeyRow['role']
  districtCode: string | null
  zoneCode: string | null
  label: string
  createdAt: string
  createdBy: string
  revokedAt: string | null
}

const KEY_COLUMNS = ['id', 'role', 'district_code', 'zone_code', 'label', 'created_at', 'created_by', 'revoked_at'] as const

const toKey = (r: Omit<ApiKeyRow, 'token_hash'>): ApiKey => ({
  id: r.id, role: r.role, districtCode: r.district_code, zoneCode: r.zone_code, label: r.label,
  createdAt: r.created_at.toISOString(), createdBy: r.created_by, revokedAt: r.revoked_at === null ? null : r.revoked_at.toISOString(),
})

export async function insertApiKey (db: Db, key: { id: string, role: ApiKey['role'], districtCode: string | null, zoneCode: string | null, label: string, tokenHash: string, createdBy: string }): Promise<ApiKey> {
  const row = await db.insertInto('api_keys').values({
    id: key.id, role: key.role, district_code: key.districtCode, zone_code: key.zoneCode, label: key.label, token_hash: key.tokenHash, created_by: key.createdBy,
  }).returning(KEY_COLUMNS).executeTakeFirstOrThrow()
  return toKey(row)
}

export async function listApiKeys (db: Db, page: PageRequest): Promise<Page<ApiKey>> {
  const rows = await fetchPage(db.selectFrom('api_keys').select(KEY_COLUMNS), page, { columns: ['id'], types: ['text'], of: (r) => [r.id] })
  return mapPage(rows, toKey)
}

/** Revokes a key at once; answers the key, or undefined when there is none. */
/**
 * Revokes the key (a key already revoked keeps the time it was revoked), and says whether this
 * revoked it: only then is revoked_at the transaction's now(), an earlier revocation's being earlier.
 */
export async function revokeApiKey (db: Db, id: string): Promise<{ key: ApiKey, revokedNow: boolean } | undefined> {
  const row = await db.updateTable('api_keys').set({ revoked_at: sql<Date>`coalesce(revoked_at, now())` }).where('id', '=', id)
    .returning([...KEY_COLUMNS, sql<boolean>`revoked_at = now()`.as('revoked_now')]).executeTakeFirst()
  return row === undefined ? undefined : { key: toKey(row), revokedNow: row.revoked_now }
}

/**
 * A key's turn, an advisory lock that PostgreSQL grants in the order asked: the writes with the key
 * share it, a revocation of the key takes it alone. A row lock would not do: a write asking to share
 * the key's row while a revocation waits for the writes under way is let in ahead of it, so a key
 * that keeps writing could not be revoked (README, Roles and keys: revoked at once).
 */
const keyTurn = (id: string, alone: boolean) =>
  sql`select ${sql.raw(alone ? 'pg_advisory_xact_lock' : 'pg_advisory_xact_lock_shared')}(hashtextextended(${id}, ${sql.lit(LockSpace.apiKey)}))`

/**
 * Whether the stored key `id` is revoked, holding the key's turn (keyTurn) and its row (FOR SHARE)
 * until the transaction ends: a revocation waits for the writes under way with the key, a write that
 * asks after the revocation waits for it, and then reads the row as the revocation left it.
 * undefined when `id` is no stored key (the bootstrap ADMIN_TOKEN, the settle command, the demo loader).
 */
export async function holdKey (tx: Db, id: string): Promise<{ revoked: boolean } | undefined> {
  await keyTurn(id, false).execute(tx)
  const row = await tx.selectFrom('api_keys').select('revoked_at').where('id', '=', id).forShare().executeTakeFirst()
  return row === undefined ? undefined : { revoked: row.revoked_at !== null }
}

/** Holds the key `id` for its revocation until the transaction ends: its turn alone, then its row for an update (nothing when there is none). */
export async function lockKeyForRevocation (tx: Db, id: string): Promise<void> {
  await keyTurn(id, true).execute(tx)
  await tx.selectFrom('api_keys').select('id').where('id', '=', id).forUpdate().execute()
}

/** The key a token's hash belongs to, while it is not revoked. */
export async function findActiveKey (db: Db, tokenHash: string): Promise<Pick<ApiKeyRow, 'id' | 'role' | 'district_code' | 'zone_code'> | undefined> {
  return db.selectFrom('api_keys').select(['id', 'role', 'district_code', 'zone_code'])
    .where('token_hash', '=', tokenHash).where('revoked_at', 'is', null).executeTakeFirst()
}

/**
 * The stored key `id` and every stored key that issued it, up the chain (created_by) to one that is
 * no stored key (ADMIN_TOKEN's bootstrap, the settle command): [] when `id` is no stored key either.
 */
export async function issuingChain (db: Db, id: string): Promise<string[]> {
  const { rows } = await sql<{ id: string }>`
    WITH RECURSIVE chain (id, created_by) AS (
      SELECT id, created_by FROM api_keys WHERE id = ${id}
      UNION
      SELECT k.id, k.created_by FROM api_keys k JOIN chain c ON k.id = c.created_by
    )
    SELECT id FROM chain`.execute(db)
  return rows.map((r) => r.id)
}

/** The label a key was issued with (undefined for the bootstrap admin, which is no stored key). */
export async function keyLabel (db: Db, id: string): Promise<string | undefined> {
  const row = await db.selectFrom('api_keys').select('label').where('id', '=', id).executeTakeFirst()
  return row?.label
}
