import { parseArgs } from 'node:util'
import type { Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import { findRunHeader, runLineFigures } from '../db/settlements.js'
import type { Decimal } from '../domain/money.js'
import { runTotals } from '../domain/settlement.js'
import { HttpProblem } from '../http/problem.js'
import { createSettlementRun, finalizeSettlementRun } from '../services/settlement.js'

/*
 * `npm run settle -- --year 2021 [--finalize] [--agreement 12 …]`: the annual settlement from
 * the command line, for the cron job of a budget office. The same service code as
 * POST /v1/settlement-runs; a progress bar, then a summary table per district; exit code 1 on
 * failure with the reason.
 */

const KEY = 'cli'

export interface SettleOutput {
  write: (text: string) => void
  isTTY: boolean
}

function progressBar (out: SettleOutput): (done: number, total: number) => void {
  let shown = -1
  return (done, total) => {
    const percent = Math.floor((100 * done) / total)
    if (percent === shown || (!out.isTTY && percent % 10 !== 0 && done !== total)) return
    shown = percent
    const width = 30
    const filled = Math.round((width * done) / total)
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(percent).padStart(3)}% ${done}/${total} agreements`
    out.write(out.isTTY ? `\r${bar}${done === total ? '\n' : ''}` : `${bar}\n`)
  }
}

async function audit (db: Kysely<Database>, action: string, runId: number, details: unknown): Promise<void> {
  await db.insertInto('audit_events').values({
    key_id: KEY, role: 'admin', action, entity_type: 'settlement_run', entity_id: String(runId), request_id: `cli-${process.pid}`, details: JSON.stringify(details),
  }).execute()
}

/** Runs the command; answers the exit code. */
export async function settleCommand (db: Kysely<Database>, args: string[], minimumRate: Decimal, out: SettleOutput): Promise<number> {
  let options
  try {
    options = parseArgs({ args, options: { year: { type: 'string' }, finalize: { type: 'boolean', default: false }, agreement: { type: 'string', multiple: true } }, strict: true }).values
  } catch (error) {
    out.write(`settle: ${(error as Error).message}\nusage: npm run settle -- --year 2021 [--finalize] [--agreement ID …]\n`)
    return 2
  }
  const year = options.year === undefined || !/^\d{4}$/.test(options.year) ? undefined : Number(options.year)
  if (year === undefined || year < 1990 || year > 2100) {
    out.write('settle: --year is required, a fiscal year from 1990 to 2100\nusage: npm run settle -- --year 2021 [--finalize] [--agreement ID …]\n')
    return 2
  }
  const agreementIds = options.agreement?.map(Number)
  if (agreementIds?.some((id) => !Number.isInteger(id) || id < 1) === true) {
    out.write('settle: --agreement takes agreement ids (whole numbers)\n')
    return 2
  }
  try {
    out.write(`settling ${year}${agreementIds === undefined ? '' : ` for agreements ${agreementIds.join(', ')}`}…\n`)
    const id = await db.transaction().execute(async (tx) => {
      const runId = await createSettlementRun(tx, { fiscalYear: year, agreementIds, minimumRate }, KEY, progressBar(out))
      await audit(tx, 'create', runId, { fiscalYear: year, via: 'npm run settle' })
      return runId
    })
    if (options.finalize === true) {
      await db.transaction().execute(async (tx) => {
        await finalizeSettlementRun(tx, id, KEY)
        await audit(tx, 'finalize', id, { fiscalYear: year, via: 'npm run settle' })
      })
    }
    const run = (await findRunHeader(db, id))!
    const lines = (await runLineFigures(db, id)).map((l) => ({
      districtCode: l.district_code, revenueTotal: l.revenue_total, zoneShare: l.zone_share, districtShare: l.district_share,
      advancesPaid: l.advances_paid, balanceDue: l.balance_due, adjustment: l.adjustment,
    }))
    const byDistrict = new Map<string, typeof lines>()
    for (const line of lines) {
      const list = byDistrict.get(line.districtCode)
      if (list === undefined) byDistrict.set(line.districtCode, [line])
      else list.push(line)
    }
    const rows = [...byDistrict].sort(([a], [b]) => a.localeCompare(b)).map(([district, ls]) => ({ district, lines: ls.length, ...runTotals(ls) }))
    rows.push({ district: 'total', lines: lines.length, ...runTotals(lines) })
    out.write(`\nrun ${run.id}, ${run.fiscalYear}: ${run.status}${run.status === 'finalized' ? ` at ${run.finalizedAt}` : ' (finalize with --finalize or POST /v1/settlement-runs/{id}/finalize)'}\n`)
    const columns = ['district', 'lines', 'revenueTotal', 'zoneShare', 'districtShare', 'advancesPaid', 'balanceDue', 'adjustment'] as const
    const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)))
    const format = (cells: string[]) => cells.map((cell, i) => i < 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)).join('  ')
    out.write(`${format([...columns])}\n${format(widths.map((w) => '-'.repeat(w)))}\n${rows.map((r) => format(columns.map((c) => String(r[c])))).join('\n')}\n`)
    return 0
  } catch (error) {
    if (error instanceof HttpProblem) {
      out.write(`\nsettle: ${error.message}\n${(error.errors ?? []).slice(0, 20).map((e) => `  ${e.message}\n`).join('')}`)
      return 1
    }
    throw error
  }
}
