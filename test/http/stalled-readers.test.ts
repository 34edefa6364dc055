import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import ExcelJS from 'exceljs'
import t from 'tap'
import { seedSettlementData } from '../../bench/seed.js'
import { mistypedSettings, parseConfig } from '../../src/config.js'
import { ADMIN_TOKEN, temporaryDirectory, testApp, testDatabase } from '../helpers.js'
import { get, post } from '../world.js'

/*
 * README, Limits (SEND_TIMEOUT_MS): an answer larger than the socket's buffers waits in memory for
 * its client to read on. A client that stops reading has its connection closed once nothing has
 * moved on it for SEND_TIMEOUT_MS; one that reads slowly gets the whole answer. The service listens
 * on a Unix socket here: its buffers (about 200 KiB) are far smaller than loopback TCP's (megabytes),
 * so that a statement of 1,000 lines outgrows them in every format.
 */

const SEND_TIMEOUT_MS = 1000
/** What a Unix socket holds unread (net.core.wmem_default, 208 KiB here). */
const UNIX_SOCKET_BUFFERS = 212_992
const database = await testDatabase(t)
await database.withScriptSession((run) => seedSettlementData(run, 1000))
const app = await testApp(t, database, { sendTimeoutMs: SEND_TIMEOUT_MS })
const run = (await post(app, '/v1/settlement-runs', { fiscalYear: 2021 })).json() as { id: number, lineCount: number }
const socketPath = join(await temporaryDirectory(t, 'stalled-'), 'api.sock')
await app.listen({ path: socketPath })

const connections = async () => new Promise<number>((resolve, reject) => app.server.getConnections((error, count) => error === null ? resolve(count) : reject(error)))

/** The number of open connections once it is `wanted`, or after `withinMs` whatever it is. */
async function connectionsOnce (wanted: number, withinMs: number): Promise<number> {
  const deadline = Date.now() + withinMs
  let count = await connections()
  while (count !== wanted && Date.now() < deadline) {
    await delay(50)
    count = await connections()
  }
  return count
}

/** Every sheet's name and the values of its rows, as a spreadsheet reads them. */
async function workbookCells (file: Buffer): Promise<Array<[string, unknown[]]>> {
  const workbook = new ExcelJS.Workbook()
  await workbook.xlsx.load(file as unknown as ArrayBuffer)
  return workbook.worksheets.map((sheet) => [sheet.name, sheet.getSheetValues()])
}

for (const format of ['html', 'csv', 'xlsx'] as const) {
  const path = `/v1/settlement-runs/${run.id}/statement?format=${format}`
  const whole = (await get(app, path)).rawPayload

  t.test(`a client that stops reading the ${format} statement has its connection closed after SEND_TIMEOUT_MS`, async (t) => {
    t.equal(run.lineCount, 1000)
    t.ok(whole.length > UNIX_SOCKET_BUFFERS, `the statement (${whole.length} bytes) outgrows the socket's buffers`)
    const started = Date.now()
    const client = connect(socketPath)
    let received = 0
    let headersSeen = false
    client.on('data', (chunk: Buffer) => {
      received += chunk.length
      // The answer has started: from here on the client reads nothing more.
      if (!headersSeen && chunk.includes('\r\n\r\n')) { headersSeen = true; client.pause() }
    })
    const closed = new Promise<void>((resolve) => client.on('close', () => resolve()))
    client.on('error', () => {})
    client.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\n\r\n`)
    t.equal(await connectionsOnce(1, 5000), 1, 'the request is being answered')
    t.equal(await connectionsOnce(0, 20_000), 0, 'the service let go of the connection')
    t.ok(Date.now() - started >= SEND_TIMEOUT_MS, 'not before SEND_TIMEOUT_MS')
    client.resume()
    await closed
    t.ok(headersSeen, 'the answer had started')
    t.ok(received < whole.length, `the client got part of the answer (${received} of ${whole.length} bytes), not all of it`)
  })

  t.test(`a client that reads the ${format} statement slowly, pausing for less than SEND_TIMEOUT_MS, gets it whole`, async (t) => {
    let pausedMs = 0
    const body = await new Promise<Buffer>((resolve, reject) => {
      const req = httpRequest({ socketPath, path, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, agent: false }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk)
          // A pause after each read, each shorter than the timeout, longer than it all together.
          if (pausedMs < 2 * SEND_TIMEOUT_MS) {
            res.pause()
            pausedMs += SEND_TIMEOUT_MS / 3
            setTimeout(() => res.resume(), SEND_TIMEOUT_MS / 3)
          }
        })
        res.on('end', () => resolve(Buffer.concat(chunks)))
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end()
    })
    t.ok(pausedMs > SEND_TIMEOUT_MS, `the client paused ${pausedMs} ms in all`)
    // A workbook carries the moment it was written, so two downloads differ in a byte or two: compare the cells.
    if (format === 'xlsx') {
      const cells = await workbookCells(body)
      const firstSheetRows = cells[0]?.[1].length ?? 0
      t.ok(firstSheetRows > run.lineCount, `the first sheet holds a row per line (${firstSheetRows} rows)`)
      t.strictSame(cells, await workbookCells(whole), 'every cell of every sheet of the workbook')
    }
    else t.equal(body.toString('utf8'), whole.toString('utf8'), 'the same statement as read at once')
    t.equal(await connectionsOnce(0, 5000), 0)
  })
}

t.test('SEND_TIMEOUT_MS is read from the environment: 60 s by default, a whole number of ms from 1000', async (t) => {
  t.equal(parseConfig({}).sendTimeoutMs, 60_000)
  t.equal(parseConfig({ SEND_TIMEOUT_MS: '5000' }).sendTimeoutMs, 5000)
  t.throws(() => parseConfig({ SEND_TIMEOUT_MS: '500' }), { name: 'ConfigError', message: /SEND_TIMEOUT_MS must be a whole number from 1000 to 3600000, got "500"/ })
  t.same(mistypedSettings({ SEND_TIMEOUT: '5000' }), [{ given: 'SEND_TIMEOUT', meant: 'SEND_TIMEOUT_MS' }], 'a misspelt name is pointed out')
})
