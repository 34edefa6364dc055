import type { FastifyInstance } from 'fastify'
import { validatorCompiler } from './validation.js'

/**
 * Lets the routes of `app` take text/csv bodies as streams (the import services read them as they
 * arrive), and answers the validator compiler such a route uses: its body is checked line by line
 * by the import, its query string as usual.
 */
export function acceptCsvBodies (app: FastifyInstance) {
  app.addContentTypeParser('text/csv', (_request, payload, done) => { done(null, payload) })
  const compile = validatorCompiler()
  return ({ schema, httpPart }: { schema: object, httpPart?: string }) => httpPart === 'body' ? () => true : compile({ schema, httpPart })
}
