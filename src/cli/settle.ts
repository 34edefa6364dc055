import { setImmediate } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import type { DatabaseHandle } from '../db/connect.js'
import { Problem } from '../domain/errors.js'
import { ALL } from '../domain/principal.js'
import type { Context, Settings } from '../services/context.js'
import { createRun, finalizeRun, runSummary } from '../services/settlements.js'

/*
 * `npm run settle -- --year 2021 [--finalize] [--agreement 12 …]`: the annual settlement from
 * the command line, for the cron job of a budget office. The same service as
 * POST /v1/settlement-runs, acting as the key 'cli'; a progress bar, then a summary table per
 * district; exit code 1 on failure with the reason, 2 on a usage error, 3 when --finalize was asked
 * for and REQUIRE_TWO_ADMINS leaves the run a draft.
 */

export const USAGE = 'usage: npm run settle -- --year 2021 [--finalize] [--agreement ID …]\n'

/** `--help` or `-h` anywhere among the arguments: the usage is what was asked for (standard output, exit 0), not a usage error. */
export function asksForHelp (args: readonly string[]): boolean {
  return args.includes('--help') || args.includes('-h')
}

export interface SettleOutput {
  write: (text: string) => void
  /** Where usage errors and the reason of a failure go (standard error). */
  error: (text: string) => void
  isTTY: boolean
}

/** An agreement id as the usage asks for it: decimal digits, 1 to 2147483647 (not 0x10, 1e3 or 07). */
const AGREEMENT_ID = /^[1-9][0-9]{0,9}$/
const INT4_MAX = 2_147_483_647

/** Thrown from the progress callback once the command is interrupted: the run's transaction is rolled back. */
class Interrupted extends Error {}

/**
 * A turn of the event loop, where a signal is seen: on the embedded database a command's queries
 * are answered in promises alone, and a SIGINT that came meanwhile waited for the command's end.
 */
const signalsSeen = () => setImmediate()

/** The exit code of an interrupted command, as a shell gives one killed by SIGINT (128 + 2). */
export const INTERRUPTED = 130

function progressBar (out: SettleOutput, interrupted: AbortSignal): (done: number, total: number) => void {
  let shown = -1
  return (done, total) => {
    if (interrupted.aborted) throw new Interrupted(`${done}/${total}`)
    const percent = Math.floor((100 * done) / total)
    if (percent === shown || (!out.isTTY && percent % 10 !== 0 && done !== total)) return
    shown = percent
    const width = 30
    const filled = Math.round((width * done) / total)
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(percent).padStart(3)}% ${done}/${total} agreements`
    out.write(out.isTTY ? `\r${bar}${done === total ? '\n' : ''}` : `${bar}\n`)
  }
}

/** The rows as a table: the first column to the left, the figures to the right. */
function table<C extends string> (columns: readonly C[], rows: ReadonlyArray<Record<C, string | number>>): string {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)))
  const format = (cells: string[]) => cells.map((cell, i) => i < 1 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)).join('  ')
  return `${format([...columns])}\n${format(widths.map((w) => '-'.repeat(w)))}\n${rows.map((r) => format(columns.map((c) => String(r[c])))).join('\n')}\n`
}

/** The exit code of `--finalize` under REQUIRE_TWO_ADMINS: the run was computed and stored, and is a draft. */
export const LEFT_AS_DRAFT = 3

/** What the command was asked to do. */
export interface SettleRequest {
  year: number
  finalize: boolean
  agreementIds: number[] | undefined
}

/** The command's arguments, checked before any database is opened; a usage error is written and answered as exit code 2. */
export function settleRequest (args: string[], out: Pick<SettleOutput, 'error'>): SettleRequest | 2 {
  let options
  try {
    options = parseArgs({ args, options: { year: { type: 'string', multiple: true }, finalize: { type: 'boolean', default: false }, agreement: { type: 'string', multiple: true } }, strict: true }).values
  } catch (error) {
    out.error(`settle: ${(error as Error).message}\n${USAGE}`)
    return 2
  }
  const [given, ...more] = options.year ?? []
  if (given === undefined || more.length > 0) {
    // One year a run: of two, which one to settle (and perhaps finalize) is not for the command to guess.
    out.error(`settle: ${given === undefined ? '--year is required' : `--year is given ${more.length + 1} times (${[given, ...more].join(', ')}): one year a run`}\n${USAGE}`)
    return 2
  }
  const year = /^\d{4}$/.test(given) ? Number(given) : undefined
  if (year === undefined || year < 1990 || year > 2100) {
    out.error(`settle: --year ${given} is not a fiscal year: four digits, from 1990 to 2100\n${USAGE}`)
    return 2
  }
  const notAnId = options.agreement?.find((id) => !AGREEMENT_ID.test(id) || Number(id) > INT4_MAX)
  if (notAnId !== undefined) {
    out.error(`settle: --agreement ${notAnId} is not an agreement id: whole numbers from 1 to ${INT4_MAX}, written in decimal digits\n${USAGE}`)
    return 2
  }
  const agreementIds = options.agreement?.map(Number)
  const repeated = agreementIds?.find((id, i) => agreementIds.indexOf(id) !== i)
  if (repeated !== undefined) {
    out.error(`settle: --agreement ${repeated} is given twice\n${USAGE}`)
    return 2
  }
  return { year, finalize: options.finalize === true, agreementIds }
}

/**
 * Runs the command; answers the exit code. `interrupted` (SIGINT or SIGTERM, src/server.ts) stops
 * it where what is stored can be told: while the run is computed, its transaction is rolled back
 * and nothing is stored; once the run is stored, it is not finalized; a finalization under way is
 * let finish. Either way the command says what is stored and exits with INTERRUPTED.
 */
export async function settleCommand (
  database: Pick<DatabaseHandle, 'db' | 'readsBesideWrites'>, request: SettleRequest, settings: Settings, out: SettleOutput, interrupted: AbortSignal = new AbortController().signal,
): Promise<number> {
  const { year, agreementIds } = request
  const ctx: Context = {
    db: database.db, settings, actor: { principal: { role: 'admin', keyId: 'cli' }, scope: ALL, requestId: `cli-${process.pid}` }, readsBesideWrites: database.readsBesideWrites,
  }
  try {
    // A signal that came while the database was opened and migrated stops the command before it settles anything.
    await signalsSeen()
    if (interrupted.aborted) {
      out.error(`settle: interrupted before ${year} was settled; nothing is stored\n`)
      return INTERRUPTED
    }
    out.write(`settling ${year}${agreementIds === undefined ? '' : ` for agreements ${agreementIds.join(', ')}`}…\n`)
    const { run: created } = await createRun(ctx, { fiscalYear: year, agreementIds }, progressBar(out, interrupted))
    await signalsSeen()
    if (interrupted.aborted) {
      out.error(`\nsettle: interrupted after run ${created.id} (${year}) was stored: it is a draft${request.finalize ? ', not finalized' : ''} (GET /v1/settlement-runs/${created.id})\n`)
      return INTERRUPTED
    }
    // Under REQUIRE_TWO_ADMINS the key that computed a run may not finalize it: the command stops at
    // the draft it computed (README), which a second admin finalizes through the API.
    const secondAdmin = request.finalize && settings.requireTwoAdmins
    const finalizing = request.finalize && !secondAdmin
    if (finalizing) {
      await finalizeRun(ctx, created.id)
      await signalsSeen()
    }
    const { run, districts, total } = await runSummary(ctx, created.id)
    // Interrupted while the run was finalized: that went through, and is told as such. Once the work
    // asked for is done (a draft stored), a signal while its summary is read changes nothing.
    if (finalizing && interrupted.aborted) {
      out.error(`\nsettle: interrupted while run ${run.id} (${year}) was finalized; the finalization went through: the run is ${run.status}\n`)
      return INTERRUPTED
    }
    const next = secondAdmin
      ? ` (not finalized here: REQUIRE_TWO_ADMINS=1 asks an admin other than the one that computed it to finalize it: POST /v1/settlement-runs/${run.id}/finalize)`
      : ` (finalize with --finalize or POST /v1/settlement-runs/${run.id}/finalize)`
    out.write(`\nrun ${run.id}, ${run.fiscalYear}: ${run.status}${run.status === 'finalized' ? ` at ${run.finalizedAt}` : next}\n`)
    out.write(table(['district', 'lines', 'revenueTotal', 'zoneShare', 'districtShare', 'advancesPaid', 'balanceDue', 'adjustment'], [...districts, total]))
    // Asked to finalize and left a draft: not a failure, and not a success a job chained on it may take for one (paying on the statement, say).
    return secondAdmin ? LEFT_AS_DRAFT : 0
  } catch (error) {
    if (error instanceof Interrupted) {
      out.error(`\nsettle: interrupted at ${error.message} agreements; nothing of the run is stored (its transaction was rolled back)\n`)
      return INTERRUPTED
    }
    if (error instanceof Problem) {
      out.error(`\nsettle: ${error.message}\n${(error.errors ?? []).slice(0, 20).map((e) => `  ${e.message}\n`).join('')}`)
      return 1
    }
    throw error
  }
}
