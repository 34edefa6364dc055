import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import * as advances from '../../services/advances.js'
import { ADMIN_OR_DISTRICT, EVERY_ROLE } from '../access.js'
import { answerWrite, asIs, contextOf, documentOperations, pageOf, type RouteDeps } from '../routing.js'
import * as schemas from '../schemas/advances.js'
import { idFromParam } from '../schemas/common.js'

/* Advances (预拨) — api-contract.md, Advances. */

export const advanceRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  documentOperations(app, 'advances')

  app.post('/advances', { config: { access: ADMIN_OR_DISTRICT }, schema: schemas.recordAdvanceSchema },
    async (request, reply) => answerWrite(request, reply, deps, 201, (ctx) => advances.recordAdvance(ctx, request.body), asIs))

  app.get('/advances', { config: { access: EVERY_ROLE }, schema: schemas.listAdvancesSchema }, async (request) => {
    const { agreementId, fiscalYear } = request.query
    const filter = { fiscalYear, agreementId: agreementId === undefined ? undefined : idFromParam(agreementId) }
    return advances.advances(contextOf(request, deps), filter, pageOf(request.query))
  })
}
