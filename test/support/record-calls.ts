/** Calls made through a recording wrapper: method name → number of calls, plus the keys of each call's first argument. */
export interface CallLog {
  counts: Map<string, number>;
  /** Total calls per method since the last `reset()`. */
  count(method: string): number;
  /** Calls per method as a plain object, for whole-value assertions. */
  snapshot(): Record<string, number>;
  reset(): void;
}

/**
 * Wraps a real connector so every method call is counted, then delegates unchanged. Not a mock: the
 * real adapter does the work; tests read how often it was asked.
 */
export function recordCalls<T extends object>(target: T, log: CallLog, prefix: string): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver) as unknown;
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (...args: unknown[]) => {
        const key = `${prefix}.${prop}`;
        log.counts.set(key, (log.counts.get(key) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(obj, args);
      };
    },
  });
}

/** A fresh, empty {@link CallLog}. */
export function createCallLog(): CallLog {
  const counts = new Map<string, number>();
  return {
    counts,
    count: (method) => counts.get(method) ?? 0,
    snapshot: () => Object.fromEntries([...counts.entries()].sort(([a], [b]) => a.localeCompare(b))),
    reset: () => counts.clear(),
  };
}
