import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { presentAgreementYear } from '../../domain/presentation.js'
import { calculate } from '../../services/calculations.js'
import { EVERY_ROLE } from '../access.js'
import { explanationLanguage } from '../language.js'
import { documentOperations, type RouteDeps } from '../routing.js'
import { calculateSchema } from '../schemas/calculations.js'

/* POST /v1/calculations — 试算: the engine on inputs given in full, nothing stored. */

export const calculationRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  documentOperations(app, 'calculations')

  app.post('/calculations', { config: { access: EVERY_ROLE }, schema: calculateSchema }, async (request, reply) => {
    const result = calculate(deps.settings, request.body)
    return presentAgreementYear(result, explanationLanguage(request, reply))
  })
}
