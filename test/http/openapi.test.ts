import { readFile } from 'node:fs/promises'
import t from 'tap'
import { openDatabase } from '../../src/db/connect.js'
import { migrate } from '../../src/db/migrate.js'
import { ADMIN_TOKEN, emptyDatabase, expectProblem, testApp, testDatabase } from '../helpers.js'
import { post } from '../world.js'

// The OpenAPI document, /docs, /health and /ready (api-contract.md, Public endpoints).

const database = await testDatabase(t)
const app = await testApp(t, database)
const committed = JSON.parse(await readFile(new URL('../../openapi/openapi.json', import.meta.url), 'utf8'))

type Schema = { description?: string, properties?: Record<string, Schema>, items?: Schema, anyOf?: Schema[], type?: string }
type Operation = { summary?: string, tags?: string[], requestBody?: { content: Record<string, { example?: unknown }> }, security?: unknown[], responses: Record<string, { content?: Record<string, { schema: Schema }> }> }

t.test('GET /openapi.json is the committed openapi/openapi.json, OpenAPI 3.1', async (t) => {
  const response = await app.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(response.statusCode, 200)
  t.same(response.json(), committed)
  t.equal(committed.openapi, '3.1.0')
})

/** Every property of a schema, with its path, recursively. */
function* properties (schema: Schema | undefined, path: string): Generator<[string, Schema]> {
  if (schema === undefined) return
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    yield [`${path}.${name}`, property]
    yield * properties(property, `${path}.${name}`)
  }
  yield * properties(schema.items, `${path}[]`)
  for (const [i, branch] of (schema.anyOf ?? []).entries()) yield * properties(branch, `${path}|${i}`)
}

t.test('every property has a description that gives the Chinese term first; every operation a summary, tags, an example', async (t) => {
  const operations = Object.entries(committed.paths as Record<string, Record<string, Operation>>)
    .flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => [`${method.toUpperCase()} ${path}`, op] as const))
  t.equal(operations.length, 47, 'the 47 operations: /health, /ready and the 45 under /v1')
  let checked = 0
  for (const [name, op] of operations) {
    t.ok(op.summary, `${name} has a summary`)
    t.ok((op.tags ?? []).length > 0, `${name} has tags`)
    if (op.requestBody !== undefined) t.ok(Object.values(op.requestBody.content).some((c) => c.example !== undefined), `${name} has a request example`)
    const success = Object.entries(op.responses).find(([status]) => status.startsWith('2'))?.[1]
    t.ok(Object.values(success?.content ?? {}).some((c) => (c as { example?: unknown }).example !== undefined), `${name} has a response example`)
    if (name.includes(' /v1/')) t.same(op.security, [{ bearerAuth: [] }], `${name} declares bearer security`)
    const schemas = [
      ...Object.values(op.requestBody?.content ?? {}).map((c) => (c as { schema: Schema }).schema),
      ...Object.values(op.responses).flatMap((r) => Object.values(r.content ?? {}).map((c) => c.schema)),
    ]
    for (const schema of schemas) {
      for (const [path, property] of properties(schema, name)) {
        checked++
        if (!/^[\u4e00-\u9fff]/.test(property.description ?? '')) t.fail(`${path} needs a description starting with the Chinese term`, { description: property.description })
      }
    }
  }
  t.ok(checked > 50, `checked ${checked} properties`)
})

t.test('a file answer (?format=csv, xlsx, svg, html) is documented as a file, the JSON answer beside it as JSON (api-contract.md, Public endpoints: /openapi.json)', async (t) => {
  const files: string[] = []
  for (const [path, methods] of Object.entries(committed.paths as Record<string, Record<string, Operation>>)) {
    for (const [method, op] of Object.entries(methods)) {
      for (const [status, response] of Object.entries(op.responses)) {
        for (const [media, entry] of Object.entries(response.content ?? {})) {
          if (media.endsWith('json')) continue
          const where = `${method.toUpperCase()} ${path} ${status} ${media}`
          files.push(where)
          t.equal((entry.schema as Schema & { type?: string }).type, 'string', `${where}: a string, not the JSON answer's schema`)
          if (media.startsWith('application/')) t.equal((entry.schema as Schema & { format?: string }).format, 'binary', `${where}: binary`)
        }
      }
    }
  }
  const scenario = committed.paths['/v1/scenarios'].post.responses['200'].content
  t.same(Object.keys(scenario), ['application/json', 'text/csv', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'image/svg+xml'])
  t.equal(scenario['application/json'].schema.type, 'object', 'the scenario\'s JSON answer keeps its object schema')
  t.ok(scenario['application/json'].schema.properties.years, 'with its years')
  t.ok(scenario['application/json'].example, 'and its example')
  t.equal(scenario['text/csv'].example, undefined, 'the CSV carries no JSON example')
  const statement = committed.paths['/v1/settlement-runs/{id}/statement'].get.responses['200'].content
  t.match(statement['text/csv'].example, /^\uFEFF\d{4}年度结算单/, 'the statement\'s CSV keeps its example, a CSV')
  t.same([statement['text/html'].example, statement['application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'].example], [undefined, undefined],
    'its HTML and xlsx do not carry the CSV example')
  t.ok(files.length >= 11, `checked ${files.length} file answers`)
})

t.test('the documented example request gives the documented example response', async (t) => {
  const op = committed.paths['/v1/calculations'].post
  const response = await post(app, '/v1/calculations', op.requestBody.content['application/json'].example)
  t.equal(response.statusCode, 200)
  t.same(response.json(), op.responses['200'].content['application/json'].example)
})

t.test('Swagger UI is served at /docs', async (t) => {
  const response = await app.inject({ method: 'GET', url: '/docs/' })
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-type'], /text\/html/)
  t.match(response.body, /swagger/i)
})

t.test('/health and /ready', async (t) => {
  t.same((await app.inject({ method: 'GET', url: '/health' })).json(), { status: 'ok' })
  const ready = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready' })
})

t.test('/ready answers 503 problem+json when the database does not answer', async (t) => {
  // Nothing listens on port 1: the connection is refused at once.
  const unreachable = openDatabase({ kind: 'postgres', url: 'postgres://postgres@127.0.0.1:1/none' })
  t.teardown(() => unreachable.close())
  const down = await testApp(t, unreachable)
  const response = await down.inject({ method: 'GET', url: '/ready' })
  const problem = expectProblem(t, response, 503)
  t.match(problem.detail, /database/)
  t.equal(response.headers['retry-after'], '5')
  t.equal((await down.inject({ method: 'GET', url: '/health' })).statusCode, 200, '/health still answers: the process runs')
})

t.test('/ready answers 503 for a database that answers without the schema, as /v1 does, until it is migrated (api-contract.md, Public endpoints: /ready)', async (t) => {
  // A database re-created empty, or restored from before the last migration, under a running service.
  const empty = await emptyDatabase(t)
  const unmigrated = await testApp(t, empty)
  const ready = await unmigrated.inject({ method: 'GET', url: '/ready' })
  const problem = expectProblem(t, ready, 503)
  t.match(problem.type, /:database-unavailable$/)
  t.match(problem.detail, /without this service's schema \(migration 018_settlement_reference_plans\.sql is not applied\).*Restarting the service migrates it/)
  t.equal(ready.headers['retry-after'], '5')
  const read = await unmigrated.inject({ method: 'GET', url: '/v1/agreements', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  t.match(expectProblem(t, read, 503), { type: /:database-unavailable$/, detail: /without this service's schema/ }, 'a request meeting a table that is not there: 503, not 500')
  await migrate(empty)
  t.same((await unmigrated.inject({ method: 'GET', url: '/ready' })).json(), { status: 'ready' }, 'migrated: ready')
  t.equal((await unmigrated.inject({ method: 'GET', url: '/v1/agreements', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).statusCode, 200)
})

t.test('every string has a maxLength and every array a maxItems in the published document (api-contract.md, Public endpoints: /openapi.json)', async (t) => {
  type Node = { type?: string | string[], maxLength?: number, maxItems?: number, enum?: unknown[], const?: unknown, [k: string]: unknown }
  const unbounded: string[] = []
  const walk = (node: unknown, path: string) => {
    if (node === null || typeof node !== 'object') return
    if (Array.isArray(node)) { node.forEach((n, i) => walk(n, `${path}/${i}`)); return }
    const schema = node as Node
    const types = Array.isArray(schema.type) ? schema.type : [schema.type]
    if (types.includes('string') && schema.maxLength === undefined && schema.enum === undefined && schema.const === undefined) unbounded.push(`${path} (string)`)
    if (types.includes('array') && schema.maxItems === undefined) unbounded.push(`${path} (array)`)
    for (const [key, value] of Object.entries(schema)) if (key !== 'example' && key !== 'examples') walk(value, `${path}/${key}`)
  }
  walk(committed.paths, '#/paths')
  walk(committed.components, '#/components')
  t.same(unbounded, [], 'no unbounded string or array')
})

t.test('api-contract.md, Idempotency: every operation that takes an Idempotency-Key documents Idempotent-Replayed on its 2xx answers, as a replay sends it; no other operation does', async (t) => {
  type Parameter = { in: string, name: string }
  type Documented = { parameters?: Parameter[], responses: Record<string, { headers?: Record<string, unknown> }> }
  const operations = Object.entries(committed.paths as Record<string, Record<string, Documented>>)
    .flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, operation })))
  const takingKeys = operations.filter(({ operation }) => operation.parameters?.some((p) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key') === true)
  t.ok(takingKeys.length >= 10, `${takingKeys.length} operations take an Idempotency-Key`)
  for (const { name, operation } of operations) {
    for (const [status, response] of Object.entries(operation.responses)) {
      const documented = response.headers?.['Idempotent-Replayed'] !== undefined
      t.equal(documented, takingKeys.some((o) => o.operation === operation) && status.startsWith('2'), `${name} ${status}`)
    }
  }
  t.same(committed.components.headers['Idempotent-Replayed'], { schema: { type: 'string', enum: ['true'] }, description: committed.components.headers['Idempotent-Replayed'].description })
  // A replay sends it, as documented.
  const send = () => app.inject({ method: 'POST', url: '/v1/districts', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'idempotency-key': 'documented-replay' }, payload: { code: '370299', name: '测试区' } })
  const first = await send()
  t.equal(first.statusCode, 201)
  t.equal(first.headers['idempotent-replayed'], undefined, 'not on the first answer')
  t.equal((await send()).headers['idempotent-replayed'], 'true')
})

t.test('the document names the headers every answer carries, a 401\'s challenge and a file\'s name, as the answers send them (found by a probe: they were sent undocumented)', async (t) => {
  type Documented = { responses: Record<string, { headers?: Record<string, unknown> }> }
  const operations = Object.entries(committed.paths as Record<string, Record<string, Documented>>)
    .flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, operation })))
  for (const { name, operation } of operations) {
    for (const [status, response] of Object.entries(operation.responses)) {
      for (const header of ['X-Request-Id', 'Access-Control-Allow-Origin', 'Access-Control-Expose-Headers']) t.ok(response.headers?.[header] !== undefined, `${name} ${status}: ${header}`)
      t.equal(response.headers?.['WWW-Authenticate'] !== undefined, status === '401', `${name} ${status}: WWW-Authenticate on 401 alone`)
    }
  }
  const files = ['GET /v1/settlement-runs/{id}/statement', 'GET /v1/agreements/{id}/history', 'GET /v1/debts/summary', 'POST /v1/scenarios']
  t.same(operations.filter(({ operation }) => Object.values(operation.responses).some((r) => r.headers?.['Content-Disposition'] !== undefined)).map((o) => o.name).sort(), files.sort(), 'Content-Disposition on the operations that answer CSV or xlsx')
  // What the answers send (testApp holds each to the document's schema of the header).
  const unauthorized = await app.inject({ method: 'GET', url: '/v1/districts' })
  t.equal(unauthorized.headers['www-authenticate'], 'Bearer realm="revenue-sharing"')
  t.match(unauthorized.headers['x-request-id'], /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
  t.match(unauthorized.headers['access-control-expose-headers'], /Content-Disposition/)
})

t.test('the published patterns read alike without Unicode regular expressions (Python\'s re, JavaScript without the u flag): no \\p{…} property class', async (t) => {
  const patterns = [...JSON.stringify(committed).matchAll(/"pattern":"((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`) as string)
  t.ok(patterns.length > 30, `${patterns.length} patterns`)
  t.same(patterns.filter((p) => /\\[pP]\{/.test(p)), [], 'none needs the u flag')
  const blank = patterns.find((p) => p.includes('\\u200b'))
  t.ok(blank, 'the not-blank pattern is published')
  const plain = new RegExp(blank ?? '')
  t.same(['城阳区', 'cf', '😀', '\u200b', '\u2060 ', '\u0007'].map((s) => plain.test(s)), [true, true, true, false, false, false], 'read without the u flag, it says the same')
})
