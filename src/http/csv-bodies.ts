import { once } from 'node:events'
import { createReadStream, createWriteStream, rmSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Transform, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { errorCodes, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { Problems } from '../domain/errors.js'
import { consumedTypes } from './json-bodies.js'
import { validatorCompiler } from './validation.js'

/** How a CSV route takes its body: its validator compiler, and the hook that spools the body first where it must. */
export interface CsvRoute {
  validatorCompiler: (route: { schema: object, httpPart?: string }) => (value: unknown) => boolean
  preParsing: Array<(request: FastifyRequest, reply: FastifyReply, payload: Readable) => Promise<Readable>>
}

/**
 * Lets the routes of `app` take text/csv bodies as streams (the import services read them as they
 * arrive), and answers how such a route is set up: its body is checked line by line by the import,
 * its query string as usual.
 *
 * `spool`: the body is first written to a temporary file, up to the import limit (413 beyond), and
 * the import reads that file. An import reads its file inside its write transaction, which holds
 * what others wait for (PGlite's one connection, which every write of the service shares; the debt
 * register's lock; one of an instance's turns for writes on PostgreSQL): a client sending slowly
 * would hold it for as long as it sends. Spooled, the transaction lasts as long as the reading of a
 * file on disk. And the body has arrived once it is on disk: REQUEST_TIMEOUT_MS bounds the upload
 * alone. Read as it arrived, a large file's body took as long to arrive as the import took to store
 * it, and a fast client's import of a few hundred thousand rows was cut off with 408.
 */
export function acceptCsvBodies (app: FastifyInstance, spool: { limit: number }): CsvRoute {
  // The parser is the plugin's, so every route of it would take text/csv: only those whose schema
  // consumes it do; the others answer 415, as the routes of any other plugin do.
  app.addContentTypeParser('text/csv', (request, payload, done) => {
    if (consumedTypes(request)?.includes('text/csv') === true) done(null, payload)
    else done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(request.headers['content-type']), undefined)
  })
  const compile = validatorCompiler()
  return {
    validatorCompiler: ({ schema, httpPart }) => httpPart === 'body' ? () => true : compile({ schema, httpPart }),
    preParsing: [async (request, reply, payload) => /^text\/csv\b/i.test(request.headers['content-type'] ?? '') ? spooled(payload, spool.limit, reply) : payload],
  }
}

/**
 * The spool directories not removed yet. A process that exits with bodies still arriving (its
 * shutdown grace ran out: close-with-grace exits 1) takes them with it, as it can: synchronously.
 */
const spoolDirs = new Set<string>()
let removedAtExit = false
function removeSpoolsAtExit (): void {
  if (removedAtExit) return
  removedAtExit = true
  process.once('exit', () => { for (const dir of spoolDirs) rmSync(dir, { recursive: true, force: true }) })
}

/** The body, written to a temporary file whose name goes once the whole body is in it and it is open for the import. */
async function spooled (payload: Readable, limit: number, reply: FastifyReply): Promise<Readable> {
  removeSpoolsAtExit()
  const dir = await mkdtemp(join(tmpdir(), 'csv-import-'))
  spoolDirs.add(dir)
  // Removed at once (a folder of one file): removed in the background, a process that exited just
  // after the answer (its shutdown grace run out behind a long import on the embedded database)
  // left it behind, no longer among those the exit removes (found by a probe).
  const removeDir = () => {
    try {
      rmSync(dir, { recursive: true, force: true })
      spoolDirs.delete(dir)
    } catch {
      // Left to the exit, which tries again.
    }
  }
  const path = join(dir, 'body.csv')
  let bytes = 0
  const capped = new Transform({
    transform (chunk: Buffer, _encoding, callback) {
      bytes += chunk.length
      callback(bytes > limit ? Problems.fileTooLarge(limit) : null, chunk)
    },
  })
  try {
    await pipeline(payload, capped, createWriteStream(path))
  } catch (error) {
    removeDir()
    throw error
  }
  // Opened, then its name goes at once: the import reads on through the open descriptor, and a
  // process killed while it imports (SIGKILL, the OOM killer: no exit handler runs) leaves no file
  // behind; before, the name stayed until the answer, and such a kill left the whole body in TMPDIR
  // (found by a probe). The kernel frees the space when the descriptor closes, whatever ends it.
  const file = createReadStream(path)
  try {
    await once(file, 'open')
  } finally {
    removeDir()
  }
  reply.raw.once('close', () => {
    // Once the answer is sent, nothing reads the file any more: it is closed. A client that goes
    // before its answer leaves the import to finish as it would have with a streamed body: closed
    // under it, the import would wait for bytes that never come, holding its transaction.
    if (reply.raw.writableFinished) file.destroy()
  })
  return file
}
