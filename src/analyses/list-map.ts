/** Maps of lists, the shape in which the analyses keep what waits per queue or per key. */

export function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

/** Removes the key's list and returns it (empty when there was none). */
export function take<K, V>(m: Map<K, V[]>, k: K): V[] {
  const l = m.get(k) ?? [];
  m.delete(k);
  return l;
}
