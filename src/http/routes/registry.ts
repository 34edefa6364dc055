import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import * as registry from '../../services/registry.js'
import { ADMIN_ONLY, EVERY_ROLE } from '../access.js'
import { answerWrite, asIs, contextOf, documentOperations, pageOf, type RouteDeps } from '../routing.js'
import * as schemas from '../schemas/registry.js'

/* Revenue categories, districts and zones (api-contract.md, Registry). */

export const registryRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  documentOperations(app, 'registry')

  app.get('/revenue-categories', { config: { access: EVERY_ROLE }, schema: schemas.listRevenueCategoriesSchema },
    async (request) => registry.listCategories(contextOf(request, deps), pageOf(request.query), request.query.kind))

  app.post('/revenue-categories', { config: { access: ADMIN_ONLY }, schema: schemas.createRevenueCategorySchema },
    async (request, reply) => answerWrite(request, reply, deps, 201, (ctx) => registry.createCategory(ctx, request.body), asIs))

  app.get('/districts', { config: { access: EVERY_ROLE }, schema: schemas.listDistrictsSchema },
    async (request) => registry.districts(contextOf(request, deps), pageOf(request.query)))

  app.get('/districts/:code', { config: { access: EVERY_ROLE }, schema: schemas.getDistrictSchema },
    async (request) => registry.district(contextOf(request, deps), request.params.code))

  app.post('/districts', { config: { access: ADMIN_ONLY }, schema: schemas.createDistrictSchema },
    async (request, reply) => answerWrite(request, reply, deps, 201, (ctx) => registry.createDistrict(ctx, request.body), asIs))

  app.get('/zones', { config: { access: EVERY_ROLE }, schema: schemas.listZonesSchema },
    async (request) => registry.zones(contextOf(request, deps), pageOf(request.query)))

  app.get('/zones/:code', { config: { access: EVERY_ROLE }, schema: schemas.getZoneSchema },
    async (request) => registry.zone(contextOf(request, deps), request.params.code))

  app.post('/zones', { config: { access: ADMIN_ONLY }, schema: schemas.createZoneSchema },
    async (request, reply) => answerWrite(request, reply, deps, 201, (ctx) => registry.createZone(ctx, request.body), asIs))
}
