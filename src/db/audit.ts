import type { AuditEventRow, Db } from './database.js'
import { fetchPage, mapPage, type Page, type PageRequest } from './pagination.js'

/* The audit log: who wrote what, written in the same transaction as the write itself. */

export interface AuditEntry {
  action: string
  entityType: string
  entityId: string
  details?: unknown
}

/** Who wrote: the key, its role and the request (or command run) it came with. */
export interface AuditAuthor {
  keyId: string
  role: string
  requestId: string
}

/** Audit events an INSERT takes at a time: seven parameters each, within PostgreSQL's 65,535 a statement (a debt import writes one a debt). */
const AUDIT_EVENTS_PER_INSERT = 5000

export async function insertAuditEvents (tx: Db, author: AuditAuthor, entries: readonly AuditEntry[]): Promise<void> {
  for (let start = 0; start < entries.length; start += AUDIT_EVENTS_PER_INSERT) {
    await tx.insertInto('audit_events').values(entries.slice(start, start + AUDIT_EVENTS_PER_INSERT).map((a) => ({
      key_id: author.keyId, role: author.role, action: a.action, entity_type: a.entityType, entity_id: a.entityId,
      request_id: author.requestId, details: a.details === undefined ? null : JSON.stringify(a.details),
    }))).execute()
  }
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

const toEvent = (r: AuditEventRow): AuditEvent => ({
  id: r.id, occurredAt: r.occurred_at.toISOString(), keyId: r.key_id, role: r.role, action: r.action,
  entityType: r.entity_type, entityId: r.entity_id, requestId: r.request_id, details: r.details === null ? null : JSON.parse(r.details) as unknown,
})

/** What the audit log is filtered by: each given one narrows it. `since` (included) and `before` (not) are ISO instants. */
export interface AuditFilter {
  entityType?: string | undefined
  entityId?: string | undefined
  keyId?: string | undefined
  action?: string | undefined
  since?: string | undefined
  before?: string | undefined
}

/** Newest first. */
export async function listAuditEvents (db: Db, page: PageRequest, filter: AuditFilter): Promise<Page<AuditEvent>> {
  let query = db.selectFrom('audit_events').selectAll()
  if (filter.entityType !== undefined) query = query.where('entity_type', '=', filter.entityType)
  if (filter.entityId !== undefined) query = query.where('entity_id', '=', filter.entityId)
  if (filter.keyId !== undefined) query = query.where('key_id', '=', filter.keyId)
  if (filter.action !== undefined) query = query.where('action', '=', filter.action)
  if (filter.since !== undefined) query = query.where('occurred_at', '>=', new Date(filter.since))
  if (filter.before !== undefined) query = query.where('occurred_at', '<', new Date(filter.before))
  return mapPage(await fetchPage(query, page, { columns: ['id'], types: ['int'], of: (r) => [r.id], descending: true }), toEvent)
}
