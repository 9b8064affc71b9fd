/** `n` with the singular or plural noun ("1 expense", "3 time entries"); null for none. */
export function count(n: number, one: string, many: string): string | null {
  return n === 0 ? null : `${n} ${n === 1 ? one : many}`;
}
