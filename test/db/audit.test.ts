import { sql } from 'kysely'
import t from 'tap'
import { insertAuditEvents } from '../../src/db/audit.js'
import { loadDemoData } from '../../src/demo.js'
import { rowCount, testDatabase } from '../helpers.js'

// The audit log's writer (src/db/audit.ts). A debt import logs one event a debt it registers: tens
// of thousands of events in one write, beyond one INSERT's 65,535 parameters at seven each.

const database = await testDatabase(t)

t.test('12,000 audit events of one write are all stored (one INSERT would take 84,000 parameters, past PostgreSQL\'s 65,535)', async (t) => {
  const entries = Array.from({ length: 12_000 }, (_, i) => ({ action: 'register', entityType: 'debt', entityId: String(i + 1), details: { reference: `R${i + 1}` } }))
  const before = await rowCount(database, 'audit_events')
  await database.db.transaction().execute((tx) => insertAuditEvents(tx, { keyId: 'bootstrap', role: 'admin', requestId: 'audit-test' }, entries))
  t.equal(await rowCount(database, 'audit_events'), before + 12_000)
  const last = await database.db.selectFrom('audit_events').select(['entity_id', 'details']).where('request_id', '=', 'audit-test').orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow()
  t.same({ entityId: last.entity_id, details: typeof last.details === 'string' ? JSON.parse(last.details) as unknown : last.details }, { entityId: '12000', details: { reference: 'R12000' } }, 'in order, with their details')
})

t.test('sql/017: the audit log and the revenue revisions are append-only even in SQL: UPDATE, DELETE and TRUNCATE are refused (before, a session could rewrite who finalized a run; found by the audit probe)', async (t) => {
  const demo = await testDatabase(t)
  await loadDemoData(demo.db)
  await demo.db.transaction().execute((tx) => insertAuditEvents(tx, { keyId: 'bootstrap', role: 'admin', requestId: 'append-only-test' }, [{ action: 'finalize', entityType: 'settlement_run', entityId: '1', details: { digest: 'x' } }]))
  const [events, revisions] = [await rowCount(demo, 'audit_events'), await rowCount(demo, 'revenue_revisions')]
  t.ok(events > 0 && revisions > 0, `${events} audit events and ${revisions} revenue revisions to keep`)
  for (const [table, statements] of [
    ['audit_events', [sql`UPDATE audit_events SET key_id = 'someone-else'`, sql`DELETE FROM audit_events WHERE entity_type = 'settlement_run'`, sql`TRUNCATE audit_events`]],
    ['revenue_revisions', [sql`UPDATE revenue_revisions SET amount = 1`, sql`DELETE FROM revenue_revisions`, sql`TRUNCATE revenue_revisions`]],
  ] as const) {
    for (const statement of statements) await t.rejects(statement.execute(demo.db), new RegExp(`${table} is append-only: its rows are kept as recorded, never changed or deleted`))
  }
  t.equal(await rowCount(demo, 'audit_events'), events, 'every audit event kept')
  t.equal(await rowCount(demo, 'revenue_revisions'), revisions, 'every revision kept')
  const finalize = await demo.db.selectFrom('audit_events').select('key_id').where('request_id', '=', 'append-only-test').executeTakeFirstOrThrow()
  t.equal(finalize.key_id, 'bootstrap', 'as recorded')
})
