/** Anything versioned by a run's `sequence`. */
export interface Sequenced {
  id: string;
  sequence: number;
}

/**
 * Merges one state into a list keyed by ID: kept only when it is newer (a higher `sequence`) than what is there, so
 * replays after a reconnect, and events racing a refetch, never move a row backwards. Returns the same array when
 * nothing changed.
 */
export function mergeNewer<T extends Sequenced>(list: readonly T[], next: T): T[] {
  const index = list.findIndex((item) => item.id === next.id);
  if (index === -1) return [next, ...list];
  if (list[index]!.sequence >= next.sequence) return list as T[];
  const copy = [...list];
  copy[index] = next;
  return copy;
}

/** Merges many states (a refetched page) into a list, each by {@link mergeNewer}. */
export function mergeAllNewer<T extends Sequenced>(list: readonly T[], states: readonly T[]): T[] {
  return states.reduce<T[]>((acc, state) => mergeNewer(acc, state), [...list]);
}

/**
 * A run's timeline: every state by sequence. `add` returns the sequences missing between the last one seen and the
 * arriving one (the states a dropped socket hid), which the caller reads back with `syncRunAt(id, sequence)`.
 */
export class Timeline<T extends Sequenced> {
  readonly #states = new Map<number, T>();

  /** Adds a state; returns the sequences still missing below it (empty when none, or when it is the first). */
  add(state: T): number[] {
    const last = this.last()?.sequence ?? null;
    this.#states.set(state.sequence, state);
    if (last === null || state.sequence <= last + 1) return [];
    const missing: number[] = [];
    for (let s = last + 1; s < state.sequence; s++) if (!this.#states.has(s)) missing.push(s);
    return missing;
  }

  /** The newest state. */
  last(): T | undefined {
    let newest: T | undefined;
    for (const state of this.#states.values()) if (!newest || state.sequence > newest.sequence) newest = state;
    return newest;
  }

  /** Every state, oldest first. */
  states(): T[] {
    return [...this.#states.values()].sort((a, b) => a.sequence - b.sequence);
  }
}
