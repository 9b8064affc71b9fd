import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { trustedDocumentsApqCache, type TrustedDocuments } from './plugins/trusted-documents';
import type { GraphQLSchema } from 'graphql';
import type { Logger } from 'pino';
import { Agent } from 'undici';
import { metricsPlugin } from '../lib/metrics/graphql-metrics-plugin';
import { requestLogPlugin } from '../lib/request-log-plugin';
import { tracingPlugin } from '../lib/telemetry/graphql-tracing-plugin';
import type { GatewayContext } from './context';
import { withEnforcedSecurityFeatures } from './enforced-supergraph';
import { formatGatewayError } from './format-error';
import { apolloPolicyConfig } from './policies/http';
import type { PolicyPipeline } from './policies/pipeline';
import { shapeResultsOf, type ResultShaping } from './result-shaping/apollo-seam';
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
  /** Trusted documents, put in the automatic-persisted-query cache so their hashes answer from the first request. */
  trustedDocumentsManifest?: TrustedDocuments;
  logger: Logger;
  /**
   * Who shapes operation results from the merged subgraph answers: a plan compiled per operation, handing what it
   * cannot take to Apollo (gateway/result-shaping/), or `@apollo/gateway` alone. @default 'compiled'
   */
  resultShaping?: ResultShaping;
}

/** A built gateway: its Apollo Server (not yet started), the subgraphs it routes to, and its API schema once loaded. */
export interface Gateway {
  apollo: ApolloServer<GatewayContext>;
  subgraphs: SupergraphEndpoint[];
  apiSchema(): GraphQLSchema | null;
  /** Closes the pooled subgraph connections; after `apollo.stop()`. */
  closeConnections(): Promise<void>;
}

/**
 * Builds the experience API: `@apollo/gateway` over a static supergraph, on Apollo Server 5, running the document and
 * operation stages of `policies` (gateway/policies/) on every operation. It does not listen.
 */
export function createGateway(options: GatewayOptions, policies: PolicyPipeline): Gateway {
  const subgraphs = subgraphsOf(options.supergraphSdl).map((s) => ({
    name: s.name,
    url: options.subgraphUrls?.[s.name] ?? s.url,
  }));
  const urls = new Map(subgraphs.map((s) => [s.name, s.url]));
  // Keep-alive connections to the subgraphs, pooled per origin (undici's defaults: no cap on connections per origin,
  // idle ones closed after 4 s or sooner when the subgraph says so).
  const connections = new Agent();
  const gateway = new ApolloGateway({
    supergraphSdl: withEnforcedSecurityFeatures(options.supergraphSdl),
    buildService: ({ name, url }) =>
      new SubgraphDataSource(
        name,
        urls.get(name) ?? url ?? '',
        options.logger,
        options.subgraphSecrets[name] ?? null,
        connections,
      ),
    logger: options.logger,
  });
  if ((options.resultShaping ?? 'compiled') === 'compiled') shapeResultsOf(gateway, options.logger);
  let apiSchema: GraphQLSchema | null = null;
  gateway.onSchemaLoadOrUpdate((loaded) => {
    apiSchema = loaded.apiSchema;
  });
  const policed = apolloPolicyConfig<GatewayContext>(policies);
  // Apollo Server 5 keeps CSRF prevention on and batched HTTP requests off by default; both stay that way.
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    formatError: formatGatewayError,
    includeStacktraceInErrorResponses: false,
    introspection: !options.production,
    hideSchemaDetailsFromClientErrors: options.production === true,
    parseOptions: policed.parseOptions,
    ...(options.trustedDocumentsManifest
      ? { persistedQueries: { cache: trustedDocumentsApqCache(options.trustedDocumentsManifest) } }
      : {}),
    validationRules: policed.validationRules,
    // The policies first: what they refuse is logged and counted with the codes they gave it.
    plugins: [
      ...policed.plugins,
      requestLogPlugin<GatewayContext>(options.logger),
      metricsPlugin<GatewayContext>(),
      tracingPlugin<GatewayContext>(),
    ],
  });
  return { apollo, subgraphs, apiSchema: () => apiSchema, closeConnections: () => connections.close() };
}
