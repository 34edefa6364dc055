import { existsSync } from 'node:fs'
import { once } from 'node:events'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import { mistypedSettings, parseConfig } from '../src/config.js'
import { temporaryDirectory } from './helpers.js'
import { send, serverEnvironment, spawnServer, startServer } from './spawn.js'

// src/server.ts as a process: the generated admin token, graceful shutdown, failing to start.

t.test('first start generates the admin token, keeps it, logs it once; the next start reuses it', async (t) => {
  const env = await serverEnvironment(t, 'server-test-')
  const first = await startServer(env)
  const token = (await readFile(join(env.DATA_DIR, 'admin-token'), 'utf8')).trim()
  t.ok(token.length >= 40, 'a long random token')
  t.equal(first.output().split(token).length - 1, 1, 'the token appears in the log exactly once')
  const ok = await send(first.port, token, 'POST', '/v1/calculations', {
    body: { fiscalYear: 2021, groups: [{ name: 'fees', basis: 'total', actual: '80000.00', rates: [{ rate: '0.60' }] }] },
  })
  t.equal(ok.status, 200)
  t.equal((JSON.parse(ok.body) as { zoneShare: string }).zoneShare, '48000.00')
  first.child.kill('SIGTERM')
  t.equal(await first.exited, 0, 'SIGTERM: exit 0')

  const second = await startServer(env)
  t.notOk(second.output().includes(token), 'the second start does not print the token')
  t.match(second.output(), /admin token read from/)
  second.child.kill('SIGTERM')
  t.equal(await second.exited, 0)
})

t.test('an admin-token file that holds no usable token stops the start and is left as it is; an empty one is as none; at LOG_LEVEL=error a generated token is still shown once (found by the operations probe: replaced without a word, and never shown)', async (t) => {
  const env = await serverEnvironment(t, 'server-token-')
  const file = join(env.DATA_DIR, 'admin-token')
  await writeFile(file, 'secret\n')
  const refused = spawnServer([], { ...env, PORT: '0' })
  t.equal(await refused.exited, 1)
  t.equal(refused.stderr(), `failed to start: ${file} holds no usable admin token (6 characters): a token is 16 to 512 printable characters without spaces. Write one there, set ADMIN_TOKEN, or remove the file to have a new one generated\n`)
  t.equal(await readFile(file, 'utf8'), 'secret\n', 'the file is left as the operator wrote it')

  await writeFile(file, '\n')
  const quiet = await startServer({ ...env, LOG_LEVEL: 'error' })
  const token = (await readFile(file, 'utf8')).trim()
  t.ok(token.length >= 40, 'an empty file: a new token is generated')
  t.equal(quiet.output().split(token).length - 1, 1, 'and logged once, though LOG_LEVEL=error hides warnings')
  t.same(quiet.output().trim().split('\n').map((line) => (JSON.parse(line) as { msg: string }).msg.replace(token, 'TOKEN')),
    [`generated the admin token (kept in ${file}; set ADMIN_TOKEN to choose your own): TOKEN`], 'the one line logged at that level')
  t.same((await readdir(env.DATA_DIR)).filter((name) => name.includes('admin-token')), ['admin-token'], 'written whole: no partial file beside it')
  quiet.child.kill('SIGTERM')
  t.equal(await quiet.exited, 0)
})

t.test('SIGTERM lets a request in flight finish, then exits 0', async (t) => {
  const env = await serverEnvironment(t, 'server-test-')
  const server = await startServer({ ...env, ADMIN_TOKEN: 'shutdown-test-token-0123456789' })
  const body = JSON.stringify({ fiscalYear: 2021, groups: [{ name: 'fees', basis: 'total', actual: '100.00', rates: [{ rate: '0.60' }] }] })
  const req = request({
    host: '127.0.0.1', port: server.port, path: '/v1/calculations', method: 'POST',
    headers: { authorization: 'Bearer shutdown-test-token-0123456789', 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' },
  })
  const answered = new Promise<{ status: number, text: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = ''
      res.on('data', (c: Buffer) => { text += c.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
    })
    req.on('error', reject)
  })
  // Half the body is sent, so the request is in flight when the signal arrives.
  req.write(body.slice(0, 20))
  await new Promise((resolve) => setTimeout(resolve, 200))
  server.child.kill('SIGTERM')
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(server.child.exitCode, null, 'still running while the request is in flight')
  req.end(body.slice(20))
  const { status, text } = await answered
  t.equal(status, 200, 'the request in flight completed')
  t.equal(JSON.parse(text).zoneShare, '60.00')
  t.equal(await server.exited, 0, 'then exit 0')
  t.match(server.output(), /shutting down: finishing requests in flight/)
})

t.test('SIGTERM with a CSV body still arriving when the 10 s grace runs out: exit 1, and the spooled file goes with the process', async (t) => {
  const env = await serverEnvironment(t, 'server-test-')
  const spool = await temporaryDirectory(t, 'server-test-spool-')
  const server = await startServer({ ...env, ADMIN_TOKEN: 'shutdown-test-token-0123456789', TMPDIR: spool })
  const req = request({
    host: '127.0.0.1', port: server.port, path: '/v1/debts/import', method: 'POST',
    headers: { authorization: 'Bearer shutdown-test-token-0123456789', 'content-type': 'text/csv', 'transfer-encoding': 'chunked' },
  })
  req.on('error', () => {})
  // The header line, and then nothing: the body is spooled (debt files always are) and never ends.
  req.write('zoneCode,reference,creditor,kind,principal,outstanding,interestRate,incurredOn,maturityDate,registeredOn,notes\n')
  // (tsx keeps its cache in TMPDIR too.)
  const spooled = async () => (await readdir(spool)).filter((name) => name.startsWith('csv-import-'))
  for (let i = 0; i < 100 && (await spooled()).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal((await spooled()).length, 1, 'the body is being spooled')
  server.child.kill('SIGTERM')
  t.equal(await server.exited, 1, 'the grace ran out: exit 1, as close-with-grace says')
  t.same(await spooled(), [], 'no spooled file left behind')
  req.destroy()
})

t.test('a server that cannot listen exits 1 instead of hanging', async (t) => {
  const env = await serverEnvironment(t, 'server-test-')
  const blocker = createServer().listen(0, '127.0.0.1')
  await once(blocker, 'listening')
  t.teardown(() => blocker.close())
  const port = (blocker.address() as { port: number }).port
  const server = spawnServer([], { ...env, PORT: String(port) })
  t.equal(await server.exited, 1)
  t.match(server.stderr(), /EADDRINUSE/)
  t.equal(server.stderr(), `failed to start: HOST 127.0.0.1, PORT ${port}: listen EADDRINUSE: address already in use 127.0.0.1:${port}\n`, 'told in one line, without a stack trace, naming the settings to change')
})

t.test('only settle takes arguments: serve, migrate and pglite-template given some are a usage error (exit 2), not run as if none were given; help lists the commands', async (t) => {
  // Found by a probe: `serve --port 3424` listened on 3000 without a word.
  const env = await serverEnvironment(t, 'server-args-')
  for (const args of [['serve', '--port', '3424'], ['migrate', '--year', '2025'], ['pglite-template', 'extra']]) {
    const refused = spawnServer(args, env)
    t.equal(await refused.exited, 2, args.join(' '))
    t.match(refused.stderr(), new RegExp(`^${args[0]}: takes no arguments \\(given "${args.slice(1).join(' ')}"\\)\\ncommands: serve \\(the default\\), migrate, settle`))
  }
  t.notOk(existsSync(join(env.DATA_DIR, 'pglite')), 'no database was made')
  for (const help of ['help', '--help']) {
    const listed = spawnServer([help], env)
    t.equal(await listed.exited, 0)
    t.match(listed.output(), /^usage: node dist\/src\/server\.js \[command\]\ncommands: serve \(the default\), migrate, settle --year 2021/)
  }
})

t.test('migrate says so when it makes a new embedded database: what a fresh checkout asks for, and what a mistyped DATA_DIR gets (found by a probe: it said nothing)', async (t) => {
  const dataDir = join(await temporaryDirectory(t, 'migrate-new-'), 'typo')
  const env = { DATA_DIR: dataDir, LOG_LEVEL: 'warn' }
  const first = spawnServer(['migrate'], env)
  t.equal(await first.exited, 0)
  t.equal(first.stderr(), `migrate: there was no embedded database in ${join(dataDir, 'pglite')}; made a new one (set DATA_DIR if the service's data is elsewhere)\n`)
  const again = spawnServer(['migrate'], env)
  t.equal(await again.exited, 0)
  t.equal(again.stderr(), '', 'on the database it made, nothing to say')
})

t.test('what an operator acts on is told in one line without a stack trace, named for the command that failed', async (t) => {
  const unknown = spawnServer(['setle'], {})
  t.equal(await unknown.exited, 2, 'a usage error, as settle\'s are (before, 1: found by a walk through README)')
  t.equal(unknown.stderr(), 'unknown command "setle": use "serve" (the default), "migrate", "settle" or "pglite-template" ("help" lists them)\n')
  // A database that does not answer: PostgreSQL on a port nothing listens on.
  const closed = createServer().listen(0, '127.0.0.1')
  await once(closed, 'listening')
  const port = (closed.address() as { port: number }).port
  await new Promise((resolve) => closed.close(resolve))
  for (const command of ['migrate', 'settle'] as const) {
    const run = spawnServer(command === 'settle' ? ['settle', '--year', '2021'] : ['migrate'], { DATABASE_URL: `postgres://postgres:secret@127.0.0.1:${port}/none` })
    t.equal(await run.exited, 1, command)
    t.equal(run.stderr(), `${command}: DATABASE_URL (postgres@127.0.0.1:${port}/none): connect ECONNREFUSED 127.0.0.1:${port}\n`, `${command}: the reason and the setting that names the database, without its password`)
  }
  const inQuery = spawnServer(['migrate'], { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/none?password=hunter2` })
  t.equal(await inQuery.exited, 1)
  t.equal(inQuery.stderr(), `migrate: DATABASE_URL (postgres@127.0.0.1:${port}/none): connect ECONNREFUSED 127.0.0.1:${port}\n`, 'nor a password given as ?password= (found by review)')
  // A URL no client can read: said as such, not "Invalid URL" with a stack (found by the operations probe), and not echoed (it may hold a password).
  const unreadable = spawnServer(['migrate'], { DATABASE_URL: 'postgres://postgres:secret@127.0.0.1:99999/none' })
  t.equal(await unreadable.exited, 1)
  t.match(unreadable.stderr(), /^invalid configuration:\n {2}DATABASE_URL cannot be read as a connection string \(Invalid URL\): postgres:\/\/user:password@host:5432\/database, a port from 1 to 65535/)
  t.notMatch(unreadable.stderr(), /secret/)
  // What pg reads is read: a socket's folder in ?host=, a password with @ or a space (found by review: the socket form was refused).
  for (const url of ['postgres://postgres@/test?host=/var/run/postgresql', 'postgres://u:p@ss@127.0.0.1:5432/db', 'postgres://u:p ss@127.0.0.1/db']) {
    t.equal(parseConfig({ DATABASE_URL: url }).databaseUrl, url, url)
  }
})

t.test('the start-up line names where Swagger UI answers: the port given when PORT is 0', async (t) => {
  const env = await serverEnvironment(t, 'server-test-')
  const server = spawnServer([], { ...env, PORT: '0', LOG_LEVEL: 'info' })
  t.teardown(() => { server.child.kill('SIGKILL') })
  for (const deadline = Date.now() + 120_000; Date.now() < deadline && !/Swagger UI at/.test(server.output()) && server.child.exitCode === null;) {
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const listening = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(server.output())
  t.ok(listening, 'the server says where it listens')
  t.match(server.output(), new RegExp(`Swagger UI at http://127\\.0\\.0\\.1:${listening?.[1] ?? 'none'}/docs`), 'the same port, not 0')
  server.child.kill('SIGTERM')
  await server.exited
})

t.test('README, Configuration: a setting\'s name mistyped is warned of at start, naming the setting meant (an embedded database served where DATABSE_URL meant PostgreSQL, without a word)', async (t) => {
  t.same(mistypedSettings({ DATABSE_URL: 'postgres://x', LOGLEVEL: 'warn', database_url: 'postgres://y', RATE_LIMT: '10', DATADIR: '/d' }), [
    { given: 'DATABSE_URL', meant: 'DATABASE_URL' }, { given: 'LOGLEVEL', meant: 'LOG_LEVEL' }, { given: 'database_url', meant: 'DATABASE_URL' },
    { given: 'RATE_LIMT', meant: 'RATE_LIMIT' }, { given: 'DATADIR', meant: 'DATA_DIR' },
  ])
  t.same(mistypedSettings({ HOME: '/root', PWD: '/', PATH: '/bin', HOSTNAME: 'vm', NODE_ENV: 'production', TERM: 'xterm', PGHOST: 'db', LANG: 'C' }), [], 'the usual variables of a machine are not taken for settings')
  t.same(mistypedSettings({ DATA_DIRS: 'x', DATA_DIR: '/d', PORT: '1', PORTS: '2' }), [], 'a near name beside the setting itself: the setting is set, nothing is lost')
  const dataDir = await temporaryDirectory(t, 'mistyped-')
  const run = spawnServer(['migrate'], { DATA_DIR: dataDir, LOG_LEVEL: 'warn', DATABSE_URL: 'postgres://postgres@127.0.0.1:1/none' })
  t.equal(await run.exited, 0, 'a warning, not a failure: the variable may be another program\'s')
  t.match(run.output(), /DATABSE_URL is not a setting of this service, and is ignored: did you mean DATABASE_URL\? \(DATABASE_URL keeps its default; README, Configuration\)/)
})

t.test('a bad setting stops the start with a message naming it', async (t) => {
  const server = spawnServer([], { MIN_ZONE_RATE: '0.5x', PORT: 'eighty' })
  t.equal(await server.exited, 1)
  t.match(server.stderr(), /MIN_ZONE_RATE must be a rate/)
  t.match(server.stderr(), /PORT must be a whole number/)
})

t.test('README, Configuration: an empty DATABASE_URL, a floor below 60% and a DATA_DIR that is a file stop the start in a line naming the setting ' +
  '(found by a probe: an empty DATABASE_URL served the embedded database, MIN_ZONE_RATE=0 took the floor away, a file printed a stack)', async (t) => {
  const dataDir = await temporaryDirectory(t, 'settings-')
  const empty = spawnServer(['migrate'], { DATABASE_URL: '', DATA_DIR: dataDir })
  t.equal(await empty.exited, 1)
  t.match(empty.stderr(), /^invalid configuration:\n {2}DATABASE_URL is set but empty: give a postgres:\/\/ connection string, or unset it to use the embedded database in DATA_DIR\n$/)
  t.notOk(existsSync(join(dataDir, 'pglite')), 'no embedded database made')
  for (const rate of ['0', '0.59', '0.599999']) {
    const low = spawnServer(['migrate'], { MIN_ZONE_RATE: rate, DATA_DIR: dataDir })
    t.equal(await low.exited, 1, rate)
    t.match(low.stderr(), `MIN_ZONE_RATE must be 0.60 or more: the zone's share is no less than 60% (不低于60%, calculation-rules.md §3); a deployment may raise the floor, never lower it, got "${rate}"`)
  }
  const file = join(dataDir, 'a-file')
  await writeFile(file, '')
  const notDir = spawnServer(['migrate'], { DATA_DIR: file })
  t.equal(await notDir.exited, 1)
  t.match(notDir.stderr(), new RegExp(`^migrate: DATA_DIR ${file} cannot be used: EEXIST: file already exists, mkdir '${file}'\\n$`), 'one line, no stack')
})

t.test('README, Configuration: a new DATA_DIR is made readable by the service\'s user alone (found by a probe: the embedded database\'s files could be read by any user of the machine)', async (t) => {
  const parent = await temporaryDirectory(t, 'private-')
  const dataDir = join(parent, 'data')
  const run = spawnServer(['migrate'], { DATA_DIR: dataDir, LOG_LEVEL: 'warn' })
  t.equal(await run.exited, 0)
  t.equal((await stat(dataDir)).mode & 0o777, 0o700, 'DATA_DIR is 0700')
  t.equal((await stat(join(dataDir, 'pglite'))).mode & 0o077, 0, 'and its database folder is the user\'s alone')
  await chmod(dataDir, 0o755)
  const again = spawnServer(['migrate'], { DATA_DIR: dataDir, LOG_LEVEL: 'warn' })
  t.equal(await again.exited, 0, 'an existing folder keeps its mode: the operator may have meant it')
  t.match(again.output(), /DATA_DIR [^ ]+ can be read by other users of this machine \(mode 755\)/)
})

t.test('DEMO_DATA=1 under a raised MIN_ZONE_RATE stops the start, saying why, and exits (found by a probe: it printed a stack and the process stayed alive holding the embedded database)', async (t) => {
  const dataDir = await temporaryDirectory(t, 'demo-floor-')
  const server = spawnServer([], { DATA_DIR: dataDir, DEMO_DATA: '1', MIN_ZONE_RATE: '0.70', PORT: '0', LOG_LEVEL: 'error' })
  t.teardown(() => { server.child.kill('SIGKILL') })
  t.equal(await Promise.race([server.exited, delay(60_000, 'still running after 60 s')]), 1)
  t.match(server.stderr(), /^failed to start: DEMO_DATA=1: the illustrative data set was not loaded \(nothing of it is stored\) under MIN_ZONE_RATE 0\.70: .*rate 0\.60 is below the floor of 0\.70.* Start it with the default floor\.\n$/)
})
