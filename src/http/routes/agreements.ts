import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import * as agreements from '../../services/agreements.js'
import { ADMIN_ONLY, EVERY_ROLE } from '../access.js'
import { answerWrite, contextOf, documentOperations, pageOf, type RouteDeps } from '../routing.js'
import * as schemas from '../schemas/agreements.js'
import { presentAdjustment, presentAgreement } from '../schemas/agreements.js'
import { idFromParam } from '../schemas/common.js'

/* Agreements (分成办法) and base adjustments (基数调整) — api-contract.md, Registry; calculation-rules.md §2–§4. */

export const agreementRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  documentOperations(app, 'agreements')

  app.post('/agreements', { config: { access: ADMIN_ONLY }, schema: schemas.createAgreementSchema },
    async (request, reply) => answerWrite(request, reply, deps, 201, (ctx) => agreements.createAgreement(ctx, request.body), (a) => presentAgreement(a)))

  app.get('/agreements', { config: { access: EVERY_ROLE }, schema: schemas.listAgreementsSchema }, async (request) => {
    const { limit, cursor, ...filter } = request.query
    const page = await agreements.agreements(contextOf(request, deps), filter, pageOf({ limit, cursor }))
    return { items: page.items.map((a) => presentAgreement(a)), nextCursor: page.nextCursor }
  })

  app.get('/agreements/:id', { config: { access: EVERY_ROLE }, schema: schemas.getAgreementSchema }, async (request) => {
    const ctx = contextOf(request, deps)
    const id = idFromParam(request.params.id)
    const { year } = request.query
    if (year === undefined) return presentAgreement(await agreements.agreement(ctx, id))
    const inYear = await agreements.agreementInYear(ctx, id, year)
    return presentAgreement(inYear.agreement, inYear)
  })

  app.patch('/agreements/:id', { config: { access: ADMIN_ONLY }, schema: schemas.endAgreementSchema },
    async (request, reply) => answerWrite(request, reply, deps, 200, (ctx) => agreements.endAgreement(ctx, idFromParam(request.params.id), request.body.effectiveTo), (a) => presentAgreement(a)))

  app.post('/agreements/:id/base-adjustments', { config: { access: ADMIN_ONLY }, schema: schemas.createBaseAdjustmentSchema },
    async (request, reply) => answerWrite(request, reply, deps, 201, (ctx) => agreements.addBaseAdjustment(ctx, idFromParam(request.params.id), request.body), presentAdjustment))
}
