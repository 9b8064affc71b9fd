import { createClient, type Client, type FormattedExecutionResult as ExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';
import { tokenFor } from './stack';

/** A graphql-ws subscription's messages, in order, and how it ended. */
export interface Subscribed<T> {
  /** Every `next` payload so far. */
  results: ExecutionResult<T, unknown>[];
  /** Resolves when the server completes the subscription; rejects with the error (a close event or GraphQL errors). */
  done: Promise<void>;
  /** Resolves once `count` payloads have arrived (or rejects when the subscription ends before). */
  received(count: number): Promise<ExecutionResult<T, unknown>[]>;
  /** Completes it from the client side. */
  unsubscribe(): void;
}

/**
 * A real graphql-ws client for the gateway (Node 20 has no global WebSocket: ws is handed in). Its `connection_init`
 * carries `authorization` — a service token unless given; null sends none.
 */
export function wsClient(url: string, authorization?: string | null): Client {
  return createClient({
    url,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: async () => {
      if (authorization === null) return {};
      return { authorization: authorization ?? `Bearer ${await tokenFor('service', { subject: 'test-service' })}` };
    },
  });
}

/** Subscribes and queues what arrives; tests wait on counts and completion, never on time. */
export function subscribe<T = Record<string, any>>(
  client: Client,
  query: string,
  variables?: Record<string, unknown>,
): Subscribed<T> {
  const results: ExecutionResult<T, unknown>[] = [];
  const waiters: {
    count: number;
    resolve: (r: ExecutionResult<T, unknown>[]) => void;
    reject: (e: unknown) => void;
  }[] = [];
  let ended: { error?: unknown } | null = null;
  const settle = () => {
    for (const w of [...waiters]) {
      if (results.length >= w.count) w.resolve(results.slice(0, w.count));
      else if (ended)
        w.reject(ended.error ?? new Error(`subscription completed after ${results.length} of ${w.count} results`));
      else continue;
      waiters.splice(waiters.indexOf(w), 1);
    }
  };
  let unsubscribe: () => void = () => {};
  const done = new Promise<void>((resolve, reject) => {
    unsubscribe = client.subscribe<T>(variables ? { query, variables } : { query }, {
      next: (result) => {
        results.push(result);
        settle();
      },
      error: (error) => {
        ended = { error };
        settle();
        reject(error);
      },
      complete: () => {
        ended = {};
        settle();
        resolve();
      },
    });
  });
  done.catch(() => undefined);
  return {
    results,
    done,
    received: (count) =>
      new Promise((resolve, reject) => {
        waiters.push({ count, resolve, reject });
        settle();
      }),
    unsubscribe: () => unsubscribe(),
  };
}
