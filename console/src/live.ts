import { createClient, type Client } from 'graphql-ws';
import type { Session } from './auth';

/** Where the socket stands: shown in the header ("live", "connecting", "reconnecting"). */
export type LinkState = 'connecting' | 'live' | 'reconnecting' | 'closed';

/** The console's one graphql-ws connection, and its state. */
export interface Live {
  client: Client;
  state(): LinkState;
  /** Called on every state change; returns an unsubscribe. */
  onState(listener: (state: LinkState) => void): () => void;
  /** Called each time the socket is (re)connected; `reconnected` is false the first time. */
  onConnected(listener: (reconnected: boolean) => void): () => void;
  dispose(): void;
}

/** Close codes after which retrying cannot help: the token is bad or expired, or the caller may not subscribe. */
const FATAL_CLOSE_CODES = new Set([4401, 4403]);

/**
 * Opens the graphql-ws connection to the gateway's `/graphql` with the session's token and keeps it: after a dropped
 * socket it retries (backoff 250 ms doubling to 3 s, with jitter) for as long as the page is open, and graphql-ws
 * re-subscribes every active subscription; pages catch up by sequence numbers (see `run-updates.ts`).
 */
export function createLive(session: Session, onFatal: (code: number, reason: string) => void): Live {
  let state: LinkState = 'connecting';
  let everConnected = false;
  const stateListeners = new Set<(state: LinkState) => void>();
  const connectedListeners = new Set<(reconnected: boolean) => void>();
  const setState = (next: LinkState) => {
    if (next === state) return;
    state = next;
    for (const listener of stateListeners) listener(state);
  };
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
  const client = createClient({
    url,
    lazy: false,
    keepAlive: 10_000,
    retryAttempts: Number.POSITIVE_INFINITY,
    connectionParams: { authorization: `Bearer ${session.token}` },
    shouldRetry: (event) => {
      const code = (event as { code?: number } | null)?.code;
      if (code !== undefined && FATAL_CLOSE_CODES.has(code)) {
        onFatal(code, (event as { reason?: string }).reason ?? '');
        return false;
      }
      return true;
    },
    retryWait: (retries) =>
      new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** retries, 3000) + Math.random() * 250)),
    on: {
      connecting: () => setState(everConnected ? 'reconnecting' : 'connecting'),
      connected: () => {
        const reconnected = everConnected;
        everConnected = true;
        setState('live');
        for (const listener of connectedListeners) listener(reconnected);
      },
      closed: () => {
        if (state !== 'closed') setState(everConnected ? 'reconnecting' : 'connecting');
      },
    },
  });
  return {
    client,
    state: () => state,
    onState(listener) {
      stateListeners.add(listener);
      return () => stateListeners.delete(listener);
    },
    onConnected(listener) {
      connectedListeners.add(listener);
      return () => connectedListeners.delete(listener);
    },
    dispose() {
      setState('closed');
      void client.dispose();
    },
  };
}

/** Subscribes; `next` gets each payload's data, `error` the first GraphQL or socket error. Returns the unsubscribe. */
export function subscribe<T>(
  live: Live,
  query: string,
  variables: Record<string, unknown>,
  handlers: { next: (data: T) => void; error?: (message: string, code: string | null) => void; complete?: () => void },
): () => void {
  return live.client.subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors?.length) {
          const first = result.errors[0]!;
          handlers.error?.(first.message, (first.extensions?.code as string | undefined) ?? null);
          return;
        }
        if (result.data) handlers.next(result.data as T);
      },
      error: (error) => {
        const asErrors = Array.isArray(error) ? (error as { message: string }[]) : null;
        handlers.error?.(
          asErrors?.[0]?.message ?? (error instanceof Error ? error.message : 'The live feed stopped'),
          null,
        );
      },
      complete: () => handlers.complete?.(),
    },
  );
}
