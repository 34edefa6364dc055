import Fastify from 'fastify'
import t from 'tap'
import { isDatabaseUnavailable } from '../../src/db/errors.js'
import { registerProblemHandlers } from '../../src/http/problem.js'
import { expectProblem } from '../helpers.js'

// Which database errors answer 503 database-unavailable (the fault drills in test/faults.test.ts
// produce them for real on PostgreSQL), and which stay what they are.

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code })

const unavailable: Array<[string, unknown]> = [
  ['connection refused', withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')],
  ['connection reset', withCode('ECONNRESET', 'read ECONNRESET')],
  ['host unreachable', withCode('EHOSTUNREACH')],
  ['every address of a host name refused', Object.assign(new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')]), { code: 'ECONNREFUSED' })],
  ['every address refused, code only on the inner errors', new AggregateError([withCode('ECONNREFUSED')])],
  ['57P01 admin_shutdown (pg_ctl stop -m fast)', withCode('57P01', 'terminating connection due to administrator command')],
  ['57P02 crash_shutdown', withCode('57P02')],
  ['57P03 cannot_connect_now (starting up, shutting down)', withCode('57P03', 'the database system is shutting down')],
  ['53300 too_many_connections', withCode('53300', 'sorry, too many clients already')],
  ['class 08: connection_failure', withCode('08006')],
  ['class 08: connection_does_not_exist', withCode('08003')],
  ['the connection ended', new Error('Connection terminated unexpectedly')],
  ['the connection timed out while connecting', new Error('Connection terminated due to connection timeout')],
  ['the pool waited too long for a connection', new Error('timeout exceeded when trying to connect')],
  ['a client that broke before', new Error('Client has encountered a connection error and is not queryable')],
  ['3D000 invalid_catalog_name (the database was dropped or renamed)', withCode('3D000', 'database "fiscal" does not exist')],
  // Found by a probe: a database set to refuse connections (maintenance) answered 500.
  ['55000 the database not accepting connections (ALLOW_CONNECTIONS false)', withCode('55000', 'database "fiscal" is not currently accepting connections')],
  ['28P01 the password refused (changed while the service runs)', withCode('28P01', 'password authentication failed for user "fiscal"')],
  ['28000 the login refused by pg_hba.conf', withCode('28000', 'no pg_hba.conf entry for host "10.0.0.5", user "fiscal", database "fiscal"')],
]

// A statement past its time limit, or a database that sent nothing back in time: 503 as well (databaseTimedOut).
const timedOut: Array<[string, unknown]> = [
  ['57014 query_canceled (statement_timeout)', withCode('57014', 'canceling statement due to statement timeout')],
  ['no answer within the query bound (src/db/connect.ts)', withCode('QUERY_TIMEOUT', 'the database sent nothing back within 1000 ms')],
]

const notUnavailable: Array<[string, unknown, number]> = [
  ['unique violation', withCode('23505'), 409],
  ['foreign key violation', withCode('23503'), 422],
  ['invalid text representation', withCode('22P02'), 500],
  ['55000 of a statement (object_not_in_prerequisite_state): a defect, not an outage', withCode('55000', 'cannot refresh materialized view concurrently'), 500],
  ['a plain error', new Error('something else'), 500],
]

t.test('isDatabaseUnavailable', async (t) => {
  for (const [name, error] of unavailable) t.ok(isDatabaseUnavailable(error), name)
  for (const [name, error] of notUnavailable) t.notOk(isDatabaseUnavailable(error), name)
  for (const [name, error] of timedOut) t.notOk(isDatabaseUnavailable(error), `${name}: not an outage, a timeout`)
  t.notOk(isDatabaseUnavailable(undefined), 'undefined')
  t.notOk(isDatabaseUnavailable('ECONNREFUSED'), 'a string')
})

t.test('the error handler answers 503 problem+json with Retry-After for each, and leaves the others alone', async (t) => {
  const app = Fastify({ logger: false })
  registerProblemHandlers(app)
  const errors = [...unavailable.map(([, e]) => e), ...notUnavailable.map(([, e]) => e), ...timedOut.map(([, e]) => e)]
  app.get<{ Params: { n: string } }>('/fail/:n', async (request) => { throw errors[Number(request.params.n)] })
  t.teardown(() => app.close())
  for (const [i, [name]] of unavailable.entries()) {
    const response = await app.inject({ url: `/fail/${i}` })
    const body = expectProblem(t, response, 503)
    t.match(body.type, /database-unavailable$/, name)
    t.equal(response.headers['retry-after'], '5')
  }
  for (const [i, [name, , status]] of notUnavailable.entries()) {
    const response = await app.inject({ url: `/fail/${unavailable.length + i}` })
    t.equal(response.statusCode, status, name)
    t.equal(response.headers['retry-after'], undefined)
  }
  for (const [i, [name]] of timedOut.entries()) {
    const response = await app.inject({ url: `/fail/${unavailable.length + notUnavailable.length + i}` })
    const body = expectProblem(t, response, 503)
    t.match(body.type, /database-unavailable$/, name)
    t.match(body.detail, /did not answer in time/)
    t.equal(response.headers['retry-after'], '5')
  }
})
