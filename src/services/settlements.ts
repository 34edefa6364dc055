import { createHash, hash as oneShotHash } from 'node:crypto'
import { setImmediate } from 'node:timers/promises'
import { advanceSums } from '../db/advances.js'
import { adjacentVersions, agreementIdsInForce, agreementsInForce, carryTermsOf, countInForce, findAgreement, type StoredAgreement } from '../db/agreements.js'
import type { Db } from '../db/database.js'
import { isNoConnectionInTime } from '../db/errors.js'
import { lockSettlementInputs } from '../db/locks.js'
import { readOnly } from '../db/read-only.js'
import { issuingChain, keyLabel } from '../db/keys.js'
import type { Page, PageRequest } from '../db/pagination.js'
import { findDistrict, findZone, registryNames } from '../db/registry.js'
import { categoryActuals, type GroupActuals, groupActuals, groupActualsOf, yearGroupActuals } from '../db/revenue.js'
import {
  type ChainHeads, chainHeads, disputedLines, finalizedLinesOf, findLineParties, findRunHeader, followedFigures, hasLineInScope, insertLines, insertReview, insertRun, type LineFilter,
  listRuns, lockRunHeader, runLineSums, markFinalized, type NewSettlementLine, recordedWriteOffs, recordWriteOffs, chainWriteOffs, reviewHistory, runContentPage, runLineFigures, runLineInputs, runLinesPage,
  runReviewsPage, lastReviewId, shortfallsOut, annualFloors, type StoredLine, type StoredRun, transactionNow, tryLockYear, statementLineOrder, statementSourceLines, withoutJit,
} from '../db/settlements.js'
import { agreementTermsText, bandsBelowFloor, settleAgreementYear } from '../domain/agreement.js'
import { type InputIssue, Problems } from '../domain/errors.js'
import { runMagnitudeIssue } from '../domain/magnitudes.js'
import { agreementHistory as historyOfLines, type HistoryYear } from '../domain/history.js'
import { latestReviews, type LineReviews, overrideReasonOf, type ReviewRequest, reviewingParty } from '../domain/review.js'
import {
  canonicalHeader, canonicalLine, canonicalReview, DIGEST_FORMAT, type DigestFormat, digestFormatOf, type LineContent, type Mismatch, type ReviewContent, type RunContent, verifyLine,
} from '../domain/verification.js'
import { serializeGroupResult, storedTransfersCited } from '../domain/explanation.js'
import {
  carriedFromInput, type CarrySource, carrySource, type CarryTerms, changedInputs, type LineInputs, draftShortfallDisposition, type LineShortfallDisposition, type ShortfallDisposition, shortfallsInput, supplementaryFigures, supplementaryMagnitudeIssue, uncarriedShortfallConflicts,
} from '../domain/ledger.js'
import { type Decimal, formatMoney, formatRate, money, ZERO } from '../domain/money.js'
import { ALL, type Scope, sharedIssuer } from '../domain/principal.js'
import { type BandJson, presentGroupFigures } from '../domain/presentation.js'
import { runSums, runTotals, type RunTotals, type StatementLine } from '../domain/settlement.js'
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

/**
 * Agreements a run reads, computes and stores at a time (calculation-rules.md §9 is per agreement):
 * each chunk's agreements, group sums, advances and chain heads are read together, its lines
 * computed and stored, and the chunk let go, so a run holds one chunk of agreements and lines at a
 * time (and, for a whole year, the year's group sums: two or three small rows per agreement).
 */
const RUN_CHUNK = 1000

// One call per text (crypto.hash): half the time of a Hash object, a run taking two for each agreement.
const digest = (text: string) => oneShotHash('sha256', text, 'hex')

/** Everything a run reads for its year, for a chunk of agreements, each read with a digest of what it read. */
interface YearInputs {
  year: number
  actuals: GroupActuals
  advances: Map<number, { total: string, digest: string }>
  /** The chain heads of Y−1 (carry-in) and Y (the line a new one follows). */
  heads: ChainHeads
  /** The previous version of each agreement, if one ended the year before it started. */
  previous: Map<number, CarryTerms>
  /** The next version of each agreement that ends in the year, if one starts the year after (§6: carried or written off). */
  next: Map<number, CarryTerms>
  /** The groups (`${agreementId}/${name}`) whose shortfall of the year a finalized line wrote off: written off it stays. */
  writtenOff: Set<string>
}

/**
 * How a run reads its group sums (src/db/revenue.ts groupActuals): a whole year's run, the year's
 * in one pass before its first line (two or three small rows per agreement); finalizing, or a run
 * of chosen agreements that are at least half of those in force, by zone–district pair, one
 * stretch of revenue a chunk; fewer agreements, by agreement, through revenue_year_totals' key.
 */
type ActualsBy = { kind: 'year', actuals: Promise<GroupActuals> } | { kind: 'pair' } | { kind: 'agreement' }

async function actualsBy (tx: Db, year: number, agreements: number): Promise<ActualsBy> {
  return { kind: agreements * 2 >= await countInForce(tx, year) ? 'pair' : 'agreement' }
}

/**
 * A chunk of agreements (`ids`, in the order of agreementIdsInForce) with everything the run
 * reads for them. Every statement is asked for at once, none waiting on another's answer, so that
 * all of them queue on the connection ahead of the lines of the chunk computed meanwhile (asked for
 * a turn of the event loop apart, the later ones waited behind those lines).
 */
async function readChunk (tx: Db, year: number, ids: readonly number[], by: ActualsBy) {
  const years = [year - 1, year]
  const [agreements, actuals, advances, previous, next, heads, writtenOff] = await Promise.all([
    agreementsInForce(tx, year, ids),
    by.kind === 'year' ? by.actuals : by.kind === 'pair' ? categoryActuals(tx, years, ids) : groupActuals(tx, years, ids),
    advanceSums(tx, year, ids),
    adjacentVersions(tx, ids, 'previous', year),
    adjacentVersions(tx, ids, 'next', year),
    chainHeads(tx, years, ids, year),
    chainWriteOffs(tx, year, ids, true),
  ])
  const inputs: YearInputs = { year, actuals: Array.isArray(actuals) ? groupActualsOf(agreements, actuals) : actuals, advances, heads, previous, next, writtenOff }
  return { agreements, inputs }
}

/** How a run reads: `read` given the database to read from. */
type Reader = <T>(read: (db: Db) => Promise<T>) => Promise<T>

/** Reads in the run's transaction `tx` (finalizing, which holds the inputs still; PGlite; the demo loader's transaction). */
const inRun = (tx: Db): Reader => (read) => read(tx)

/**
 * Reads on a connection of the pool beside the run's transaction `tx`, where the database has one
 * (PostgreSQL): the records as committed, as the run's own statements read them (READ COMMITTED;
 * nothing a run reads is what it writes). Should no connection be free within the usual wait, on
 * the run's own after it.
 */
const besideRun = (ctx: Context, tx: Db): Reader => ctx.readsBesideWrites !== true
  ? inRun(tx)
  : (read) => readOnly(ctx.db, read).catch((error: unknown) => {
      if (isNoConnectionInTime(error)) return read(tx)
      throw error
    })

/**
 * The agreements of `ids` a chunk at a time, each chunk read while the one before it is computed
 * (on the run's connection, the reads queue behind that chunk's stored lines; beside it, they go on
 * while the lines are stored).
 */
async function * chunksOf (reader: Reader, year: number, ids: readonly number[], by: ActualsBy) {
  const read = (start: number) => {
    const chunk = reader((db) => readChunk(db, year, ids.slice(start, start + RUN_CHUNK), by))
    // Awaited in turn below; a failure while an earlier chunk is still being computed is not unhandled.
    chunk.catch(() => {})
    return chunk
  }
  let next = read(0)
  for (let start = 0; start < ids.length; start += RUN_CHUNK) {
    const chunk = await next
    if (start + RUN_CHUNK < ids.length) next = read(start + RUN_CHUNK)
    yield { start, ...chunk }
  }
}

/**
 * Agreements computed between turns of the event loop: the next chunk's reads, answered meanwhile,
 * then ask for what depends on them before this chunk's lines are queued for storing.
 */
const COMPUTE_TURN = 100

/** One agreement's facts for the year: where its carry comes from, the line it follows, and what it read. */
function agreementFacts (inputs: YearInputs, a: StoredAgreement) {
  const { year, actuals, heads } = inputs
  const carry: CarrySource = carrySource(a, year, inputs.previous.get(a.id))
  const carriedFrom = carry.kind === 'none' ? undefined : heads.of(carry.kind === 'own' ? a.id : carry.agreementId, year - 1)
  const follows = heads.of(a.id, year)
  const advances = inputs.advances.get(a.id)
  const predecessor = inputs.previous.get(a.id)
  const uncarried = uncarriedShortfallConflicts(a, year, predecessor, predecessor === undefined ? undefined : heads.of(predecessor.id, year - 1)?.carriedOut)
  const revenue = a.groups.map((g, position) => {
    const current = actuals.digestOf(a.id, position, year)
    return g.basis === 'increment' && g.base.mode === 'prior_year' ? `${current}/${actuals.digestOf(a.id, position, year - 1)}` : current
  }).join('|')
  const lineInputs: LineInputs = {
    terms: digest(agreementTermsText(a, year)),
    revenue: digest(revenue),
    advances: advances?.digest ?? '',
    carriedFrom: carriedFromInput(carry, a.id, carriedFrom),
    follows: follows?.runId ?? null,
  }
  return {
    /** Where the shortfalls `carriedOut` would go as the registry and the ledger stand today (LineInputs.shortfalls). */
    shortfallsOf: (carriedOut: ReadonlyArray<{ name: string, amount: Decimal }>) =>
      shortfallsInput(a, year, carriedOut, inputs.next.get(a.id), (group) => inputs.writtenOff.has(`${a.id}/${group}`)),
    facts: {
      actual: (position: number, y: number) => actuals.of(a.id, position, y),
      carry,
      carriedIn: carry.kind === 'none' ? new Map<string, Decimal>() : carriedFrom?.carriedOut,
      advancesPaid: money(advances?.total ?? '0'),
    },
    follows,
    lineInputs,
    uncarried: uncarried.map((message) => ({ pointer: `/agreements/${a.id}`, message })),
  }
}

/**
 * A computed line as stored: printed figures, the engine's result to explain it from, the calculation
 * request each group was computed from, and its place in the chain.
 */
function lineOf (
  a: StoredAgreement, input: AgreementYearInput, result: AgreementYearResult, follows: ReturnType<typeof agreementFacts>['follows'],
  supplementary: ReturnType<typeof supplementaryFigures> | undefined, inputs: LineInputs,
): NewSettlementLine {
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

/**
 * Computes a draft run for the year in `tx` and stores it, a chunk of agreements at a time;
 * answers its id, the number of its lines and their totals, summed chunk by chunk as it goes.
 */
async function computeRun (tx: Db, ctx: Context, request: SettlementRequest, onProgress?: Progress): Promise<{ id: number, lines: number, supplementaryLines: number, totals: RunTotals }> {
  const year = request.fiscalYear
  if (!(await tryLockYear(tx, year))) throw Problems.settlementRunning(year)
  await withoutJit(tx)
  const ids = await agreementIdsInForce(tx, year, request.agreementIds)
  if (request.agreementIds !== undefined) {
    const found = new Set(ids)
    const missing = request.agreementIds.map((id, index) => ({ id, index })).filter(({ id }) => !found.has(id))
    if (missing.length > 0) throw Problems.agreementsNotInForce(year, missing)
  }
  if (ids.length === 0) throw Problems.nothingToSettle(year)

  const reader = besideRun(ctx, tx)
  let by: ActualsBy
  if (request.agreementIds === undefined) {
    // Beside the run where it can be: the year's sums while the first chunk is read.
    by = { kind: 'year', actuals: reader((db) => yearGroupActuals(db, [year - 1, year], year)) }
    // Awaited by each chunk; should the run fail before the first chunk awaits it, its failure is not unhandled either.
    by.actuals.catch(() => {})
  } else {
    by = await actualsBy(tx, year, ids.length)
  }
  // Problems by agreement, reported in the order of the agreements' ids.
  const refused: Array<{ agreementId: number, conflicts: InputIssue[], problems: InputIssue[] }> = []
  const id = await insertRun(tx, { fiscalYear: year, minimumRate: ctx.settings.minZoneRate.toString(), createdBy: ctx.actor.principal.keyId })
  // Each chunk's lines are sent to the database while the next chunk is computed; a problem
  // anywhere throws, and the transaction takes every line back with it.
  let stored = Promise.resolve()
  const sums = runSums()
  let supplementaryLines = 0
  for await (const { start, agreements, inputs } of chunksOf(reader, year, ids, by)) {
    const lines: NewSettlementLine[] = []
    for (const [index, a] of agreements.entries()) {
      if (index % COMPUTE_TURN === COMPUTE_TURN - 1) await setImmediate()
      const { facts, follows, lineInputs, uncarried, shortfallsOf } = agreementFacts(inputs, a)
      // A year's first settlement of an agreement meets today's floor (§3); a supplementary one re-settles a year finalized under its run's.
      const belowFloor = follows === undefined ? bandsBelowFloor(a, ctx.settings.minZoneRate) : []
      const settled = settleAgreementYear(a, year, ctx.settings.minZoneRate, facts)
      if (uncarried.length > 0) {
        refused.push({ agreementId: a.id, conflicts: uncarried, problems: [] })
      } else if (belowFloor.length > 0) {
        refused.push({ agreementId: a.id, conflicts: [], problems: belowFloor })
      } else if (!settled.ok) {
        refused.push({ agreementId: a.id, conflicts: settled.conflicts, problems: settled.problems })
      } else {
        // A supplementary line's adjustments, computed once: checked against §1 here, stored by lineOf.
        const supplementary = follows === undefined ? undefined : supplementaryFigures(settled.result, follows)
        const tooLarge = supplementary === undefined || follows === undefined ? undefined : supplementaryMagnitudeIssue(a.id, year, supplementary, follows.runId)
        if (tooLarge !== undefined) refused.push({ agreementId: a.id, conflicts: [], problems: [tooLarge] })
        else if (refused.length === 0) {
          // A shortfall carried out of the last year: where it goes (carried or written off) is an input too.
          const shortfalls = shortfallsOf(settled.result.groups.flatMap((g) => g.carriedShortfallOut?.greaterThan(ZERO) === true ? [{ name: g.name, amount: g.carriedShortfallOut }] : []))
          lines.push(lineOf(a, settled.input, settled.result, follows, supplementary, shortfalls === undefined ? lineInputs : { ...lineInputs, shortfalls }))
        }
      }
      onProgress?.(start + index + 1, ids.length)
    }
    sums.add(lines)
    for (const l of lines) if (l.kind === 'supplementary') supplementaryLines++
    await stored
    stored = insertLines(tx, id, year, lines)
    stored.catch(() => {})
  }
  // Settle the stored chunks either way, so that no insert is left running when this throws.
  await stored
  refused.sort((x, y) => x.agreementId - y.agreementId)
  const conflicts = refused.flatMap((r) => r.conflicts)
  const problems = refused.flatMap((r) => r.problems)
  if (conflicts.length > 0) throw Problems.priorYearNotFinalized(conflicts)
  if (problems.length > 0) throw Problems.cannotSettle(problems)
  const tooLarge = runMagnitudeIssue(sums.unsigned(), ids.length, request.agreementIds === undefined ? '/fiscalYear' : '/agreementIds')
  if (tooLarge !== undefined) throw Problems.cannotSettle([tooLarge])
  return { id, lines: ids.length, supplementaryLines, totals: sums.totals() }
}

/** The run's header when some of it is in the caller's scope (admins: any run); 404 otherwise. Reads no line's figures. */
async function runInScope (db: Db, scope: Scope, id: number): Promise<StoredRun> {
  const run = await findRunHeader(db, id)
  if (run === undefined || (scope.kind !== 'all' && !(await hasLineInScope(db, scope, id)))) throw Problems.notFound(`settlement run ${id}`)
  return run
}

/**
 * Runs with the number and totals of their lines in the caller's scope (none in scope: 0 and 0.00), read
 * for all of them in one statement (runLineSums): the single run and the list show them alike.
 */
async function withLineTotals (db: Db, scope: Scope, found: readonly StoredRun[]): Promise<RunOverview[]> {
  const sums = await runLineSums(db, scope, found.map((r) => r.id))
  return found.map((run) => {
    const counted = sums.get(run.id)
    return { run, lineCount: counted?.lineCount ?? 0, totals: runTotals(counted === undefined ? [] : [counted.sums]) }
  })
}

/** The run in the caller's scope: its header, how many lines and their totals; 404 when none of it is in scope. */
async function overview (db: Db, scope: Scope, id: number): Promise<RunOverview> {
  const run = await findRunHeader(db, id)
  const [found] = run === undefined ? [] : await withLineTotals(db, scope, [run])
  if (found === undefined || (found.lineCount === 0 && scope.kind !== 'all')) throw Problems.notFound(`settlement run ${id}`)
  return found
}

/** 年度结算: computes and stores a draft run for the year (admins, `npm run settle`, the demo loader). */
export function createRun (ctx: Context, request: SettlementRequest, onProgress?: Progress): Promise<RunOverview> {
  return inWriteTransaction(ctx, async (tx) => {
    const { id, lines, supplementaryLines, totals } = await computeRun(tx, ctx, request, onProgress)
    // Every line is in an admin's scope: the totals summed as the run went are the run's.
    const run = ctx.actor.scope.kind === 'all' ? await findRunHeader(tx, id) : undefined
    const value = run === undefined ? await overview(tx, ctx.actor.scope, id) : { run, lineCount: lines, totals }
    // What an auditor asks of a run: which agreements it was asked for (all in force, when none were
    // named), how many of its lines re-settle a finalized year (补充结算), under which floor.
    const details = { fiscalYear: request.fiscalYear, agreementIds: request.agreementIds ?? 'all in force', lines, supplementaryLines, minimumRate: ctx.settings.minZoneRate.toString() }
    return { value, audit: [{ action: 'create', entityType: 'settlement_run', entityId: String(id), details }] }
  })
}

/** Why each line of a run can no longer be finalized as it stands, if any can't (calculation-rules.md §9). */
async function staleLines (tx: Db, run: StoredRun) {
  const year = run.fiscalYear
  // In the order of their pairs, as a run reads them; reported by agreement id.
  const lines = await runLineInputs(tx, run.id)
  const carriedOut = new Map(lines.map((l) => [l.agreementId, l.carriedOut]))
  // What each line would be computed from now, read a chunk of agreements at a time like the run.
  const storedTerms = new Map(lines.map((l) => [l.agreementId, l.inputs?.terms]))
  const now = new Map<number, LineInputs>()
  const priorYearGroups = new Map<number, string[]>()
  for await (const { agreements, inputs } of chunksOf(inRun(tx), year, lines.map((l) => l.agreementId), await actualsBy(tx, year, lines.length))) {
    for (const a of agreements) {
      const { lineInputs, shortfallsOf } = agreementFacts(inputs, a)
      const shortfalls = shortfallsOf(carriedOut.get(a.id) ?? [])
      // A draft computed before the terms were read by year holds the digest of every year's: the same, nothing in them changed.
      const stored = storedTerms.get(a.id)
      const terms = stored !== undefined && stored !== lineInputs.terms && stored === digest(agreementTermsText(a, undefined)) ? stored : lineInputs.terms
      now.set(a.id, { ...lineInputs, terms, ...(shortfalls === undefined ? {} : { shortfalls }) })
      priorYearGroups.set(a.id, a.groups.flatMap((g) => g.basis === 'increment' && g.base.mode === 'prior_year' ? [g.name] : []))
    }
  }
  const byId = [...lines].sort((x, y) => x.agreementId - y.agreementId)
  // An annual line whose year another run has finalized since (the chain it would start exists).
  const overtaken = byId.find((l) => l.kind === 'annual' && (now.get(l.agreementId)?.follows ?? null) !== null)
  const stale = byId.map((l) => ({ line: l, changed: changedInputs(year, l.inputs, now.get(l.agreementId), priorYearGroups.get(l.agreementId)) })).filter((s) => s.changed.length > 0)
  return { overtaken, stale }
}

/** 定稿 with an override: the reason a run is finalized although a line is disputed, printed on every statement. */
export interface FinalizeRequest {
  override?: { reason: string } | undefined
}

/** Lines read at a time for the digest and the verification. */
const DIGEST_PAGE = 1000

/** The run's digest: SHA-256 over its canonical content (src/domain/verification.ts), read a page at a time. */
async function runDigest (db: Db, header: RunContent, format: DigestFormat): Promise<string> {
  const hash = createHash('sha256').update(canonicalHeader(header, format))
  for (let cursor: string | undefined; ;) {
    const lines = await runContentPage(db, header.id, { limit: DIGEST_PAGE, cursor })
    for (const line of lines.items) hash.update(canonicalLine(line, format))
    if (lines.nextCursor === null) break
    cursor = lines.nextCursor
  }
  for (let cursor: string | undefined; ;) {
    const reviews = await runReviewsPage(db, header.id, { limit: DIGEST_PAGE, cursor })
    for (const review of reviews.items) hash.update(canonicalReview(review))
    if (reviews.nextCursor === null) break
    cursor = reviews.nextCursor
  }
  return hash.digest('hex')
}

/**
 * 定稿: finalizes a draft run on exactly what it was computed from; from then on nothing can change
 * it, the database included, and each line is the next link of its agreement's chain. A disputed
 * line stops it (409) unless the request overrides the disputes with a reason; with
 * REQUIRE_TWO_ADMINS the key that computed the run may not finalize it (403). The run's digest and
 * the override reason are stored with the finalization.
 */
export function finalizeRun (ctx: Context, id: number, request: FinalizeRequest = {}): Promise<RunOverview> {
  return inWriteTransaction(ctx, async (tx) => {
    const keyId = ctx.actor.principal.keyId
    const found = await findRunHeader(tx, id)
    if (found === undefined) throw Problems.notFound(`settlement run ${id}`)
    if (found.status === 'finalized') throw Problems.runAlreadyFinalized(id, found.finalizedAt)
    if (ctx.settings.requireTwoAdmins) {
      if (found.createdBy === keyId) throw Problems.secondAdminRequired(id, found.createdBy)
      const shared = sharedIssuer(await issuingChain(tx, found.createdBy), await issuingChain(tx, keyId))
      if (shared !== undefined) throw Problems.sameSigner(id, found.createdBy, keyId, shared)
    }
    const reason = overrideReasonOf(request.override)
    if (!(await tryLockYear(tx, found.fiscalYear))) throw Problems.settlementRunning(found.fiscalYear)
    // Reviews under way finish first (and are in the digest); later ones find the run finalized.
    const run = await lockRunHeader(tx, id, 'update')
    if (run === undefined) throw Problems.notFound(`settlement run ${id}`)
    if (run.status === 'finalized') throw Problems.runAlreadyFinalized(id, run.finalizedAt)
    // A draft computed before MIN_ZONE_RATE was raised was not checked against today's floor (computeRun).
    if (money(run.minimumRate).lessThan(ctx.settings.minZoneRate)) throw Problems.floorRaisedSince(id, formatRate(money(run.minimumRate)), formatRate(ctx.settings.minZoneRate))
    // No writer of what the run read can commit from here until this transaction ends.
    await lockSettlementInputs(tx)
    await withoutJit(tx)
    const { overtaken, stale } = await staleLines(tx, run)
    if (overtaken !== undefined) throw Problems.alreadySettled(overtaken.agreementId, run.fiscalYear)
    if (stale.length > 0) {
      throw Problems.settlementStale(run.id, run.fiscalYear, stale.map(({ line, changed }) => ({ agreementId: line.agreementId, zoneCode: line.zoneCode, districtCode: line.districtCode, changed })))
    }
    const disputed = await disputedLines(tx, id)
    if (disputed.length > 0 && reason === undefined) throw Problems.settlementDisputed(id, disputed)
    if (disputed.length === 0 && reason !== undefined) throw Problems.overrideWithoutDispute(id)
    const overrideReason = reason ?? null
    await recordRunWriteOffs(tx, run)
    const digest = await runDigest(tx, {
      id, fiscalYear: run.fiscalYear, minimumRate: run.minimumRate, createdAt: run.createdAt, createdBy: run.createdBy,
      finalizedAt: await transactionNow(tx), finalizedBy: keyId, overrideReason,
    }, DIGEST_FORMAT)
    await markFinalized(tx, id, { keyId, digest, digestFormat: DIGEST_FORMAT, overrideReason })
    const after = await overview(tx, ctx.actor.scope, id)
    return {
      value: after,
      audit: [{
        action: 'finalize', entityType: 'settlement_run', entityId: String(id),
        details: {
          fiscalYear: run.fiscalYear, totals: after.totals, digest,
          ...(overrideReason === null ? {} : { override: { reason: overrideReason, disputed: disputed.map((d) => ({ agreementId: d.agreementId, parties: d.parties })) } }),
        },
      }],
    }
  })
}

/** A party's decision as recorded, and the decisions in force on the line after it. */
export interface RecordedReview {
  runId: number
  review: ReviewContent
  reviews: LineReviews
}

/**
 * 审核确认: the district's or the zone's decision on a line of a draft run, by its own key, or by an
 * admin on its behalf. A line outside the caller's scope answers 404 as if absent; a key naming
 * the other party 403; a finalized run takes no more reviews (409).
 */
export function reviewLine (ctx: Context, runId: number, agreementId: number, request: ReviewRequest): Promise<RecordedReview> {
  return inWriteTransaction(ctx, async (tx) => {
    const { principal, scope } = ctx.actor
    // A finalization under way finishes first: this then finds the run finalized.
    const run = await lockRunHeader(tx, runId, 'share')
    const line = run === undefined ? undefined : await findLineParties(tx, scope, runId, agreementId)
    if (run === undefined || line === undefined) throw Problems.notFound(`line of agreement ${agreementId} in settlement run ${runId}`)
    const { party, note } = reviewingParty(principal, request)
    if (run.status === 'finalized') throw Problems.reviewAfterFinalizing(runId, run.finalizedAt)
    const label = principal.keyId === 'bootstrap' ? undefined : await keyLabel(tx, principal.keyId)
    const review = await insertReview(tx, runId, agreementId, { party, decision: request.decision, note, by: principal.keyId, byRole: principal.role, byLabel: label ?? null })
    const reviews = latestReviews((await reviewHistory(tx, runId, [agreementId])).get(agreementId) ?? [])
    return {
      value: { runId, review, reviews },
      audit: [{
        action: 'review', entityType: 'settlement_line', entityId: `${runId}/${agreementId}`,
        details: { runId, agreementId, zoneCode: line.zoneCode, districtCode: line.districtCode, party, decision: request.decision, note, onBehalf: principal.role === 'admin' },
      }],
    }
  })
}

/** What verifying a finalized run found. */
export interface Verification {
  run: StoredRun
  recomputedDigest: string
  digestMatches: boolean
  linesChecked: number
  mismatches: Mismatch[]
  /** All mismatches found (the list holds at most MAX_MISMATCHES). */
  mismatchCount: number
}

const MAX_MISMATCHES = 1000

/**
 * Verifies a finalized run: the digest again from the stored rows, compared with the one stored
 * when it was finalized; and every line in the caller's scope computed again from its stored
 * inputs with today's engine, each stored figure compared with the engine's.
 */
export async function verifyRun (ctx: Context, id: number): Promise<Verification> {
  const run = await runInScope(ctx.db, ctx.actor.scope, id)
  if (run.status !== 'finalized' || run.finalizedAt === null || run.finalizedBy === null) throw Problems.runNotFinalized(id)
  const recomputedDigest = await runDigest(ctx.db, {
    id, fiscalYear: run.fiscalYear, minimumRate: run.minimumRate, createdAt: run.createdAt, createdBy: run.createdBy,
    finalizedAt: run.finalizedAt, finalizedBy: run.finalizedBy, overrideReason: run.overrideReason,
  }, digestFormatOf(run.digestFormat))
  const mismatches: Mismatch[] = []
  let mismatchCount = 0
  if (run.digest !== recomputedDigest) {
    mismatchCount++
    mismatches.push({ field: 'digest', stored: run.digest, recomputed: recomputedDigest })
  }
  const { scope } = ctx.actor
  const inScope = (l: LineContent) => scope.kind === 'all' || (scope.kind === 'district' ? l.districtCode === scope.districtCode : l.zoneCode === scope.zoneCode)
  const floor = money(run.minimumRate)
  let linesChecked = 0
  for (let cursor: string | undefined; ;) {
    const page = await runContentPage(ctx.db, id, { limit: DIGEST_PAGE, cursor })
    const lines = page.items.filter(inScope)
    const followed = await followedFigures(ctx.db, lines)
    for (const line of lines) {
      const found = verifyLine(run.fiscalYear, floor, line, line.follows === null ? undefined : followed.get(`${line.follows}/${line.agreementId}`))
      mismatchCount += found.length
      mismatches.push(...found.slice(0, Math.max(0, MAX_MISMATCHES - mismatches.length)))
    }
    linesChecked += lines.length
    if (page.nextCursor === null) break
    cursor = page.nextCursor
  }
  return { run, recomputedDigest, digestMatches: run.digest === recomputedDigest, linesChecked, mismatches, mismatchCount }
}

/**
 * The runs with lines in the caller's scope, newest first, each as GET /v1/settlement-runs/{id} shows it:
 * with the number and totals of those lines (api-contract.md: the same shape). Read in one snapshot
 * (readOnly), so that the runs listed and the lines counted are of one state of the records.
 */
export function runs (ctx: Context, fiscalYear: number | undefined, page: PageRequest): Promise<Page<RunOverview>> {
  return readOnly(ctx.db, async (tx) => {
    const found = await listRuns(tx, ctx.actor.scope, fiscalYear, page)
    return { items: await withLineTotals(tx, ctx.actor.scope, found.items), nextCursor: found.nextCursor }
  })
}

export function run (ctx: Context, id: number): Promise<RunOverview> {
  return overview(ctx.db, ctx.actor.scope, id)
}

/**
 * A settled line with what becomes of the shortfall its groups carry out, in the agreement's last year (§6),
 * its run's year and the floor it was settled under (withDispositions), and the parties' decisions in force.
 */
export interface SettledLine extends StoredLine {
  dispositions: ReadonlyMap<string, LineShortfallDisposition>
  run: Pick<StoredRun, 'fiscalYear' | 'minimumRate'>
  reviews: LineReviews
}

type LineShortfalls = Pick<StoredLine, 'agreementId'> & { groups: ReadonlyArray<Pick<StoredLine['groups'][number], 'name' | 'carriedShortfallOut'>> }

/**
 * What becomes of each line's carried-out shortfalls, by agreement and group (§6). A finalized line
 * prints what its finalization recorded: its write-offs, and where the next version of the pair carries
 * the rest; a write-off is never added to it afterwards (its agreement ended at that year later, say),
 * since a signed statement does not change (§9). Such a shortfall, while nothing carries it and no later
 * signed line of the chain has written it off, shows as awaiting its write-off instead of vanishing. A draft line writes off what an earlier finalized line
 * of its chain wrote off (written off stays written off), and otherwise decides as the registry's
 * versions stand. Lines finalized before sql/013 recorded write-offs have theirs recorded by sql/016.
 */
async function dispositionsOf (db: Db, run: StoredRun, lines: readonly LineShortfalls[], awaiting = false): Promise<Map<number, Map<string, LineShortfallDisposition>>> {
  const ending = lines.filter((l) => l.groups.some((g) => g.carriedShortfallOut !== null && money(g.carriedShortfallOut).greaterThan(ZERO)))
  const ids = ending.map((l) => l.agreementId)
  const finalized = run.status === 'finalized'
  const [terms, next, recorded, writtenOffBefore] = await Promise.all([
    carryTermsOf(db, ids), adjacentVersions(db, ids, 'next'),
    finalized ? recordedWriteOffs(db, run.id, ids) : new Map<string, string>(),
    finalized ? new Set<string>() : chainWriteOffs(db, run.fiscalYear, ids),
  ])
  const found = new Map<number, Map<string, LineShortfallDisposition>>()
  /** Write-offs a finalized line would gain from the registry as it stands now, which it was not signed with. */
  const unrecorded: Array<{ agreementId: number, dispositions: Map<string, LineShortfallDisposition>, group: string, amount: Decimal }> = []
  for (const l of ending) {
    const agreement = terms.get(l.agreementId)
    const dispositions = new Map<string, LineShortfallDisposition>()
    for (const g of l.groups) {
      if (agreement === undefined || g.carriedShortfallOut === null) continue
      const key = `${l.agreementId}/${g.name}`
      const carriedOut = money(g.carriedShortfallOut)
      const writtenOff = recorded.get(key)
      // A draft's rule, shortfallsInput's too; on a finalized line, writtenOffBefore is empty and it is the registry's alone.
      const disposition: ShortfallDisposition | undefined = writtenOff !== undefined
        ? { kind: 'written_off', amount: money(writtenOff) }
        : draftShortfallDisposition(agreement, run.fiscalYear, g.name, carriedOut, next.get(l.agreementId), writtenOffBefore.has(key))
      if (disposition === undefined) continue
      dispositions.set(g.name, disposition)
      if (finalized && writtenOff === undefined && disposition.kind === 'written_off') unrecorded.push({ agreementId: l.agreementId, dispositions, group: g.name, amount: disposition.amount })
    }
    found.set(l.agreementId, dispositions)
  }
  // Signed while its agreement went on, the line carried the shortfall out; the agreement has ended at
  // that year since. Still the chain's head, nothing has disposed of it: it awaits its write-off (asked
  // for by the lines alone: a statement prints what was signed, and reads no chain for it). The chain is
  // read only when there is such a shortfall (rarely; a national statement reads its lines a page at a time).
  if (unrecorded.length > 0) {
    const heads = awaiting ? await chainHeads(db, [run.fiscalYear], [...new Set(unrecorded.map((u) => u.agreementId))]) : undefined
    for (const u of unrecorded) {
      if (heads?.of(u.agreementId, run.fiscalYear)?.runId === run.id) u.dispositions.set(u.group, { kind: 'awaiting_write_off', amount: u.amount })
      else u.dispositions.delete(u.group)
    }
  }
  return found
}

/**
 * The lines with what becomes of their carried-out shortfalls: carried into the next version, or written
 * off; with `awaiting`, also a signed line's shortfall that awaits its write-off (the lines show it; a
 * statement prints what was signed). Each line carries its year and the floor it was settled under:
 * the run's; for a supplementary line (补充结算), which re-settles its year on the bands it was first
 * settled on, the floor of that first (annual) settlement, though MIN_ZONE_RATE has been raised since.
 */
async function withDispositions<L extends LineShortfalls & Pick<StoredLine, 'kind'>> (db: Db, run: StoredRun, lines: L[], awaiting = false): Promise<Array<L & Pick<SettledLine, 'dispositions' | 'run'>>> {
  const supplementary = lines.filter((l) => l.kind === 'supplementary').map((l) => l.agreementId)
  const [dispositions, floors] = await Promise.all([dispositionsOf(db, run, lines, awaiting), annualFloors(db, run.fiscalYear, supplementary)])
  const ofRun = { fiscalYear: run.fiscalYear, minimumRate: run.minimumRate }
  return lines.map((l) => {
    const floor = l.kind === 'supplementary' ? floors.get(l.agreementId) : undefined
    return { ...l, dispositions: dispositions.get(l.agreementId) ?? new Map(), run: floor === undefined ? ofRun : { fiscalYear: run.fiscalYear, minimumRate: floor } }
  })
}

/**
 * Records, as the run is finalized, each shortfall its lines write off (核销, §6): from then on the
 * line prints it written off and nothing carries it, whatever versions the registry gains later.
 */
async function recordRunWriteOffs (tx: Db, run: StoredRun): Promise<void> {
  const dispositions = await dispositionsOf(tx, run, await shortfallsOut(tx, run.id))
  const writeOffs = [...dispositions].flatMap(([agreementId, groups]) => [...groups].flatMap(([group, d]) =>
    d.kind === 'written_off' ? [{ agreementId, group, amount: formatMoney(d.amount) }] : []))
  await recordWriteOffs(tx, run.id, writeOffs)
}

/** A page of the run's lines in the caller's scope (a national run has tens of thousands). */
export async function runLines (ctx: Context, id: number, filter: LineFilter, page: PageRequest): Promise<Page<SettledLine>> {
  const header = await runInScope(ctx.db, ctx.actor.scope, id)
  const lines = await runLinesPage(ctx.db, ctx.actor.scope, id, filter, page)
  const history = await reviewHistory(ctx.db, id, lines.items.map((l) => l.agreementId))
  const settled = await withDispositions(ctx.db, header, lines.items, true)
  return { items: settled.map((l) => ({ ...l, reviews: latestReviews(history.get(l.agreementId) ?? []) })), nextCursor: lines.nextCursor }
}

/** Lines a statement reads and builds at a time. */
const STATEMENT_PAGE = 1000

/** A statement as its writers take it: the run, how many lines it prints, and the lines a page at a time. */
export interface Statement {
  run: StoredRun
  lineCount: number
  /** Whether a line it prints is supplementary (补充结算; its title says so). */
  printsSupplementary: boolean
  /**
   * The lines in the statement's order, a page at a time, read and built as they are asked for;
   * when the last page has been taken it answers the totals of all of them.
   */
  pages: AsyncGenerator<StatementLine[], RunTotals>
  /** Whose lines it prints: the whole run, or a district's or a zone's share of it (the caller's scope). */
  scope: Scope
}

/**
 * The settlement statement (结算单): the run's lines in the caller's scope, with the names a reader
 * needs, each group's printed bands, and each line's review record (the whole history; the latest
 * of each party is the decision in force). The run carries its digest and override reason.
 *
 * The lines' order (zone, district, agreement) is read at once; the lines themselves are read and
 * built a page at a time as the writer asks for them, and let go of once written: a national run's
 * 25,000 lines and 50,000 groups read and built in one piece held the event loop for up to half a
 * second, and held every line in memory beside the file. A line's printed figures never change
 * once stored (the service updates no line but to finalize it), so its pages add up to the run as
 * one read would; its reviews are those recorded before the statement was asked for.
 */
export async function statement (ctx: Context, id: number): Promise<Statement> {
  const header = await runInScope(ctx.db, ctx.actor.scope, id)
  const [order, lastReview] = await Promise.all([statementLineOrder(ctx.db, ctx.actor.scope, id), lastReviewId(ctx.db, id)])
  return {
    run: header, lineCount: order.length, printsSupplementary: order.some((l) => l.kind === 'supplementary'),
    pages: statementPages(ctx, header, order.map((l) => l.agreementId), lastReview),
    scope: ctx.actor.scope,
  }
}

/**
 * The statement's lines of the agreements `allIds`, in their order, a page at a time; then their
 * totals. Each page prints the reviews recorded up to `lastReview` (the last when the statement
 * was asked for), so that a review recorded while a long statement is written is on none of its
 * pages rather than on some. A line that is no longer there (the service removes none; an
 * operator's SQL could) stops the statement: it would print fewer pages than it counted.
 */
async function * statementPages (ctx: Context, header: StoredRun, allIds: readonly number[], lastReview: number): AsyncGenerator<StatementLine[], RunTotals> {
  const sums = runSums()
  for (let start = 0; start < allIds.length; start += STATEMENT_PAGE) {
    const ids = allIds.slice(start, start + STATEMENT_PAGE)
    const source = await statementSourceLines(ctx.db, header.id, ids)
    if (source.length !== ids.length) throw new Error(`settlement run ${header.id}: ${ids.length - source.length} of its lines went missing while its statement was written`)
    const lines = await withDispositions(ctx.db, header, source)
    const [names, history] = await Promise.all([registryNames(ctx.db, lines), reviewHistory(ctx.db, header.id, ids, lastReview)])
    const page = lines.map((l): StatementLine => ({
      ...l, zoneName: names.zone.get(l.zoneCode) ?? '', districtName: names.district.get(l.districtCode) ?? '', documentNo: names.documentNo.get(l.agreementId) ?? '',
      reviewHistory: history.get(l.agreementId) ?? [],
      groups: l.groups.map(({ resultCitingTransfers, ...g }) => {
        const disposition = l.dispositions.get(g.name)
        const bands = JSON.parse(g.bands) as BandJson[]
        const cited = { ...g, bands, transfers: resultCitingTransfers === null ? [] : storedTransfersCited(resultCitingTransfers) }
        return disposition?.kind === 'written_off'
          ? { ...cited, writtenOff: formatMoney(disposition.amount) }
          : disposition?.kind === 'carried' ? { ...cited, carriedToAgreementId: disposition.agreementId } : cited
      }),
    }))
    sums.add(page)
    yield page
  }
  return sums.totals()
}

/** A run's totals by district and overall (no groups): what the command line prints, whatever the size of the run. */
export async function runSummary (ctx: Context, id: number) {
  const header = await findRunHeader(ctx.db, id)
  if (header === undefined) throw Problems.notFound(`settlement run ${id}`)
  const lines = await runLineFigures(ctx.db, ALL, id)
  const byDistrict = new Map<string, typeof lines>()
  for (const line of lines) {
    const ofDistrict = byDistrict.get(line.districtCode)
    if (ofDistrict === undefined) byDistrict.set(line.districtCode, [line])
    else ofDistrict.push(line)
  }
  const districts = [...byDistrict].sort(([a], [b]) => a.localeCompare(b)).map(([district, ls]) => ({ district, lines: ls.length, ...runTotals(ls) }))
  return { run: header, districts, total: { district: 'total', lines: lines.length, ...runTotals(lines) } }
}

/** An agreement's history: who it is between, and every settled year by the last finalized line of its chain (§9). */
export interface AgreementHistory {
  agreement: StoredAgreement
  zoneName: string
  districtName: string
  years: HistoryYear[]
}

/** The history of an agreement in the caller's scope (404 outside it, as GET /v1/agreements/{id}). */
export async function agreementHistory (ctx: Context, id: number): Promise<AgreementHistory> {
  const agreement = await findAgreement(ctx.db, ctx.actor.scope, id)
  if (agreement === undefined) throw Problems.notFound(`agreement ${id}`)
  const [lines, zone, district] = await Promise.all([finalizedLinesOf(ctx.db, id), findZone(ctx.db, ALL, agreement.zoneCode), findDistrict(ctx.db, ALL, agreement.districtCode)])
  return { agreement, zoneName: zone?.name ?? agreement.zoneCode, districtName: district?.name ?? agreement.districtCode, years: historyOfLines(lines) }
}
