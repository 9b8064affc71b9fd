import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { parse, type GraphQLSchema } from 'graphql';
import type { Logger } from 'pino';
import { accessControlPlugin } from '../lib/auth/access-plugin';
import { accessRulesOf, type AccessRules } from '../lib/auth/access-rules';
import { requestLogPlugin } from '../lib/request-log-plugin';
import type { GatewayContext } from './context';
import { withEnforcedSecurityFeatures } from './enforced-supergraph';
import { formatGatewayError } from './format-error';
import { SubgraphDataSource } from './subgraph-data-source';
import { subgraphsOf, type SupergraphEndpoint } from './supergraph-subgraphs';

/** What the gateway is built from. */
export interface GatewayOptions {
  /** A composed supergraph SDL: ours, or any other. */
  supergraphSdl: string;
  /** Routing URLs by subgraph name, overriding the supergraph's (tests use ephemeral ports). */
  subgraphUrls?: Record<string, string>;
  /** Signing secret by subgraph name; a subgraph without one (a foreign subgraph) gets unsigned requests. */
  subgraphSecrets: Record<string, string>;
  /** `NODE_ENV=production`: introspection off, field suggestions masked. @default false */
  production?: boolean;
  logger: Logger;
}

/** A built gateway: its Apollo Server (not yet started), the subgraphs it routes to, and its API schema once loaded. */
export interface Gateway {
  apollo: ApolloServer<GatewayContext>;
  subgraphs: SupergraphEndpoint[];
  apiSchema(): GraphQLSchema | null;
  /** `@authenticated` / `@requiresScopes` as the supergraph declares them, enforced on every operation. */
  accessRules: AccessRules;
}

/** Builds the experience API: `@apollo/gateway` over a static supergraph, on Apollo Server 5. It does not listen. */
export function createGateway(options: GatewayOptions): Gateway {
  const subgraphs = subgraphsOf(options.supergraphSdl).map((s) => ({ name: s.name, url: options.subgraphUrls?.[s.name] ?? s.url }));
  const urls = new Map(subgraphs.map((s) => [s.name, s.url]));
  const accessRules = accessRulesOf(parse(options.supergraphSdl));
  const gateway = new ApolloGateway({
    supergraphSdl: withEnforcedSecurityFeatures(options.supergraphSdl),
    buildService: ({ name, url }) => new SubgraphDataSource(name, urls.get(name) ?? url ?? '', options.logger, options.subgraphSecrets[name] ?? null),
    logger: options.logger,
  });
  let apiSchema: GraphQLSchema | null = null;
  gateway.onSchemaLoadOrUpdate((loaded) => {
    apiSchema = loaded.apiSchema;
  });
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    formatError: formatGatewayError,
    includeStacktraceInErrorResponses: false,
    introspection: !options.production,
    hideSchemaDetailsFromClientErrors: options.production === true,
    plugins: [requestLogPlugin<GatewayContext>(options.logger), accessControlPlugin<GatewayContext>(accessRules)],
  });
  return { apollo, subgraphs, apiSchema: () => apiSchema, accessRules };
}
