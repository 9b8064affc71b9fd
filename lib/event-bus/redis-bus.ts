import type { Logger } from 'pino';
import { createClient } from 'redis';
import type { EventBus, EventBusStatus, RunEvent, RunEventType } from './event-bus';
import { createListenerSet } from './listener-set';

/** Options of {@link createRedisBus}. */
export interface RedisBusOptions {
  /** `redis://host:port[/db]`. */
  url: string;
  /** The pub/sub channel every instance shares. @default 'meridian:run-events' */
  channel?: string;
  /** Gets one warning per outage (not one per reconnect attempt), the recovery, and dropped messages. */
  logger: Logger;
  /** Longest a publish waits for Redis to answer before it rejects. @default 2000 */
  publishTimeoutMs?: number;
  /** First reconnect delay, doubled per failed attempt up to `reconnectMaxMs` (plus up to 100 ms jitter). @default 50 */
  reconnectBaseMs?: number;
  /** @default 2000 */
  reconnectMaxMs?: number;
}

/** The Redis event bus, with its current status (for readiness checks and tests). */
export interface RedisBus extends EventBus {
  /** `'up'` while both connections are ready and the subscriber is subscribed. */
  readonly status: EventBusStatus;
}

const EVENT_TYPES: ReadonlySet<RunEventType> = new Set(['SYNC_RUN_UPDATED', 'EXCEPTION_RAISED']);

/**
 * The event bus over Redis pub/sub (node-redis 6, RESP3), for more than one process: every instance on the same
 * Redis and channel gets every event, its own included, through Redis. It holds two connections, since a subscribed
 * connection is kept for pushes: one publishes, one subscribes. Both reconnect forever with backoff; the subscriber
 * re-subscribes before it reports ready. `publish` rejects at once while the bus is `'down'` (no offline queue), so
 * the caller keeps the event until this instance's own subscriber is back, and after `publishTimeoutMs` when Redis
 * does not answer. The bus connects in the background: it starts `'down'` and reports `'up'` once connected and subscribed.
 */
export function createRedisBus(options: RedisBusOptions): RedisBus {
  const { url, logger } = options;
  const channel = options.channel ?? 'meridian:run-events';
  const reconnectBaseMs = options.reconnectBaseMs ?? 50;
  const reconnectMaxMs = options.reconnectMaxMs ?? 2000;
  const reconnectStrategy = (retries: number) =>
    Math.min(reconnectBaseMs * 2 ** retries, reconnectMaxMs) + Math.floor(Math.random() * 100);
  const listeners = createListenerSet(logger);
  const statusListeners = new Set<{ listener: (status: EventBusStatus) => void }>();
  let status: EventBusStatus = 'down';
  let subscribed = false;
  let subscribing = false;
  let closed = false;
  let outageLogged = false;

  const publishTimeoutMs = options.publishTimeoutMs ?? 2000;
  const publisher = createClient({
    url,
    disableOfflineQueue: true,
    socket: { reconnectStrategy },
  });
  const subscriber = createClient({ url, socket: { reconnectStrategy } });

  const refresh = () => {
    const next: EventBusStatus = !closed && subscribed && subscriber.isReady && publisher.isReady ? 'up' : 'down';
    if (next === status) return;
    status = next;
    if (closed) return;
    if (next === 'up' && outageLogged) {
      logger.info({ channel }, 'Redis event bus reconnected');
      outageLogged = false;
    }
    for (const entry of [...statusListeners]) {
      try {
        entry.listener(next);
      } catch (error) {
        logger.error({ err: error, status: next }, 'an event bus status listener threw');
      }
    }
  };

  const onMessage = (message: string) => {
    let event: unknown;
    try {
      event = JSON.parse(message);
    } catch {
      event = undefined;
    }
    if (!isRunEvent(event)) {
      logger.warn(
        { channel, message: message.slice(0, 200) },
        'dropped a message on the event channel that is not a run event',
      );
      return;
    }
    listeners.deliver(event);
  };

  const subscribe = () => {
    if (subscribed || subscribing || closed) return;
    subscribing = true;
    subscriber.subscribe(channel, onMessage).then(
      () => {
        subscribing = false;
        subscribed = true;
        refresh();
      },
      // The connection dropped mid-subscribe; the next 'ready' tries again.
      () => {
        subscribing = false;
      },
    );
  };

  for (const [role, client] of [
    ['publisher', publisher],
    ['subscriber', subscriber],
  ] as const) {
    // Without an 'error' listener a lost connection would throw out of the EventEmitter and end the process.
    client.on('error', (error: unknown) => {
      if (!closed && !outageLogged) {
        logger.warn(
          { err: error, client: role, channel },
          'Redis event bus connection lost or refused; reconnecting with backoff',
        );
        outageLogged = true;
      }
      refresh();
    });
    client.on('end', refresh);
    client.on('ready', () => {
      if (client === subscriber) subscribe();
      refresh();
    });
    client.connect().catch((error: unknown) => {
      if (!closed) logger.error({ err: error, client: role }, 'Redis event bus gave up connecting');
    });
  }

  const closeClient = async (client: typeof publisher) => {
    // close() lets pending commands finish, which only a ready connection can do; otherwise stop reconnecting now.
    if (client.isReady) await client.close().catch(() => client.destroy());
    else client.destroy();
  };

  return {
    get status() {
      return status;
    },
    publish: async (event) => {
      if (closed) throw new Error('The event bus is closed');
      // While this instance is down its own subscribers would miss the event, so the caller keeps it for later.
      if (status === 'down') throw new Error('Redis did not take the event: the event bus is down (reconnecting)');
      // node-redis's own command timeout stops once the command is written, so a server that holds the connection
      // and never answers (hung, paused, overloaded) would hold the publish for ever: this timer bounds the wait.
      const sent = publisher.publish(channel, JSON.stringify(event));
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${publishTimeoutMs} ms`)), publishTimeoutMs);
      });
      // A late failure of a publish already given up on is no one's to handle.
      sent.catch(() => undefined);
      try {
        await Promise.race([sent, timedOut]);
      } catch (error) {
        throw new Error(`Redis did not take the event: ${error instanceof Error ? error.message : String(error)}`, {
          cause: error,
        });
      } finally {
        clearTimeout(timer);
      }
    },
    subscribe: (listener) => listeners.add(listener),
    onStatus: (listener) => {
      const entry = { listener };
      statusListeners.add(entry);
      return () => {
        statusListeners.delete(entry);
      };
    },
    close: async () => {
      if (closed) return;
      closed = true;
      listeners.clear();
      statusListeners.clear();
      refresh();
      await Promise.all([closeClient(subscriber), closeClient(publisher)]);
    },
  };
}

function isRunEvent(value: unknown): value is RunEvent {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Record<string, unknown>;
  return (
    typeof e.seq === 'number' &&
    typeof e.runId === 'string' &&
    typeof e.sequence === 'number' &&
    EVENT_TYPES.has(e.type as RunEventType) &&
    typeof e.status === 'string'
  );
}
