import { request as httpRequest } from 'node:http'
import t from 'tap'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ADMIN_TOKEN, onPostgres, rowCount, temporaryDirectory, testApp, testDatabase } from '../helpers.js'
import { buildWorld, created } from '../world.js'

/*
 * A CSV import reads its file inside its write transaction. A client that sends its file slowly
 * (a district office on a poor line) must not hold the other writes while it does: on PGlite, whose
 * one connection every write shares, a revenue file is spooled to a temporary file first; a debt
 * file is spooled on either database, the import holding the register's lock (src/http/csv-bodies.ts).
 */

// The spooled files of this file's imports, in a directory of its own (os.tmpdir() reads TMPDIR).
process.env.TMPDIR = await temporaryDirectory(t, 'spools-')
const spools = async () => (await readdir(process.env.TMPDIR ?? '')).filter((name) => name.startsWith('csv-import-'))
const database = await testDatabase(t)
const app = await testApp(t, database)
await buildWorld(t, app)
await app.listen({ port: 0, host: '127.0.0.1' })
const { port } = app.server.address() as { port: number }

/** A POST whose body is sent in part now; `finish` sends the rest and answers the status and body. */
function slowUpload (path: string, firstPart: string) {
  const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path, headers: { 'content-type': 'text/csv', authorization: `Bearer ${ADMIN_TOKEN}` } })
  const answer = new Promise<{ status: number, body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
  })
  req.write(firstPart)
  let answered = false
  void answer.then(() => { answered = true }, () => {})
  return {
    answered: () => answered,
    finish: async (rest: string) => {
      req.end(rest)
      return answer
    },
  }
}

/** The write, or 'still waiting' when it has not answered in 20 s (it would wait for the upload to end). */
async function unlessBlocked<T> (write: Promise<T>): Promise<T | 'still waiting'> {
  let timer: NodeJS.Timeout | undefined
  const waited = new Promise<'still waiting'>((resolve) => { timer = setTimeout(() => resolve('still waiting'), 20_000) })
  try {
    return await Promise.race([write, waited])
  } finally {
    clearTimeout(timer)
  }
}

t.test(`a revenue file sent slowly does not hold another write (${onPostgres ? 'PostgreSQL' : 'PGlite: spooled first'})`, async (t) => {
  const upload = slowUpload('/v1/revenues/import', 'zoneCode,districtCode,category,year,month,amount\nQD-HT,370214,10101,2021,1,100.00\n')
  // The upload's first lines have arrived; its last has not.
  await new Promise((resolve) => setTimeout(resolve, 200))
  const other = await unlessBlocked(created(t, app, '/v1/revenues', { records: [{ zoneCode: 'QD-HT', category: '10104', year: 2021, month: 1, amount: '5.00' }] }, 200))
  t.same(other, { records: 1, created: 1, revised: 0, unchanged: 0 }, 'the JSON write answered while the file was still arriving')
  t.notOk(upload.answered(), 'the import had not answered: its file was not all sent')
  const answer = await upload.finish('QD-HT,370214,10101,2021,2,200.00\n')
  t.equal(answer.status, 200, answer.body)
  t.match(JSON.parse(answer.body), { rows: 2, loaded: 2, rejected: 0, created: 2 })
  t.equal(await rowCount(database, 'revenue_records'), 3, 'both lines of the file and the other write are stored')
})

t.test('a debt file sent slowly does not hold a debt registered meanwhile (the register\'s lock)', async (t) => {
  const header = 'zoneCode,reference,creditor,kind,principal,outstanding,interestRate,incurredOn,maturityDate,registeredOn,notes'
  const upload = slowUpload('/v1/debts/import', `${header}\nQD-HT,SLOW-1,示例银行,bank_loan,1000.00,800.00,,,,2020-12-31,\n`)
  await new Promise((resolve) => setTimeout(resolve, 200))
  const other = await unlessBlocked(created(t, app, '/v1/debts', { zoneCode: 'QD-HT', reference: 'FAST-1', creditor: '示例银行', kind: 'bank_loan', principal: '10.00', outstanding: '10.00', registeredOn: '2020-12-31' }))
  t.match(other, { reference: 'FAST-1', outstanding: '10.00' }, 'registered while the file was still arriving')
  t.notOk(upload.answered())
  const answer = await upload.finish('QD-HT,SLOW-2,示例银行,bond,500.00,500.00,,,,2020-12-31,\n')
  t.equal(answer.status, 200, answer.body)
  t.match(JSON.parse(answer.body), { rows: 2, registered: 2, rejected: 0 })
  t.equal(await rowCount(database, 'debts'), 3)
})

t.test('a spooled file over the import limit is 413 and stores nothing; the temporary file goes', async (t) => {
  const small = await testApp(t, database, { importLimit: 100 })
  const response = await small.inject({
    method: 'POST', url: '/v1/debts/import', headers: { 'content-type': 'text/csv', authorization: `Bearer ${ADMIN_TOKEN}` },
    payload: `zoneCode,reference,creditor,kind,principal,outstanding,interestRate,incurredOn,maturityDate,registeredOn,notes\n${'QD-HT,BIG,b,bond,1.00,1.00,,,,,\n'.repeat(10)}`,
  })
  t.equal(response.statusCode, 413)
  t.match(response.json(), {
    type: /body-too-large$/,
    detail: 'The file is larger than the import limit of 100 bytes: nothing of it was imported. Split it into smaller files (by year or by month, say) and import each; each import stands on its own.',
  }, 'what to do about it (before: the limit in bytes alone)')
  const mebibyte = await testApp(t, database, { importLimit: 1024 * 1024 })
  const revenueRows = await rowCount(database, 'revenue_records')
  const revenues = await mebibyte.inject({
    method: 'POST', url: '/v1/revenues/import', headers: { 'content-type': 'text/csv', authorization: `Bearer ${ADMIN_TOKEN}` },
    payload: `zoneCode,districtCode,category,year,month,amount\n${'QD-BL,370203,10302,2021,1,1.00\n'.repeat(40_000)}`,
  })
  t.equal(revenues.statusCode, 413)
  t.match(revenues.json().detail, /^The file is larger than the import limit of 1048576 bytes \(1 MiB\): nothing of it was imported\. Split it/,
    `a revenue file too, ${onPostgres ? 'streamed' : 'spooled'}; a limit of whole MiB said in MiB`)
  t.equal(await rowCount(database, 'revenue_records'), revenueRows, 'nothing of it stored')
  t.equal(await rowCount(database, 'debts'), 3)
  const good = await small.inject({ method: 'POST', url: '/v1/debts/import', headers: { 'content-type': 'text/csv', authorization: `Bearer ${ADMIN_TOKEN}` }, payload: 'zoneCode,reference\n' })
  t.equal(good.statusCode, 422, 'a file within the limit is read (its header is wrong)')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(await spools(), [], 'no temporary file is left behind, by these imports or the ones above')
})

t.test('a spooled file\'s name goes once the whole body is in and the import reads it: a process killed while it imports ' +
  '(SIGKILL, no exit handler) leaves nothing in TMPDIR (before: the whole body stayed until the answer; found by a probe)', async (t) => {
  const before = await rowCount(database, 'debts')
  const lines = Array.from({ length: 5000 }, (_, i) => `QD-HT,SPOOL-${i},建设银行,bank_loan,1.00,1.00,,,,,`)
  const upload = slowUpload('/v1/debts/import', 'zoneCode,reference,creditor,kind,principal,outstanding,interestRate,incurredOn,maturityDate,registeredOn,notes\n')
  for (let i = 0; i < 400 && (await spools()).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5))
  t.equal((await spools()).length, 1, 'while the body arrives, it is spooled under a name')
  const answer = upload.finish(`${lines.join('\n')}\n`)
  for (let i = 0; i < 2000 && (await spools()).length > 0 && !upload.answered(); i++) await new Promise((resolve) => setTimeout(resolve, 1))
  t.same(await spools(), [], 'the name has gone')
  t.notOk(upload.answered(), 'while the import was still reading the file: there was no answer yet')
  const { status, body } = await answer
  t.equal(status, 200, body)
  t.equal(await rowCount(database, 'debts') - before, lines.length, 'every line imported, read through the open file')
})

t.test('a client that goes before its answer leaves the spooled import to finish (and commit), as with a streamed body; other writes go on', async (t) => {
  // 1990–2100 × 12 months × 2 categories: 2,664 lines, long enough to import that the client is gone before the answer.
  const lines = ['zoneCode,districtCode,category,year,month,amount']
  for (let year = 1990; year <= 2100; year++) for (let month = 1; month <= 12; month++) for (const category of ['10302', '10305']) lines.push(`QD-BL,370203,${category},${year},${month},1.00`)
  const before = await rowCount(database, 'revenue_records')
  const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/revenues/import', headers: { 'content-type': 'text/csv', authorization: `Bearer ${ADMIN_TOKEN}` } })
  req.on('error', () => {})
  let answered = false
  req.on('response', () => { answered = true })
  const body = Buffer.from(`${lines.join('\n')}\n`)
  req.end(body)
  // Gone once the server holds the whole file, before the import answers: the spool was seen, and
  // its name has gone (the import reads it through its open descriptor) or it is full size.
  let seen = false
  const spooledWhole = async () => {
    const [dir] = await spools()
    if (dir === undefined) return seen
    seen = true
    return await stat(join(process.env.TMPDIR ?? '', dir, 'body.csv')).then((s) => s.size === body.length, () => false)
  }
  for (let i = 0; i < 400 && !await spooledWhole(); i++) await new Promise((resolve) => setTimeout(resolve, 5))
  req.destroy()
  const stored = async () => await rowCount(database, 'revenue_records') - before
  for (let i = 0; i < 200 && await stored() < lines.length - 1; i++) await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(await stored(), lines.length - 1, `every line stored${answered ? ' (the answer came before the client went: this run did not test the early leaving)' : ', the client gone before the answer'}`)
  const after = await unlessBlocked(created(t, app, '/v1/revenues', { records: [{ zoneCode: 'QD-HT', category: '10104', year: 2021, month: 3, amount: '7.00' }] }, 200))
  t.match(after, { created: 1 }, 'and the next write is not held by an import left waiting')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(await spools(), [], 'the spooled file went')
})

t.test('REQUEST_TIMEOUT_MS bounds the upload, not the import: a file that arrives at once is imported, however long storing it takes ' +
  '(read as it arrived on PostgreSQL, its body took as long to arrive as the import took, and was cut off with 408; found by review)', async (t) => {
  const quick = await testApp(t, database, { requestTimeoutMs: 100 })
  await quick.listen({ port: 0, host: '127.0.0.1' })
  const { port: quickPort } = quick.server.address() as { port: number }
  // 2 zones × 20 categories × 111 years × 12 months: 53,280 lines, a second or more to store.
  const categories = ['10101', '1010101', '10102', '10103', '10104', '10105', '10106', '10107', '10109', '10110',
    '10111', '10112', '10113', '10114', '10118', '10119', '10302', '10304', '10305', '10307']
  const lines = ['zoneCode,districtCode,category,year,month,amount']
  for (const [zone, district] of [['QD-HT', '370214'], ['QD-BL', '370203']]) {
    for (const category of categories) for (let year = 1990; year <= 2100; year++) for (let month = 1; month <= 12; month++) lines.push(`${zone},${district},${category},${year},${month},12.34`)
  }
  const started = Date.now()
  const answer = await new Promise<{ status: number, body: string }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: quickPort, method: 'POST', path: '/v1/revenues/import', headers: { 'content-type': 'text/csv', authorization: `Bearer ${ADMIN_TOKEN}` } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end(`${lines.join('\n')}\n`)
  })
  t.equal(answer.status, 200, answer.body.slice(0, 300))
  t.match(JSON.parse(answer.body), { rows: lines.length - 1, loaded: lines.length - 1, rejected: 0 })
  t.ok(Date.now() - started > 100, `the import took ${Date.now() - started} ms, longer than REQUEST_TIMEOUT_MS`)
})
