import t from 'tap'
import { holdSettlementInputs } from '../../src/db/locks.js'
import { migrate } from '../../src/db/migrate.js'
import { WriteTurns } from '../../src/services/write.js'
import { onPostgres, postgresDatabase, sessionsWaitingOnLock, testApp } from '../helpers.js'
import { agreementBody, injector } from '../world.js'

/*
 * README, Operations: writes waiting on one another's locks never hold every connection of an
 * instance's pool; reads and /ready always find one. A write waits for a turn as long as it would
 * have waited for a connection (2 s), then answers 503 database-unavailable with Retry-After.
 */

const tick = () => new Promise((resolve) => setTimeout(resolve, 20))

t.test('WriteTurns: at most its turns at once, the others in the order they came, each waiting at most its time', async (t) => {
  const turns = WriteTurns.forPool(4, 300)
  t.equal(turns.turns, 2, 'a pool of 4 keeps 2 connections for reads')
  t.equal(WriteTurns.forPool(1, 300).turns, 1, 'a pool of 1 still writes')
  const started: number[] = []
  const releases = new Map<number, () => void>()
  const write = (n: number) => turns.run(async () => {
    started.push(n)
    await new Promise<void>((resolve) => releases.set(n, resolve))
    return n
  })
  const writes = [write(1), write(2), write(3), write(4)]
  await tick()
  t.same(started, [1, 2], 'two run; two wait')
  releases.get(1)?.()
  t.equal(await writes[0], 1)
  await tick()
  t.same(started, [1, 2, 3], 'the first to wait goes first')
  t.match(await writes[3]?.then(() => undefined, (error: unknown) => error), { status: 503, type: 'database-unavailable', headers: { 'retry-after': /^\d+$/ } },
    'the last waited its 300 ms and is refused')
  releases.get(2)?.()
  releases.get(3)?.()
  t.same(await Promise.all(writes.slice(1, 3)), [2, 3])
  const again = [write(5), write(6)]
  await tick()
  t.same(started.slice(3), [5, 6], 'the refused waiter took no turn with it: two run at once again')
  releases.get(5)?.()
  releases.get(6)?.()
  t.same(await Promise.all(again), [5, 6])
})

if (onPostgres) {
  t.test('a finalize waiting behind a long import, and writes queued behind it: reads and /ready still answer 200 on that instance', async (t) => {
    const database = await postgresDatabase(t)
    const handle = database.open(4)
    await migrate(handle)
    const other = database.open(2)
    t.teardown(() => other.close())
    const app = await testApp(t, handle)
    const admin = injector(app)
    await admin('admin', { method: 'POST', url: '/v1/districts', payload: { code: '370214', name: '城阳区' } })
    await admin('admin', { method: 'POST', url: '/v1/zones', payload: { code: 'QD-HT', name: '高新区', hostDistrictCode: '370214' } })
    const id = (await admin('admin', { method: 'POST', url: '/v1/agreements', payload: agreementBody('QD-HT', '370214') })).json().id as number
    await admin('admin', { method: 'POST', url: '/v1/revenues', payload: { records: [{ zoneCode: 'QD-HT', category: '10101', year: 2020, month: 1, amount: '2000.00' }] } })
    const runId = (await admin('admin', { method: 'POST', url: '/v1/settlement-runs', payload: { fiscalYear: 2020 } })).json().id as number

    const reads: Array<[string, number]> = []
    let finalizing: Promise<{ statusCode: number }> | undefined
    let advances: Array<Promise<{ statusCode: number }>> = []
    await other.db.transaction().execute(async (tx) => {
      await holdSettlementInputs(tx) // a large import merging its rows
      finalizing = admin('admin', { method: 'POST', url: `/v1/settlement-runs/${runId}/finalize` })
      t.ok(await sessionsWaitingOnLock(other, 'select pg_advisory_xact_lock('), 'the finalize waits for the import')
      advances = Array.from({ length: 4 }, (_, i) => admin('admin', { method: 'POST', url: '/v1/advances', payload: { agreementId: id, fiscalYear: 2021, paidOn: '2021-03-01', amount: '1.00', documentNo: `预拨-${i}` } }))
      t.ok(await sessionsWaitingOnLock(other, 'select pg_advisory_xact_lock_shared'), 'writes wait behind the finalize')
      for (const url of ['/ready', '/v1/agreements', '/v1/settlement-runs']) reads.push([url, (await admin('admin', { method: 'GET', url })).statusCode])
    })
    t.same(reads, [['/ready', 200], ['/v1/agreements', 200], ['/v1/settlement-runs', 200]], 'before, every connection was a waiting write\'s: 503 after 2 s')
    t.equal((await finalizing!).statusCode, 200)
    t.same((await Promise.all(advances)).map((r) => r.statusCode), [201, 201, 201, 201], 'the writes went on once the import ended')
  })
}
