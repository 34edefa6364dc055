import { createHash } from 'node:crypto'
import { advanceSums } from '../db/advances.js'
import { adjacentVersions, agreementsInForce, carryTermsOf, type StoredAgreement } from '../db/agreements.js'
import type { Db } from '../db/database.js'
import { lockSettlementInputs } from '../db/locks.js'
import type { PageRequest } from '../db/pagination.js'
import { registryNames } from '../db/registry.js'
import { type GroupActuals, groupActuals } from '../db/revenue.js'
import {
  type ChainHeads, chainHeads, findRunHeader, insertLines, insertRun, type LineFilter, listRuns, markFinalized, type NewSettlementLine, runLineFigures,
  runLineInputs, runLinesPage, type StoredLine, type StoredRun, tryLockYear, allRunLines,
} from '../db/settlements.js'
import { agreementTermsText, settleAgreementYear } from '../domain/agreement.js'
import { type InputIssue, Problems } from '../domain/errors.js'
import { deserializeGroupResult, serializeGroupResult, transfersCited } from '../domain/explanation.js'
import {
  type CarrySource, carrySource, type CarryTerms, changedInputs, type LineInputs, type ShortfallDisposition, shortfallDisposition, supplementaryFigures,
} from '../domain/ledger.js'
import { type Decimal, formatMoney, money, ZERO } from '../domain/money.js'
import { ALL, type Scope } from '../domain/principal.js'
import { presentGroupFigures } from '../domain/presentation.js'
import { runTotals, type RunTotals, type StatementLine } from '../domain/settlement.js'
import type { AgreementYearInput, AgreementYearResult } from '../domain/types.js'
import { groupJson } from '../domain/calculation-request.js'
import type { Context } from './context.js'
import { inWriteTransaction } from './write.js'

/*
 * The annual settlement (年度结算, calculation-rules.md §4–§6) and its ledger (§9), shared by the
 * API, `npm run settle` and the demo loader. A run reads every agreement in force, the latest
 * revenue, the advances and the shortfalls carried out of the finalized Y−1 lines, computes each
 * line with the engine of POST /v1/calculations, and stores the run as a draft together with
 * what each line was computed from. Finalizing checks, under a lock every writer of those inputs
 * honours, that none of it changed, and appends each line to its agreement's chain.
 */

export interface SettlementRequest {
  fiscalYear: number
  agreementIds?: readonly number[] | undefined
}

export type Progress = (done: number, total: number) => void

/** A run as the caller sees it: its header, and the number and totals of its lines in the caller's scope. */
export interface RunOverview {
  run: StoredRun
  lineCount: number
  totals: RunTotals
}

/** Lines computed before they are sent to the database together. */
const LINE_CHUNK = 1000

const digest = (text: string) => createHash('sha256').update(text).digest('hex')

/** Everything a run reads for its year, for a set of agreements, each read with a digest of what it read. */
interface YearInputs {
  year: number
  actuals: GroupActuals
  advances: Map<number, { total: string, digest: string }>
  /** The chain heads of Y−1 (carry-in) and Y (the line a new one follows). */
  heads: ChainHeads
  /** The previous version of each agreement, if one ended the year before it started. */
  previous: Map<number, CarryTerms>
}

async function readYearInputs (tx: Db, year: number, agreements: readonly StoredAgreement[], whole: boolean): Promise<YearInputs> {
  const ids = agreements.map((a) => a.id)
  const [actuals, advances, previous] = await Promise.all([
    groupActuals(tx, [year - 1, year], whole ? { inForceIn: year } : { ids }),
    advanceSums(tx, year, whole ? undefined : ids),
    adjacentVersions(tx, agreements.filter((a) => a.effectiveFrom === year).map((a) => a.id), 'previous'),
  ])
  const carriedFromIds = [...previous.values()].map((p) => p.id)
  const heads = await chainHeads(tx, [year - 1, year], whole ? undefined : [...ids, ...carriedFromIds])
  return { year, actuals, advances, heads, previous }
}

/** One agreement's facts for the year: where its carry comes from, the line it follows, and what it read. */
function agreementFacts (inputs: YearInputs, a: StoredAgreement) {
  const { year, actuals, heads } = inputs
  const carry: CarrySource = carrySource(a, year, inputs.previous.get(a.id))
  const carriedFrom = carry.kind === 'none' ? undefined : heads.of(carry.kind === 'own' ? a.id : carry.agreementId, year - 1)
  const follows = heads.of(a.id, year)
  const advances = inputs.advances.get(a.id)
  const revenue = a.groups.map((g, position) => {
    const current = actuals.digestOf(a.id, position, year)
    return g.basis === 'increment' && g.base.mode === 'prior_year' ? `${current}/${actuals.digestOf(a.id, position, year - 1)}` : current
  }).join('|')
  const lineInputs: LineInputs = {
    terms: digest(agreementTermsText(a)),
    revenue: digest(revenue),
    advances: advances?.digest ?? '',
    carriedFrom: carriedFrom === undefined ? null : `${carriedFrom.agreementId}@${carriedFrom.runId}`,
    follows: follows?.runId ?? null,
  }
  return {
    facts: {
      actual: (position: number, y: number) => actuals.of(a.id, position, y),
      carry,
      carriedIn: carry.kind === 'none' ? new Map<string, Decimal>() : carriedFrom?.carriedOut,
      advancesPaid: money(advances?.total ?? '0'),
    },
    follows,
    lineInputs,
  }
}

/**
 * A computed line as stored: printed figures, the engine's result to explain it from, the calculation
 * request each group was computed from, and its place in the chain.
 */
function lineOf (a: StoredAgreement, input: AgreementYearInput, result: AgreementYearResult, follows: ReturnType<typeof agreementFacts>['follows'], inputs: LineInputs): NewSettlementLine {
  const supplementary = follows === undefined ? undefined : supplementaryFigures(result, follows)
  return {
    agreementId: a.id, zoneCode: a.zoneCode, districtCode: a.districtCode, kind: follows === undefined ? 'annual' : 'supplementary',
    revenueTotal: formatMoney(result.revenueTotal), zoneShare: formatMoney(result.zoneShare), districtShare: formatMoney(result.districtShare),
    advancesPaid: formatMoney(result.advancesPaid), balanceDue: formatMoney(result.balanceDue),
    follows: follows?.runId ?? null,
    previousZoneShare: supplementary === undefined ? null : formatMoney(supplementary.previousZoneShare),
    adjustment: supplementary === undefined ? null : formatMoney(supplementary.adjustment),
    balanceAdjustment: supplementary === undefined ? null : formatMoney(supplementary.balanceAdjustment),
    inputs,
    groups: result.groups.map((g, i) => {
      const printed = presentGroupFigures(g)
      const given = input.groups[i]
      return {
        name: g.name, basis: g.basis, base: printed.base ?? null, actual: printed.actual, increment: printed.increment ?? null,
        carriedShortfallIn: printed.carriedShortfallIn ?? null, shareable: printed.shareable ?? null, zoneShare: printed.zoneShare,
        districtShare: printed.districtShare, carriedShortfallOut: printed.carriedShortfallOut ?? null, bands: JSON.stringify(printed.bands),
        result: serializeGroupResult(g),
        input: given === undefined ? null : JSON.stringify(groupJson(given)),
      }
    }),
  }
}

/** Computes a draft run for the year in `tx` and stores it; answers its id and the number of its lines. */
async function computeRun (tx: Db, ctx: Context, request: SettlementRequest, onProgress?: Progress): Promise<{ id: number, lines: number }> {
  const year = request.fiscalYear
  if (!(await tryLockYear(tx, year))) throw Problems.settlementRunning(year)
  const agreements = await agreementsInForce(tx, year, request.agreementIds)
  if (request.agreementIds !== undefined) {
    const found = new Set(agreements.map((a) => a.id))
    const missing = request.agreementIds.map((id, index) => ({ id, index })).filter(({ id }) => !found.has(id))
    if (missing.length > 0) throw Problems.agreementsNotInForce(year, missing)
  }
  if (agreements.length === 0) throw Problems.nothingToSettle(year)

  const inputs = await readYearInputs(tx, year, agreements, request.agreementIds === undefined)
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
    const { facts, follows, lineInputs } = agreementFacts(inputs, a)
    const settled = settleAgreementYear(a, year, ctx.settings.minZoneRate, facts)
    if (!settled.ok) {
      conflicts.push(...settled.conflicts)
      problems.push(...settled.problems)
    } else if (problems.length === 0 && conflicts.length === 0) {
      chunk.push(lineOf(a, settled.input, settled.result, follows, lineInputs))
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
  return { id, lines: agreements.length }
}

/** The run in the caller's scope: its header, how many lines and their totals; 404 when none of it is in scope. */
async function overview (db: Db, scope: Scope, id: number): Promise<RunOverview> {
  const run = await findRunHeader(db, id)
  const figures = run === undefined ? [] : await runLineFigures(db, scope, id)
  if (run === undefined || (figures.length === 0 && scope.kind !== 'all')) throw Problems.notFound(`settlement run ${id}`)
  return { run, lineCount: figures.length, totals: runTotals(figures) }
}

/** 年度结算: computes and stores a draft run for the year (admins, `npm run settle`, the demo loader). */
export function createRun (ctx: Context, request: SettlementRequest, onProgress?: Progress): Promise<RunOverview> {
  return inWriteTransaction(ctx, async (tx) => {
    const { id, lines } = await computeRun(tx, ctx, request, onProgress)
    return { value: await overview(tx, ctx.actor.scope, id), audit: [{ action: 'create', entityType: 'settlement_run', entityId: String(id), details: { fiscalYear: request.fiscalYear, lines } }] }
  })
}

/** Why each line of a run can no longer be finalized as it stands, if any can't (calculation-rules.md §9). */
async function staleLines (tx: Db, run: StoredRun) {
  const year = run.fiscalYear
  const lines = await runLineInputs(tx, run.id)
  const agreements = await agreementsInForce(tx, year, lines.map((l) => l.agreementId))
  const inputs = await readYearInputs(tx, year, agreements, false)
  const now = new Map(agreements.map((a) => [a.id, agreementFacts(inputs, a).lineInputs]))
  // An annual line whose year another run has finalized since (the chain it would start exists).
  const overtaken = lines.find((l) => l.kind === 'annual' && (now.get(l.agreementId)?.follows ?? null) !== null)
  const stale = lines.map((l) => ({ line: l, changed: changedInputs(year, l.inputs, now.get(l.agreementId)) })).filter((s) => s.changed.length > 0)
  return { overtaken, stale }
}

/**
 * 定稿: finalizes a draft run on exactly what it was computed from; from then on nothing can change
 * it, the database included, and each line is the next link of its agreement's chain.
 */
export function finalizeRun (ctx: Context, id: number): Promise<RunOverview> {
  return inWriteTransaction(ctx, async (tx) => {
    const run = await findRunHeader(tx, id)
    if (run === undefined) throw Problems.notFound(`settlement run ${id}`)
    if (run.status === 'finalized') throw Problems.runAlreadyFinalized(id, run.finalizedAt)
    if (!(await tryLockYear(tx, run.fiscalYear))) throw Problems.settlementRunning(run.fiscalYear)
    // No writer of what the run read can commit from here until this transaction ends.
    await lockSettlementInputs(tx)
    const { overtaken, stale } = await staleLines(tx, run)
    if (overtaken !== undefined) throw Problems.alreadySettled(overtaken.agreementId, run.fiscalYear)
    if (stale.length > 0) {
      throw Problems.settlementStale(run.id, run.fiscalYear, stale.map(({ line, changed }) => ({ agreementId: line.agreementId, zoneCode: line.zoneCode, districtCode: line.districtCode, changed })))
    }
    await markFinalized(tx, id, ctx.actor.principal.keyId)
    const after = await overview(tx, ctx.actor.scope, id)
    return { value: after, audit: [{ action: 'finalize', entityType: 'settlement_run', entityId: String(id), details: { fiscalYear: run.fiscalYear, totals: after.totals } }] }
  })
}

export function runs (ctx: Context, fiscalYear: number | undefined, page: PageRequest) {
  return listRuns(ctx.db, ctx.actor.scope, fiscalYear, page)
}

export function run (ctx: Context, id: number): Promise<RunOverview> {
  return overview(ctx.db, ctx.actor.scope, id)
}

/** A settled line with what becomes of the shortfall its groups carry out, in the agreement's last year (§6), and its run's year and floor. */
export interface SettledLine extends StoredLine {
  dispositions: ReadonlyMap<string, ShortfallDisposition>
  run: Pick<StoredRun, 'fiscalYear' | 'minimumRate'>
}

/** What becomes of each line's carried-out shortfalls: carried into the next version, or written off. */
async function withDispositions (db: Db, run: StoredRun, lines: StoredLine[]): Promise<SettledLine[]> {
  const year = run.fiscalYear
  const ending = lines.filter((l) => l.groups.some((g) => g.carriedShortfallOut !== null && money(g.carriedShortfallOut).greaterThan(ZERO)))
  const ids = ending.map((l) => l.agreementId)
  const [terms, next] = await Promise.all([carryTermsOf(db, ids), adjacentVersions(db, ids, 'next')])
  return lines.map((l) => {
    const agreement = terms.get(l.agreementId)
    const dispositions = new Map<string, ShortfallDisposition>()
    for (const g of l.groups) {
      if (agreement === undefined || g.carriedShortfallOut === null) continue
      const disposition = shortfallDisposition(agreement, year, g.name, money(g.carriedShortfallOut), next.get(l.agreementId))
      if (disposition !== undefined) dispositions.set(g.name, disposition)
    }
    return { ...l, dispositions, run: { fiscalYear: run.fiscalYear, minimumRate: run.minimumRate } }
  })
}

/** A page of the run's lines in the caller's scope (a national run has tens of thousands). */
export async function runLines (ctx: Context, id: number, filter: LineFilter, page: PageRequest) {
  const { run: header } = await overview(ctx.db, ctx.actor.scope, id)
  const lines = await runLinesPage(ctx.db, ctx.actor.scope, id, filter, page)
  return { items: await withDispositions(ctx.db, header, lines.items), nextCursor: lines.nextCursor }
}

/** The settlement statement (结算单): the run's lines in the caller's scope, with the names a reader needs. */
export async function statement (ctx: Context, id: number): Promise<{ run: StoredRun, lines: StatementLine[] }> {
  const { run: header } = await overview(ctx.db, ctx.actor.scope, id)
  const lines = await withDispositions(ctx.db, header, await allRunLines(ctx.db, ctx.actor.scope, id))
  const names = await registryNames(ctx.db, lines.map((l) => l.agreementId))
  return {
    run: header,
    lines: lines.map((l) => ({
      ...l, zoneName: names.zone.get(l.zoneCode) ?? '', districtName: names.district.get(l.districtCode) ?? '', documentNo: names.documentNo.get(l.agreementId) ?? '',
      groups: l.groups.map((g) => {
        const disposition = l.dispositions.get(g.name)
        const cited = { ...g, transfers: transfersCited(deserializeGroupResult(g.result)) }
        return disposition?.kind === 'written_off' ? { ...cited, writtenOff: formatMoney(disposition.amount) } : cited
      }),
    })),
  }
}

/** A run's totals by district and overall (no groups): what the command line prints, whatever the size of the run. */
export async function runSummary (ctx: Context, id: number) {
  const header = await findRunHeader(ctx.db, id)
  if (header === undefined) throw Problems.notFound(`settlement run ${id}`)
  const lines = await runLineFigures(ctx.db, ALL, id)
  const byDistrict = new Map<string, typeof lines>()
  for (const line of lines) byDistrict.set(line.districtCode, [...(byDistrict.get(line.districtCode) ?? []), line])
  const districts = [...byDistrict].sort(([a], [b]) => a.localeCompare(b)).map(([district, ls]) => ({ district, lines: ls.length, ...runTotals(ls) }))
  return { run: header, districts, total: { district: 'total', lines: lines.length, ...runTotals(lines) } }
}
