/*
 * COPY … FROM STDIN through Kysely: the statement is written as any other in src/db, with its data
 * as its one parameter (`copyData`), and the connection (src/db/connect.ts) sends it the way its
 * database takes it — streamed with pg-copy-streams on PostgreSQL, with backpressure; a chunk at a
 * time from a blob (COPY FROM '/dev/blob') on PGlite.
 */

/** The data of a COPY … FROM STDIN statement: text-format chunks, each ending with a whole row. */
export class CopyData {
  constructor (readonly chunks: AsyncIterable<string>) {}
}

export const copyData = (chunks: AsyncIterable<string>): CopyData => new CopyData(chunks)

/** The statement and its data when a query is a COPY with its data as the only parameter; undefined otherwise. */
export function copyStatement (text: unknown, values: unknown): { statement: string, data: CopyData } | undefined {
  if (typeof text !== 'string' || !Array.isArray(values) || values.length !== 1) return undefined
  const [data] = values as unknown[]
  if (!(data instanceof CopyData)) return undefined
  // The data is not part of the statement: drop the placeholder Kysely wrote for it.
  return { statement: text.replace(/\s*\$1\s*$/, ''), data }
}

/** A text-format COPY field: backslash, tab, newline and carriage return escaped. */
export function copyField (value: string): string {
  return /[\\\t\n\r]/.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c] ?? c) : value
}

const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' }

/** A text-format COPY row: fields escaped, null as \N, ending with a newline. */
export function copyRow (fields: ReadonlyArray<string | number | null>): string {
  let row = ''
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i] ?? null
    row += (i === 0 ? '' : '\t') + (f === null ? '\\N' : typeof f === 'number' ? String(f) : copyField(f))
  }
  return `${row}\n`
}

/**
 * COPY data of items as they come (an array, or rows read and checked as a file arrives), a
 * piece of `rowsPerChunk` rows at a time: only that piece is held.
 */
export function copyRows<T> (items: AsyncIterable<T> | Iterable<T>, row: (item: T) => ReadonlyArray<string | number | null>, rowsPerChunk = 1000): CopyData {
  async function * chunks () {
    let chunk = ''
    let n = 0
    for await (const item of items) {
      chunk += copyRow(row(item))
      if (++n === rowsPerChunk) {
        yield chunk
        chunk = ''
        n = 0
      }
    }
    if (n > 0) yield chunk
  }
  return copyData(chunks())
}
