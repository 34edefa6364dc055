import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'

/* src/server.ts as a real process, for the tests that signal, starve or kill it. */

const root = new URL('..', import.meta.url).pathname

export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

export interface RunningServer {
  child: ChildProcess
  port: number
  /** Everything the process wrote to stdout and stderr so far. */
  output: () => string
  exited: Promise<number | null>
}

/** Starts the server with `env` on top of this process's (DATABASE_URL only if given) and waits for /health. */
export async function startServer (env: Record<string, string>): Promise<RunningServer> {
  const port = await freePort()
  const childEnv: Record<string, string | undefined> = { ...process.env, PORT: String(port), LOG_LEVEL: 'info', ...env }
  if (env.DATABASE_URL === undefined) delete childEnv.DATABASE_URL
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { cwd: root, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (c: Buffer) => { output += c.toString() })
  child.stderr!.on('data', (c: Buffer) => { output += c.toString() })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  for (let i = 0; i < 300; i++) {
    if (await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false)) return { child, port, output: () => output, exited }
    if (child.exitCode !== null) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  child.kill('SIGKILL')
  throw new Error(`the server did not start:\n${output}`)
}
