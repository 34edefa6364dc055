import { createHash, randomBytes } from 'node:crypto'
import { copyFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely'
import { sql } from 'kysely'
import t from 'tap'
import type { DatabaseHandle } from '../../src/db/connect.js'
import { defaultMigrationsDir, migrate, readMigrations } from '../../src/db/migrate.js'
import { ADMIN_TOKEN, emptyDatabase, expectProblem, temporaryDirectory, testApp, testDatabase } from '../helpers.js'
import { buildWorld, injector } from '../world.js'

/*
 * API keys (api-contract.md, Roles and scope): the token is shown only in the response that issues
 * it and stored only as a hash — in no idempotency record either; revoked at once; the bearer
 * scheme read case-insensitively; invalid tokens cost one lookup each at most, and an address
 * that keeps failing is answered 429 (api-contract.md, Errors).
 */

const database = await testDatabase(t)
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex')

/** Every row of every table as text, to search for a secret. */
async function everything (db: DatabaseHandle): Promise<string> {
  const tables = (await sql<{ name: string }>`select tablename as name from pg_tables where schemaname = 'public'`.execute(db.db)).rows.map((r) => r.name)
  const texts = await Promise.all(tables.map(async (name) =>
    (await sql<{ rows: string | null }>`select string_agg(t::text, E'\n') as rows from ${sql.table(name)} t`.execute(db.db)).rows[0]?.rows ?? ''))
  return texts.join('\n')
}

t.test('a replayed POST /v1/api-keys answers the key without its token, and no table holds the token', async (t) => {
  const app = await testApp(t, database)
  const injectAs = injector(app)
  await injectAs('admin', { method: 'POST', url: '/v1/districts', payload: { code: '370214', name: '城阳区' } })
  const request = { method: 'POST' as const, url: '/v1/api-keys', headers: { 'idempotency-key': 'issue-214' }, payload: { role: 'district', districtCode: '370214', label: '城阳区财政局' } }
  const first = await injectAs('admin', request)
  t.equal(first.statusCode, 201)
  const issued = first.json() as { id: string, token: string, tokenWithheld?: boolean }
  t.match(issued.token, /^rss_[A-Za-z0-9_-]{43}$/, 'the first answer shows the token')
  t.equal(issued.tokenWithheld, undefined)

  const replay = await injectAs('admin', request)
  t.equal(replay.statusCode, 201, 'the replay answers as the first did')
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.notOk(replay.body.includes(issued.token), 'the replay never shows the token again')
  const { token: _token, ...key } = issued
  t.same(replay.json(), { ...key, tokenWithheld: true }, 'the same key, saying its token is withheld')
  t.equal((await injectAs('admin', request)).body, replay.body, 'every replay is the same')

  const stored = await everything(database)
  t.notOk(stored.includes(issued.token), 'no table holds the token: not the idempotency record, not the audit log')
  t.ok(stored.includes(sha256(issued.token)), 'api_keys holds its SHA-256')
  const record = await database.db.selectFrom('idempotency_keys').select('response_body').where('idempotency_key', '=', 'issue-214').executeTakeFirstOrThrow()
  t.same(JSON.parse(record.response_body), { ...key, tokenWithheld: true }, 'the record is the replay')

  const works = await injectAs({ token: issued.token }, { method: 'GET', url: '/v1/districts' })
  t.equal(works.statusCode, 200, 'the token of the first answer authenticates')
})

t.test('migration 007 rewrites the records stored before it, which held the token, to the replay', async (t) => {
  const dir = await temporaryDirectory(t, 'migrations-before-007-')
  for (const file of await readMigrations(defaultMigrationsDir())) {
    if (file.name < '007') await copyFile(join(defaultMigrationsDir(), file.name), join(dir, file.name))
  }
  const old = await emptyDatabase(t)
  await migrate(old, dir)
  const token = `rss_${randomBytes(32).toString('base64url')}`
  const key = { id: 'key_00000000000000aa', role: 'admin', districtCode: null, zoneCode: null, label: 'old', createdAt: '2026-01-01T00:00:00.000Z', createdBy: 'bootstrap', revokedAt: null }
  await old.db.insertInto('api_keys').values({ id: key.id, role: 'admin', label: 'old', token_hash: sha256(token), created_by: 'bootstrap' }).execute()
  await old.db.insertInto('idempotency_keys').values([
    { key_id: 'bootstrap', idempotency_key: 'old-issue', request_hash: 'x', response_status: 201, response_body: JSON.stringify({ ...key, token }) },
    { key_id: 'bootstrap', idempotency_key: 'a-district', request_hash: 'x', response_status: 201, response_body: JSON.stringify({ code: '370214', name: '"token":"rss_x' }) },
  ]).execute()

  await migrate(old)
  t.notOk((await everything(old)).includes(token), 'the token is gone from every table')
  const rows = await old.db.selectFrom('idempotency_keys').select(['idempotency_key', 'response_body']).orderBy('idempotency_key').execute()
  t.same(JSON.parse(rows[1]!.response_body), { ...key, tokenWithheld: true }, 'the old record is now the replay')
  t.same(JSON.parse(rows[0]!.response_body), { code: '370214', name: '"token":"rss_x' }, 'other answers are left as they were')
})

t.test('expired idempotency records are pruned while the service runs, not only at start', async (t) => {
  const app = await testApp(t, database, { idempotencyPruneEveryMs: 50 })
  await database.db.insertInto('idempotency_keys').values([
    { key_id: 'bootstrap', idempotency_key: 'expired', request_hash: 'x', response_status: 201, response_body: '{}', created_at: sql<Date>`now() - interval '73 hours'` },
    { key_id: 'bootstrap', idempotency_key: 'kept', request_hash: 'x', response_status: 201, response_body: '{}', created_at: sql<Date>`now() - interval '25 hours'` },
  ]).execute()
  const left = async () => (await database.db.selectFrom('idempotency_keys').select('idempotency_key').where('idempotency_key', 'in', ['expired', 'kept']).execute()).map((r) => r.idempotency_key)
  for (let i = 0; i < 100 && (await left()).includes('expired'); i++) await new Promise((resolve) => setTimeout(resolve, 20))
  t.same(await left(), ['kept'], 'the expired record went, the one within the retention (api-contract.md: at least 24 hours) stayed')
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200, 'while the app runs')
})

t.test('the bearer scheme is case-insensitive (RFC 9110 §11.1); the token is not', async (t) => {
  const app = await testApp(t, database)
  for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
    const response = await app.inject({ method: 'GET', url: '/v1/districts', headers: { authorization: `${scheme} ${ADMIN_TOKEN}` } })
    t.equal(response.statusCode, 200, `"${scheme} <token>"`)
  }
  expectProblem(t, await app.inject({ method: 'GET', url: '/v1/districts', headers: { authorization: `bearer ${ADMIN_TOKEN.toUpperCase()}` } }), 401)
  expectProblem(t, await app.inject({ method: 'GET', url: '/v1/districts', headers: { authorization: `Basic ${ADMIN_TOKEN}` } }), 401)
})

t.test('RFC 6750 §2.1: one space or more may come between the scheme and the token (two were 401; found by a probe); a tab or none may not', async (t) => {
  const app = await testApp(t, database)
  for (const between of ['  ', '   ']) {
    t.equal((await app.inject({ method: 'GET', url: '/v1/districts', headers: { authorization: `Bearer${between}${ADMIN_TOKEN}` } })).statusCode, 200, JSON.stringify(between))
  }
  for (const between of ['\t', '', ' \t']) {
    expectProblem(t, await app.inject({ method: 'GET', url: '/v1/districts', headers: { authorization: `Bearer${between}${ADMIN_TOKEN}` } }), 401)
  }
})

/** A plugin counting the statements that read api_keys. */
function keyLookups (): KyselyPlugin & { count: number } {
  return {
    count: 0,
    transformQuery (args: PluginTransformQueryArgs): RootOperationNode {
      if (args.node.kind === 'SelectQueryNode' && JSON.stringify(args.node).includes('"api_keys"')) this.count++
      return args.node
    },
    async transformResult (args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> { return args.result },
  }
}

t.test('an invalid token costs one lookup, then none; a valid one is looked up every time, so a revocation holds at once', async (t) => {
  const lookups = keyLookups()
  const counted: DatabaseHandle = { ...database, db: database.db.withPlugin(lookups) }
  const app = await testApp(t, counted)
  const injectAs = injector(app)
  const key = (await injectAs('admin', { method: 'POST', url: '/v1/api-keys', payload: { role: 'admin', label: 'cache' } })).json() as { id: string, token: string }

  const wrong = `rss_${randomBytes(32).toString('base64url')}`
  let before = lookups.count
  for (let i = 0; i < 10; i++) expectProblem(t, await injectAs({ token: wrong }, { method: 'GET', url: '/v1/districts' }), 401)
  t.equal(lookups.count - before, 1, 'ten requests with one unknown token: one lookup')

  before = lookups.count
  for (let i = 0; i < 3; i++) t.equal((await injectAs({ token: key.token }, { method: 'GET', url: '/v1/districts' })).statusCode, 200)
  t.equal(lookups.count - before, 3, 'a valid token is looked up on every request')

  const revoked = await injectAs('admin', { method: 'DELETE', url: `/v1/api-keys/${key.id}` })
  t.equal(revoked.statusCode, 200)
  // Revoking it again answers the key as it is, revoked when it was, and the audit log keeps one revocation.
  const again = await injectAs('admin', { method: 'DELETE', url: `/v1/api-keys/${key.id}` })
  t.equal(again.statusCode, 200)
  t.equal(again.json().revokedAt, revoked.json().revokedAt)
  const audited = await sql<{ n: string }>`SELECT count(*) AS n FROM audit_events WHERE action = 'revoke' AND entity_type = 'api_key' AND entity_id = ${key.id}`.execute(counted.db)
  t.equal(Number(audited.rows[0]?.n), 1, 'one revocation in the audit log')
  before = lookups.count
  for (let i = 0; i < 5; i++) expectProblem(t, await injectAs({ token: key.token }, { method: 'GET', url: '/v1/districts' }), 401)
  t.equal(lookups.count - before, 1, 'the revoked token is refused at once, then without a lookup')
})

t.test('failed authentications have a budget per address: 429 with Retry-After beyond it, valid tokens seen before still pass', async (t) => {
  const own = await testDatabase(t)
  const world = await buildWorld(t, await testApp(t, own))
  const app = await testApp(t, own, { authFailures: { max: 3, timeWindowMs: 60_000 } })
  const injectAs = injector(app, world)
  t.equal((await injectAs('district214', { method: 'GET', url: '/v1/districts' })).statusCode, 200, 'a district key, seen valid on this instance')
  const random = () => `rss_${randomBytes(32).toString('base64url')}`
  for (let i = 1; i <= 3; i++) expectProblem(t, await injectAs({ token: random() }, { method: 'GET', url: '/v1/districts' }), 401)
  const over = await injectAs({ token: random() }, { method: 'POST', url: '/v1/districts', payload: { code: '370212', name: '崂山区' } })
  const problem = expectProblem(t, over, 429)
  t.match(problem.type, /authentication-failures-exceeded$/)
  t.match(problem.detail, /More than 3 failed authentications in 60 s from this address/)
  t.ok(Number(over.headers['retry-after']) >= 1 && Number(over.headers['retry-after']) <= 60, 'Retry-After within the window')
  expectProblem(t, await injectAs({ token: world.tokens.zoneBL.slice(0, -1) }, { method: 'GET', url: '/v1/districts' }), 429)
  t.equal((await injectAs('district214', { method: 'GET', url: '/v1/districts' })).statusCode, 200, 'a token seen valid before still passes')
  t.equal((await injectAs('admin', { method: 'GET', url: '/v1/districts/370212' })).statusCode, 404, 'the refused write changed nothing; the admin token passes')
  // Another address has a budget of its own.
  const elsewhere = await app.inject({ method: 'GET', url: '/v1/districts', remoteAddress: '10.0.0.7', headers: { authorization: `Bearer ${random()}` } })
  expectProblem(t, elsewhere, 401)
})
