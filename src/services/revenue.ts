import type { Db } from '../db/database.js'
import type { Page, PageRequest } from '../db/pagination.js'
import {
  createStaging, listRevenue, loadRevenueReferences, type MergeCounts, mergeStaging, repeatedMonths, revenueHistory, type RevenueFilter, type RevenueRevision,
  type StagedRevenue, stageRows, unstageRepeatedMonths,
} from '../db/revenue.js'
import { holdSettlementInputs } from '../db/locks.js'
import { type InputIssue, Problems } from '../domain/errors.js'
import { onlyDistrictOf } from '../domain/principal.js'
import { checkRevenueRow, repeatedMonthMessages, type RevenueRowInput } from '../domain/revenue-row.js'
import type { Context } from './context.js'
import { type ImportError, MAX_LISTED_ERRORS, openCsvImport } from './csv-file.js'
import { inWriteTransaction } from './write.js'

/*
 * Revenue records (实际收入, api-contract.md, Revenue): JSON batches and streamed CSV imports go
 * the same way — every row checked against the registry and the key's district, staged, then
 * merged as new revisions; an unchanged month adds nothing; a month given twice in one request is
 * refused, naming every line that gives it. All or nothing, unless a CSV import asks for ?partial=true.
 */

export const REVENUE_CSV_HEADER = ['zoneCode', 'districtCode', 'category', 'year', 'month', 'amount'] as const

/** The staged rows become revisions, under the lock that finalizing a settlement checks against (calculation-rules.md §9). */
async function merge (tx: Db, ctx: Context): Promise<MergeCounts> {
  await holdSettlementInputs(tx)
  return mergeStaging(tx, ctx.actor.principal.keyId, ctx.actor.requestId)
}

/** A JSON batch: one bad record rejects it, with a pointer to each problem. */
export function recordRevenue (ctx: Context, records: readonly RevenueRowInput[]): Promise<{ records: number } & MergeCounts> {
  return inWriteTransaction(ctx, async (tx) => {
    const onlyDistrict = onlyDistrictOf(ctx.actor.principal)
    const refs = await loadRevenueReferences(tx, onlyDistrict)
    const problems: InputIssue[] = []
    const rows: StagedRevenue[] = []
    records.forEach((record, i) => {
      const checked = checkRevenueRow(record, refs, onlyDistrict)
      if (checked.ok) rows.push({ line: i, ...checked.row })
      else problems.push(...checked.problems.map((p) => ({ pointer: `/records/${i}/${p.field}`, message: p.message })))
    })
    if (problems.length > 0) throw Problems.invalidRecords(problems)
    await createStaging(tx)
    await stageRows(tx, rows)
    // One amount per month in a batch: a month given twice is refused with both records, never half-dropped.
    const repeated = await repeatedMonths(tx, rows.length)
    if (repeated.months.length > 0) {
      throw Problems.invalidRecords(repeated.months.flatMap((m) => repeatedMonthMessages(m.lines, 'record', m.count))
        .map(({ line, message }) => ({ pointer: `/records/${line}`, message })))
    }
    const counts = await merge(tx, ctx)
    const result = { records: rows.length, ...counts }
    return { value: result, audit: [{ action: 'record', entityType: 'revenue_batch', entityId: ctx.actor.requestId, details: result }] }
  })
}

export interface RevenueImportResult extends MergeCounts {
  rows: number
  loaded: number
  rejected: number
  errors: ImportError[]
  unlistedErrors?: number
}

/** A CSV file (text/csv, header REVENUE_CSV_HEADER), read as it arrives. */
export function importRevenue (ctx: Context, body: unknown, partial: boolean): Promise<RevenueImportResult> {
  const file = openCsvImport(body, REVENUE_CSV_HEADER, ctx.settings.importLimit, 'JSON records go to POST /v1/revenues')
  return inWriteTransaction(ctx, async (tx) => {
    const onlyDistrict = onlyDistrictOf(ctx.actor.principal)
    const refs = await loadRevenueReferences(tx, onlyDistrict)
    await createStaging(tx)
    // The file's lines are checked as they are read and streamed into the staging table (COPY);
    // a bad line is reported, and the file read on, so that every bad line is reported.
    async function * checkedRows () {
      for await (const { line, fields } of file.lines) {
        const [zoneCode = '', districtCode = '', category = '', year = '', month = '', amount = ''] = fields
        const checked = checkRevenueRow({ zoneCode, districtCode, category, year, month, amount }, refs, onlyDistrict)
        if (checked.ok) {
          yield { line, ...checked.row }
          continue
        }
        for (const p of checked.problems) file.reject(line, p.field, p.message)
        // A line refused for its amount still gives its month: staged without one, so that another
        // line of the month is found repeated, not loaded as the month's only amount.
        if (checked.month !== undefined) yield { line, ...checked.month, amount: null }
      }
    }
    let loaded = await stageRows(tx, checkedRows())
    // One amount per month in a file: every line of a month given twice is a bad line, naming the others.
    const repeated = await repeatedMonths(tx, MAX_LISTED_ERRORS)
    if (repeated.lines > 0) {
      // Each line of such a month named, but those refused already for their amount only beside the others.
      const listed = repeated.months.flatMap((m) => {
        const refused = new Set(m.refused)
        return repeatedMonthMessages(m.lines, 'line', m.count).filter(({ line }) => !refused.has(line))
      })
      for (const { line, message } of listed) file.reject(line, 'line', message)
      file.rejectUnlisted(repeated.lines - listed.length)
      loaded -= partial ? await unstageRepeatedMonths(tx) : repeated.lines
    }
    const listing = file.finish(partial, loaded)
    const { rows, rejected } = listing
    const counts = await merge(tx, ctx)
    return {
      value: { ...listing, loaded, ...counts },
      audit: [{ action: 'import', entityType: 'revenue_import', entityId: ctx.actor.requestId, details: { rows, loaded, rejected, ...counts, partial } }],
    }
  }, { streamedBody: file })
}

export function revenue (ctx: Context, filter: RevenueFilter, page: PageRequest) {
  return listRevenue(ctx.db, ctx.actor.scope, filter, page)
}

/** A page of the revisions of one month's record, oldest first; a month with none on record (or out of scope) is 404. */
export async function history (ctx: Context, key: { zoneCode: string, districtCode: string, category: string, year: number, month: number }, page: PageRequest): Promise<Page<RevenueRevision>> {
  const found = await revenueHistory(ctx.db, ctx.actor.scope, key, page)
  // Revisions are never removed: a page after a cursor this list gave out holds one at least.
  if (found.items.length === 0 && page.cursor === undefined) throw Problems.revenueMonthNotFound()
  return found
}
