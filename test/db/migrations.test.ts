import { copyFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { sql } from 'kysely'
import t from 'tap'
import { defaultMigrationsDir, migrate, readMigrations } from '../../src/db/migrate.js'
import { emptyDatabase, onPostgres, postgresDatabase, rowCount, temporaryDirectory } from '../helpers.js'

// The SQL migrations in sql/, on whichever database this run uses (CI runs the suite on PGlite
// and again on PostgreSQL).

t.test('a fresh database gets every migration once, and the seeded classification', async (t) => {
  const database = await emptyDatabase(t)
  const files = await readMigrations(defaultMigrationsDir())
  t.same(await migrate(database), files.map((f) => f.name), 'all applied, in order')
  t.same(await migrate(database), [], 'a second run applies nothing')

  const rows = await database.db.selectFrom('revenue_categories').selectAll().orderBy('code').execute()
  t.equal(rows.length, 26, 'every line of revenue-categories.csv')
  const vat = rows.find((r) => r.code === '10101')!
  t.match(vat, { parent_code: '101', name_zh: '增值税', name_en: 'Value-added tax', kind: 'tax', local_share: '0.500000', origin: 'national' })
  t.equal(typeof vat.local_share, 'string', 'numeric arrives as a string')
  t.match(rows.find((r) => r.code === '10304'), { name_zh: '行政事业性收费收入', kind: 'fee', local_share: '1.000000' })
  t.match(rows.find((r) => r.code === '101'), { parent_code: null, local_share: null, note: 'class' })
  t.same([...new Set(rows.map((r) => r.kind))].sort(), ['fee', 'non_tax', 'tax'])
})

t.test('§1/§7 amounts go to the database and back as strings, exactly', async (t) => {
  const database = await emptyDatabase(t)
  const { rows } = await sql<{ big: string, half: string, negativeHalf: string }>`
    select ${'999999999999999.99'}::numeric(17,2) as big,
           ${'0.005'}::numeric(17,2) as half,
           ${'-0.005'}::numeric(17,2) as "negativeHalf"`.execute(database.db)
  t.same(rows[0], { big: '999999999999999.99', half: '0.01', negativeHalf: '-0.01' },
    'numeric(17,2) keeps 17 digits and rounds half away from zero, as §1 does')
})

t.test('a migration that fails leaves nothing behind', async (t) => {
  const dir = await temporaryDirectory(t, 'migrations-')
  for (const file of await readMigrations(defaultMigrationsDir())) await copyFile(join(defaultMigrationsDir(), file.name), join(dir, file.name))
  await writeFile(join(dir, '900_broken.sql'), 'CREATE TABLE half_done (x int);\nSELECT 1 / 0;\n')
  const database = await emptyDatabase(t)
  await t.rejects(migrate(database, dir), /division by zero/)
  const tables = await sql<{ name: string }>`select table_name as name from information_schema.tables where table_name in ('half_done', 'revenue_categories')`.execute(database.db)
  t.same(tables.rows.map((r) => r.name), ['revenue_categories'], 'the good migration stays, the broken one left no table')
  const applied = await database.db.selectFrom('schema_migrations').select('name').execute()
  t.notOk(applied.some((r) => r.name === '900_broken.sql'), 'and no record of it')
})

t.test('an applied migration whose file changed is refused', async (t) => {
  const database = await emptyDatabase(t)
  await migrate(database)
  await database.db.updateTable('schema_migrations').set({ checksum: 'edited' }).where('name', '=', '001_revenue_categories.sql').execute()
  await t.rejects(migrate(database), /001_revenue_categories\.sql was changed after it was applied/)
})

t.test('two migrations started at once apply each file once', async (t) => {
  // On PostgreSQL: two processes' pools on one new database; on PGlite: two calls on its one connection.
  let a = await emptyDatabase(t)
  let b = a
  if (onPostgres) {
    const own = await postgresDatabase(t)
    a = own.open(2)
    b = own.open(2)
  }
  const [first, second] = await Promise.all([migrate(a), migrate(b)])
  const files = (await readMigrations(defaultMigrationsDir())).map((f) => f.name)
  t.same([...first, ...second].sort(), files, 'between them, each file exactly once')
  t.equal(await rowCount(a, 'revenue_categories'), 26)
})

t.test('009: a zone, district or category that revenue names cannot be removed or renamed; one that none names can', async (t) => {
  const database = await emptyDatabase(t)
  await migrate(database)
  const db = database.db
  await db.insertInto('districts').values([{ code: '370202', name: '市南区' }, { code: '370203', name: '市北区' }]).execute()
  await db.insertInto('zones').values([{ code: 'QD-A', name: 'A', host_district_code: '370202' }, { code: 'QD-B', name: 'B', host_district_code: '370203' }]).execute()
  await db.insertInto('revenue_records').values({ zone_code: 'QD-A', district_code: '370202', category_code: '10101', year: 2021, month: 1, amount: '100.00', revision: 1 }).execute()
  const refused = /revenue is recorded under (zones QD-A|districts 370202|revenue_categories 10101): it cannot be removed or renamed/
  await t.rejects(db.deleteFrom('zones').where('code', '=', 'QD-A').execute(), refused, 'the zone stays')
  await t.rejects(db.updateTable('zones').set({ code: 'QD-Z' }).where('code', '=', 'QD-A').execute(), refused, 'and keeps its code')
  await t.rejects(db.updateTable('districts').set({ code: '370299' }).where('code', '=', '370202').execute(), refused, 'the district keeps its code')
  await t.rejects(db.deleteFrom('revenue_categories').where('code', '=', '10101').execute(), refused, 'the category stays')
  await db.updateTable('zones').set({ name: 'A (renamed)' }).where('code', '=', 'QD-A').execute()
  t.equal((await db.selectFrom('zones').select('name').where('code', '=', 'QD-A').executeTakeFirstOrThrow()).name, 'A (renamed)', 'a name still changes')
  await db.deleteFrom('zones').where('code', '=', 'QD-B').execute()
  await db.deleteFrom('districts').where('code', '=', '370203').execute()
  t.same((await db.selectFrom('districts').select('code').execute()).map((r) => r.code), ['370202'], 'what no revenue names goes')
  const error = await db.deleteFrom('districts').where('code', '=', '370202').execute().catch((e: unknown) => e)
  t.equal((error as { code?: string }).code, '23503', 'refused as a foreign key would be (SQLSTATE 23503)')
})
