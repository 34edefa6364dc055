import { sql } from 'kysely'
import t from 'tap'
import { expectProblem, testApp, testDatabase } from '../helpers.js'
import { created, get, injector, post } from '../world.js'

// Registry lifecycle (api-contract.md, Registry; Roles and scope; Lists): categories, districts,
// zones and API keys, each through app.inject with the rows it stores.

const database = await testDatabase(t)
const app = await testApp(t, database)
const injectAs = injector(app)

t.test('revenue categories: the seeded classification, paged; an admin adds a local code', async (t) => {
  const first = (await get(app, '/v1/revenue-categories?limit=10')).json()
  t.equal(first.items.length, 10)
  t.equal(first.items[0].code, '101')
  t.type(first.nextCursor, 'string')
  const seen = [...first.items]
  let cursor: string | null = first.nextCursor
  while (cursor !== null) {
    const page = (await get(app, `/v1/revenue-categories?limit=10&cursor=${cursor}`)).json()
    seen.push(...page.items)
    cursor = page.nextCursor
  }
  t.equal(seen.length, 26, 'the pages together are the 26 seeded codes, each once')
  t.equal(new Set(seen.map((c) => c.code)).size, 26)
  t.match(seen.find((c) => c.code === '10304'), { nameZh: '行政事业性收费收入', kind: 'fee', localShare: '1.000000', origin: 'national' })
  t.same((await get(app, '/v1/revenue-categories?kind=fee')).json().items.map((c: { code: string }) => c.code), ['10304'])

  const local = await created(t, app, '/v1/revenue-categories', { code: '1030499', parentCode: '10304', nameZh: '功能区其他收费', nameEn: 'Other zone fees', kind: 'fee', localShare: '1.00' })
  t.match(local, { code: '1030499', origin: 'local', localShare: '1.00' })
  t.equal((local as { localShare: string }).localShare, (await get(app, '/v1/revenue-categories?limit=1000')).json().items.find((c: { code: string }) => c.code === '1030499').localShare,
    'the 201 answers the share as stored, as every later read does (before, "1.00" then "1.000000")')
  expectProblem(t, await post(app, '/v1/revenue-categories', { code: '1030499', nameZh: 'x', nameEn: 'x', kind: 'fee' }), 409)
  await created(t, app, '/v1/revenue-categories', { code: '10304A', parentCode: '10304', nameZh: '功能区收费甲', nameEn: 'Zone fee A', kind: 'fee' })
  const cased = expectProblem(t, await post(app, '/v1/revenue-categories', { code: '10304a', parentCode: '10304', nameZh: 'x', nameEn: 'x', kind: 'fee' }), 409)
  t.match(cased.detail, /^Revenue category 10304A already exists: 10304a differs from it only in case/)
  const orphan = expectProblem(t, await post(app, '/v1/revenue-categories', { code: '1030498', parentCode: '99999', nameZh: 'x', nameEn: 'x', kind: 'fee' }), 422)
  t.same(orphan.errors?.map((e) => e.pointer), ['/parentCode'])
  expectProblem(t, await get(app, '/v1/revenue-categories?cursor=not-a-cursor'), 400)
  expectProblem(t, await get(app, '/v1/revenue-categories?limit=1001'), 400)
})

t.test('districts and zones: create, read, list, duplicates and unknown hosts', async (t) => {
  const district = await created(t, app, '/v1/districts', { code: '370214', name: '城阳区' })
  t.match(district, { code: '370214', name: '城阳区' })
  t.match(district.createdAt, /^\d{4}-\d{2}-\d{2}T/)
  const duplicate = expectProblem(t, await post(app, '/v1/districts', { code: '370214', name: '又一个' }), 409)
  t.same(duplicate.errors?.[0]?.pointer, '/code')
  const badCode = expectProblem(t, await post(app, '/v1/districts', { code: '37021', name: 'x' }), 400)
  t.equal(badCode.errors?.[0]?.pointer, '/code')
  t.equal((await get(app, '/v1/districts/370214')).json().name, '城阳区')
  expectProblem(t, await get(app, '/v1/districts/370299'), 404)

  const zone = await created(t, app, '/v1/zones', { code: 'QD-HT', name: '青岛高新区', hostDistrictCode: '370214' })
  t.match(zone, { code: 'QD-HT', hostDistrictCode: '370214' })
  const unknownHost = expectProblem(t, await post(app, '/v1/zones', { code: 'QD-X', name: 'x', hostDistrictCode: '370299' }), 422)
  t.equal(unknownHost.errors?.[0]?.pointer, '/hostDistrictCode')
  expectProblem(t, await post(app, '/v1/zones', { code: 'QD-HT', name: 'again', hostDistrictCode: '370214' }), 409)
  // A code that differs from a zone's only in case would be told apart by no statement or file (before: 201; found by a probe).
  const cased = expectProblem(t, await post(app, '/v1/zones', { code: 'qd-ht', name: '小写', hostDistrictCode: '370214' }), 409)
  t.equal(cased.detail, 'Zone QD-HT already exists: qd-ht differs from it only in case, and a statement or a file would not tell them apart. Choose another code.')
  t.same(cased.errors, [{ pointer: '/code', message: 'QD-HT already exists' }])
  t.same((await get(app, '/v1/zones')).json(), { items: [zone], nextCursor: null })
  const rows = await database.db.selectFrom('zones').selectAll().execute()
  t.same(rows.map((r) => [r.code, r.host_district_code]), [['QD-HT', '370214']], 'the refused zones stored nothing')
})

t.test('a URL that does not decode, or a path parameter over the length limit, answers problem+json (api-contract.md, Errors; found by the fuzzer)', async (t) => {
  // Fastify refuses these while routing, before the error handler: they once answered plain JSON.
  for (const url of ['/v1/districts/%ED%A0%80', '/v1/zones/%C0%AF', '/v1/agreements/%zz', '/v1/debts/%']) {
    const problem = expectProblem(t, await get(app, url), 400)
    t.match(problem.detail, /not valid/, url)
  }
  // Over the router's 100 characters it was 414 naming no parameter: the route's schema names it now, however long (found by a probe).
  const long = expectProblem(t, await get(app, `/v1/zones/${'x'.repeat(200)}`), 400)
  t.equal(long.errors?.[0]?.pointer, '/params/code')
})

t.test('a string holding U+0000 is a 400 with a pointer, never a database error (api-contract.md, Errors; found by the fuzzer)', async (t) => {
  const before = await database.db.selectFrom('districts').selectAll().execute()
  const body = expectProblem(t, await post(app, '/v1/districts', { code: '370281', name: '胶州\u0000市' }), 400)
  t.same(body.errors, [{ pointer: '/name', message: 'must not contain the NUL character (U+0000)' }])
  const param = expectProblem(t, await injectAs('admin', { method: 'DELETE', url: '/v1/api-keys/%00' }), 400)
  t.equal(param.errors?.[0]?.pointer, '/params/id')
  expectProblem(t, await get(app, '/v1/revenues?zoneCode=QD%00'), 400)
  t.same(await database.db.selectFrom('districts').selectAll().execute(), before, 'nothing stored')
})

t.test('half a surrogate pair is refused, not stored as U+FFFD; a whole pair (a CJK Extension B character) is stored as sent (api-contract.md, Registry; Errors: 400 malformed input; found by the fuzzer)', async (t) => {
  const before = await database.db.selectFrom('districts').selectAll().execute()
  const body = expectProblem(t, await post(app, '/v1/districts', { code: '370282', name: '胶\ud800州' }), 400)
  t.same(body.errors, [{ pointer: '/name', message: 'must not contain a lone UTF-16 surrogate (\\ud800–\\udfff without its pair)' }])
  expectProblem(t, await post(app, '/v1/districts', { code: '370282', name: '胶\udc00州' }), 400)
  t.same(await database.db.selectFrom('districts').selectAll().execute(), before, 'nothing stored')
  const rare = '\u{20000}村'
  t.equal((await post(app, '/v1/districts', { code: '370283', name: rare })).statusCode, 201)
  t.equal((await get(app, '/v1/districts/370283')).json().name, rare, 'the character comes back as it was sent')
})

t.test('a problem echoing an absurdly long field name stays within the documented bounds (api-contract.md, Errors; found by the fuzzer)', async (t) => {
  const name = 'x'.repeat(3000)
  const response = await get(app, `/v1/districts?${name}=1`)
  const problem = expectProblem(t, response, 400)
  t.equal(problem.errors?.length, 1)
  t.equal(problem.errors![0]!.pointer.length, 500, 'the pointer is cut to 500 characters')
  t.ok(problem.errors![0]!.pointer.startsWith('/querystring/xxx') && problem.errors![0]!.pointer.endsWith('…'), 'and marked as cut')
})

t.test('API keys: the token is shown once, stored as a hash, and revoked at once', async (t) => {
  const key = await created(t, app, '/v1/api-keys', { role: 'district', districtCode: '370214', label: '城阳区财政局' })
  t.match(key, { role: 'district', districtCode: '370214', zoneCode: null, revokedAt: null, createdBy: 'bootstrap' })
  t.match(key.token, /^rss_[A-Za-z0-9_-]{43}$/, '256 random bits')
  const row = await database.db.selectFrom('api_keys').selectAll().where('id', '=', key.id).executeTakeFirstOrThrow()
  t.not(row.token_hash, key.token)
  t.notOk(Object.values(row).includes(key.token), 'the token itself is stored nowhere')
  t.notOk((await get(app, '/v1/api-keys')).body.includes(key.token), 'the list never shows a token')

  t.equal((await injectAs({ token: key.token }, { method: 'GET', url: '/v1/districts/370214' })).statusCode, 200, 'the key works')
  const revoked = await injectAs('admin', { method: 'DELETE', url: `/v1/api-keys/${key.id}` })
  t.equal(revoked.statusCode, 200)
  t.type(revoked.json().revokedAt, 'string')
  expectProblem(t, await injectAs({ token: key.token }, { method: 'GET', url: '/v1/districts/370214' }), 401)
  expectProblem(t, await injectAs('admin', { method: 'DELETE', url: '/v1/api-keys/key_nonexistent' }), 404)

  const missingScope = expectProblem(t, await post(app, '/v1/api-keys', { role: 'district', label: 'x' }), 400)
  t.equal(missingScope.errors?.[0]?.pointer, '/districtCode')
  const extraScope = expectProblem(t, await post(app, '/v1/api-keys', { role: 'admin', zoneCode: 'QD-HT', label: 'x' }), 400)
  t.equal(extraScope.errors?.[0]?.pointer, '/zoneCode')
  const unknownZone = expectProblem(t, await post(app, '/v1/api-keys', { role: 'zone', zoneCode: 'QD-NONE', label: 'x' }), 422)
  t.equal(unknownZone.errors?.[0]?.pointer, '/zoneCode')
})

t.test('every write is audited with the key, the action and the request id', async (t) => {
  const response = await post(app, '/v1/districts', { code: '370203', name: '市北区' })
  t.equal(response.statusCode, 201)
  const events = (await get(app, '/v1/audit-events?entityType=district&entityId=370203')).json().items
  t.equal(events.length, 1)
  t.match(events[0], { keyId: 'bootstrap', role: 'admin', action: 'create', entityType: 'district', entityId: '370203', requestId: response.headers['x-request-id'], details: { code: '370203', name: '市北区' } })
  const all = (await get(app, '/v1/audit-events?limit=2')).json()
  t.equal(all.items.length, 2)
  t.ok(all.items[0].id > all.items[1].id, 'newest first')
  t.type(all.nextCursor, 'string')
})

t.test('the audit log is filtered by the key that wrote, the action and a period of Beijing days, both ends included (found by a probe of the audit trail: "who did what in March" took a walk through the whole log)', async (t) => {
  const key = await created(t, app, '/v1/api-keys', { role: 'admin', label: '审计测试' })
  const made = await injectAs({ token: key.token }, { method: 'POST', url: '/v1/districts', payload: { code: '370285', name: '莱西市' } })
  t.equal(made.statusCode, 201)
  const ids = async (query: string) => ((await get(app, `/v1/audit-events?limit=1000&${query}`)).json().items as Array<{ keyId: string, action: string, entityId: string }>)
  t.same((await ids(`keyId=${key.id}`)).map((e) => [e.keyId, e.action, e.entityId]), [[key.id, 'create', '370285']], 'the key\'s one write')
  t.same((await ids(`keyId=${key.id}&action=revoke`)), [], 'and no revocation by it')
  t.ok((await ids('keyId=bootstrap&action=create')).every((e) => e.keyId === 'bootstrap' && e.action === 'create'))
  t.notOk((await ids('keyId=bootstrap')).some((e) => e.entityId === '370285'), 'another key\'s writes are not its')
  // Two events a millisecond apart across Beijing's midnight of 1 January 2026 (16:00 UTC the day before).
  await sql`INSERT INTO audit_events (occurred_at, key_id, role, action, entity_type, entity_id, request_id)
    VALUES ('2025-12-31T15:59:59.999Z', 'period-test', 'admin', 'create', 'district', 'last-of-2025', 'r1'),
           ('2025-12-31T16:00:00.000Z', 'period-test', 'admin', 'create', 'district', 'first-of-2026', 'r2')`.execute(database.db)
  const period = async (query: string) => (await ids(`keyId=period-test&${query}`)).map((e) => e.entityId)
  t.same(await period('from=2025-12-31&to=2025-12-31'), ['last-of-2025'], '31 December in Beijing ends at 15:59:59.999 UTC')
  t.same(await period('from=2026-01-01&to=2026-01-01'), ['first-of-2026'], '1 January in Beijing begins at 16:00 UTC the day before')
  t.same(await period('from=2025-12-31'), ['first-of-2026', 'last-of-2025'], 'from alone: that day on, newest first')
  t.same(await period('to=2025-12-31'), ['last-of-2025'], 'to alone: up to the end of that day')
  const reversed = expectProblem(t, await get(app, '/v1/audit-events?from=2026-01-02&to=2026-01-01'), 400)
  t.same(reversed.errors, [{ pointer: '/querystring/from', message: 'must not be after to' }])
  const badDay = expectProblem(t, await get(app, '/v1/audit-events?from=2026-02-30'), 400)
  t.equal(badDay.errors?.[0]?.pointer, '/querystring/from', 'a day that does not exist')
})

t.test('api-contract.md, Errors: the same code created by requests at once is created once; every other request gets the same 409 at /code as a later duplicate', async (t) => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['/v1/districts', { code: '370299', name: '并发区' }, /^District 370299 already exists\.$/],
    ['/v1/zones', { code: 'QD-RACE', name: '并发功能区', hostDistrictCode: '370299' }, /^Zone QD-RACE already exists\.$/],
    ['/v1/revenue-categories', { code: '1019999', nameZh: '并发科目', nameEn: 'race', kind: 'tax' }, /^Revenue category 1019999 already exists\.$/],
  ]
  for (const [url, body, detail] of cases) {
    // On PostgreSQL the requests run at once: the losers' inserts meet the winner's row (before, 409 "A record with this key already exists." with no pointer; found by a probe of the API).
    const answers = await Promise.all(Array.from({ length: 6 }, () => post(app, url, body)))
    t.equal(answers.filter((a) => a.statusCode === 201).length, 1, `${url}: created once`)
    for (const answer of answers.filter((a) => a.statusCode !== 201)) {
      const problem = expectProblem(t, answer, 409)
      t.match(problem.detail, detail)
      t.same(problem.errors?.map((e) => e.pointer), ['/code'], `${url}: the 409 says where`)
    }
  }
})
