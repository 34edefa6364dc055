import { listAuditEvents } from '../db/audit.js'
import type { PageRequest } from '../db/pagination.js'
import type { Context } from './context.js'

/* The audit log, newest first (admins). Every write records its events through src/services/write.ts. */

export function auditEvents (ctx: Context, page: PageRequest, filter: { entityType?: string | undefined, entityId?: string | undefined }) {
  return listAuditEvents(ctx.db, page, filter)
}
