import createClient, { type Middleware } from 'openapi-fetch'
import type { Test } from 'tap'
import type { DatabaseHandle } from '../../src/db/connect.js'
import { contractViolation } from '../contract.js'
import { testApp, testDatabase } from '../helpers.js'
import type { paths } from './api.js'

/*
 * A typed client of the API, its types generated from the committed openapi/openapi.json
 * (`npm run openapi` writes test/client/api.d.ts; `npm run openapi:check` fails on drift), so a
 * call that the document does not describe fails the typecheck.
 */

export type { paths } from './api.js'
export type ApiClient = ReturnType<typeof apiClient>

/**
 * Every answer the client receives is held against the committed document too, as test/helpers.ts
 * does for app.inject: a status, content type or body it does not describe fails the call.
 */
const holdToContract: Middleware = {
  async onResponse ({ request, response }) {
    const headers = Object.fromEntries(response.headers.entries())
    const body = await response.clone().text()
    const violation = contractViolation(request.method, new URL(request.url).pathname, { statusCode: response.status, headers, body })
    if (violation !== undefined) throw new Error(`response breaks openapi/openapi.json: ${violation}`)
    return undefined
  },
}

/** A client of the server at baseUrl with the bearer token given. */
export function apiClient (baseUrl: string, token: string) {
  const client = createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${token}` } })
  client.use(holdToContract)
  return client
}

/** The service on a migrated test database, listening on a free port of 127.0.0.1; closed when the test ends. */
export async function listeningServer (t: Test): Promise<{ baseUrl: string, database: DatabaseHandle }> {
  const database = await testDatabase(t)
  const app = await testApp(t, database)
  const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' })
  return { baseUrl, database }
}
