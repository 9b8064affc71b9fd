import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import {
  GraphQLError,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { Identity } from '../../lib/auth/identity';
import type { EventBus } from '../../lib/event-bus/event-bus';
import { MeridianError } from '../../lib/errors';
import { subscriptionPayloads, subscriptionsOpen } from '../../lib/metrics/metrics';
import { formatGatewayError } from '../format-error';
import { graphqlWsPolicies } from '../policies/graphql-ws';
import type { PolicyPipeline } from '../policies/pipeline';
import type { PolicyConnection } from '../policies/policy';
import { liveFeed, type ExecuteQuery } from '../../lib/live/live-feeds';
import { codedError, planLiveOperation, type LiveOperation } from '../../lib/live/live-operation';

/** Largest graphql-ws message accepted, in bytes (ws's own default is 100 MiB). @default 64 KiB */
export const DEFAULT_WS_MAX_PAYLOAD_BYTES = 64 * 1024;
/** How long a socket may wait before `connection_init`. @default 3000 */
export const DEFAULT_CONNECTION_INIT_TIMEOUT_MS = 3000;
/** Interval of the server's ping; a socket that misses a pong is closed. @default 12000 */
export const DEFAULT_KEEP_ALIVE_MS = 12_000;
/** Payload query results kept for re-use by every subscriber of the same event. @default 5000 */
const RESULT_CACHE_ENTRIES = 5000;

/** What the subscription server needs from the gateway. */
export interface SubscriptionServerOptions {
  /** The HTTP server whose `/graphql` upgrades to graphql-ws. */
  server: Server;
  /** The API schema, once the gateway has loaded it. */
  schema: () => GraphQLSchema | null;
  /** Runs a query or mutation through the gateway, as HTTP requests are run, on behalf of `identity`. */
  execute: (
    query: string,
    variables: Record<string, unknown>,
    requestId: string,
    identity: Identity | null,
  ) => Promise<ExecutionResult>;
  /**
   * The gateway's policies, run here as over HTTP: at `connection_init` (authentication: a refusal closes the socket
   * with {@link CLOSE_UNAUTHENTICATED}, or {@link CLOSE_RATE_LIMITED}) and at every `subscribe`.
   */
  pipeline: PolicyPipeline;
  /** Masks field suggestions in validation errors (`NODE_ENV=production`). @default false */
  production?: boolean;
  /** Where run events arrive from; null: subscriptions are refused with LIVE_STATUS_UNAVAILABLE. */
  bus: EventBus | null;
  logger: Logger;
  /** @default {@link DEFAULT_WS_MAX_PAYLOAD_BYTES} */
  maxPayloadBytes?: number;
  /** @default {@link DEFAULT_CONNECTION_INIT_TIMEOUT_MS} */
  connectionInitTimeoutMs?: number;
  /** @default {@link DEFAULT_KEEP_ALIVE_MS} */
  keepAliveMs?: number;
}

/** Close code for a socket whose `connection_init` carried an invalid token (graphql-ws's 4401 Unauthorized). */
export const CLOSE_UNAUTHENTICATED = 4401;
/** Close code for a socket refused at `connection_init` because its caller is over budget (graphql-ws's 4429). */
export const CLOSE_RATE_LIMITED = 4429;

/** The running subscription server. */
export interface SubscriptionServer {
  /** Open sockets. */
  connections(): number;
  close(): Promise<void>;
}

interface LiveContext {
  requestId: string;
  identity: Identity | null;
  live: LiveOperation | null;
}

/** What the socket learnt at `connection_init`. */
type SocketExtra = {
  connection?: PolicyConnection;
  /** IDs of this socket's subscriptions that are streaming (counted in `meridian_gateway_subscriptions_open`). */
  live?: Set<string>;
};

/** Callers with the same role, scopes and accounts may share a payload result; nobody else. */
function audienceOf(identity: Identity | null): string {
  return identity
    ? `${identity.role}|${identity.scopes.join(' ')}|${identity.accounts?.join(',') ?? '*'}`
    : 'anonymous';
}

/**
 * Serves graphql-ws on the gateway's `/graphql`: subscriptions `syncRunUpdated`, `syncRunsUpdated` and
 * `exceptionRaised`, whose payloads may select fields of any subgraph (each event runs the equivalent query through
 * the gateway, shared by every subscriber of that event), plus queries and mutations over the same socket.
 */
export function attachSubscriptions(options: SubscriptionServerOptions): SubscriptionServer {
  const wss = new WebSocketServer({
    server: options.server,
    path: '/graphql',
    maxPayload: options.maxPayloadBytes ?? DEFAULT_WS_MAX_PAYLOAD_BYTES,
  });
  // Payload queries at a fixed sequence (and exceptions) never change: every subscriber of an event shares one run.
  // Keyed query first, variables second, so no per-call key is built from the (long) query text.
  const cache = new Map<string, Map<string, Promise<ExecutionResult>>>();
  let cached = 0;
  const shared =
    (requestId: string, identity: Identity | null): ExecuteQuery =>
    (query, variables) => {
      const immutable = '_sequence' in variables || query.includes('syncException(');
      let byVariables = cache.get(query);
      if (!byVariables) cache.set(query, (byVariables = new Map()));
      const key = `${audienceOf(identity)}\n${JSON.stringify(variables)}`;
      const hit = byVariables.get(key);
      if (hit) return hit;
      const promise = options.execute(query, variables, requestId, identity);
      byVariables.set(key, promise);
      cached += 1;
      const forget = () => {
        if (byVariables.delete(key)) cached -= 1;
        if (byVariables.size === 0) cache.delete(query);
      };
      promise.then((result) => {
        // A failed read (a subgraph down for a moment) is not kept: the next subscriber of the event reads again.
        if (!immutable || result.errors) forget();
        else if (cached > RESULT_CACHE_ENTRIES) evictOldest();
      }, forget);
      return promise;
    };
  const evictOldest = () => {
    const [query, byVariables] = cache.entries().next().value!;
    const first = byVariables.keys().next().value!;
    byVariables.delete(first);
    cached -= 1;
    if (byVariables.size === 0) cache.delete(query);
  };
  const policies = graphqlWsPolicies(options.pipeline, {
    schema: options.schema,
    production: options.production ?? false,
  });
  const disposable = useServer<Record<string, unknown> | undefined, SocketExtra>(
    {
      connectionInitWaitTimeout: options.connectionInitTimeoutMs ?? DEFAULT_CONNECTION_INIT_TIMEOUT_MS,
      onConnect: async (ctx) => {
        try {
          const connection = await policies.connect(ctx.extra.request, ctx.connectionParams);
          ctx.extra.connection = connection;
          if (connection.identity?.expiresAt !== undefined)
            closeOnExpiry(ctx.extra.socket, connection.identity.expiresAt);
          return true;
        } catch (error) {
          if (!(error instanceof MeridianError)) throw error;
          const code = error.code === 'RATE_LIMITED' ? CLOSE_RATE_LIMITED : CLOSE_UNAUTHENTICATED;
          ctx.extra.socket.close(code, `${error.code}: ${error.message}`.slice(0, 120));
          return false;
        }
      },
      onSubscribe: async (ctx, _id, payload) => {
        const admitted = await policies.subscribe(ctx.extra.connection!, payload);
        if (Array.isArray(admitted)) return admitted;
        const { schema, document, operation, identity } = admitted;
        const context: LiveContext = { requestId: `ws-${randomUUID()}`, identity, live: null };
        if (operation.operation === 'subscription') {
          if (!options.bus)
            return [
              codedError(
                'LIVE_STATUS_UNAVAILABLE',
                'This gateway has no event bus to serve subscriptions from; query syncRun instead',
              ),
            ];
          try {
            context.live = planLiveOperation(schema, document, admitted.variables, operation);
          } catch (error) {
            const e = error as MeridianError;
            return [codedError(e.code ?? 'BAD_USER_INPUT', e.message)];
          }
        }
        return {
          schema,
          document,
          variableValues: admitted.variables,
          operationName: admitted.operationName,
          contextValue: context,
        };
      },
      subscribe: (args) => {
        const context = args.contextValue as LiveContext;
        return liveFeed(context.live!, options.bus!, shared(context.requestId, context.identity));
      },
      execute: (args) => {
        const context = args.contextValue as LiveContext;
        return options.execute(
          payloadText(args.document),
          (args.variableValues ?? {}) as Record<string, unknown>,
          context.requestId,
          context.identity,
        );
      },
      onOperation: (ctx, id, _payload, _args, result) => {
        if (Symbol.asyncIterator in result) {
          (ctx.extra.live ??= new Set()).add(id);
          subscriptionsOpen.inc();
        }
      },
      onComplete: (ctx, id) => {
        if (ctx.extra.live?.delete(id)) subscriptionsOpen.dec();
      },
      onNext: (ctx, id, _payload, _args, result) => {
        if (ctx.extra.live?.has(id)) subscriptionPayloads.inc();
        return { ...result, ...(result.errors ? { errors: result.errors.map(formatted) } : {}) } as ExecutionResult;
      },
      onError: (_ctx, _id, _payload, errors) => errors.map(formatted),
    },
    wss,
    options.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS,
  );
  wss.on('error', (error) => options.logger.warn({ err: error }, 'websocket server error'));

  return {
    connections: () => wss.clients.size,
    close: async () => {
      for (const client of wss.clients) client.close(1001, 'Going away');
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** Longest a timer may wait in Node (about 24.8 days); a later expiry is re-armed when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Closes a socket with {@link CLOSE_UNAUTHENTICATED} when its token expires: a subscription never outlives its token. */
function closeOnExpiry(
  socket: { close(code: number, reason: string): void; once(event: 'close', listener: () => void): unknown },
  expiresAt: number,
): void {
  let timer: NodeJS.Timeout;
  const arm = () => {
    const wait = expiresAt - Date.now();
    timer =
      wait > MAX_TIMER_MS
        ? setTimeout(arm, MAX_TIMER_MS)
        : setTimeout(
            () => socket.close(CLOSE_UNAUTHENTICATED, 'UNAUTHENTICATED: The token has expired'),
            Math.max(0, wait),
          );
    timer.unref();
  };
  arm();
  socket.once('close', () => clearTimeout(timer));
}

function payloadText(document: DocumentNode): string {
  return document.loc?.source.body ?? '';
}

/** Errors leave the gateway in one shape whatever the transport: coded, allowlisted extensions, masked otherwise. */
function formatted(error: GraphQLError | GraphQLFormattedError): GraphQLFormattedError {
  const plain = error instanceof GraphQLError ? error.toJSON() : error;
  return formatGatewayError(plain, error);
}
