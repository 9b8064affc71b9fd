import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { parse, type DocumentNode } from 'graphql';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { accessControlPlugin, type SecuredContext } from './auth/access-plugin';
import { accessRulesOf } from './auth/access-rules';
import type { Identity } from './auth/identity';
import type { SignatureCheck } from './auth/signing';
import { createSubgraphAdmission, type GatewayTrust } from './auth/subgraph-trust';
import type { EventBus } from './event-bus/event-bus';
import { formatError } from './format-error';
import { attachSubgraphSubscriptions } from './live/subgraph-subscriptions';
import { createGraphQLRequestListener, listen, sendJson, type Listening } from './graphql-http';
import { metricsRoute } from './metrics/metrics-route';
import { requestLogPlugin } from './request-log-plugin';
import { tracingPlugin } from './telemetry/graphql-tracing-plugin';

/** A subgraph as its `index.ts` builds it: schema, resolvers and per-request context; it does not listen. */
export interface Subgraph<TContext extends SecuredContext = SecuredContext> {
  /** `crm`, `psa`, `erp` or `orchestration`: the name in supergraph.yaml. */
  name: string;
  typeDefs: DocumentNode;
  resolvers: GraphQLResolverMap<TContext>;
  /** Builds the context of one request: fresh loaders, the request ID, the caller's identity (tenant scope). */
  context(req: IncomingMessage, requestId: string, identity: Identity | null): Promise<TContext>;
  /** Releases what the subgraph holds (database handles). */
  close(): Promise<void>;
  /**
   * Where its run events arrive from: with it, the subgraph also serves its own subscriptions over graphql-ws on
   * `/graphql` (lib/live/subgraph-subscriptions.ts), under the same signature check as HTTP. @default none
   */
  live?: EventBus;
}

/** Reads and parses a subgraph's `schema.graphql`, the one SDL source for server, composition and tests. */
export function loadTypeDefs(path: string): DocumentNode {
  return parse(readFileSync(path, 'utf8'));
}

/**
 * Builds the Apollo Server of a subgraph: error masking, one log line per request, and the schema's `@authenticated` /
 * `@requiresScopes` enforced again here, so a request that reaches the subgraph without the gateway gets nothing more.
 */
export function buildSubgraphServer<TContext extends SecuredContext>(
  subgraph: Subgraph<TContext>,
  logger: Logger,
  options: { production?: boolean } = {},
): ApolloServer<TContext> {
  return new ApolloServer<TContext>({
    schema: buildSubgraphSchema([{ typeDefs: subgraph.typeDefs, resolvers: subgraph.resolvers }]),
    formatError,
    includeStacktraceInErrorResponses: false,
    introspection: !options.production,
    hideSchemaDetailsFromClientErrors: options.production === true,
    // No Apollo usage reporting runs here, so federated traces would be computed for nobody.
    plugins: [
      requestLogPlugin<TContext>(logger),
      tracingPlugin<TContext>(),
      accessControlPlugin<TContext>(accessRulesOf(subgraph.typeDefs)),
      ApolloServerPluginInlineTraceDisabled(),
    ],
  });
}

/** A running subgraph: its URL and how to stop it (server first, then the subgraph's stores). */
export interface RunningSubgraph extends Listening {
  name: string;
}

/** Where and how a subgraph listens, and whom it trusts. */
export interface StartSubgraphOptions {
  /** 0 for an ephemeral port. */
  port: number;
  /** @default 127.0.0.1 */
  host?: string;
  logger: Logger;
  /** The secret the gateway and the orchestration sign this subgraph's requests with; unsigned or stale requests get UNAUTHENTICATED. */
  signature: SignatureCheck;
  /**
   * `SUBGRAPH_TRUST=jwt`: also accept requests from any gateway that sends the shared secret and forwards the caller's
   * bearer token, which the subgraph verifies itself (docs/security.md). @default null: signed requests only
   */
  gateways?: GatewayTrust | null;
  /** `NODE_ENV=production`: no introspection, no field suggestions. @default false */
  production?: boolean;
}

/**
 * Starts a subgraph on `port` (0 for ephemeral) with `/graphql` (signed requests only, or also a trusted gateway's
 * with a bearer token: {@link StartSubgraphOptions.gateways}; graphql-ws too, under the same check, when the subgraph
 * has a `live` bus) and `/healthz`.
 */
export async function startSubgraph<TContext extends SecuredContext>(
  subgraph: Subgraph<TContext>,
  options: StartSubgraphOptions,
): Promise<RunningSubgraph> {
  const apollo = buildSubgraphServer(subgraph, options.logger, { production: options.production ?? false });
  await apollo.start();
  const admitted = createSubgraphAdmission(options.signature, options.gateways ?? null);
  const listening = await listen(
    createGraphQLRequestListener(apollo, {
      admit: async ({ req, raw }) => ({ identity: await admitted(req.headers, raw) }),
      context: (req, requestId, identity) => subgraph.context(req, requestId, identity),
      routes: {
        '/healthz': (_req, res) => sendJson(res, 200, { status: 'ok', subgraph: subgraph.name }),
        '/metrics': metricsRoute,
      },
    }),
    options.port,
    options.host,
  );
  const subscriptions = subgraph.live
    ? attachSubgraphSubscriptions({
        server: listening.server,
        apollo,
        schema: buildSubgraphSchema([{ typeDefs: subgraph.typeDefs, resolvers: subgraph.resolvers }]),
        accessRules: accessRulesOf(subgraph.typeDefs),
        context: (req, requestId, identity) => subgraph.context(req, requestId, identity),
        bus: subgraph.live,
        admit: admitted,
        logger: options.logger,
      })
    : null;
  return {
    ...listening,
    name: subgraph.name,
    close: async () => {
      await subscriptions?.close();
      await listening.close();
      await apollo.stop();
      await subgraph.close();
    },
  };
}
