import { adjacentVersions, findAgreement } from '../db/agreements.js'
import type { Db } from '../db/database.js'
import { groupActuals, lastRevenueYear } from '../db/revenue.js'
import { readOnly } from '../db/read-only.js'
import { chainHeads, chainWriteOffs, lastFinalizedYear } from '../db/settlements.js'
import { Problems } from '../domain/errors.js'
import { planScenario, runScenario, type ScenarioRequestJson, type ScenarioResult } from '../domain/scenario.js'
import type { Context } from './context.js'

/*
 * 测算 (api-contract.md, Scenarios): an agreement settled year by year as it is and as changed, side by
 * side, on the revenue on record and, after the last year on record, on revenue projected from it.
 * One read-only transaction (one snapshot of the records); nothing is stored. Every key may run one
 * within its scope: an agreement outside it answers 404, as every other read of it does.
 */

export function scenario (ctx: Context, request: ScenarioRequestJson): Promise<ScenarioResult> {
  return readOnly(ctx.db, async (tx: Db) => {
    const agreement = await findAgreement(tx, ctx.actor.scope, request.agreementId)
    if (agreement === undefined) throw Problems.notFound(`agreement ${request.agreementId}`)
    const plan = planScenario(agreement, request, ctx.settings.minZoneRate)
    const [lastRevenue, lastFinalized] = await Promise.all([lastRevenueYear(tx, agreement.id), lastFinalizedYear(tx, agreement.id)])
    if (lastRevenue === undefined) throw Problems.scenarioWithoutRevenue(agreement.id, agreement.effectiveTo)
    // A year settled and signed is on record, revenue or none: it is never projected (a year finalized on
    // no revenue was projected from the year before it, and the next year carried in the signed line's shortfall).
    const last = Math.max(lastRevenue, lastFinalized ?? lastRevenue)
    // A(y) as a run reads it, for every year the chains settle (and the year before, for prior_year bases) up to the last on record.
    const years = new Set([last])
    for (let y = plan.chainFrom - 1; y <= Math.min(plan.toYear, last); y++) years.add(y)
    // The agreement's own finalized lines of the chain's years: what a run carries in from (§6), whatever the revenue on record says now.
    const chainYears = Array.from({ length: Math.max(0, plan.toYear - plan.chainFrom) }, (_, i) => plan.chainFrom + i)
    // The agreement's last year among the scenario's: what becomes of its shortfalls (§6), as a run's line says.
    const lastYear = agreement.effectiveTo !== null && agreement.effectiveTo >= plan.fromYear && agreement.effectiveTo <= plan.toYear ? agreement.effectiveTo : undefined
    const [actuals, previous, signed, next, writtenOff] = await Promise.all([
      groupActuals(tx, [...years], [agreement.id]),
      plan.chainFrom === agreement.effectiveFrom ? adjacentVersions(tx, [agreement.id], 'previous') : Promise.resolve(new Map()),
      chainHeads(tx, chainYears, [agreement.id]),
      lastYear === undefined ? Promise.resolve(new Map()) : adjacentVersions(tx, [agreement.id], 'next'),
      lastYear === undefined ? Promise.resolve(new Set<string>()) : chainWriteOffs(tx, lastYear, [agreement.id]),
    ])
    const predecessor = previous.get(agreement.id)
    const head = predecessor === undefined ? undefined : (await chainHeads(tx, [plan.chainFrom - 1], [predecessor.id])).of(predecessor.id, plan.chainFrom - 1)
    return runScenario(plan, {
      recorded: (position, year) => actuals.of(agreement.id, position, year),
      lastRecordedYear: last,
      predecessor,
      predecessorCarriedOut: head?.carriedOut,
      finalizedCarriedOut: (year) => signed.of(agreement.id, year)?.carriedOut,
      successor: next.get(agreement.id),
      writtenOff: (group) => writtenOff.has(`${agreement.id}/${group}`),
    })
  })
}
