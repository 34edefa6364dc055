import { setImmediate } from 'node:timers/promises'

/*
 * Long loops over a national run (tens of thousands of lines, a statement's 75,000 rows) give the
 * event loop a turn every so often, so that the server answers other requests meanwhile.
 */

/** The items in order, with a turn of the event loop before every `every`-th one after the first. */
export async function * inTurns<T> (items: Iterable<T>, every = 1000): AsyncGenerator<T> {
  let index = 0
  for (const item of items) {
    if (index > 0 && index % every === 0) await setImmediate()
    index++
    yield item
  }
}

/** The items `size` at a time, in order, with a turn of the event loop before every slice after the first. */
export async function * slicesInTurns<T> (items: readonly T[], size = 1000): AsyncGenerator<T[]> {
  for (let start = 0; start < items.length; start += size) {
    if (start > 0) await setImmediate()
    yield items.slice(start, start + size)
  }
}
