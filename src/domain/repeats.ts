/** The other lines a repeated key's first line names; the rest are counted. */
const LISTED_REPEATS = 20

/**
 * What a batch says of the records it gives the same key more than once (a month's amount, a
 * zone's debt reference): each of them is refused naming the others, and none is loaded or
 * dropped without a word. `lines` are the records' indexes (JSON) or line numbers (CSV), in
 * order; `same` says what they share and why once; `count` is all the lines of the key, beyond
 * those listed too.
 */
export function repeatedMessages (lines: readonly number[], noun: 'record' | 'line', same: string, count = lines.length): Array<{ line: number, message: string }> {
  const [first, ...others] = lines
  if (first === undefined) return []
  // An answer's message holds 500 characters: a key repeated hundreds of times names the first
  // LISTED_REPEATS of the others, and counts the rest.
  const names = (list: readonly number[]) => `${noun}${count > 2 ? 's' : ''} ${list.slice(0, LISTED_REPEATS).join(', ')}` +
    (count - 1 > LISTED_REPEATS ? ` and ${count - 1 - LISTED_REPEATS} more` : '')
  return [
    { line: first, message: `is repeated by ${names(others)} (${same})` },
    ...others.map((line) => ({ line, message: `repeats ${noun} ${first} (${same})` })),
  ]
}
