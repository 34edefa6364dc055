import { readFile, writeFile } from 'node:fs/promises'
import { buildApp } from '../src/app.js'
import { openDatabase } from '../src/db/connect.js'

/*
 * Writes openapi/openapi.json from the route schemas (`npm run openapi`), or with --check
 * fails when the committed file differs from what the code generates (`npm run openapi:check`).
 */

const FILE = new URL('../openapi/openapi.json', import.meta.url)

export async function generateOpenapi (): Promise<string> {
  // The embedded database is opened lazily and this never queries it.
  const database = openDatabase({ kind: 'pglite' })
  const app = await buildApp({ database, adminToken: 'openapi-generator-token', minZoneRate: '0.60' })
  await app.ready()
  const text = `${JSON.stringify(app.swagger(), null, 2)}\n`
  await app.close()
  await database.close()
  return text
}

const generated = await generateOpenapi()
if (process.argv.includes('--check')) {
  const committed = await readFile(FILE, 'utf8').catch(() => '')
  if (committed !== generated) {
    process.stderr.write('openapi/openapi.json differs from what the routes generate: run `npm run openapi` and commit the result.\n')
    process.exit(1)
  }
  process.stdout.write('openapi/openapi.json matches the routes.\n')
} else {
  await writeFile(FILE, generated)
  process.stdout.write(`wrote openapi/openapi.json (${generated.length} bytes)\n`)
}
