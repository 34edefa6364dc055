import { createHash } from 'node:crypto'
import { type SelectQueryBuilder, sql } from 'kysely'
import { isDay } from '../domain/days.js'
import { Problems } from '../domain/errors.js'
import type { Database } from './database.js'

/*
 * Every list answers { items, nextCursor } in a stable order (api-contract.md, Lists), paged by
 * keyset: the cursor is the key of the last row of the page and which list it is of (base64url
 * JSON, opaque to callers), and the next page starts after it. A cursor no list gave out is a 400, whatever it holds: its key
 * must have the list's shape (text columns text PostgreSQL can hold, int columns integers of int4, day columns real days)
 * and encode back to the same cursor.
 */

export interface Page<T> {
  items: T[]
  nextCursor: string | null
}

export interface PageRequest {
  limit: number
  cursor?: string | undefined
}

/** A query as far as its identity goes: what it compiles to. */
export interface Compilable {
  compile: () => { sql: string, parameters: readonly unknown[] }
}

/** How a list is ordered: its key columns (unique together), the type of each, and the direction. */
export interface Keyset<R> {
  columns: readonly string[]
  /** text columns hold strings; int columns PostgreSQL integers; day columns dates, written YYYY-MM-DD. */
  types: ReadonlyArray<'text' | 'int' | 'day'>
  /** The key of a row, in the order of `columns`. */
  of: (row: R) => ReadonlyArray<string | number>
  descending?: boolean
}

const INT4 = 2 ** 31
/** Half a UTF-16 surrogate pair, which no text can hold. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
/** What PostgreSQL text cannot hold: U+0000, and half a surrogate pair. */
const unstorable = (text: string) => text.includes('\u0000') || LONE_SURROGATE.test(text)

function encodeCursor (list: string, key: ReadonlyArray<string | number>): string {
  return Buffer.from(JSON.stringify([list, ...key]), 'utf8').toString('base64url')
}

/**
 * Which list a cursor belongs to: the list's query with its filters and scope, before its order,
 * limit and cursor. A cursor of another list, or of the same list with other filters, would start
 * its page after a key of other rows and skip or repeat some: it is refused instead. Every value
 * counts, a day the caller named or a code that reads like a day included.
 */
function listOf (query: Compilable): string {
  const { sql: text, parameters } = query.compile()
  const identity = JSON.stringify(parameters)
  return createHash('sha256').update(text).update('\u0000').update(identity).digest('base64url').slice(0, 8)
}

function decodeCursor (cursor: string, list: string, types: Keyset<unknown>['types']): Array<string | number> {
  let written: unknown
  try {
    written = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw Problems.badCursor()
  }
  if (!Array.isArray(written) || written[0] !== list) throw Problems.badCursor()
  const key: unknown[] = written.slice(1)
  const fits = key.length === types.length && key.every((part: unknown, i) => {
    switch (types[i]) {
      case 'text': return typeof part === 'string' && part.length <= 200 && !unstorable(part)
      case 'day': return typeof part === 'string' && isDay(part)
      default: return Number.isInteger(part) && Math.abs(part as number) < INT4
    }
  })
  // Only the very text a list gave out: the key written back must give the cursor again, byte for
  // byte (so no other spelling of a number, no lone surrogate, no stray base64 character gets through).
  if (!fits || encodeCursor(list, key as Array<string | number>) !== cursor) throw Problems.badCursor()
  return key as Array<string | number>
}

/**
 * One page of `query` after the cursor, in keyset order, with the cursor of the next page. `identity`:
 * the query that says which list it is, where that is not `query` itself: a list the service asks as
 * of today (the debts' defaults) asks another day after midnight, and its cursor still pages on, as a
 * cursor of a list whose rows changed does; its identity is the same query with a stand-in for the day
 * the service filled in, in the place it fills it in.
 */
export async function fetchPage<TB extends keyof Database, O> (
  query: SelectQueryBuilder<Database, TB, O>, page: PageRequest, keyset: Keyset<O>, identity: Compilable = query,
): Promise<Page<O>> {
  const direction = keyset.descending === true ? 'desc' : 'asc'
  const list = listOf(identity)
  let q = query
  for (const column of keyset.columns) q = q.orderBy(sql.ref(column), direction)
  if (page.cursor !== undefined) {
    const after = decodeCursor(page.cursor, list, keyset.types)
    const columns = sql.join(keyset.columns.map((c) => sql.ref(c)))
    const values = sql.join(after.map((v) => sql.val(v)))
    q = q.where(keyset.descending === true ? sql<boolean>`(${columns}) < (${values})` : sql<boolean>`(${columns}) > (${values})`)
  }
  const rows = await q.limit(page.limit + 1).execute()
  const more = rows.length > page.limit
  const items = more ? rows.slice(0, page.limit) : rows
  const last = items[items.length - 1]
  return { items, nextCursor: more && last !== undefined ? encodeCursor(list, keyset.of(last)) : null }
}

/** The same page with its items mapped. */
export function mapPage<R, T> (page: Page<R>, map: (row: R) => T): Page<T> {
  return { items: page.items.map(map), nextCursor: page.nextCursor }
}

/** The same page with its items mapped by a function of the whole list (loading their parts at once). */
export async function mapPageAsync<R, T> (page: Page<R>, map: (rows: R[]) => Promise<T[]>): Promise<Page<T>> {
  return { items: await map(page.items), nextCursor: page.nextCursor }
}
