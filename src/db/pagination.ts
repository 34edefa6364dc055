import { InputError } from '../domain/errors.js'

/*
 * Lists answer { items, nextCursor } in a stable order (api-contract.md, Lists). The cursor is
 * the last key of the page, opaque to callers (base64url JSON).
 */

export interface Page<T> {
  items: T[]
  nextCursor: string | null
}

export function encodeCursor (key: string | number): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url')
}

export function decodeCursor<K extends string | number> (cursor: string | undefined, kind: 'string' | 'number'): K | undefined {
  if (cursor === undefined) return undefined
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    if (typeof value === kind) return value as K
  } catch { /* reported below */ }
  throw new InputError('malformed', [{ pointer: '/querystring/cursor', message: 'is not a cursor this list gave out' }])
}

/** Rows fetched with limit + 1 become a page and the cursor after it. */
export function toPage<R, T> (rows: R[], limit: number, keyOf: (row: R) => string | number, map: (row: R) => T): Page<T> {
  const more = rows.length > limit
  const pageRows = more ? rows.slice(0, limit) : rows
  const last = pageRows[pageRows.length - 1]
  return { items: pageRows.map(map), nextCursor: more && last !== undefined ? encodeCursor(keyOf(last)) : null }
}
