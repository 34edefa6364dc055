import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import t from 'tap'
import { openDatabase } from '../../src/db/connect.js'
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

t.test('a lock taken on another host (another container on the same volume, process 1 there as here) is not taken over: ' +
  'its process cannot be seen from here, so the operator is told which file to delete if it is gone (found by review)', async (t) => {
  const dataDir = join(await temporaryDirectory(t, 'pglite-lock-'), 'pglite')
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString()
  for (const holder of [gone, String(process.pid), '1']) {
    writeFileSync(`${dataDir}.lock`, `${holder}\nsettle-container-7f3a\n`)
    const handle = openDatabase({ kind: 'pglite', dataDir, template: false })
    await t.rejects(select1(handle), {
      message: `The embedded database in ${dataDir} is in use by process ${holder} on host settle-container-7f3a (another container on the same volume?), which this host ` +
        `cannot see: stop it first (PGlite is one process's database). If no process there uses it any more, delete ${dataDir}.lock and start again.`,
    }, `process ${holder} of another host`)
    await handle.close()
    t.equal(readFileSync(`${dataDir}.lock`, 'utf8'), `${holder}\nsettle-container-7f3a\n`, 'the lock is left to its holder')
  }
  rmSync(`${dataDir}.lock`)
  const handle = openDatabase({ kind: 'pglite', dataDir, template: false })
  t.equal(await select1(handle), 1, 'once the file is deleted, it opens')
  t.equal(readFileSync(`${dataDir}.lock`, 'utf8'), `${process.pid}\n${hostname()}\n`, 'and takes it, naming this process and this host')
  await handle.close()
})
