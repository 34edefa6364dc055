import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import type { DatabaseHandle } from '../../db/connect.js'
import { latestMigration } from '../../db/migrate.js'
import { Problems } from '../../domain/errors.js'
import { answerUnderPressure } from '../defences.js'
import { problemResponses } from '../schemas/common.js'

/* GET /health and GET /ready (api-contract.md, Public endpoints). */

export interface HealthRoutesOptions {
  database: DatabaseHandle
  readyTimeoutMs: number
}

export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (app, { database, readyTimeoutMs }) => {
  const migration = await latestMigration()
  // Probes are never rate-limited: a liveness probe refused with 429 (its address's budget spent by
  // browsers behind the same proxy) would have a healthy instance restarted. Nor is /health shed
  // under pressure (503), for the same reason.
  app.get('/health', {
    config: { rateLimit: false, pressureHandler: answerUnderPressure },
    schema: {
      operationId: 'health',
      summary: '存活 the process is running',
      tags: ['operations'],
      response: { 200: Type.Object({ status: Type.Literal('ok', { description: '状态 always "ok" while the process runs' }) }, { additionalProperties: false, examples: [{ status: 'ok' }] }) },
    },
  }, async () => ({ status: 'ok' as const }))

  app.get('/ready', {
    config: { rateLimit: false },
    schema: {
      operationId: 'ready',
      summary: '就绪 the database answers, with this service\'s schema',
      description: '200 when the database answers within a short timeout and holds this service\'s schema (its last migration applied); ' +
        '503 problem+json `database-unavailable` when it does not answer, or answers without the schema (re-created or restored under the running service).',
      tags: ['operations'],
      response: {
        200: Type.Object({ status: Type.Literal('ready', { description: '状态 "ready": the database answers, with this service\'s schema' }) }, { additionalProperties: false, examples: [{ status: 'ready' }] }),
        ...problemResponses(503),
      },
    },
  }, async () => {
    switch (await database.readiness(readyTimeoutMs, migration)) {
      case 'unavailable': throw Problems.databaseUnavailable('The database does not answer.')
      case 'unmigrated': throw Problems.databaseUnmigrated(migration)
      case 'ready': break
    }
    return { status: 'ready' as const }
  })
}
