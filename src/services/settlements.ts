import { advanceSums } from '../db/advances.js'
import { agreementsInForce } from '../db/agreements.js'
import type { Db } from '../db/database.js'
import type { PageRequest } from '../db/pagination.js'
import { registryNames } from '../db/registry.js'
import { groupActuals } from '../db/revenue.js'
import {
  changedSince, findRun, findRunHeader, insertLines, insertRun, latestFinalizedLines, listRuns, markFinalized, type NewSettlementLine, runLineFigures,
  type StoredLine, type StoredRun, tryLockYear,
} from '../db/settlements.js'
import { agreementYearInput } from '../domain/agreement.js'
import { computeAgreementYear } from '../domain/engine.js'
import { type InputIssue, Problems } from '../domain/errors.js'
import { serializeGroupResult } from '../domain/explanation.js'
import { formatMoney, money } from '../domain/money.js'
import { ALL } from '../domain/principal.js'
import { presentGroupFigures } from '../domain/presentation.js'
import { runTotals, type StatementLine, supplementaryAdjustment } from '../domain/settlement.js'
import type { AgreementYearResult } from '../domain/types.js'
import type { Context } from './context.js'
import { inWriteTransaction } from './write.js'

/*
 * The annual settlement (年度结算, calculation-rules.md §4–§6), shared by the API and by
 * `npm run settle`: read every agreement in force, the latest revenue, the advances and the
 * shortfall carried out of last year's finalized settlement, compute each line with the same
 * engine as POST /v1/calculations, and store the run as a draft in one transaction.
 */

export interface SettlementRequest {
  fiscalYear: number
  agreementIds?: readonly number[] | undefined
}

export type Progress = (done: number, total: number) => void

/** A run with the lines the caller may see. */
export interface RunWithLines {
  run: StoredRun
  lines: StoredLine[]
}

/** Lines computed before they are sent to the database together. */
const LINE_CHUNK = 1000

/** A computed line as stored: printed figures, and the engine's result to explain it from. */
function lineOf (a: { id: number, zoneCode: string, districtCode: string }, result: AgreementYearResult, previousZoneShare: string | undefined): NewSettlementLine {
  return {
    agreementId: a.id, zoneCode: a.zoneCode, districtCode: a.districtCode, kind: previousZoneShare === undefined ? 'annual' : 'supplementary',
    revenueTotal: formatMoney(result.revenueTotal), zoneShare: formatMoney(result.zoneShare), districtShare: formatMoney(result.districtShare),
    advancesPaid: formatMoney(result.advancesPaid), balanceDue: formatMoney(result.balanceDue),
    previousZoneShare: previousZoneShare ?? null,
    adjustment: previousZoneShare === undefined ? null : supplementaryAdjustment(result.zoneShare, previousZoneShare),
    groups: result.groups.map((g) => {
      const printed = presentGroupFigures(g)
      return {
        name: g.name, basis: g.basis, base: printed.base ?? null, actual: printed.actual, increment: printed.increment ?? null,
        carriedShortfallIn: printed.carriedShortfallIn ?? null, shareable: printed.shareable ?? null, zoneShare: printed.zoneShare,
        districtShare: printed.districtShare, carriedShortfallOut: printed.carriedShortfallOut ?? null, bands: JSON.stringify(printed.bands),
        result: serializeGroupResult(g),
      }
    }),
  }
}

/** Computes a draft run for the year in `tx` and stores it; answers its id. */
async function computeRun (tx: Db, ctx: Context, request: SettlementRequest, onProgress?: Progress): Promise<number> {
  const year = request.fiscalYear
  if (!(await tryLockYear(tx, year))) throw Problems.settlementRunning(year)
  const agreements = await agreementsInForce(tx, year, request.agreementIds)
  if (request.agreementIds !== undefined) {
    const found = new Set(agreements.map((a) => a.id))
    const missing = request.agreementIds.map((id, index) => ({ id, index })).filter(({ id }) => !found.has(id))
    if (missing.length > 0) throw Problems.agreementsNotInForce(year, missing)
  }
  if (agreements.length === 0) throw Problems.nothingToSettle(year)

  const [actuals, advances, finalized] = await Promise.all([
    groupActuals(tx, [year - 1, year], { inForceIn: year }), advanceSums(tx, year), latestFinalizedLines(tx, [year - 1, year]),
  ])
  const problems: InputIssue[] = []
  const conflicts: InputIssue[] = []
  const id = await insertRun(tx, { fiscalYear: year, minimumRate: ctx.settings.minZoneRate.toString(), createdBy: ctx.actor.principal.keyId })
  // Lines are computed in chunks and each chunk is sent to the database while the next one is
  // computed; a problem anywhere throws, and the transaction takes every line back with it.
  let stored = Promise.resolve()
  let chunk: NewSettlementLine[] = []
  const flush = () => {
    const lines = chunk
    chunk = []
    stored = stored.then(() => insertLines(tx, id, year, lines))
  }
  for (const [index, a] of agreements.entries()) {
    const setup = agreementYearInput(a, year, ctx.settings.minZoneRate, {
      actual: (position, y) => actuals.of(a.id, position, y),
      carriedIn: finalized.get(`${a.id}|${year - 1}`)?.carriedOut,
      advancesPaid: money(advances.get(a.id) ?? '0'),
    })
    if (!setup.ok) {
      conflicts.push(...setup.conflicts)
      problems.push(...setup.problems)
    } else if (problems.length === 0 && conflicts.length === 0) {
      chunk.push(lineOf(a, computeAgreementYear(setup.input), finalized.get(`${a.id}|${year}`)?.zoneShare))
    }
    onProgress?.(index + 1, agreements.length)
    if (chunk.length >= LINE_CHUNK) {
      flush()
      // Let the chunk go out before computing the next one.
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
  flush()
  // Settle the stored chunks either way, so that no insert is left running when this throws.
  await stored
  if (conflicts.length > 0) throw Problems.priorYearNotFinalized(conflicts)
  if (problems.length > 0) throw Problems.cannotSettle(problems)
  return id
}

async function runInTransaction (tx: Db, ctx: Context, id: number): Promise<RunWithLines> {
  const found = await findRun(tx, ctx.actor.scope, id)
  if (found === undefined) throw Problems.notFound(`settlement run ${id}`)
  return found
}

/** 年度结算: computes and stores a draft run for the year (admins, `npm run settle`, the demo loader). */
export function createRun (ctx: Context, request: SettlementRequest, onProgress?: Progress): Promise<RunWithLines> {
  return inWriteTransaction(ctx, async (tx) => {
    const id = await computeRun(tx, ctx, request, onProgress)
    const found = await runInTransaction(tx, ctx, id)
    return { value: found, audit: [{ action: 'create', entityType: 'settlement_run', entityId: String(id), details: { fiscalYear: request.fiscalYear, lines: found.lines.length } }] }
  })
}

/** 定稿: finalizes a draft run; from then on nothing can change it, the database included. */
export function finalizeRun (ctx: Context, id: number): Promise<RunWithLines> {
  return inWriteTransaction(ctx, async (tx) => {
    const found = await findRun(tx, ALL, id)
    if (found === undefined) throw Problems.notFound(`settlement run ${id}`)
    const { run } = found
    if (run.status === 'finalized') throw Problems.runAlreadyFinalized(id, run.finalizedAt)
    if (!(await tryLockYear(tx, run.fiscalYear))) throw Problems.settlementRunning(run.fiscalYear)
    const changes = await changedSince(tx, run.id, run.fiscalYear)
    if (changes.length > 0) throw Problems.settlementStale(changes, run.fiscalYear, id)
    const finalized = await latestFinalizedLines(tx, [run.fiscalYear])
    const overtaken = found.lines.find((l) => l.kind === 'annual' && finalized.has(`${l.agreementId}|${run.fiscalYear}`))
    if (overtaken !== undefined) throw Problems.alreadySettled(overtaken.agreementId, run.fiscalYear)
    await markFinalized(tx, id, ctx.actor.principal.keyId)
    const after = await runInTransaction(tx, ctx, id)
    return { value: after, audit: [{ action: 'finalize', entityType: 'settlement_run', entityId: String(id), details: { fiscalYear: run.fiscalYear, totals: runTotals(after.lines) } }] }
  })
}

export function runs (ctx: Context, fiscalYear: number | undefined, page: PageRequest) {
  return listRuns(ctx.db, ctx.actor.scope, fiscalYear, page)
}

export function run (ctx: Context, id: number): Promise<RunWithLines> {
  return runInTransaction(ctx.db, ctx, id)
}

/** The settlement statement (结算单): the run's lines in the caller's scope, with the names a reader needs. */
export async function statement (ctx: Context, id: number): Promise<{ run: StoredRun, lines: StatementLine[] }> {
  const found = await run(ctx, id)
  const names = await registryNames(ctx.db, found.lines.map((l) => l.agreementId))
  return {
    run: found.run,
    lines: found.lines.map((l) => ({
      ...l, zoneName: names.zone.get(l.zoneCode) ?? '', districtName: names.district.get(l.districtCode) ?? '', documentNo: names.documentNo.get(l.agreementId) ?? '',
    })),
  }
}


/** A run's totals by district and overall (no groups): what the command line prints, whatever the size of the run. */
export async function runSummary (ctx: Context, id: number) {
  const header = await findRunHeader(ctx.db, id)
  if (header === undefined) throw Problems.notFound(`settlement run ${id}`)
  const lines = (await runLineFigures(ctx.db, id)).map((l) => ({
    districtCode: l.district_code, revenueTotal: l.revenue_total, zoneShare: l.zone_share, districtShare: l.district_share,
    advancesPaid: l.advances_paid, balanceDue: l.balance_due, adjustment: l.adjustment,
  }))
  const byDistrict = new Map<string, typeof lines>()
  for (const line of lines) byDistrict.set(line.districtCode, [...(byDistrict.get(line.districtCode) ?? []), line])
  const districts = [...byDistrict].sort(([a], [b]) => a.localeCompare(b)).map(([district, ls]) => ({ district, lines: ls.length, ...runTotals(ls) }))
  return { run: header, districts, total: { district: 'total', lines: lines.length, ...runTotals(lines) } }
}
