import type { Kysely } from 'kysely'
import { agreementsInForce, type StoredAgreement } from '../db/agreements.js'
import type { Database } from '../db/database.js'
import {
  advanceSums, changedSince, findRun, type FinalizedLine, groupKey, groupRevenueSums, insertLines, insertRun, latestFinalizedLines, markFinalized,
  type NewSettlementLine, tryLockYear,
} from '../db/settlements.js'
import { ALL } from '../db/scope.js'
import { computeAgreementYear } from '../domain/engine.js'
import { serializeGroupResult } from '../domain/explanation.js'
import { type Decimal, formatMoney, money, ZERO } from '../domain/money.js'
import { presentGroupFigures } from '../domain/presentation.js'
import { supplementaryAdjustment } from '../domain/settlement.js'
import type { GroupInput } from '../domain/types.js'
import { HttpProblem, type ProblemField } from '../http/problem.js'

/*
 * The annual settlement (年度结算, calculation-rules.md §4–§6), shared by the API and by
 * `npm run settle`: read every agreement in force, the latest revenue, the advances and the
 * shortfall carried out of last year's finalized settlement, compute each line with the same
 * engine as POST /v1/calculations, and store the run as a draft, all in the caller's transaction.
 */

type Db = Kysely<Database>

export interface SettlementRequest {
  fiscalYear: number
  agreementIds?: readonly number[] | undefined
  /** MIN_ZONE_RATE, printed on the run. */
  minimumRate: Decimal
}

export type Progress = (done: number, total: number) => void

/** Lines computed before they are sent to the database together. */
const LINE_CHUNK = 1000

function yearBusy (year: number): HttpProblem {
  return new HttpProblem(409, 'settlement-running', `A settlement run for ${year} is in progress; try again when it has finished.`)
}

/** The engine's inputs for one agreement in year Y, or the reasons it cannot be settled. */
function groupInputs (
  a: StoredAgreement, year: number, revenue: Map<string, { total: string, records: number }>, carriedFrom: FinalizedLine | undefined,
  problems: ProblemField[], conflicts: ProblemField[],
): GroupInput[] {
  const actualOf = (position: number, y: number) => {
    const found = revenue.get(groupKey(a.id, position, y))
    return found === undefined ? { total: ZERO, records: 0 } : { total: money(found.total), records: found.records }
  }
  const needsCarry = a.groups.some((g) => g.shortfall === 'carry_forward') && year - 1 >= a.effectiveFrom
  if (needsCarry && carriedFrom === undefined) {
    conflicts.push({ pointer: `/agreements/${a.id}`, message: `agreement ${a.id} (${a.zoneCode}–${a.districtCode}) carries shortfalls forward and ${year - 1} is not finalized: finalize the ${year - 1} settlement first` })
  }
  return a.groups.map((g): GroupInput => {
    const actual = actualOf(g.position, year).total
    if (g.basis === 'total') return { name: g.name, basis: 'total', actual, rates: g.rates, shortfall: 'none', carriedShortfall: ZERO }
    let priorYearActual: Decimal | undefined
    if (g.base?.mode === 'prior_year') {
      const prior = actualOf(g.position, year - 1)
      if (prior.records === 0) problems.push({ pointer: `/agreements/${a.id}/groups/${g.position}`, message: `agreement ${a.id} group "${g.name}" bases ${year} on ${year - 1}'s revenue, and none is recorded (calculation-rules.md §4)` })
      else priorYearActual = prior.total
    }
    const carried = g.shortfall === 'carry_forward' && carriedFrom !== undefined ? carriedFrom.carriedOut.get(g.position) : undefined
    return {
      name: g.name,
      basis: 'increment',
      base: {
        kind: 'rule',
        rule: {
          baseYear: a.baseYear, mode: g.base!.mode, adjustments: g.adjustments,
          ...(g.base!.amount === undefined ? {} : { amount: g.base!.amount }),
          ...(g.base!.growthRate === undefined ? {} : { growthRate: g.base!.growthRate }),
          ...(priorYearActual === undefined ? {} : { priorYearActual }),
        },
      },
      actual,
      rates: g.rates,
      shortfall: g.shortfall,
      carriedShortfall: carried === undefined || carried === null ? ZERO : money(carried),
    }
  })
}

/** Computes a draft run for the year and stores it; answers its id. */
export async function createSettlementRun (tx: Db, request: SettlementRequest, createdBy: string, onProgress?: Progress): Promise<number> {
  const year = request.fiscalYear
  if (!(await tryLockYear(tx, year))) throw yearBusy(year)
  const agreements = await agreementsInForce(tx, year, request.agreementIds)
  if (request.agreementIds !== undefined) {
    const found = new Set(agreements.map((a) => a.id))
    const missing = request.agreementIds.map((id, i) => ({ id, i })).filter(({ id }) => !found.has(id))
    if (missing.length > 0) {
      throw new HttpProblem(422, 'unknown-reference', `${missing.length} agreement(s) are unknown or not in force in ${year}.`,
        missing.map(({ id, i }) => ({ pointer: `/agreementIds/${i}`, message: `agreement ${id} is unknown or not in force in ${year}` })))
    }
  }
  if (agreements.length === 0) throw new HttpProblem(422, 'nothing-to-settle', `No agreement is in force in ${year}.`, [{ pointer: '/fiscalYear', message: 'no agreement in force' }])

  const [revenue, advances, finalized] = await Promise.all([groupRevenueSums(tx, year), advanceSums(tx, year), latestFinalizedLines(tx, [year - 1, year])])
  const problems: ProblemField[] = []
  const conflicts: ProblemField[] = []
  const id = await insertRun(tx, { fiscalYear: year, minimumRate: request.minimumRate.toString(), createdBy })
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
    const groups = groupInputs(a, year, revenue, finalized.get(`${a.id}|${year - 1}`), problems, conflicts)
    if (problems.length === 0 && conflicts.length === 0) {
      const result = computeAgreementYear({ fiscalYear: year, minimumRate: request.minimumRate, groups, advancesPaid: money(advances.get(a.id) ?? '0') })
      const previous = finalized.get(`${a.id}|${year}`)
      chunk.push({
        agreementId: a.id, zoneCode: a.zoneCode, districtCode: a.districtCode, kind: previous === undefined ? 'annual' : 'supplementary',
        revenueTotal: formatMoney(result.revenueTotal), zoneShare: formatMoney(result.zoneShare), districtShare: formatMoney(result.districtShare),
        advancesPaid: formatMoney(result.advancesPaid), balanceDue: formatMoney(result.balanceDue),
        previousZoneShare: previous === undefined ? null : previous.zoneShare,
        adjustment: previous === undefined ? null : supplementaryAdjustment(result.zoneShare, previous.zoneShare),
        groups: result.groups.map((g) => {
          const printed = presentGroupFigures(g)
          return {
            name: g.name, basis: g.basis, base: printed.base ?? null, actual: printed.actual, increment: printed.increment ?? null,
            carriedShortfallIn: printed.carriedShortfallIn ?? null, shareable: printed.shareable ?? null, zoneShare: printed.zoneShare,
            districtShare: printed.districtShare, carriedShortfallOut: printed.carriedShortfallOut ?? null, bands: JSON.stringify(printed.bands),
            result: serializeGroupResult(g),
          }
        }),
      })
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
  if (conflicts.length > 0) throw new HttpProblem(409, 'prior-year-not-finalized', conflicts[0]!.message + (conflicts.length > 1 ? ` (and ${conflicts.length - 1} more)` : ''), conflicts)
  if (problems.length > 0) throw new HttpProblem(422, 'cannot-settle', problems[0]!.message + (problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''), problems)
  return id
}

/** Finalizes a draft run: from then on nothing can change it, the database included. */
export async function finalizeSettlementRun (tx: Db, id: number, keyId: string): Promise<void> {
  const found = await findRun(tx, ALL, id)
  if (found === undefined) throw new HttpProblem(404, 'not-found', `No settlement run ${id}.`)
  const { run } = found
  if (run.status === 'finalized') throw new HttpProblem(409, 'already-finalized', `Settlement run ${id} was finalized on ${run.finalizedAt}; it can no longer change.`)
  if (!(await tryLockYear(tx, run.fiscalYear))) throw yearBusy(run.fiscalYear)
  const changes = await changedSince(tx, run.id, run.fiscalYear)
  if (changes.length > 0) {
    throw new HttpProblem(409, 'settlement-stale', `The ${changes.join(', ')} of ${run.fiscalYear} changed after run ${id} was computed; ` +
      'create a new run and finalize that one.')
  }
  const finalized = await latestFinalizedLines(tx, [run.fiscalYear])
  const overtaken = found.lines.filter((l) => l.kind === 'annual' && finalized.has(`${l.agreementId}|${run.fiscalYear}`))
  if (overtaken.length > 0) {
    throw new HttpProblem(409, 'already-settled', `Agreement ${overtaken[0]!.agreementId} already has a finalized ${run.fiscalYear} settlement; ` +
      'create a new run: it will be a supplementary settlement (补充结算).')
  }
  await markFinalized(tx, id, keyId)
}
