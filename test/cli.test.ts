import { join } from 'node:path'
import t, { type Test } from 'tap'
import { openDatabase } from '../src/db/connect.js'
import { migrate } from '../src/db/migrate.js'
import { loadDemoData } from '../src/demo.js'
import { serverEnvironment, spawnServer } from './spawn.js'

// `npm run settle -- --year 2021 [--finalize]`: the annual job from the command line
// (api-contract.md, Settlement runs; calculation-rules.md §9).

/** A database with the demo data (2020–2023 finalized, 2024 drafted), as the environment of a child process. */
async function demoEnvironment (t: Test): Promise<Record<string, string>> {
  const env = await serverEnvironment(t, 'cli-test-')
  // Where the server process finds it: DATABASE_URL, or the embedded database in DATA_DIR.
  const database = env.DATABASE_URL === undefined
    ? openDatabase({ kind: 'pglite', dataDir: join(env.DATA_DIR, 'pglite') })
    : openDatabase({ kind: 'postgres', url: env.DATABASE_URL, poolSize: 2 })
  await migrate(database)
  await loadDemoData(database.db)
  await database.close()
  return env
}

async function settle (env: Record<string, string>, args: string[]): Promise<{ code: number | null, output: string }> {
  const run = spawnServer(['settle', ...args], { LOG_LEVEL: 'warn', ...env })
  return { code: await run.exited, output: run.output() }
}

t.test('settles and finalizes a year, with a progress bar and a summary per district', async (t) => {
  const env = await demoEnvironment(t)
  const { code, output } = await settle(env, ['--year', '2024', '--finalize'])
  t.equal(code, 0, output)
  t.match(output, /\[#{30}\] 100% 3\/3 agreements/, 'the progress bar reaches 3 of 3')
  t.match(output, /run 7, 2024: finalized/)
  t.match(output, /370211 +2 /, 'a row per district with its number of lines')
  t.match(output, /total +3 /)

  const again = await settle(env, ['--year', '2024', '--finalize'])
  t.equal(again.code, 0, 'a second run of a finalized year is a supplementary settlement')
  t.match(again.output, /adjustment/)
})

t.test('fails with a reason and a non-zero exit code', async (t) => {
  const env = await demoEnvironment(t)
  const none = await settle(env, ['--year', '2030'])
  t.equal(none.code, 1)
  t.match(none.output, /No agreement is in force in 2030/)
  const usage = await settle(env, [])
  t.equal(usage.code, 2)
  t.match(usage.output, /--year is required/)
  const unknown = await settle(env, ['--year', '2021', '--frobnicate'])
  t.equal(unknown.code, 2)
})
