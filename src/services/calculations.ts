import { type CalculationRequestJson, parseCalculationRequest } from '../domain/calculation-request.js'
import { computeAgreementYear } from '../domain/engine.js'
import { InputError } from '../domain/errors.js'
import { magnitudeIssues } from '../domain/magnitudes.js'
import type { AgreementYearResult } from '../domain/types.js'
import type { Settings } from './context.js'

/* 试算 (api-contract.md, POST /v1/calculations): the engine on inputs given in full; nothing is read or stored. */

/**
 * Checks the request against calculation-rules.md §2–§4 under the deployment's floor, and computes
 * the year; a figure beyond 18 integer digits (§1) is refused, naming the input that led there.
 */
export function calculate (settings: Settings, request: CalculationRequestJson): AgreementYearResult {
  const result = computeAgreementYear(parseCalculationRequest(request, settings.minZoneRate))
  const tooLarge = magnitudeIssues(result, (i) => ({ actual: `/groups/${i}/actual`, base: `/groups/${i}/base`, growth: `/groups/${i}/base/growthRate`, transfers: `/groups/${i}/base/transfers` }),
    { totals: '/groups', advances: '/advancesPaid' },
    (what, i) => `${i === undefined ? 'the groups give' : `group "${request.groups[i]?.name ?? ''}" gives`} ${what} (calculation-rules.md §1)`)
  if (tooLarge.length > 0) throw new InputError('rule', tooLarge)
  return result
}
