import type { Logger } from 'pino';
import { createWakeableSleep } from '../../../lib/wakeable-sleep';
import type { EventBus, RunEvent } from '../../../lib/event-bus/event-bus';
import type { Ledger, OutboxEvent } from './ledger';

/** What the relay needs. */
export interface OutboxRelayOptions {
  /** Only the outbox reads and the relay cursor are used. */
  ledger: Pick<Ledger, 'eventsAfter' | 'getRelayCursor' | 'setRelayCursor'>;
  bus: EventBus;
  logger: Logger;
  /** Names the persisted cursor: relays with different names each publish every event. @default 'default' */
  name?: string;
  /** Outbox events read (and published) per round. @default 500 */
  batchSize?: number;
  /** Longest wait between looks at the outbox when it was empty (other processes' events arrive only this way). @default 250 */
  idlePollMs?: number;
  /** First wait after a failure; doubles per consecutive failure up to `retryMaxMs`. @default 100 */
  retryMinMs?: number;
  /** @default 5000 */
  retryMaxMs?: number;
}

/** A running relay. */
export interface OutboxRelay {
  /** Looks at the outbox now (after this process committed an event); does not cut short a retry wait. */
  wake(): void;
  /** Finishes the publish in hand, saves the cursor, then stops. */
  stop(): Promise<void>;
}

/**
 * Starts publishing outbox events to the bus in `seq` order, from the cursor persisted under `name` in the ledger,
 * saving the cursor after each published batch. While publishing fails (the bus is down) or the ledger cannot be
 * read, it logs once per outage, keeps its cursor and retries with backoff (at once when the bus reports `'up'`),
 * so every committed event is published at least once and none is skipped. A crash between a publish and the cursor
 * save re-publishes at most one batch, which subscribers de-duplicate.
 */
export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { ledger, bus, logger } = options;
  const name = options.name ?? 'default';
  const batchSize = options.batchSize ?? 500;
  const idlePollMs = options.idlePollMs ?? 250;
  const retryMinMs = options.retryMinMs ?? 100;
  const retryMaxMs = options.retryMaxMs ?? 5000;
  let stopped = false;
  // Set by wake(), so a wake that lands while the outbox is being read still skips the next idle wait.
  let woken = false;
  const idle = createWakeableSleep();
  const retry = createWakeableSleep();
  // A bus that is back takes events again at once, rather than after the rest of the backoff.
  const offStatus = bus.onStatus((status) => {
    if (status === 'up') retry.wakeAll();
  });

  const loop = async () => {
    let cursor: number | null = null;
    let saved: number | null = null;
    let failures = 0;
    let outageSince: number | null = null;
    while (!stopped) {
      try {
        if (cursor === null) saved = cursor = await ledger.getRelayCursor(name);
        woken = false;
        const events = await ledger.eventsAfter(cursor, batchSize);
        try {
          for (const event of events) {
            if (stopped) break;
            await bus.publish(toRunEvent(event));
            cursor = event.seq;
          }
        } finally {
          if (cursor !== saved) {
            await ledger.setRelayCursor(name, cursor);
            saved = cursor;
          }
        }
        if (outageSince !== null) {
          logger.info({ relay: name, cursor, outageMs: Date.now() - outageSince }, 'outbox relay publishing again');
          outageSince = null;
        }
        failures = 0;
        if (events.length < batchSize && !stopped && !woken) await idle.sleep(idlePollMs);
      } catch (error) {
        failures++;
        if (outageSince === null) {
          outageSince = Date.now();
          logger.warn(
            { err: error, relay: name, cursor },
            'outbox relay cannot publish; events stay in the outbox and are retried with backoff',
          );
        }
        if (!stopped) await retry.sleep(Math.min(retryMinMs * 2 ** (failures - 1), retryMaxMs));
      }
    }
  };
  const running = loop();

  return {
    wake: () => {
      woken = true;
      idle.wakeAll();
    },
    stop: async () => {
      stopped = true;
      offStatus();
      idle.wakeAll();
      retry.wakeAll();
      await running;
    },
  };
}

/** Only the event's own fields go on the bus, whatever else an adapter's row carries. */
function toRunEvent(e: OutboxEvent): RunEvent {
  return {
    seq: e.seq,
    runId: e.runId,
    type: e.type,
    sequence: e.sequence,
    status: e.status,
    flow: e.flow,
    accountId: e.accountId,
    exceptionId: e.exceptionId,
    createdAt: e.createdAt,
  };
}
