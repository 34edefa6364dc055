import { type AuditFilter, listAuditEvents } from '../db/audit.js'
import type { PageRequest } from '../db/pagination.js'
import { beijingDays } from '../domain/days.js'
import { Problems } from '../domain/errors.js'
import type { Context } from './context.js'

/* The audit log, newest first (admins). Every write records its events through src/services/write.ts. */

/** The audit log's filter as the API takes it: the period in Beijing days (YYYY-MM-DD, both included), what an auditor asks of one. */
export type AuditQuery = Omit<AuditFilter, 'since' | 'before'> & { from?: string | undefined, to?: string | undefined }

export function auditEvents (ctx: Context, page: PageRequest, query: AuditQuery) {
  const { from, to, ...filter } = query
  if (from !== undefined && to !== undefined && from > to) throw Problems.dateRangeReversed()
  return listAuditEvents(ctx.db, page, {
    ...filter,
    since: from === undefined ? undefined : beijingDays(from, from).since,
    before: to === undefined ? undefined : beijingDays(to, to).before,
  })
}
