/**
 * Items gathered by key, each key's items in the order they came: what a query read in order (a
 * run's groups by agreement, a line's reviews) handed out per key. Each item is pushed onto its
 * key's list, so the work is linear in the items however many share a key.
 */
export function groupedBy<T, K, V> (items: Iterable<T>, keyOf: (item: T) => K, valueOf: (item: T) => V): Map<K, V[]> {
  const groups = new Map<K, V[]>()
  for (const item of items) {
    const key = keyOf(item)
    const value = valueOf(item)
    const group = groups.get(key)
    if (group === undefined) groups.set(key, [value])
    else group.push(value)
  }
  return groups
}
