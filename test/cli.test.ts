import { existsSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { openDatabase } from '../src/db/connect.js'
import { migrate } from '../src/db/migrate.js'
import { loadDemoData } from '../src/demo.js'
import { money } from '../src/domain/money.js'
import { onPostgres, rowCount, testDatabase } from './helpers.js'
import { send, serverEnvironment, spawnServer, startServer } from './spawn.js'

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

async function settle (env: Record<string, string>, args: string[]): Promise<{ code: number | null, output: string, stderr: string, stdout: string }> {
  const run = spawnServer(['settle', ...args], { LOG_LEVEL: 'warn', ...env })
  return { code: await run.exited, output: run.output(), stderr: run.stderr(), stdout: run.stdout() }
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

t.test('under REQUIRE_TWO_ADMINS=1, --finalize stops at the draft it computed, prints its summary and says who finalizes it, exit code 3: neither a failure ' +
  'nor a success a job chained on it could take for a finalized year (README, Finalize; it printed only the refusal and exited 1; found by review)', async (t) => {
  const env = await demoEnvironment(t)
  const { code, output, stderr } = await settle({ ...env, REQUIRE_TWO_ADMINS: '1' }, ['--year', '2024', '--finalize'])
  t.equal(code, 3, output)
  t.equal(stderr, '', 'nothing on standard error')
  t.match(output, 'run 7, 2024: draft (not finalized here: REQUIRE_TWO_ADMINS=1 asks an admin other than the one that computed it to finalize it: POST /v1/settlement-runs/7/finalize)')
  t.match(output, /total +3 /, 'the summary of the draft')
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

t.test('settle --help (or -h) shows the usage on standard output and exits 0, opening nothing, whatever the settings; at LOG_LEVEL=info the log goes to standard error and standard output holds the table alone (it exited 2, and a JSON log line came before the table; found by a probe)', async (t) => {
  const env = await demoEnvironment(t)
  for (const args of [['--help'], ['-h'], ['--year', '2024', '--help']]) {
    const help = await settle({ ...env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', DATA_DIR: join(env.DATA_DIR ?? '.', 'none'), MIN_ZONE_RATE: '0.5' }, args)
    t.equal(help.code, 0, args.join(' '))
    t.equal(help.stdout, 'usage: npm run settle -- --year 2021 [--finalize] [--agreement ID …]\n')
    t.equal(help.stderr, '')
  }
  const { code, stdout, stderr } = await settle({ ...env, LOG_LEVEL: 'info' }, ['--year', '2024'])
  t.equal(code, 0, stderr)
  t.match(stdout, /^settling 2024…\n/, 'standard output begins with what the command says')
  t.notMatch(stdout, /"level"/, 'no log line among it')
  t.match(stderr, /"msg":"database schema is up to date"/, 'the log is on standard error')
})

t.test('settle on an embedded database that is not there (DATA_DIR mistyped) says so and makes none, instead of an empty one with nothing to settle', async (t) => {
  if (onPostgres) return t.pass('PostgreSQL names its database in DATABASE_URL')
  const env = await serverEnvironment(t, 'cli-test-')
  const missing = join(env.DATA_DIR, 'typo')
  const refused = await settle({ DATA_DIR: missing }, ['--year', '2021'])
  t.equal(refused.code, 1)
  t.equal(refused.stderr, `settle: there is no embedded database in ${join(missing, 'pglite')}: set DATA_DIR to the service's data directory, or DATABASE_URL to its PostgreSQL database\n`)
  t.notOk(existsSync(missing), 'no directory was made')
  const usage = await settle({ DATA_DIR: missing }, ['--year', '21'])
  t.equal(usage.code, 2, 'a usage error is told first, before any database is looked for')
  t.match(usage.stderr, /^settle: --year 21 is not a fiscal year: four digits, from 1990 to 2100/)
})

t.test('--year says what is wrong with the year given, and is given once (found by a probe: "--year is required" for a year given, and of two the last settled)', async (t) => {
  const { settleRequest } = await import('../src/cli/settle.js')
  for (const [args, message] of [
    [[], /^settle: --year is required\n/],
    [['--year', 'abc'], /^settle: --year abc is not a fiscal year: four digits, from 1990 to 2100\n/],
    [['--year', '02025'], /^settle: --year 02025 is not a fiscal year/],
    [['--year', '1989'], /^settle: --year 1989 is not a fiscal year/],
    [['--year', '2025', '--year', '2026'], /^settle: --year is given 2 times \(2025, 2026\): one year a run\n/],
  ] as const) {
    const errors: string[] = []
    t.equal(settleRequest([...args], { error: (text) => errors.push(text) }), 2, args.join(' '))
    t.match(errors.join(''), message)
    t.match(errors.join(''), /usage: npm run settle -- --year 2021/)
  }
  t.same(settleRequest(['--year', '2025', '--agreement', '3'], { error: () => {} }), { year: 2025, finalize: false, agreementIds: [3] })
})

t.test('--agreement takes decimal agreement ids, each once: 0x10, 1e3, 07 or a repeat is a usage error (exit 2, on standard error), not another agreement settled', async (t) => {
  const env = await demoEnvironment(t)
  for (const [given, message] of [
    [['--agreement', '0x10'], /settle: --agreement 0x10 is not an agreement id: whole numbers from 1 to 2147483647, written in decimal digits/],
    [['--agreement', '1e3'], /settle: --agreement 1e3 is not an agreement id/],
    [['--agreement', '07'], /settle: --agreement 07 is not an agreement id/],
    [['--agreement', '2147483648'], /settle: --agreement 2147483648 is not an agreement id/],
    [['--agreement', '1', '--agreement', '1'], /settle: --agreement 1 is given twice/],
  ] as const) {
    const refused = await settle(env, ['--year', '2024', ...given])
    t.equal(refused.code, 2, given.join(' '))
    t.match(refused.stderr, message)
    t.notMatch(refused.output, /settling/, 'nothing settled')
  }
  const usage = await settle(env, [])
  t.match(usage.stderr, /--year is required/, 'usage errors on standard error')
})

t.test('interrupted (Ctrl-C, SIGTERM) it says what is stored and exits 130: while the run is computed, nothing (its transaction is rolled back); once it is ' +
  'stored, a draft, not finalized (it exited 130 without a word, and the operator could not tell; found by a probe)', async (t) => {
  const { INTERRUPTED, settleCommand } = await import('../src/cli/settle.js')
  const database = await testDatabase(t)
  await loadDemoData(database.db)
  const settings = { minZoneRate: money('0.60'), importLimit: 0, requireTwoAdmins: false }
  const runs = async () => (await database.db.selectFrom('settlement_runs').select(['id', 'status']).orderBy('id').execute()).map((r) => `${r.id} ${r.status}`)
  const before = await runs()
  /** The command's output, with the interruption coming when it first writes `when`. */
  const interruptedAt = async (when: RegExp) => {
    const interruption = new AbortController()
    const written: string[] = []
    const errors: string[] = []
    const write = (text: string) => {
      written.push(text)
      if (when.test(text)) interruption.abort()
    }
    const code = await settleCommand(database, { year: 2024, finalize: true, agreementIds: undefined }, settings, { write, error: (text) => errors.push(text), isTTY: true }, interruption.signal)
    return { code, written: written.join(''), errors: errors.join('') }
  }

  const computing = await interruptedAt(/ 33% 1\/3 agreements/)
  t.equal(computing.code, INTERRUPTED)
  t.equal(computing.errors, '\nsettle: interrupted at 2/3 agreements; nothing of the run is stored (its transaction was rolled back)\n')
  t.same(await runs(), before, 'no run was stored')
  const lines = await rowCount(database, 'settlement_lines')
  t.equal((await database.db.selectFrom('settlement_lines').select('run_id').where('run_id', '<=', 6).execute()).length, lines, 'nor any line of another run')

  const stored = await interruptedAt(/100% 3\/3 agreements/)
  t.equal(stored.code, INTERRUPTED)
  // Run 8: the id of the run rolled back is not given out again.
  t.equal(stored.errors, '\nsettle: interrupted after run 8 (2024) was stored: it is a draft, not finalized (GET /v1/settlement-runs/8)\n')
  t.same(await runs(), [...before, '8 draft'], 'the run the interruption came after is stored, a draft')
  t.notMatch(stored.written, /run 8, 2024/, 'no summary as if the command had finished')
})

t.test('a signal while the database was opened is seen before anything is settled: on the embedded database the command runs in promises alone, and a SIGINT ' +
  'waited for its end, the run computed and finalized (found by review); once a draft asked for is stored, a signal while its summary is read changes nothing', async (t) => {
  const { INTERRUPTED, LEFT_AS_DRAFT, settleCommand } = await import('../src/cli/settle.js')
  const database = await testDatabase(t)
  await loadDemoData(database.db)
  const settings = { minZoneRate: money('0.60'), importLimit: 0, requireTwoAdmins: false }
  const runs = async () => (await database.db.selectFrom('settlement_runs').select(['id', 'status']).orderBy('id').execute()).map((r) => `${r.id} ${r.status}`)
  const before = await runs()
  const output = () => {
    const errors: string[] = []
    const written: string[] = []
    return { errors, written, out: { write: (text: string) => written.push(text), error: (text: string) => errors.push(text), isTTY: false } }
  }

  const early = new AbortController()
  // As the signal handler runs: at the next turn of the event loop, while the command's promises are under way.
  setImmediate(() => early.abort())
  const first = output()
  t.equal(await settleCommand(database, { year: 2024, finalize: true, agreementIds: undefined }, settings, first.out, early.signal), INTERRUPTED)
  t.equal(first.errors.join(''), 'settle: interrupted before 2024 was settled; nothing is stored\n')
  t.same(await runs(), before, 'no run computed, none finalized')

  /** A signal that turns aborted at its second look once the run is computed (the progress bar at 100%): after the look that follows the run's storing. */
  const afterStored = () => {
    const { errors, written, out } = output()
    let looks = 0
    const signal = { get aborted () { return written.join('').includes('100%') && ++looks >= 2 } } as unknown as AbortSignal
    return { errors, written, out, signal }
  }
  const draft = afterStored()
  t.equal(await settleCommand(database, { year: 2024, finalize: false, agreementIds: undefined }, settings, draft.out, draft.signal), 0, 'the draft asked for is stored: exit 0')
  t.equal(draft.errors.join(''), '', 'not "the finalization went through" of a run nobody finalized')
  t.match(draft.written.join(''), /run 7, 2024: draft/)
  const leftAsDraft = afterStored()
  t.equal(await settleCommand(database, { year: 2024, finalize: true, agreementIds: undefined }, { ...settings, requireTwoAdmins: true }, leftAsDraft.out, leftAsDraft.signal), LEFT_AS_DRAFT,
    'under REQUIRE_TWO_ADMINS, exit 3 as documented')
  t.equal(leftAsDraft.errors.join(''), '')
})

// The embedded database is one process's: a settle command beside the running service wrote a run
// the service never saw, and lost when it stopped. It is refused now, naming the process.
if (!onPostgres) {
  t.test('settle on the embedded database while the service runs on it: refused, naming the service, and nothing is lost', async (t) => {
    const env = await demoEnvironment(t)
    const server = await startServer({ ...env, ADMIN_TOKEN: 'cli-test-admin-token-0123456789abcdef' })
    try {
      const refused = await settle(env, ['--year', '2024'])
      t.not(refused.code, 0, 'a non-zero exit code')
      t.match(refused.output, new RegExp(`The embedded database in .* is in use by process ${server.child.pid ?? 0}, the service or a command such as settle: stop it first`))
      t.notMatch(refused.output, /run \d+, 2024/, 'no run was reported as made')
      const runs = await send(server.port, 'cli-test-admin-token-0123456789abcdef', 'GET', '/v1/settlement-runs?fiscalYear=2024')
      t.equal(runs.status, 200, 'the service goes on')
    } finally {
      server.child.kill('SIGTERM')
      await server.exited
    }
    const after = await settle(env, ['--year', '2024'])
    t.equal(after.code, 0, `once the service has stopped, settle runs: ${after.output}`)
    t.match(after.output, /run 7, 2024: draft/)
  })
}
