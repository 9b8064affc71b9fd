import type { Logger } from 'pino';
import { silentLogger } from '../logger';
import type { EventBus, EventBusStatus, RunEvent } from './event-bus';
import { createListenerSet } from './listener-set';

/** Options of {@link createInProcessBus}. */
export interface InProcessBusOptions {
  /** Where a throwing listener is reported. @default a silent logger */
  logger?: Logger;
}

/**
 * The event bus inside one process: the default when `REDIS_URL` is unset. `publish` delivers to every
 * subscriber before it resolves, in publish order (an event published from inside a listener is delivered after
 * the current one); it never goes down, so `onStatus` listeners are never called.
 */
export function createInProcessBus(options: InProcessBusOptions = {}): EventBus {
  const logger = options.logger ?? silentLogger();
  const listeners = createListenerSet(logger);
  const queue: RunEvent[] = [];
  let delivering = false;
  let closed = false;

  return {
    publish: async (event) => {
      if (closed) throw new Error('The event bus is closed');
      queue.push(event);
      // A publish from inside a listener only queues, so every listener sees events in publish order.
      if (delivering) return;
      delivering = true;
      try {
        for (let next = queue.shift(); next; next = queue.shift()) listeners.deliver(next);
      } finally {
        delivering = false;
      }
    },
    subscribe: (listener) => listeners.add(listener),
    onStatus: (_listener: (status: EventBusStatus) => void) => () => undefined,
    close: async () => {
      closed = true;
      listeners.clear();
    },
  };
}
