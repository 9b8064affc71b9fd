import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { parse, type DocumentNode } from 'graphql';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { formatError } from './format-error';
import { createGraphQLRequestListener, listen, sendJson, type Listening } from './graphql-http';
import { requestLogPlugin, type LoggedContext } from './request-log-plugin';

/** A subgraph as its `index.ts` builds it: schema, resolvers and per-request context; it does not listen. */
export interface Subgraph<TContext extends LoggedContext = LoggedContext> {
  /** `crm`, `psa`, `erp` or `orchestration`: the name in supergraph.yaml. */
  name: string;
  typeDefs: DocumentNode;
  resolvers: GraphQLResolverMap<TContext>;
  /** Builds the context of one request: fresh loaders, the request ID. */
  context(req: IncomingMessage, requestId: string): Promise<TContext>;
  /** Releases what the subgraph holds (database handles). */
  close(): Promise<void>;
}

/** Reads and parses a subgraph's `schema.graphql`, the one SDL source for server, composition and tests. */
export function loadTypeDefs(path: string): DocumentNode {
  return parse(readFileSync(path, 'utf8'));
}

/** Builds the Apollo Server of a subgraph, with error masking and one log line per request. */
export function buildSubgraphServer<TContext extends LoggedContext>(subgraph: Subgraph<TContext>, logger: Logger): ApolloServer<TContext> {
  return new ApolloServer<TContext>({
    schema: buildSubgraphSchema([{ typeDefs: subgraph.typeDefs, resolvers: subgraph.resolvers }]),
    formatError,
    includeStacktraceInErrorResponses: false,
    // No Apollo usage reporting runs here, so federated traces would be computed for nobody.
    plugins: [requestLogPlugin<TContext>(logger), ApolloServerPluginInlineTraceDisabled()],
  });
}

/** A running subgraph: its URL and how to stop it (server first, then the subgraph's stores). */
export interface RunningSubgraph extends Listening {
  name: string;
}

/**
 * Starts a subgraph on `port` (0 for ephemeral) with `/graphql` and `/healthz`.
 * @default host 127.0.0.1
 */
export async function startSubgraph<TContext extends LoggedContext>(
  subgraph: Subgraph<TContext>,
  options: { port: number; host?: string; logger: Logger },
): Promise<RunningSubgraph> {
  const apollo = buildSubgraphServer(subgraph, options.logger);
  await apollo.start();
  const listening = await listen(
    createGraphQLRequestListener(apollo, {
      context: (req, requestId) => subgraph.context(req, requestId),
      routes: { '/healthz': (_req, res) => sendJson(res, 200, { status: 'ok', subgraph: subgraph.name }) },
    }),
    options.port,
    options.host,
  );
  return {
    ...listening,
    name: subgraph.name,
    close: async () => {
      await listening.close();
      await apollo.stop();
      await subgraph.close();
    },
  };
}
