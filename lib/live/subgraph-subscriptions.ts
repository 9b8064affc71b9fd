import type { ApolloServer } from '@apollo/server';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import {
  GraphQLError,
  getOperationAST,
  parse,
  validate,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { accessRefusal, type SecuredContext } from '../auth/access-plugin';
import { checkAccess, type AccessRules } from '../auth/access-rules';
import type { Identity } from '../auth/identity';
import { SIGNATURE_HEADER } from '../auth/signing';
import { GATEWAY_SECRET_HEADER } from '../auth/subgraph-trust';
import type { EventBus } from '../event-bus/event-bus';
import { MeridianError } from '../errors';
import { formatError } from '../format-error';
import { liveFeed } from './live-feeds';
import { codedError, planLiveOperation, type LiveOperation } from './live-operation';

/** Close code for a socket whose upgrade or `connection_init` is not signed by a trusted gateway (graphql-ws's 4401). */
export const CLOSE_UNSIGNED = 4401;
/** Largest graphql-ws message a subgraph accepts, in bytes. @default 64 KiB */
export const SUBGRAPH_WS_MAX_PAYLOAD_BYTES = 64 * 1024;

/** What a subgraph's graphql-ws server needs. */
export interface SubgraphSubscriptionOptions<TContext extends SecuredContext> {
  /** The subgraph's HTTP server: graphql-ws is served on its `/graphql`. */
  server: Server;
  /** The subgraph's Apollo Server (started): payload queries run through it, with its access checks and context. */
  apollo: ApolloServer<TContext>;
  /** The subgraph's schema (as built for `apollo`). */
  schema: GraphQLSchema;
  /** The subgraph's `@authenticated` / `@requiresScopes`, checked on each subscription before it starts. */
  accessRules: AccessRules;
  /** Builds a request's context, as for HTTP. */
  context(req: IncomingMessage, requestId: string, identity: Identity | null): Promise<TContext>;
  /** Where run events arrive from. */
  bus: EventBus;
  /** The same trust check as HTTP requests (lib/auth/subgraph-trust.ts createSubgraphAdmission), over an empty body. */
  admit(headers: Record<string, string | string[] | undefined>, body: string): Promise<Identity | null>;
  logger: Logger;
}

/** The running graphql-ws server of a subgraph. */
export interface SubgraphSubscriptions {
  close(): Promise<void>;
}

type SocketExtra = { identity?: Identity | null };
/** Each operation's context: its socket's upgrade request (headers for tracing, the address for logs) and identity. */
type LiveContext = { req: IncomingMessage; requestId: string; identity: Identity | null; live: LiveOperation | null };

/**
 * Serves a subgraph's own subscriptions over graphql-ws on its `/graphql`, so that any federation gateway that
 * federates subscriptions (Apollo Router, Hive Gateway, Cosmo) can stream them; queries and mutations on the socket
 * run as over HTTP. Payloads carry this subgraph's fields (entities of others as references, for the gateway to
 * resolve), read at each event's sequence with the same order and delivery guarantees as the gateway's feeds.
 *
 * Trust: the socket is accepted only when its upgrade request carries the gateway's signature headers
 * (`x-meridian-timestamp`, `x-meridian-identity`, `x-meridian-signature`, an HMAC over an empty body) or, for a
 * client that cannot set upgrade headers, the same three keys in the `connection_init` payload; the signed identity is
 * the socket's for its lifetime. With `SUBGRAPH_TRUST=jwt` a socket without signature headers is admitted by the
 * gateway secret and the caller's bearer token instead, each from the upgrade request or else from `connection_init`
 * (`x-meridian-gateway-secret`, `authorization`), as HTTP requests are. Anything else is closed with
 * {@link CLOSE_UNSIGNED} before any operation runs.
 */
export function attachSubgraphSubscriptions<TContext extends SecuredContext>(
  options: SubgraphSubscriptionOptions<TContext>,
): SubgraphSubscriptions {
  const wss = new WebSocketServer({
    server: options.server,
    path: '/graphql',
    maxPayload: SUBGRAPH_WS_MAX_PAYLOAD_BYTES,
  });
  const documents = new Map<string, { document: DocumentNode; errors: readonly GraphQLError[] }>();
  const checked = (text: string) => {
    let entry = documents.get(text);
    if (!entry) {
      const document = parse(text);
      entry = { document, errors: validate(options.schema, document) };
      if (documents.size >= 500) documents.delete(documents.keys().next().value!);
      documents.set(text, entry);
    }
    return entry;
  };
  const run = async (
    req: IncomingMessage,
    requestId: string,
    identity: Identity | null,
    query: string,
    variables: Record<string, unknown>,
  ): Promise<ExecutionResult> => {
    const contextValue = await options.context(req, requestId, identity);
    const response = await options.apollo.executeOperation({ query, variables }, { contextValue });
    if (response.body.kind !== 'single') throw new Error('incremental delivery is not used here');
    return response.body.singleResult as ExecutionResult;
  };

  const disposable = useServer<Record<string, unknown> | undefined, SocketExtra>(
    {
      onConnect: async (ctx) => {
        const headers = signatureHeaders(ctx.extra.request.headers, ctx.connectionParams);
        try {
          ctx.extra.identity = await options.admit(headers, '');
          return true;
        } catch (error) {
          if (!(error instanceof MeridianError)) throw error;
          ctx.extra.socket.close(CLOSE_UNSIGNED, `UNAUTHENTICATED: ${error.message}`.slice(0, 120));
          return false;
        }
      },
      onSubscribe: (ctx, _id, payload) => {
        const identity = ctx.extra.identity ?? null;
        let document: DocumentNode;
        let errors: readonly GraphQLError[];
        try {
          ({ document, errors } = checked(payload.query));
        } catch (error) {
          return [codedError('GRAPHQL_PARSE_FAILED', (error as Error).message)];
        }
        if (errors.length) return errors.map((e) => codedError('GRAPHQL_VALIDATION_FAILED', e.message));
        const operation = getOperationAST(document, payload.operationName ?? undefined);
        if (!operation)
          return [codedError('OPERATION_RESOLUTION_FAILURE', 'Name the operation to run with operationName')];
        const refusal = accessRefusal(
          checkAccess(options.schema, document, payload.operationName, options.accessRules, identity),
        );
        if (refusal) return [new MeridianError(refusal.code, refusal.message, {}, refusal.path)];
        const context: LiveContext = { req: ctx.extra.request, requestId: `ws-${randomUUID()}`, identity, live: null };
        if (operation.operation === 'subscription') {
          try {
            context.live = planLiveOperation(options.schema, document, payload.variables, operation);
          } catch (error) {
            const e = error as MeridianError;
            return [codedError(e.code ?? 'BAD_USER_INPUT', e.message)];
          }
        }
        return {
          schema: options.schema,
          document,
          variableValues: payload.variables ?? {},
          operationName: payload.operationName ?? null,
          contextValue: context,
        };
      },
      subscribe: (args) => {
        const context = args.contextValue as LiveContext;
        return liveFeed(context.live!, options.bus, (query, variables) =>
          run(context.req, context.requestId, context.identity, query, variables),
        );
      },
      execute: (args) => {
        const context = args.contextValue as LiveContext;
        return run(
          context.req,
          context.requestId,
          context.identity,
          args.document.loc?.source.body ?? '',
          (args.variableValues ?? {}) as Record<string, unknown>,
        );
      },
      onNext: (_ctx, _id, _payload, _args, result) =>
        ({ ...result, ...(result.errors ? { errors: result.errors.map(formatted) } : {}) }) as ExecutionResult,
      onError: (_ctx, _id, _payload, errors) => errors.map(formatted),
    },
    wss,
  );
  wss.on('error', (error) => options.logger.warn({ err: error }, 'subgraph websocket server error'));
  return {
    close: async () => {
      for (const client of wss.clients) client.close(1001, 'Going away');
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** The signature headers of a socket: its upgrade request's, else its `connection_init` payload's (same names). */
function signatureHeaders(
  upgrade: IncomingMessage['headers'],
  connectionParams: Record<string, unknown> | undefined,
): Record<string, string | string[] | undefined> {
  if (upgrade[SIGNATURE_HEADER] !== undefined) return upgrade;
  const fromParams: Record<string, string> = {};
  for (const [key, value] of Object.entries(connectionParams ?? {}))
    if (typeof value === 'string') fromParams[key.toLowerCase()] = value;
  if (fromParams[SIGNATURE_HEADER] !== undefined) return fromParams;
  // A gateway in SUBGRAPH_TRUST=jwt mode: the secret and the token from the upgrade request, or else from
  // connection_init (a gateway's socket client may not set upgrade headers per caller).
  const pick = (name: string) => {
    const value = upgrade[name] ?? fromParams[name];
    return typeof value === 'string' ? value : undefined;
  };
  return { [GATEWAY_SECRET_HEADER]: pick(GATEWAY_SECRET_HEADER), authorization: pick('authorization') };
}

function formatted(error: GraphQLError | GraphQLFormattedError): GraphQLFormattedError {
  const plain = error instanceof GraphQLError ? error.toJSON() : error;
  return formatError(plain, error);
}
