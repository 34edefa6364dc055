import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import * as revenue from '../../services/revenue.js'
import { ADMIN_OR_DISTRICT, EVERY_ROLE } from '../access.js'
import { acceptCsvBodies } from '../csv-bodies.js'
import { answerWrite, asIs, contextOf, documentOperations, pageOf, type RouteDeps } from '../routing.js'
import * as schemas from '../schemas/revenue.js'

/* Revenue records (实际收入): JSON batches, streamed CSV imports, lists and revision history (api-contract.md, Revenue). */

export const revenueRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  documentOperations(app, 'revenue')
  // CSV bodies reach the import as a stream, read from the file they were spooled to.
  const csv = acceptCsvBodies(app, { limit: deps.settings.importLimit })

  app.post('/revenues', { config: { access: ADMIN_OR_DISTRICT }, schema: schemas.recordRevenueSchema },
    async (request, reply) => answerWrite(request, reply, deps, 200, (ctx) => revenue.recordRevenue(ctx, request.body.records), asIs))

  app.post('/revenues/import', { config: { access: ADMIN_OR_DISTRICT }, validatorCompiler: csv.validatorCompiler, preParsing: csv.preParsing, schema: schemas.importRevenueSchema },
    async (request, reply) => answerWrite(request, reply, deps, 200, (ctx) => revenue.importRevenue(ctx, request.body, request.query.partial === true), asIs))

  app.get('/revenues', { config: { access: EVERY_ROLE }, schema: schemas.listRevenueSchema }, async (request) => {
    const { limit, cursor, ...filter } = request.query
    return revenue.revenue(contextOf(request, deps), filter, pageOf({ limit, cursor }))
  })

  app.get('/revenues/:zoneCode/:districtCode/:category/:year/:month/history', { config: { access: EVERY_ROLE }, schema: schemas.revenueHistorySchema },
    async (request) => revenue.history(contextOf(request, deps), request.params, pageOf(request.query)))
}
