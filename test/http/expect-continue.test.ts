import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import { ADMIN_TOKEN, rowCount, testApp, testDatabase } from '../helpers.js'
import { buildWorld } from '../world.js'

/*
 * README, Limits; RFC 9110 §10.1.1: a client that sends Expect: 100-continue waits to be told to
 * send its body. The service tells it only once the request's headers have passed what they can be
 * checked for (the key, the route, the declared length against the operation's limit); before, Node
 * said 100 Continue at once and a file over the import limit was sent before the 413 came.
 */

const IMPORT_LIMIT = 1024 * 1024
const database = await testDatabase(t)
const app = await testApp(t, database, { importLimit: IMPORT_LIMIT })
await buildWorld(t, app)
await app.listen({ port: 0, host: '127.0.0.1' })
const { port } = app.server.address() as { port: number }

/** A connection to the listening service, with all it has sent so far. */
async function connection (): Promise<{ socket: Socket, received: () => string, closed: Promise<unknown> }> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  let raw = ''
  socket.on('data', (chunk: Buffer) => { raw += chunk.toString('utf8') })
  return { socket, received: () => raw, closed: once(socket, 'close') }
}

/** Waits until what the connection received matches `pattern`, it closed, or 5 s passed without it (a client left waiting). */
async function until (c: Awaited<ReturnType<typeof connection>>, pattern: RegExp): Promise<string> {
  const waited = delay(5000)
  while (!pattern.test(c.received()) && !c.socket.destroyed && c.socket.readable) {
    if (await Promise.race([once(c.socket, 'data').then(() => false), c.closed.then(() => false), waited.then(() => true)])) break
  }
  return c.received()
}

/** A 100 Continue, or a whole problem answered in its place. */
const ANSWERED = /^HTTP\/1\.1 100 Continue\r\n\r\n|\r\n\r\n\{[^]*\}$/

const headers = (path: string, type: string, length: number, token = ADMIN_TOKEN, connection = 'close') =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\nExpect: 100-continue\r\nConnection: ${connection}\r\n\r\n`

t.test('a CSV file declared over the import limit is refused 413 at its headers, never told to continue, and the connection closed; nothing imported', async (t) => {
  const revisions = await rowCount(database, 'revenue_revisions')
  const c = await connection()
  c.socket.write(headers('/v1/revenues/import', 'text/csv', 600 * 1024 * 1024, ADMIN_TOKEN, 'keep-alive'))
  // The answer, or a 100 Continue (before, the service waited for the 600 MB then).
  const [head = '', body = ''] = (await until(c, ANSWERED)).split('\r\n\r\n')
  c.socket.destroy()
  t.match(head, /^HTTP\/1\.1 413 Payload Too Large\r\n/, 'the first answer is the refusal, not 100 Continue')
  t.match(head, /\r\nconnection: close\r\n/i)
  t.match(JSON.parse(body), { status: 413, detail: 'The file is larger than the import limit of 1048576 bytes (1 MiB): nothing of it was imported. Split it into smaller files (by year or by month, say) and import each; each import stands on its own.' })
  t.equal(await rowCount(database, 'revenue_revisions'), revisions)
})

t.test('a file within the limit is told to continue, then imported', async (t) => {
  const file = 'zoneCode,districtCode,category,year,month,amount\nQD-HT,,10101,2021,1,100.00\n'
  const c = await connection()
  c.socket.write(headers('/v1/revenues/import', 'text/csv', Buffer.byteLength(file)))
  t.match(await until(c, /\r\n\r\n/), /^HTTP\/1\.1 100 Continue\r\n\r\n$/, 'told to continue, and nothing else yet')
  c.socket.write(file)
  await c.closed
  const [, head = '', body = ''] = c.received().split('\r\n\r\n')
  t.match(head, /^HTTP\/1\.1 200 OK\r\n/)
  t.match(JSON.parse(body), { rows: 1, loaded: 1, rejected: 0 })
})

t.test('a JSON body declared over BODY_LIMIT is refused 413 at its headers, naming the limit; a refused key is 401 at them, whatever the length', async (t) => {
  const districts = await rowCount(database, 'districts')
  const large = await connection()
  large.socket.write(headers('/v1/districts', 'application/json', 2 * 1024 * 1024, ADMIN_TOKEN, 'keep-alive'))
  const refused = await until(large, ANSWERED)
  large.socket.destroy()
  t.match(refused, /^HTTP\/1\.1 413 Payload Too Large\r\n[^]*"detail":"The body is too large for this operation: at most 1048576 bytes \(BODY_LIMIT\)\."/)
  const stranger = await connection()
  stranger.socket.write(headers('/v1/revenues/import', 'text/csv', 100, 'not-a-key'))
  t.match(await until(stranger, ANSWERED), /^HTTP\/1\.1 401 Unauthorized\r\n/, 'the key is refused before the body is asked for')
  stranger.socket.destroy()
  t.equal(await rowCount(database, 'districts'), districts)
})

t.test('JSON to a CSV import is 415 whatever its length, as without the header: its body is asked for and read', async (t) => {
  const c = await connection()
  c.socket.write(headers('/v1/revenues/import', 'application/json', 2))
  t.match(await until(c, /\r\n\r\n/), /^HTTP\/1\.1 100 Continue\r\n\r\n$/)
  c.socket.write('{}')
  await c.closed
  t.match(c.received(), /\r\n\r\nHTTP\/1\.1 415 Unsupported Media Type\r\n/)
})

t.test('a path no route takes is 404 at its headers, never told to continue, whatever the length (found by review: a small body was read first and never asked for)', async (t) => {
  for (const length of [100, 2 * 1024 * 1024]) {
    const c = await connection()
    c.socket.write(headers('/v1/nowhere', 'application/json', length, ADMIN_TOKEN, 'keep-alive'))
    const answer = await until(c, ANSWERED)
    c.socket.destroy()
    t.match(answer, /^HTTP\/1\.1 404 Not Found\r\n[^]*\r\nconnection: close\r\n[^]*"detail":"No route POST \/v1\/nowhere\."/i, `${length} bytes`)
  }
})

t.test('a body of a type the operation does not take is 415 as without the header, not 413 for its length', async (t) => {
  const c = await connection()
  c.socket.write(headers('/v1/districts', 'text/csv', 2 * 1024 * 1024, ADMIN_TOKEN, 'keep-alive'))
  const answer = await until(c, /\r\n\r\n\{[^]*\}$/)
  c.socket.destroy()
  t.match(answer, /HTTP\/1\.1 415 Unsupported Media Type\r\n/)
  t.notMatch(answer, /HTTP\/1\.1 413 /, "no 413 status line (a request id may hold the digits 413)")
})
