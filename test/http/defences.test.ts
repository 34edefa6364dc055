import t from 'tap'
import { ADMIN_TOKEN, expectProblem, testApp, testDatabase } from '../helpers.js'
import { buildWorld, injector } from '../world.js'

/*
 * Defences of the service: security headers, a request budget per token, load shedding and
 * CORS — each refusal a problem+json with Retry-After, as api-contract.md (Errors) asks of every 4xx/5xx.
 */

const database = await testDatabase(t)

t.test('security headers on every answer, the API and Swagger UI alike', async (t) => {
  const injectAs = injector(await testApp(t, database))
  for (const url of ['/health', '/v1/districts', '/docs/']) {
    const response = await injectAs('admin', { method: 'GET', url })
    t.equal(response.headers['x-content-type-options'], 'nosniff', `${url}: nosniff`)
    t.equal(response.headers['x-frame-options'], 'SAMEORIGIN', `${url}: no framing by other sites`)
    t.match(String(response.headers['content-security-policy']), /default-src 'self'.*frame-ancestors 'none'/, `${url}: a content security policy`)
    t.equal(response.headers['referrer-policy'], 'no-referrer', `${url}: no referrer`)
    t.equal(response.headers['access-control-allow-origin'], '*', `${url}: CORS without credentials`)
    t.equal(response.headers['access-control-allow-credentials'], undefined, `${url}: never credentials`)
  }
  // Refusals too: unauthenticated, no such route, a body the schema refuses, a rule the engine refuses.
  const app = await testApp(t, database)
  const refusals = [
    { status: 401, response: await app.inject({ method: 'GET', url: '/v1/districts' }) },
    { status: 404, response: await injectAs('admin', { method: 'GET', url: '/v1/no-such-route' }) },
    { status: 400, response: await injectAs('admin', { method: 'POST', url: '/v1/calculations', payload: { fiscalYear: 2022, groups: [] } }) },
    { status: 422, response: await injectAs('admin', { method: 'POST', url: '/v1/calculations', payload: { fiscalYear: 2022, minimumRate: '0.10', groups: [{ name: 'fees', basis: 'total', actual: '1.00', rates: [{ rate: '0.50' }] }] } }) },
  ]
  for (const { status, response } of refusals) {
    t.equal(response.statusCode, status, `a ${status} refusal`)
    t.equal(response.headers['x-content-type-options'], 'nosniff', `${status}: nosniff`)
    t.equal(response.headers['x-frame-options'], 'SAMEORIGIN', `${status}: no framing by other sites`)
    t.match(String(response.headers['content-security-policy']), /default-src 'self'.*frame-ancestors 'none'/, `${status}: a content security policy`)
  }
})

t.test('CORS_ORIGIN narrows the origin browsers may call from', async (t) => {
  const app = await testApp(t, database, { corsOrigin: 'https://czj.example.gov.cn' })
  const response = await app.inject({ method: 'GET', url: '/health', headers: { origin: 'https://czj.example.gov.cn' } })
  t.equal(response.headers['access-control-allow-origin'], 'https://czj.example.gov.cn')
})

t.test('CORS: a preflight allows every method an operation has, and a page may read the service\'s own headers ' +
  '(the preflight allowed GET, HEAD and POST alone: PATCH /v1/agreements/{id} and DELETE /v1/api-keys/{id} were refused to another origin; found by a probe)', async (t) => {
  const app = await testApp(t, database, { corsOrigin: 'https://czj.example.gov.cn' })
  for (const [method, url] of [['PATCH', '/v1/agreements/1'], ['DELETE', '/v1/api-keys/1'], ['POST', '/v1/calculations']] as const) {
    const preflight = await app.inject({ method: 'OPTIONS', url, headers: { origin: 'https://czj.example.gov.cn', 'access-control-request-method': method, 'access-control-request-headers': 'authorization, content-type, idempotency-key' } })
    t.equal(preflight.statusCode, 204, `${method} ${url}`)
    t.ok(String(preflight.headers['access-control-allow-methods']).split(/\s*,\s*/).includes(method), `${method} is allowed: ${preflight.headers['access-control-allow-methods']}`)
    t.equal(preflight.headers['access-control-allow-origin'], 'https://czj.example.gov.cn')
  }
  const answer = await app.inject({ method: 'GET', url: '/v1/districts', headers: { origin: 'https://czj.example.gov.cn', authorization: `Bearer ${ADMIN_TOKEN}` } })
  t.equal(answer.statusCode, 200)
  const exposed = String(answer.headers['access-control-expose-headers']).toLowerCase().split(/\s*,\s*/)
  for (const header of ['idempotent-replayed', 'retry-after', 'x-ratelimit-remaining', 'content-disposition', 'x-request-id']) t.ok(exposed.includes(header), `${header} can be read by the page`)
})

t.test('rate limit: a budget per token, 429 problem+json with Retry-After beyond it', async (t) => {
  const world = await buildWorld(t, await testApp(t, database))
  const injectAs = injector(await testApp(t, database, { rateLimit: { max: 5, timeWindowMs: 60_000 } }), world)
  for (let i = 1; i <= 5; i++) {
    const response = await injectAs('admin', { method: 'GET', url: '/v1/districts' })
    t.equal(response.statusCode, 200, `request ${i} of 5 passes`)
    t.equal(response.headers['x-ratelimit-remaining'], String(5 - i), `${5 - i} left`)
  }
  const over = await injectAs('admin', { method: 'GET', url: '/v1/districts' })
  const problem = expectProblem(t, over, 429)
  t.match(problem.detail, /More than 5 requests in 60 s with this token/)
  t.ok(Number(over.headers['retry-after']) >= 1, 'Retry-After in seconds')
  t.equal(over.headers['x-ratelimit-limit'], '5')
  t.equal(over.headers['x-ratelimit-remaining'], '0')
  t.type(problem.requestId, 'string', 'the request id, as in the log')

  // Another token has a budget of its own, and its answers count it down.
  const first = await injectAs('district214', { method: 'GET', url: '/v1/districts' })
  t.equal(first.statusCode, 200, 'a district key is not limited by the admin\'s use')
  t.equal(first.headers['x-ratelimit-remaining'], '4')

  // A refused request changes nothing.
  const refused = await injectAs('admin', { method: 'POST', url: '/v1/districts', payload: { code: '370211', name: '黄岛区' } })
  expectProblem(t, refused, 429)
  const districts = await injectAs('district203', { method: 'GET', url: '/v1/districts' })
  t.notOk((districts.json() as { items: Array<{ code: string }> }).items.some((d) => d.code === '370211'), 'the refused district was not created')
})

t.test('rate limit: /health and /ready answer whatever the budget (a liveness probe refused with 429 would restart a healthy instance); a request without a token is told its address spent the budget', async (t) => {
  const app = await testApp(t, database, { rateLimit: { max: 2, timeWindowMs: 60_000 } })
  for (let i = 1; i <= 2; i++) t.equal((await app.inject({ method: 'GET', url: '/openapi.json' })).statusCode, 200, `request ${i} of 2 from the address passes`)
  const over = expectProblem(t, await app.inject({ method: 'GET', url: '/openapi.json' }), 429)
  t.match(over.detail, /^More than 2 requests in 60 s from this address without a token; retry in /)
  for (let i = 0; i < 3; i++) {
    const health = await app.inject({ method: 'GET', url: '/health' })
    t.equal(health.statusCode, 200, '/health with the budget spent')
    t.equal(health.headers['x-ratelimit-limit'], undefined, 'and it is not counted')
    t.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 200, '/ready with the budget spent')
  }
  const document = (await testApp(t, database)).swagger() as { paths: Record<string, { get: { responses: Record<string, { headers?: Record<string, unknown> }> } }> }
  for (const probe of ['/health', '/ready']) {
    const { responses } = document.paths[probe]!.get
    t.notOk('429' in responses, `${probe} documents no 429`)
    t.notOk(Object.values(responses).some((r) => r.headers?.['X-RateLimit-Limit'] !== undefined), `${probe} documents no rate-limit headers`)
  }
})

t.test('rate limit: a /v1 request refused 401 (no token, or one not valid) or 403 (its role) is counted too, and carries the X-RateLimit headers every other ' +
  'answer does (README, Limits: per address without a token); they were refused before the limit saw them, and said nothing of it (found by a probe)', async (t) => {
  const open = await testApp(t, database)
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }
  await open.inject({ method: 'POST', url: '/v1/districts', headers: admin, payload: { code: '370285', name: '限流测试区' } })
  const { token } = (await open.inject({ method: 'POST', url: '/v1/api-keys', headers: admin, payload: { role: 'district', districtCode: '370285', label: 'rate limit' } })).json() as { token: string }
  const app = await testApp(t, database, { rateLimit: { max: 3, timeWindowMs: 60_000 } })
  for (let i = 1; i <= 3; i++) {
    const refused = await app.inject({ method: 'GET', url: '/v1/districts' })
    t.equal(refused.statusCode, 401, `request ${i} of 3 without a token: 401`)
    t.equal(refused.headers['x-ratelimit-remaining'], String(3 - i), `${3 - i} left`)
  }
  const unauthorized = await app.inject({ method: 'GET', url: '/v1/zones' })
  t.equal(unauthorized.statusCode, 429, 'the fourth from the address is over its budget')
  const first = await app.inject({ method: 'GET', url: '/v1/zones', headers: { authorization: 'Bearer not-a-token-of-this-service' } })
  t.equal(first.statusCode, 401)
  t.equal(first.headers['x-ratelimit-limit'], '3', 'a 401 carries the headers')
  t.equal(first.headers['x-ratelimit-remaining'], '2')
  const forbidden = await app.inject({ method: 'POST', url: '/v1/districts', headers: { authorization: `Bearer ${token}` }, payload: { code: '370211', name: '黄岛区' } })
  t.equal(forbidden.statusCode, 403)
  t.equal(forbidden.headers['x-ratelimit-remaining'], '2', 'so does a 403, counted against its token')
})

t.test('under pressure: 503 problem+json with Retry-After, and the service answers again when it eases', async (t) => {
  // A heap threshold every process exceeds stands in for memory pressure.
  const injectAs = injector(await testApp(t, database, { pressure: { maxEventLoopDelayMs: 0, maxHeapUsedBytes: 1 } }))
  await new Promise((resolve) => setTimeout(resolve, 1100)) // one sample of the heap
  const shed = await injectAs('admin', { method: 'POST', url: '/v1/calculations', payload: { fiscalYear: 2021, groups: [] } })
  const problem = expectProblem(t, shed, 503)
  t.match(problem.detail, /overloaded \(heapUsedBytes at \d+\)/)
  t.equal(shed.headers['retry-after'], '10')
  t.equal(expectProblem(t, await injectAs('admin', { method: 'GET', url: '/ready' }), 503).detail.includes('overloaded'), true, '/ready sheds too: a load balancer sends requests elsewhere')
  const health = await injectAs('admin', { method: 'GET', url: '/health' })
  t.equal(health.statusCode, 200, 'the liveness probe answers: a busy process is alive, and restarting it would lose the import holding it (before: 503)')
  t.same(health.json(), { status: 'ok' })

  const calm = await testApp(t, database, { pressure: { maxEventLoopDelayMs: 1000, maxHeapUsedBytes: 0 } })
  t.equal((await calm.inject({ method: 'GET', url: '/health' })).statusCode, 200, 'with room to spare, requests pass')
  // An event loop held through a whole sampling window is reported as Infinity: the 503 says over the limit (a probe saw "eventLoopDelay at Infinity").
  const { pressureText } = await import('../../src/http/defences.js')
  t.equal(pressureText('eventLoopDelay', Infinity, 1000), 'over 1000 ms')
  t.equal(pressureText('eventLoopDelay', 1234.6, 1000), '1235 ms')
  t.equal(pressureText('heapUsedBytes', 123456, 1000), '123456')
})

t.test('a body over the limit is 413 problem+json, and nothing is stored', async (t) => {
  const injectAs = injector(await testApp(t, database, { bodyLimit: 2048 }))
  const response = await injectAs('admin', {
    method: 'POST', url: '/v1/districts', headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ code: '370212', name: '崂山区'.repeat(1000) }),
  })
  expectProblem(t, response, 413)
  t.equal((await injectAs('admin', { method: 'GET', url: '/v1/districts/370212' })).statusCode, 404)
})
