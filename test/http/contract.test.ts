import t from 'tap'
import { contractViolation } from '../contract.js'
import Fastify from 'fastify'
import { apiClient } from '../client/index.js'
import { holdToContract, testApp, testDatabase } from '../helpers.js'
import { get } from '../world.js'

/* The contract check that testApp applies to every response: each answer as the published document describes it (api-contract.md, Public endpoints: /openapi.json; Errors). */

const json = { 'content-type': 'application/json; charset=utf-8' }

t.test('a documented answer passes', async (t) => {
  t.equal(contractViolation('GET', '/health', { statusCode: 200, headers: json, body: '{"status":"ok"}' }), undefined)
  t.equal(contractViolation('GET', '/v1/debts/summary?asOf=2021-12-31', {
    statusCode: 401, headers: { 'content-type': 'application/problem+json' },
    body: '{"type":"urn:x","title":"Unauthorized","status":401,"detail":"no token"}',
  }), undefined, 'a literal segment (summary) is matched before {id}')
})

t.test('an undocumented status, field, value or content type fails', async (t) => {
  t.match(contractViolation('GET', '/health', { statusCode: 201, headers: json, body: '{"status":"ok"}' }), /GET \/health → 201: status not documented/)
  t.match(contractViolation('GET', '/health', { statusCode: 200, headers: json, body: '{"status":"ok","uptime":3}' }), /must NOT have additional properties/)
  t.match(contractViolation('GET', '/health', { statusCode: 200, headers: json, body: '{"status":"fine"}' }), /data\/status must be equal to one of the allowed values/)
  t.match(contractViolation('GET', '/health', { statusCode: 200, headers: { 'content-type': 'text/html' }, body: '<p>ok</p>' }), /content type text\/html not documented/)
  t.match(contractViolation('GET', '/v1/debts/7', { statusCode: 404, headers: json, body: '{}' }), /GET \/v1\/debts\/\{id\} → 404: content type application\/json not documented/)
  t.match(contractViolation('GET', '/v1/debts/7', { statusCode: 404, headers: { 'content-type': 'application/problem+json' }, body: '{"type":"urn:x","title":"Not Found","status":404}' }),
    /must have required property 'detail'/, 'the shared problem schema (components.schemas.Problem) is enforced through its $ref')
})

t.test('a documented header the answer carries holds what the document says (components.headers, through their $ref)', async (t) => {
  const problem = { 'content-type': 'application/problem+json' }
  const body = '{"type":"urn:x","title":"Unauthorized","status":401,"detail":"no token"}'
  const unauthorized = (headers: Record<string, unknown>) => contractViolation('GET', '/v1/debts/7', { statusCode: 401, headers: { ...problem, ...headers }, body })
  t.equal(unauthorized({ 'www-authenticate': 'Bearer realm="revenue-sharing"', 'x-request-id': '7d444840-9dc0-11d1-b245-5ffdce74fad2', 'x-ratelimit-remaining': '3' }), undefined)
  t.match(unauthorized({ 'www-authenticate': 'Basic' }), /GET \/v1\/debts\/\{id\} → 401: header WWW-Authenticate "Basic" does not match/)
  t.match(unauthorized({ 'x-request-id': 'req-1' }), /header X-Request-Id "req-1" does not match/)
  t.match(unauthorized({ 'x-ratelimit-remaining': '-1' }), /header X-RateLimit-Remaining "-1" does not match/)
  t.match(contractViolation('GET', '/v1/settlement-runs/1/statement', { statusCode: 200, headers: { 'content-type': 'text/csv', 'content-disposition': 'inline' }, body: 'x' }),
    /header Content-Disposition "inline" does not match/)
})

t.test('testApp holds every injected response to the document', async (t) => {
  const app = await testApp(t, await testDatabase(t))
  t.equal((await get(app, '/v1/districts')).statusCode, 200, 'a conforming answer passes through')
  // The same wrapper on an app that answers /health outside its documentation.
  const rogue = Fastify()
  rogue.get('/health', async () => ({ status: 'ok', uptime: 3 }))
  holdToContract(rogue)
  t.teardown(() => rogue.close())
  await t.rejects(rogue.inject({ method: 'GET', url: '/health' }), /response breaks openapi\/openapi.json: GET \/health → 200: body does not match/)
})

t.test('the typed client (test/e2e) holds every answer to the document as well', async (t) => {
  const rogue = Fastify()
  rogue.get('/health', async () => ({ status: 'ok', uptime: 3 }))
  t.teardown(() => rogue.close())
  const client = apiClient(await rogue.listen({ port: 0, host: '127.0.0.1' }), 'any-token')
  await t.rejects(client.GET('/health'), /response breaks openapi\/openapi.json: GET \/health → 200: body does not match/)
})
