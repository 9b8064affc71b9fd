import type { Logger } from 'pino';
import type { RunEvent } from './event-bus';

/** The subscribers of one bus instance. */
export interface ListenerSet {
  /** Adds `listener`; returns its (idempotent) removal. */
  add(listener: (event: RunEvent) => void): () => void;
  /** Calls every current listener with `event`; one that throws is logged and the others still get it. */
  deliver(event: RunEvent): void;
  clear(): void;
}

/** A {@link ListenerSet} that reports throwing listeners to `logger`. Shared by the bus adapters. */
export function createListenerSet(logger: Logger): ListenerSet {
  // Wrapped per subscription, so the same function subscribed twice is two subscriptions.
  const listeners = new Set<{ listener: (event: RunEvent) => void }>();
  return {
    add: (listener) => {
      const entry = { listener };
      listeners.add(entry);
      return () => {
        listeners.delete(entry);
      };
    },
    deliver: (event) => {
      for (const entry of [...listeners]) {
        // One removed by an earlier listener during this delivery no longer gets it.
        if (!listeners.has(entry)) continue;
        try {
          entry.listener(event);
        } catch (error) {
          logger.error(
            { err: error, runId: event.runId, seq: event.seq, type: event.type },
            'an event bus listener threw; the other listeners still get the event',
          );
        }
      }
    },
    clear: () => listeners.clear(),
  };
}
