import createClient from 'openapi-fetch'
import type { Test } from 'tap'
import type { DatabaseHandle } from '../../src/db/connect.js'
import { testApp, testDatabase } from '../helpers.js'
import type { paths } from './api.js'

/*
 * A typed client of the API, its types generated from the committed openapi/openapi.json
 * (`npm run openapi` writes test/client/api.d.ts; `npm run openapi:check` fails on drift), so a
 * call that the document does not describe fails the typecheck.
 */

export type { paths } from './api.js'
export type ApiClient = ReturnType<typeof apiClient>

/** A client of the server at baseUrl with the bearer token given. */
export function apiClient (baseUrl: string, token: string) {
  return createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${token}` } })
}

/** The service on a migrated test database, listening on a free port of 127.0.0.1; closed when the test ends. */
export async function listeningServer (t: Test): Promise<{ baseUrl: string, database: DatabaseHandle }> {
  const database = await testDatabase(t)
  const app = await testApp(t, database)
  const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' })
  return { baseUrl, database }
}
