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
