import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, readFileSync, readlinkSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { hostname, uptime } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import t from 'tap'
import { LOCK_REFRESH_MS, LOCK_STALE_MS, openDatabase } from '../../src/db/connect.js'
import { temporaryDirectory } from '../helpers.js'

/*
 * README, Operations: the embedded PGlite is one process's database. A directory is taken by one
 * handle at a time (DATA_DIR/pglite.lock, naming the process); a lock left by a process that is
 * gone is taken over.
 */

const select1 = async (handle: ReturnType<typeof openDatabase>) => (await sql<{ one: number }>`select 1 as one`.execute(handle.db)).rows[0]?.one

t.test('a second handle on a directory in use is refused, naming the process; once the first is closed, it opens', async (t) => {
  const dataDir = join(await temporaryDirectory(t, 'pglite-lock-'), 'pglite')
  const first = openDatabase({ kind: 'pglite', dataDir, template: false })
  t.equal(await select1(first), 1)
  t.ok(existsSync(`${dataDir}.lock`), 'the lock file is beside the directory')
  const second = openDatabase({ kind: 'pglite', dataDir, template: false })
  await t.rejects(select1(second), { message: new RegExp(`is in use by process ${process.pid} \\(this one\\), the service or a command such as settle: stop it first`) })
  await second.close()
  t.ok(existsSync(`${dataDir}.lock`), 'the refused handle leaves the lock to its holder')
  await first.close()
  t.notOk(existsSync(`${dataDir}.lock`), 'closed: the lock is gone')
  const third = openDatabase({ kind: 'pglite', dataDir, template: false })
  t.equal(await select1(third), 1)
  await third.close()
})

t.test('a lock left by a process that is gone, or by an earlier process with this one\'s number (a restarted container), is taken over', async (t) => {
  const dataDir = join(await temporaryDirectory(t, 'pglite-lock-'), 'pglite')
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString()
  for (const holder of [gone, String(process.pid)]) {
    writeFileSync(`${dataDir}.lock`, holder)
    const handle = openDatabase({ kind: 'pglite', dataDir, template: false })
    t.equal(await select1(handle), 1, `left by ${holder === gone ? 'a process that has exited' : 'this process\'s number, not held by it'}`)
    await handle.close()
  }
})

t.test('a lock last touched before this machine started is taken over, whatever process has its number now (found by a probe: after a reboot another program had it, and the start was refused until the lock was removed by hand); touched since, it is refused', async (t) => {
  const dataDir = join(await temporaryDirectory(t, 'pglite-lock-'), 'pglite')
  const lock = `${dataDir}.lock`
  const living = String(process.ppid)
  writeFileSync(lock, `${living}\n${hostname()}\n${readlinkSync('/proc/self/ns/pid')}\n`)
  const refused = openDatabase({ kind: 'pglite', dataDir, template: false })
  await t.rejects(select1(refused), { message: new RegExp(`is in use by process ${living}, the service or a command such as settle`) }, 'a living process, touched since the machine started')
  await refused.close()
  const beforeBoot = new Date(Date.now() - uptime() * 1000 - 60_000)
  utimesSync(lock, beforeBoot, beforeBoot)
  const taken = openDatabase({ kind: 'pglite', dataDir, template: false })
  t.equal(await select1(taken), 1, 'the same lock, last touched a minute before the machine started: taken over')
  t.match(readFileSync(lock, 'utf8'), new RegExp(`^${process.pid}\n`), 'now naming this process')
  await taken.close()
})

t.test('a lock taken in another process namespace (another container on the same volume, process 1 there as here, whatever its host name) ' +
  'is refused while its holder touches it, and taken over once it goes LOCK_STALE_MS untouched (a container killed or restarted); found by review', async (t) => {
  const dataDir = join(await temporaryDirectory(t, 'pglite-lock-'), 'pglite')
  const lock = `${dataDir}.lock`
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString()
  const cases = [
    { holder: gone, host: 'settle-container-7f3a', namespace: 'pid:[4026532999]' },
    { holder: '1', host: hostname(), namespace: 'pid:[4026532999]' }, // a pod's other container: the same host name
    { holder: String(process.pid), host: 'settle-container-7f3a', namespace: '' }, // written by host alone (4a80eff)
  ]
  for (const { holder, host, namespace } of cases) {
    const written = `${holder}\n${host}\n${namespace}\n`
    writeFileSync(lock, written)
    const fresh = openDatabase({ kind: 'pglite', dataDir, template: false })
    await t.rejects(select1(fresh), {
      message: `The embedded database in ${dataDir} is in use by process ${holder} on host ${host} (another container on the same volume?), whose lock was touched 0 s ago: ` +
        `stop it first (PGlite is one process's database). A lock that goes ${LOCK_STALE_MS / 1000} s untouched was left by a process that is gone (a container killed or restarted) and is taken over.`,
    }, `process ${holder} of host ${host}, namespace ${namespace || '(not named)'}: refused while touched`)
    await fresh.close()
    t.equal(readFileSync(lock, 'utf8'), written, 'the lock is left to its holder')
    const untouched = new Date(Date.now() - LOCK_STALE_MS - 1000)
    utimesSync(lock, untouched, untouched)
    const after = openDatabase({ kind: 'pglite', dataDir, template: false })
    t.equal(await select1(after), 1, 'taken over once untouched for LOCK_STALE_MS')
    t.equal(readFileSync(lock, 'utf8'), `${process.pid}\n${hostname()}\n${readlinkSync('/proc/self/ns/pid')}\ninode ${statSync(dataDir).ino}\n`, 'naming this process, its host, its namespace and the directory')
    await after.close()
  }
})

t.test('a held lock is touched every LOCK_REFRESH_MS, so that another namespace sees its holder live', async (t) => {
  const dataDir = join(await temporaryDirectory(t, 'pglite-lock-'), 'pglite')
  const handle = openDatabase({ kind: 'pglite', dataDir, template: false })
  t.equal(await select1(handle), 1)
  const old = new Date(Date.now() - 60_000)
  utimesSync(`${dataDir}.lock`, old, old)
  await new Promise((resolve) => setTimeout(resolve, LOCK_REFRESH_MS + 500))
  t.ok(Date.now() - statSync(`${dataDir}.lock`).mtimeMs < LOCK_REFRESH_MS + 500, 'touched since')
  await handle.close()
  t.notOk(existsSync(`${dataDir}.lock`))
})

t.test('a copy of DATA_DIR taken while the service ran (a restored backup) opens: its lock names the directory it was taken on, not the copy ' +
  '(found by a probe of backups: the copy was refused, naming the process that served the original); the original stays refused', async (t) => {
  const folder = await temporaryDirectory(t, 'pglite-lock-')
  const original = join(folder, 'pglite')
  const serving = openDatabase({ kind: 'pglite', dataDir: original, template: false })
  t.equal(await select1(serving), 1)
  const held = readFileSync(`${original}.lock`, 'utf8')
  t.match(held, new RegExp(`\ninode ${statSync(original).ino}\n$`), 'the lock names the directory')
  const copy = join(folder, 'copy', 'pglite')
  cpSync(original, copy, { recursive: true })
  // As another process (the service, living) left it in the copy.
  writeFileSync(`${copy}.lock`, held.replace(/^\d+\n/, `${process.ppid}\n`))
  const restored = openDatabase({ kind: 'pglite', dataDir: copy, template: false })
  t.equal(await select1(restored), 1, 'the copy opens while the process its lock names lives')
  t.match(readFileSync(`${copy}.lock`, 'utf8'), new RegExp(`\ninode ${statSync(copy).ino}\n$`), 'its lock now names the copy')
  const second = openDatabase({ kind: 'pglite', dataDir: original, template: false })
  await t.rejects(select1(second), { message: /is in use by process \d+ \(this one\)/ }, 'the original, still held, is refused as before')
  await second.close()
  await restored.close()
  await serving.close()
})

t.test('a lock that names another directory but is still touched (a file system that numbers a directory differently on each host) is judged as any other: refused while its holder lives (found by review)', async (t) => {
  const dataDir = join(await temporaryDirectory(t, 'pglite-lock-'), 'pglite')
  const lock = `${dataDir}.lock`
  const living = String(process.ppid)
  writeFileSync(lock, `${living}\n${hostname()}\n${readlinkSync('/proc/self/ns/pid')}\ninode 1\n`)
  const touching = setInterval(() => {
    try {
      utimesSync(lock, new Date(), new Date())
    } catch { /* taken over: the test fails on the open below */ }
  }, LOCK_REFRESH_MS / 2)
  t.teardown(() => clearInterval(touching))
  const refused = openDatabase({ kind: 'pglite', dataDir, template: false })
  await t.rejects(select1(refused), { message: new RegExp(`is in use by process ${living}, the service or a command such as settle`) })
  await refused.close()
  clearInterval(touching)
  t.match(readFileSync(lock, 'utf8'), new RegExp(`^${living}\n`), 'the lock is left to its holder')
})
