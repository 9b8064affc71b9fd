import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { GraphQLError, getOperationAST, parse, validate, type DocumentNode, type ExecutionResult, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { EventBus } from '../../lib/event-bus/event-bus';
import { MeridianError } from '../../lib/errors';
import { formatGatewayError } from '../format-error';
import { liveFeed, type ExecuteQuery } from './live-feeds';
import { codedError, planLiveOperation, type LiveOperation } from './live-operation';

/** Largest graphql-ws message accepted, in bytes (ws's own default is 100 MiB). @default 64 KiB */
export const DEFAULT_WS_MAX_PAYLOAD_BYTES = 64 * 1024;
/** How long a socket may wait before `connection_init`. @default 3000 */
export const DEFAULT_CONNECTION_INIT_TIMEOUT_MS = 3000;
/** Interval of the server's ping; a socket that misses a pong is closed. @default 12000 */
export const DEFAULT_KEEP_ALIVE_MS = 12_000;
/** Payload query results kept for re-use by every subscriber of the same event. @default 5000 */
const RESULT_CACHE_ENTRIES = 5000;
/** Parsed and validated subscription documents kept. */
const DOCUMENT_CACHE_ENTRIES = 500;

/** What the subscription server needs from the gateway. */
export interface SubscriptionServerOptions {
  /** The HTTP server whose `/graphql` upgrades to graphql-ws. */
  server: Server;
  /** The API schema, once the gateway has loaded it. */
  schema: () => GraphQLSchema | null;
  /** Runs a query or mutation through the gateway, as HTTP requests are run. */
  execute: (query: string, variables: Record<string, unknown>, requestId: string) => Promise<ExecutionResult>;
  /** Where run events arrive from; null: subscriptions are refused with LIVE_STATUS_UNAVAILABLE. */
  bus: EventBus | null;
  logger: Logger;
  /** @default {@link DEFAULT_WS_MAX_PAYLOAD_BYTES} */
  maxPayloadBytes?: number;
  /** @default {@link DEFAULT_CONNECTION_INIT_TIMEOUT_MS} */
  connectionInitTimeoutMs?: number;
  /** @default {@link DEFAULT_KEEP_ALIVE_MS} */
  keepAliveMs?: number;
  /**
   * Authentication hook for `connection_init` (the security issue fills it): return false to refuse the socket
   * with graphql-ws's 4403 Forbidden.
   */
  onConnect?: (connectionParams: Record<string, unknown> | undefined) => boolean | Promise<boolean>;
}

/** The running subscription server. */
export interface SubscriptionServer {
  /** Open sockets. */
  connections(): number;
  close(): Promise<void>;
}

interface LiveContext {
  requestId: string;
  live: LiveOperation | null;
}

/**
 * Serves graphql-ws on the gateway's `/graphql`: subscriptions `syncRunUpdated`, `syncRunsUpdated` and
 * `exceptionRaised`, whose payloads may select fields of any subgraph (each event runs the equivalent query through
 * the gateway, shared by every subscriber of that event), plus queries and mutations over the same socket.
 */
export function attachSubscriptions(options: SubscriptionServerOptions): SubscriptionServer {
  const wss = new WebSocketServer({ server: options.server, path: '/graphql', maxPayload: options.maxPayloadBytes ?? DEFAULT_WS_MAX_PAYLOAD_BYTES });
  // Payload queries at a fixed sequence (and exceptions) never change: every subscriber of an event shares one run.
  // Keyed query first, variables second, so no per-call key is built from the (long) query text.
  const cache = new Map<string, Map<string, Promise<ExecutionResult>>>();
  let cached = 0;
  const shared = (requestId: string): ExecuteQuery => (query, variables) => {
    const immutable = '_sequence' in variables || query.includes('syncException(');
    let byVariables = cache.get(query);
    if (!byVariables) cache.set(query, (byVariables = new Map()));
    const key = JSON.stringify(variables);
    const hit = byVariables.get(key);
    if (hit) return hit;
    const promise = options.execute(query, variables, requestId);
    byVariables.set(key, promise);
    cached += 1;
    const forget = () => {
      if (byVariables.delete(key)) cached -= 1;
      if (byVariables.size === 0) cache.delete(query);
    };
    promise.then(
      () => {
        if (!immutable) forget();
        else if (cached > RESULT_CACHE_ENTRIES) evictOldest();
      },
      forget,
    );
    return promise;
  };
  const evictOldest = () => {
    const [query, byVariables] = cache.entries().next().value!;
    const first = byVariables.keys().next().value!;
    byVariables.delete(first);
    cached -= 1;
    if (byVariables.size === 0) cache.delete(query);
  };
  // Many subscribers send the same document: parse and validate it once.
  const documents = new Map<string, { document: DocumentNode; errors: readonly GraphQLError[] }>();
  const checked = (schema: GraphQLSchema, text: string) => {
    let entry = documents.get(text);
    if (!entry) {
      const document = parse(text);
      entry = { document, errors: validate(schema, document) };
      if (documents.size >= DOCUMENT_CACHE_ENTRIES) documents.delete(documents.keys().next().value!);
      documents.set(text, entry);
    }
    return entry;
  };

  const disposable = useServer<Record<string, unknown> | undefined>(
    {
      connectionInitWaitTimeout: options.connectionInitTimeoutMs ?? DEFAULT_CONNECTION_INIT_TIMEOUT_MS,
      onConnect: async (ctx) => (options.onConnect ? options.onConnect(ctx.connectionParams) : true),
      onSubscribe: async (_ctx, _id, payload) => {
        const schema = options.schema();
        if (!schema) return [codedError('SUBGRAPH_UNAVAILABLE', 'The gateway has not loaded its schema yet')];
        let document: DocumentNode;
        let errors: readonly GraphQLError[];
        try {
          ({ document, errors } = checked(schema, payload.query));
        } catch (error) {
          return [codedError('GRAPHQL_PARSE_FAILED', (error as Error).message)];
        }
        if (errors.length) return errors.map((e) => codedError('GRAPHQL_VALIDATION_FAILED', e.message));
        const operation = getOperationAST(document, payload.operationName ?? undefined);
        if (!operation) return [codedError('OPERATION_RESOLUTION_FAILURE', 'Name the operation to run with operationName')];
        const context: LiveContext = { requestId: `ws-${randomUUID()}`, live: null };
        if (operation.operation === 'subscription') {
          if (!options.bus) return [codedError('LIVE_STATUS_UNAVAILABLE', 'This gateway has no event bus to serve subscriptions from; query syncRun instead')];
          try {
            context.live = planLiveOperation(schema, document, payload.variables, operation);
          } catch (error) {
            const e = error as MeridianError;
            return [codedError(e.code ?? 'BAD_USER_INPUT', e.message)];
          }
        }
        return { schema, document, variableValues: payload.variables ?? {}, operationName: payload.operationName ?? null, contextValue: context };
      },
      subscribe: (args) => {
        const context = args.contextValue as LiveContext;
        return liveFeed(context.live!, options.bus!, shared(context.requestId));
      },
      execute: (args) => options.execute(payloadText(args.document), (args.variableValues ?? {}) as Record<string, unknown>, (args.contextValue as LiveContext).requestId),
      onNext: (_ctx, _id, _payload, _args, result) => ({ ...result, ...(result.errors ? { errors: result.errors.map(formatted) } : {}) }) as ExecutionResult,
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

function payloadText(document: DocumentNode): string {
  return document.loc?.source.body ?? '';
}

/** Errors leave the gateway in one shape whatever the transport: coded, allowlisted extensions, masked otherwise. */
function formatted(error: GraphQLError | GraphQLFormattedError): GraphQLFormattedError {
  const plain = error instanceof GraphQLError ? error.toJSON() : error;
  return formatGatewayError(plain, error);
}
