import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import * as transfers from '../../services/transfers.js'
import { ADMIN_ONLY, EVERY_ROLE } from '../access.js'
import { answerWrite, contextOf, documentOperations, pageOf, type RouteDeps } from '../routing.js'
import { idFromParam } from '../schemas/common.js'
import * as schemas from '../schemas/transfers.js'
import { presentTransfer } from '../schemas/transfers.js'

/* Responsibility transfers (事权划转, 财随事走) — api-contract.md, Responsibility transfers; calculation-rules.md §4. */

export const transferRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  documentOperations(app, 'agreements')

  app.post('/responsibility-transfers', { config: { access: ADMIN_ONLY }, schema: schemas.createTransferSchema },
    async (request, reply) => answerWrite(request, reply, deps, 201, (ctx) => transfers.recordTransfer(ctx, request.body), presentTransfer))

  app.get('/responsibility-transfers', { config: { access: EVERY_ROLE }, schema: schemas.listTransfersSchema }, async (request) => {
    const { agreementId } = request.query
    const page = await transfers.transfers(contextOf(request, deps), { agreementId: agreementId === undefined ? undefined : idFromParam(agreementId) }, pageOf(request.query))
    return { items: page.items.map(presentTransfer), nextCursor: page.nextCursor }
  })
}
