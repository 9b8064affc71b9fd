import type { EventBus, EventBusStatus, RunEvent } from '../../lib/event-bus/event-bus';

/** Every event one subscription received, in order, and a way to wait for more. */
export interface EventRecorder {
  readonly events: RunEvent[];
  /** Resolves with all events so far once one matches `predicate` (already received or later). */
  until(predicate: (event: RunEvent) => boolean): Promise<RunEvent[]>;
  /** Resolves with all events so far once at least `count` arrived. */
  count(count: number): Promise<RunEvent[]>;
  unsubscribe(): void;
}

/** Subscribes to `bus` and records what arrives. Not a mock: the real bus delivers, the test reads. */
export function recordEvents(bus: EventBus): EventRecorder {
  const events: RunEvent[] = [];
  const waiters = new Set<() => void>();
  const unsubscribe = bus.subscribe((event) => {
    events.push(event);
    for (const check of [...waiters]) check();
  });
  const wait = (done: () => boolean) =>
    new Promise<RunEvent[]>((resolve) => {
      const check = () => {
        if (!done()) return;
        waiters.delete(check);
        resolve(events);
      };
      waiters.add(check);
      check();
    });
  return {
    events,
    until: (predicate) => wait(() => events.some(predicate)),
    count: (count) => wait(() => events.length >= count),
    unsubscribe,
  };
}

/** Resolves when `bus` reports `status` (registered before anything the caller does next can change it). */
export function nextStatus(bus: EventBus, status: EventBusStatus): Promise<void> {
  return new Promise((resolve) => {
    const off = bus.onStatus((s) => {
      if (s !== status) return;
      off();
      resolve();
    });
  });
}

let counter = 0;

/** A run event with distinct IDs; `fields` override. */
export function runEvent(fields: Partial<RunEvent> = {}): RunEvent {
  const n = ++counter;
  return {
    seq: n,
    runId: `RUN-test-${n}`,
    type: 'SYNC_RUN_UPDATED',
    sequence: 1,
    status: 'QUEUED',
    flow: 'convert-opportunity-to-project',
    accountId: 'ACC-000001',
    exceptionId: null,
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    ...fields,
  };
}
