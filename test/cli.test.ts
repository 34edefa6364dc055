import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { openDatabase } from '../src/db/connect.js'
import { migrate } from '../src/db/migrate.js'
import { loadDemoData } from '../src/demo.js'
import { createPostgresDatabase, onPostgres } from './helpers.js'

// `npm run settle -- --year 2021 [--finalize]`: the annual job from the command line
// (api-contract.md, Settlement runs; calculation-rules.md §9).

const root = new URL('..', import.meta.url).pathname

/** A database with the demo data (2020 finalized, 2021 drafted), as the environment of a child process. */
async function demoEnvironment (t: Test): Promise<Record<string, string>> {
  const dataDir = await mkdtemp(join(tmpdir(), 'cli-test-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  let env: Record<string, string> = { DATA_DIR: dataDir }
  let database
  if (onPostgres) {
    const { url, drop } = await createPostgresDatabase()
    t.teardown(drop)
    env = { ...env, DATABASE_URL: url }
    database = openDatabase({ kind: 'postgres', url, poolSize: 2 })
  } else {
    database = openDatabase({ kind: 'pglite', dataDir: join(dataDir, 'pglite') })
  }
  await migrate(database)
  await loadDemoData(database.db)
  await database.close()
  return env
}

function settle (env: Record<string, string>, args: string[]): Promise<{ code: number | null, output: string }> {
  const childEnv: Record<string, string | undefined> = { ...process.env, LOG_LEVEL: 'warn', ...env }
  if (env.DATABASE_URL === undefined) delete childEnv.DATABASE_URL
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts', 'settle', ...args], { cwd: root, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (c: Buffer) => { output += c.toString() })
  child.stderr.on('data', (c: Buffer) => { output += c.toString() })
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output })))
}

t.test('settles and finalizes a year, with a progress bar and a summary per district', async (t) => {
  const env = await demoEnvironment(t)
  const { code, output } = await settle(env, ['--year', '2021', '--finalize'])
  t.equal(code, 0, output)
  t.match(output, /\[#{30}\] 100% 3\/3 agreements/, 'the progress bar reaches 3 of 3')
  t.match(output, /run 3, 2021: finalized/)
  t.match(output, /370211 +2 /, 'a row per district with its number of lines')
  t.match(output, /total +3 /)

  const again = await settle(env, ['--year', '2021', '--finalize'])
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
