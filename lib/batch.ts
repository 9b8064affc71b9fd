/**
 * Orders rows as `keys`, `null` where a key has no row: DataLoader's batch contract
 * (same length and order as the keys).
 */
export function byKey<T, K = string>(keys: readonly K[], rows: readonly T[], key: (row: T) => K): (T | null)[] {
  const map = new Map(rows.map((r) => [key(r), r]));
  return keys.map((k) => map.get(k) ?? null);
}

/** Groups rows per key: one array per key in the keys' order, empty where a key has none. */
export function groupByKey<T, K = string>(keys: readonly K[], rows: readonly T[], key: (row: T) => K): T[][] {
  const map = new Map<K, T[]>();
  for (const row of rows) {
    const k = key(row);
    const list = map.get(k);
    if (list) list.push(row);
    else map.set(k, [row]);
  }
  return keys.map((k) => map.get(k) ?? []);
}
