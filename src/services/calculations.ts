import { type CalculationRequestJson, parseCalculationRequest } from '../domain/calculation-request.js'
import { computeAgreementYear } from '../domain/engine.js'
import type { AgreementYearResult } from '../domain/types.js'
import type { Settings } from './context.js'

/* 试算 (api-contract.md, POST /v1/calculations): the engine on inputs given in full; nothing is read or stored. */

/** Checks the request against calculation-rules.md §2–§4 under the deployment's floor, and computes the year. */
export function calculate (settings: Settings, request: CalculationRequestJson): AgreementYearResult {
  return computeAgreementYear(parseCalculationRequest(request, settings.minZoneRate))
}
