import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { auditEvents } from '../../services/audit.js'
import * as keys from '../../services/keys.js'
import { ADMIN_ONLY } from '../access.js'
import { answerWrite, asIs, contextOf, documentOperations, pageOf, type RouteDeps } from '../routing.js'
import * as schemas from '../schemas/access.js'

/* API keys and the audit log (api-contract.md, Roles and scope). Admins only. */

export const accessRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  documentOperations(app, 'access')

  app.post('/api-keys', { config: { access: ADMIN_ONLY }, schema: schemas.createApiKeySchema },
    async (request, reply) => answerWrite(request, reply, deps, 201, (ctx) => keys.issueKey(ctx, request.body), schemas.presentIssuedKey,
      { replay: schemas.presentReplayedKey }))

  app.get('/api-keys', { config: { access: ADMIN_ONLY }, schema: schemas.listApiKeysSchema },
    async (request) => keys.keys(contextOf(request, deps), pageOf(request.query)))

  app.delete('/api-keys/:id', { config: { access: ADMIN_ONLY }, schema: schemas.revokeApiKeySchema },
    async (request, reply) => answerWrite(request, reply, deps, 200, (ctx) => keys.revokeKey(ctx, request.params.id), asIs))

  app.get('/audit-events', { config: { access: ADMIN_ONLY }, schema: schemas.listAuditEventsSchema },
    async (request) => auditEvents(contextOf(request, deps), pageOf(request.query), request.query))
}
