import type { ExecutionResult } from 'graphql';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventBus } from '../lib/event-bus/event-bus';
import { createGraphQLRequestListener, listen, sendJson, type Listening } from '../lib/graphql-http';
import { createGateway, type GatewayOptions } from './index';
import { attachSubscriptions, type SubscriptionServerOptions } from './subscriptions/index';
import type { SupergraphEndpoint } from './supergraph-subgraphs';

/** How long `/readyz` waits for each subgraph. @default 2000 */
export const READY_TIMEOUT_MS = 2000;

/** Where and how the gateway listens. */
export interface StartGatewayOptions extends GatewayOptions {
  /** 0 for an ephemeral port. */
  port: number;
  /** @default 127.0.0.1 */
  host?: string;
  /** Largest HTTP body, in bytes. @default 1 MiB */
  maxBodyBytes?: number;
  /** Where run events come from for subscriptions; without one, subscriptions get LIVE_STATUS_UNAVAILABLE. */
  bus?: EventBus | null;
  /** graphql-ws limits: message size, `connection_init` timeout, keep-alive. */
  subscriptions?: Pick<SubscriptionServerOptions, 'maxPayloadBytes' | 'connectionInitTimeoutMs' | 'keepAliveMs' | 'onConnect'>;
}

/** A running gateway: its URL (HTTP and graphql-ws), its subgraphs, and `close()`. */
export interface RunningGateway extends Listening {
  subgraphs: SupergraphEndpoint[];
  /** `ws://host:port/graphql` */
  wsUrl: string;
  /** Open graphql-ws sockets. */
  connections(): number;
}

/** Starts the gateway: GraphQL on `/graphql`, liveness on `/healthz`, readiness (every subgraph answers) on `/readyz`. */
export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  const { apollo, subgraphs, apiSchema } = createGateway(options);
  await apollo.start();
  const listening = await listen(
    createGraphQLRequestListener(apollo, {
      context: async (_req, requestId) => ({ requestId }),
      routes: {
        '/healthz': (_req, res) => sendJson(res, 200, { status: 'ok' }),
        '/readyz': (req, res) => readiness(subgraphs, req, res),
      },
      ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
    }),
    options.port,
    options.host,
  );
  const subscriptions = attachSubscriptions({
    server: listening.server,
    schema: apiSchema,
    bus: options.bus ?? null,
    logger: options.logger,
    ...options.subscriptions,
    execute: async (query, variables, requestId) => {
      const response = await apollo.executeOperation({ query, variables }, { contextValue: { requestId } });
      if (response.body.kind !== 'single') throw new Error('incremental delivery is not used here');
      return response.body.singleResult as ExecutionResult;
    },
  });
  return {
    ...listening,
    subgraphs,
    wsUrl: listening.url.replace(/^http/, 'ws'),
    connections: subscriptions.connections,
    close: async () => {
      await subscriptions.close();
      await listening.close();
      await apollo.stop();
    },
  };
}

async function readiness(subgraphs: SupergraphEndpoint[], _req: IncomingMessage, res: ServerResponse): Promise<void> {
  const results = await Promise.all(
    subgraphs.map(async (s) => {
      try {
        const response = await fetch(s.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"query":"{ __typename }"}',
          signal: AbortSignal.timeout(READY_TIMEOUT_MS),
        });
        return [s.name, response.ok ? 'up' : `down: HTTP ${response.status}`] as const;
      } catch (error) {
        return [s.name, `down: ${(error as Error).message}`] as const;
      }
    }),
  );
  const ready = results.every(([, state]) => state === 'up');
  sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', subgraphs: Object.fromEntries(results) });
}
