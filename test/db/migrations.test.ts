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
  await t.rejects(migrate(database, dir), { name: 'OperatorError', message: /^migrations: 900_broken\.sql failed, and nothing of it was applied: division by zero$/ })
  const tables = await sql<{ name: string }>`select table_name as name from information_schema.tables where table_name in ('half_done', 'revenue_categories')`.execute(database.db)
  t.same(tables.rows.map((r) => r.name), ['revenue_categories'], 'the good migration stays, the broken one left no table')
  const applied = await database.db.selectFrom('schema_migrations').select('name').execute()
  t.notOk(applied.some((r) => r.name === '900_broken.sql'), 'and no record of it')
})

t.test('a migration the database refuses is named, with what to do when the database holds what it creates unrecorded (found by a probe of backups: a partial restore stopped the start with pg\'s stack trace, naming no migration)', async (t) => {
  const database = await emptyDatabase(t)
  await migrate(database)
  await sql`DELETE FROM schema_migrations WHERE name = '017_audit_append_only.sql'`.execute(database.db)
  await t.rejects(migrate(database), {
    name: 'OperatorError',
    message: /^migrations: 017_audit_append_only\.sql failed, and nothing of it was applied: function "kept_as_recorded" already exists with same argument types\. The database holds what it creates but schema_migrations does not record it \(a partial restore, or rows removed from that table\): restore a whole dump into an empty database \(README, Backups\)$/,
  })
  t.equal(await rowCount(database, 'schema_migrations'), (await readMigrations(defaultMigrationsDir())).length - 1, 'nothing recorded')
})

if (onPostgres) {
  t.test('a migration that runs past the statement timeout is named too (found by review: a bare stack trace)', async (t) => {
    const dir = await temporaryDirectory(t, 'migrations-')
    for (const file of await readMigrations(defaultMigrationsDir())) await copyFile(join(defaultMigrationsDir(), file.name), join(dir, file.name))
    await writeFile(join(dir, '900_slow.sql'), 'SET LOCAL statement_timeout = 50;\nSELECT pg_sleep(2);\n')
    const database = await emptyDatabase(t)
    await t.rejects(migrate(database, dir), { name: 'OperatorError', message: /^migrations: 900_slow\.sql failed, and nothing of it was applied: canceling statement due to statement timeout$/ })
  })
}

t.test('an applied migration whose file changed is refused', async (t) => {
  const database = await emptyDatabase(t)
  await migrate(database)
  await database.db.updateTable('schema_migrations').set({ checksum: 'edited' }).where('name', '=', '001_revenue_categories.sql').execute()
  await t.rejects(migrate(database), /001_revenue_categories\.sql was changed after it was applied/)
})

t.test('a database a newer release migrated is refused, and nothing is applied to it', async (t) => {
  const database = await emptyDatabase(t)
  const dir = await temporaryDirectory(t, 'migrations-')
  const files = await readMigrations(defaultMigrationsDir())
  for (const file of files.slice(0, 3)) await copyFile(join(defaultMigrationsDir(), file.name), join(dir, file.name))
  await migrate(database)
  await database.db.insertInto('schema_migrations').values({ name: '900_from_a_newer_release.sql', checksum: 'newer' }).execute()
  await t.rejects(migrate(database), /the database has 900_from_a_newer_release\.sql, which this build does not have; a newer release migrated it/)
  t.equal(await rowCount(database, 'schema_migrations'), files.length + 1, 'the newer release\'s record stays')
  // An older build (here: one with the first three files) is refused in the same words, not migrated further.
  await t.rejects(migrate(database, dir), /the database has 004_debts\.sql, .*, 900_from_a_newer_release\.sql, which this build does not have/)
})

t.test('a database that applied 012 before a comment in it was reworded (ccd5ccc) starts: its schema is the same; another checksum of 012 is refused', async (t) => {
  const database = await emptyDatabase(t)
  await migrate(database)
  const set = (checksum: string) => database.db.updateTable('schema_migrations').set({ checksum }).where('name', '=', '012_settlement_lines_order.sql').execute()
  await set('59cbb94cfc80f6622946e56a1b78121c190a159a4a16b05a8238df3307dfa1b8')
  t.same(await migrate(database), [], 'nothing to apply, nothing refused')
  await set('b5a4fb89aa56eecc1360a141925395c4696d5fd69549653172a0d9ef0faf8885')
  await t.rejects(migrate(database), /012_settlement_lines_order\.sql was changed after it was applied/)
})

/**
 * Every migration file as it landed: an applied file never changes (sql/001: add a new migration
 * instead), or every database that applied it refuses to start. A new file is added here as it lands.
 */
const LANDED = {
  '001_revenue_categories.sql': 'fd14ef9f077dbd7e67f699227f027b8ad35ab560cd261b320d49f188c057fe6b',
  '002_registry.sql': '8a92f22d8ee5ff1e903a9aa0380f8ae3187dc84cd631502046afa186ba2a226d',
  '003_settlements.sql': '48a45ead8dcd4514e5ddaced9f21b7309996fe98d176f420e03b003426ab0119',
  '004_debts.sql': '63e58e2dd45b3f347460c3feab90cebe9dd633f600ccba0028d24caef527c73f',
  '005_settlement_ledger.sql': 'fe99ab40e57f2d7e24b58b6867daed7daf38dfa7afcb7f9636330e90479b279e',
  '006_settlement_review.sql': 'fad76c0a927bde03c23cc6bbb8ad2ec3662bcb4233159c7cff179dbc4c5c60de',
  '007_hardening.sql': '047951d58888b68ad847aed1211fc3405f2a57a81f740f23d38802e6f340da2e',
  '008_agreement_terms.sql': 'a3b3bad0f76d90f0690660d4d7c917f35d2cb692b77f7087160a89d0f8994d88',
  '009_revenue_import_speed.sql': 'ad468f6f667dd1b2a5aca9d239a202afe85ff8b854b4460dbcb82adcc0cd052f',
  '010_revenue_year_totals.sql': '982711581661458b0f0bb1dd1b8d76a77428926e1609a17d22ec7c50bbf16ed8',
  '011_settlement_references.sql': '8e4eebb518bebad795333bbc77570646022ade4f41624b08058abd628287db63',
  '012_settlement_lines_order.sql': 'b5a4fb89aa56eecc1360a141925395c4696d5fd69549653172a0d9ef0faf8884',
  '013_settlement_write_offs.sql': '21911114ffaea38ce3e401fe526ab7ea9ec0e669007c0534d83b29d3255cd4c1',
  '014_settlement_finalized_inserts.sql': '9c7bf19e411243ca1c702cf8337c983765784f4124a8296206fbf4cc2e97cb2f',
  '015_settlement_digest_input.sql': '53d3dc7bbaa4610b4def7b2d98cd357b3ceaef0a1c02588069aa574b78634ea4',
  '016_settlement_write_offs_before_013.sql': '3d805f76e8f07d1da812a44d590bff0e0cd6d0116327b15364e0f1fb4d0d5851',
  '017_audit_append_only.sql': 'a8bf90b4935d34659bde919b7e7b675554b86f0b01ea4afb201ba6fdabe668cf',
  '018_settlement_reference_plans.sql': 'ee03c9bc4ba8fd932723716a7c0c3bbd8afb7c4803e886ce072c4d46c35959f9',
}

t.test('no migration file changes once it has landed: each file\'s checksum is the one pinned here', async (t) => {
  const files = await readMigrations(defaultMigrationsDir())
  t.same(Object.fromEntries(files.map((f) => [f.name, f.checksum])), LANDED)
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
