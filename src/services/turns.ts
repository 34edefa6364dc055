import { setImmediate } from 'node:timers/promises'

/*
 * Long loops over a national run (tens of thousands of lines, a statement's 75,000 rows) give the
 * event loop a turn every so often, so that the server answers other requests meanwhile.
 */

/** Items held whole, or handed over a page at a time as they are made. */
export type ItemSource<T> = readonly T[] | AsyncIterable<readonly T[]>

/**
 * The items `size` at a time, in order, with a turn of the event loop before every slice after the
 * first; items that come a page at a time are sliced page by page (no slice spans two pages).
 */
export async function * slicesInTurns<T> (items: ItemSource<T>, size = 1000): AsyncGenerator<T[]> {
  let first = true
  for await (const page of isHeld(items) ? [items] : items) {
    for (let start = 0; start < page.length; start += size) {
      if (!first) await setImmediate()
      first = false
      yield page.slice(start, start + size)
    }
  }
}

function isHeld<T> (items: ItemSource<T>): items is readonly T[] {
  return Array.isArray(items)
}
