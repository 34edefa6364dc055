import t from 'tap'
import { insertAuditEvents } from '../../src/db/audit.js'
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
