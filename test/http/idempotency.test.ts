import { sql } from 'kysely'
import t from 'tap'
import { migrate } from '../../src/db/migrate.js'
import { pruneIdempotencyKeys } from '../../src/db/idempotency.js'
import { expectProblem, onPostgres, postgresDatabase, rowCount, testApp, testDatabase } from '../helpers.js'
import { injector } from '../world.js'

// api-contract.md, Idempotency: the same key and body replay the first response and change
// nothing; another body is 422; a retry while the first still runs is 409.

const database = await testDatabase(t)
const app = await testApp(t, database)
const injectAs = injector(app)
const send = (url: string, payload: unknown, key: string) =>
  injectAs('admin', { method: 'POST', url, headers: { 'idempotency-key': key }, payload: payload as object })

t.test('a retry with the same key and body gets the first response and changes nothing', async (t) => {
  const first = await send('/v1/districts', { code: '370214', name: '城阳区' }, 'create-370214')
  t.equal(first.statusCode, 201)
  const audits = await rowCount(database, 'audit_events')
  const retry = await send('/v1/districts', { code: '370214', name: '城阳区' }, 'create-370214')
  t.equal(retry.statusCode, 201, 'not 409: the same answer as the first time')
  t.equal(retry.body, first.body, 'byte for byte')
  t.equal(retry.headers['idempotent-replayed'], 'true')
  t.equal(await rowCount(database, 'districts'), 1)
  t.equal(await rowCount(database, 'audit_events'), audits, 'a replay writes no audit event')
  // Without the key, the same request is a new one, and a duplicate.
  expectProblem(t, await injectAs('admin', { method: 'POST', url: '/v1/districts', payload: { code: '370214', name: '城阳区' } }), 409)
})

t.test('the same key with another body is 422 and changes nothing', async (t) => {
  const problem = expectProblem(t, await send('/v1/districts', { code: '370203', name: '市北区' }, 'create-370214'), 422)
  t.equal(problem.errors?.[0]?.pointer, '/headers/idempotency-key')
  t.equal(await rowCount(database, 'districts'), 1)
})

t.test('a key is 1 to 255 printable characters, spaces between them included (api-contract.md, Idempotency)', async (t) => {
  const spaced = await send('/v1/districts', { code: '370281', name: '胶州市' }, 'districts 2021 batch 1')
  t.equal(spaced.statusCode, 201, 'a space inside the key is a character like another')
  const replay = await send('/v1/districts', { code: '370281', name: '胶州市' }, 'districts 2021 batch 1')
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.equal(replay.body, spaced.body)
  const longest = await send('/v1/districts', { code: '370282', name: '即墨区' }, 'k'.repeat(255))
  t.equal(longest.statusCode, 201)
  const districts = await rowCount(database, 'districts')
  for (const key of ['k'.repeat(256), 'tab\there', 'caf\u00e9']) {
    const problem = expectProblem(t, await send('/v1/districts', { code: '370283', name: '平度市' }, key), 400)
    t.equal(problem.errors?.[0]?.pointer, '/headers/idempotency-key', JSON.stringify(key))
  }
  t.equal(await rowCount(database, 'districts'), districts, 'a refused key changes nothing')
})

t.test('two Idempotency-Key headers are 400, not taken as one key "a, b" (found by a probe)', async (t) => {
  const districts = await rowCount(database, 'districts')
  const problem = expectProblem(t, await injectAs('admin', { method: 'POST', url: '/v1/districts', headers: { 'idempotency-key': ['a', 'b'] }, payload: { code: '370284', name: '莱西市' } }), 400)
  t.same(problem.errors, [{ pointer: '/headers/idempotency-key', message: 'is given 2 times' }])
  // Two keys of 200 characters each are two keys, not one of 402 "too long" (found by a probe).
  const long = expectProblem(t, await injectAs('admin', { method: 'POST', url: '/v1/districts', headers: { 'idempotency-key': ['k'.repeat(200), 'l'.repeat(200)] }, payload: { code: '370284', name: '莱西市' } }), 400)
  t.same(long.errors, [{ pointer: '/headers/idempotency-key', message: 'is given 2 times' }])
  t.equal(await rowCount(database, 'districts'), districts, 'nothing stored')
  const joined = await send('/v1/districts', { code: '370284', name: '莱西市' }, 'a, b')
  t.equal(joined.statusCode, 201, 'one header holding "a, b" is one key, as before')
  t.equal(joined.headers['idempotent-replayed'], undefined, 'and was not stored by the refused request')
})

t.test('the same key sent to another operation is 422 too, and says it was used with another request, not only another body', async (t) => {
  const problem = expectProblem(t, await send('/v1/zones', { code: 'QD-HT', name: '青岛高新区', hostDistrictCode: '370214' }, 'create-370214'), 422)
  t.match(problem.detail, /"create-370214" was used before with another request \(another operation or path, or another body\)/)
  t.same(problem.errors, [{ pointer: '/headers/idempotency-key', message: 'already used with another request' }])
})

t.test('keys belong to the caller: another key may use the same Idempotency-Key for its own request', async (t) => {
  await injectAs('admin', { method: 'POST', url: '/v1/zones', payload: { code: 'QD-HT', name: '青岛高新区', hostDistrictCode: '370214' } })
  const issued = (await injectAs('admin', { method: 'POST', url: '/v1/api-keys', payload: { role: 'district', districtCode: '370214', label: 'x' } })).json()
  const records = { records: [{ zoneCode: 'QD-HT', category: '10101', year: 2021, month: 1, amount: '10.00' }] }
  const byDistrict = await injectAs({ token: issued.token }, { method: 'POST', url: '/v1/revenues', headers: { 'idempotency-key': 'create-370214' }, payload: records })
  t.equal(byDistrict.statusCode, 200)
  t.equal(byDistrict.json().created, 1)
})

t.test('a failed request stores no response: the retry runs again', async (t) => {
  const bad = await send('/v1/zones', { code: 'QD-BL', name: '保税区', hostDistrictCode: '370203' }, 'zone-bl')
  expectProblem(t, bad, 422)
  await injectAs('admin', { method: 'POST', url: '/v1/districts', payload: { code: '370203', name: '市北区' } })
  const retry = await send('/v1/zones', { code: 'QD-BL', name: '保税区', hostDistrictCode: '370203' }, 'zone-bl')
  t.equal(retry.statusCode, 201, 'once the district exists, the same key and body succeed')
})

t.test('CSV imports: the key covers the file\'s bytes', async (t) => {
  const file = 'zoneCode,districtCode,category,year,month,amount\nQD-HT,,10104,2021,1,5.00\n'
  const put = (body: string) => injectAs('admin', { method: 'POST', url: '/v1/revenues/import', headers: { 'content-type': 'text/csv', 'idempotency-key': 'import-1' }, payload: body })
  const first = await put(file)
  t.equal(first.statusCode, 200)
  const revisions = await rowCount(database, 'revenue_revisions')
  const again = await put(file)
  t.equal(again.body, first.body)
  t.equal(await rowCount(database, 'revenue_revisions'), revisions)
  expectProblem(t, await put(file.replace('5.00', '6.00')), 422)
  t.equal(await rowCount(database, 'revenue_revisions'), revisions, 'the other file was not loaded')
})

t.test('a debt import retried with its key gets the first answer, not its own lines refused as taken', async (t) => {
  const file = 'zoneCode,reference,creditor,kind,principal,outstanding,interestRate,incurredOn,maturityDate,registeredOn,notes\nQD-HT,IDEM-1,某银行,bond,10.00,10.00,,,,2021-01-01,\n'
  const put = (body: string) => injectAs('admin', { method: 'POST', url: '/v1/debts/import', headers: { 'content-type': 'text/csv', 'idempotency-key': 'debt-import-1' }, payload: body })
  const first = await put(file)
  t.equal(first.statusCode, 200)
  t.match(first.json(), { registered: 1, rejected: 0 })
  const audits = await rowCount(database, 'audit_events')
  const again = await put(file)
  t.equal(again.statusCode, 200, 'before, 422: "zone QD-HT already has a debt IDEM-1 … nothing was loaded"')
  t.equal(again.body, first.body, 'byte for byte')
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(await rowCount(database, 'debts'), 1, 'one debt')
  t.equal(await rowCount(database, 'audit_events'), audits, 'a replay writes no audit event')
  const other = expectProblem(t, await put(file.replace('IDEM-1', 'IDEM-2')), 422)
  t.equal(other.errors?.[0]?.pointer, '/headers/idempotency-key', 'another file with the key is the key reused')
  t.equal(await rowCount(database, 'debts'), 1, 'and is not loaded')
})

t.test('concurrent retries never double a write', async (t) => {
  const body = { records: [{ zoneCode: 'QD-HT', category: '10106', year: 2021, month: 7, amount: '77.00' }] }
  const answers = await Promise.all(Array.from({ length: 8 }, () => send('/v1/revenues', body, 'concurrent-revenue')))
  const ok = answers.filter((a) => a.statusCode === 200)
  t.ok(ok.length >= 1, 'at least one succeeded')
  t.ok(answers.every((a) => a.statusCode === 200 || a.statusCode === 409), 'the others replayed it or were told it is still running')
  t.ok(ok.every((a) => a.body === ok[0]!.body), 'every success is the same response')
  const rows = await database.db.selectFrom('revenue_revisions').select('revision').where('category_code', '=', '10106').execute()
  t.same(rows.map((r) => r.revision), [1], 'recorded once')
})

// PGlite has one connection, so requests take turns and a retry meets the finished first one
// (the test above); on PostgreSQL a retry can meet the first one running.
if (onPostgres) t.test('a retry while the first request still runs answers 409', async (t) => {
  // Hold the key's lock from another connection, as a first request still inside its transaction would.
  const holder = (await postgresDatabase(t)).open(3)
  await migrate(holder)
  const injectAsPg = injector(await testApp(t, holder))
  await holder.db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(hashtextextended(${'bootstrap|busy-key'}, 7301))`.execute(tx)
    const response = await injectAsPg('admin', { method: 'POST', url: '/v1/districts', headers: { 'idempotency-key': 'busy-key' }, payload: { code: '370211', name: '黄岛区' } })
    const problem = expectProblem(t, response, 409)
    t.match(problem.detail, /still running/)
  })
  const after = await injectAsPg('admin', { method: 'POST', url: '/v1/districts', headers: { 'idempotency-key': 'busy-key' }, payload: { code: '370211', name: '黄岛区' } })
  t.equal(after.statusCode, 201, 'once the first has finished, the key works')
})

// Found by a probe on PostgreSQL: 20 retries sent at once after the first had finished got 16 × 409 "still running", as
// each retry holds the key's lock while it reads the stored answer.
if (onPostgres) t.test('a retry that meets another retry of a finished request is answered from the stored answer, not 409 "still running"', async (t) => {
  const holder = (await postgresDatabase(t)).open(3)
  await migrate(holder)
  const injectAsPg = injector(await testApp(t, holder))
  const put = (name: string) => injectAsPg('admin', { method: 'POST', url: '/v1/districts', headers: { 'idempotency-key': 'retried-key' }, payload: { code: '370212', name } })
  const first = await put('崂山区')
  t.equal(first.statusCode, 201)
  await holder.db.transaction().execute(async (tx) => {
    // Another retry holds the key's lock, reading the stored answer.
    await sql`select pg_advisory_xact_lock(hashtextextended(${'bootstrap|retried-key'}, 7301))`.execute(tx)
    const replay = await put('崂山区')
    t.equal(replay.statusCode, 201, 'the stored answer')
    t.equal(replay.headers['idempotent-replayed'], 'true')
    t.equal(replay.body, first.body, 'byte for byte')
    const other = expectProblem(t, await put('另一区'), 422)
    t.equal(other.errors?.[0]?.pointer, '/headers/idempotency-key', 'another request with the key is the key reused, not "still running"')
  })
  t.equal(await rowCount(holder, 'districts'), 1, 'one district')
})

t.test('keys are kept at least 24 hours; older than the retention they are pruned', async (t) => {
  await database.db.insertInto('idempotency_keys').values([
    { key_id: 'bootstrap', idempotency_key: 'old', request_hash: 'x', response_status: 201, response_body: '{}', created_at: sql<Date>`now() - interval '73 hours'` },
    { key_id: 'bootstrap', idempotency_key: 'day-old', request_hash: 'x', response_status: 201, response_body: '{}', created_at: sql<Date>`now() - interval '25 hours'` },
  ]).execute()
  await pruneIdempotencyKeys(database.db)
  const kept = await database.db.selectFrom('idempotency_keys').select('idempotency_key').where('idempotency_key', 'in', ['old', 'day-old']).execute()
  t.same(kept.map((k) => k.idempotency_key), ['day-old'])
})

t.test('the key binds the request as parsed: the same JSON with its keys in another order replays; another query string is another request (422)', async (t) => {
  const body = '{"code":"370202","name":"市南区"}'
  const reordered = '{"name":"市南区","code":"370202"}'
  const sendRaw = (payload: string, key: string) => injectAs('admin', { method: 'POST', url: '/v1/districts', headers: { 'idempotency-key': key, 'content-type': 'application/json' }, payload })
  const first = await sendRaw(body, 'order-1')
  t.equal(first.statusCode, 201)
  const retry = await sendRaw(reordered, 'order-1')
  t.equal(retry.statusCode, 201, 'not 422: the same request')
  t.equal(retry.headers['idempotent-replayed'], 'true')
  t.equal(retry.body, first.body)
  const spaced = await sendRaw(' { "name" : "市南区" ,\n "code" : "370202" } ', 'order-1')
  t.equal(spaced.headers['idempotent-replayed'], 'true', 'whitespace does not matter either')
  expectProblem(t, await sendRaw('{"code":"370202","name":"市南区 "}', 'order-1'), 422)

  const file = 'zoneCode,districtCode,category,year,month,amount\nQD-HT,,10104,2021,2,5.00\nQD-NONE,,10104,2021,3,6.00\n'
  const put = (url: string) => injectAs('admin', { method: 'POST', url, headers: { 'content-type': 'text/csv', 'idempotency-key': 'import-query' }, payload: file })
  const partial = await put('/v1/revenues/import?partial=true')
  t.equal(partial.statusCode, 200)
  t.match(partial.json(), { loaded: 1, rejected: 1 })
  const revisions = await rowCount(database, 'revenue_revisions')
  const whole = await put('/v1/revenues/import')
  const problem = expectProblem(t, whole, 422)
  t.equal(problem.errors?.[0]?.pointer, '/headers/idempotency-key', 'without ?partial=true it is another request, not a replay of the partial one')
  t.equal(await rowCount(database, 'revenue_revisions'), revisions, 'and changes nothing')
  const again = await put('/v1/revenues/import?partial=true')
  t.equal(again.headers['idempotent-replayed'], 'true', 'the same query and file: a replay')
  t.equal(again.body, partial.body)
})
