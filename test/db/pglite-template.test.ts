import { existsSync } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { openDatabase } from '../../src/db/connect.js'
import { migrate } from '../../src/db/migrate.js'
import { writePgliteTemplate } from '../../src/db/pglite-template.js'
import { temporaryDirectory } from '../helpers.js'

// A new embedded database starts from the template `npm run build` writes (src/db/pglite-template.ts):
// it must then be a database like any other, and a data directory that already holds one must be
// opened as it is, never overwritten by the template.

t.test('a new embedded database from the template migrates and keeps its data; an existing one is never replaced by it', async (t) => {
  const dir = await temporaryDirectory(t, 'pglite-template-')
  const template = await writePgliteTemplate(join(dir, 'template.tar.gz'))
  t.ok(existsSync(template), 'the template is written')
  t.notOk(existsSync(`${template}.${process.pid}.partial`), 'and nothing half-written is left beside it')

  const dataDir = join(dir, 'db')
  const first = openDatabase({ kind: 'pglite', dataDir, template })
  const applied = await migrate(first)
  t.ok(applied.length > 0, 'every migration applies to the new database')
  await first.db.insertInto('districts').values({ code: '370202', name: '市南区' }).execute()
  await first.close()
  t.ok(existsSync(join(dataDir, 'PG_VERSION')), 'the database lives in its data directory')

  const again = openDatabase({ kind: 'pglite', dataDir, template })
  t.same(await migrate(again), [], 'reopened: nothing left to migrate')
  t.same(await again.db.selectFrom('districts').select(['code', 'name']).execute(), [{ code: '370202', name: '市南区' }], 'reopened with the template given again: the data is still there')
  await again.close()

  const inMemory = openDatabase({ kind: 'pglite', template })
  t.same(await migrate(inMemory), applied, 'in memory, from the template: the same migrations')
  t.same(await inMemory.db.selectFrom('districts').select('code').execute(), [], 'and a database of its own')
  await inMemory.close()
})

t.test('a new embedded database, from the template or not, is this user\'s alone: its folders 0700, its files 0600 (PGlite wrote them 0666, whatever the umask; found by the operations probe)', async (t) => {
  const dir = await temporaryDirectory(t, 'pglite-template-')
  const built = await writePgliteTemplate(join(dir, 'template.tar.gz'))
  for (const template of [built, false] as const) {
    const dataDir = join(dir, template === false ? 'initdb' : 'db')
    const database = openDatabase({ kind: 'pglite', dataDir, template })
    await migrate(database)
    await database.close()
    const entries = await readdir(dataDir, { recursive: true })
    t.ok(entries.length > 500, `the database's ${entries.length} folders and files`)
    const open = []
    for (const path of [dataDir, ...entries.map((entry) => join(dataDir, entry))]) {
      if (((await stat(path)).mode & 0o077) !== 0) open.push(path)
    }
    t.same(open, [], `${template === false ? 'initialized by PGlite' : 'from the template'}: none that another user may read or write`)
  }
})
