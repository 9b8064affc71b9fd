import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { trustedDocumentsApqCache, type TrustedDocuments } from './plugins/trusted-documents';
import { parse, type GraphQLSchema } from 'graphql';
import type { Logger } from 'pino';
import { accessControlPlugin } from '../lib/auth/access-plugin';
import { accessRulesOf, type AccessRules } from '../lib/auth/access-rules';
import { metricsPlugin } from '../lib/metrics/graphql-metrics-plugin';
import { requestLogPlugin } from '../lib/request-log-plugin';
import { tracingPlugin } from '../lib/telemetry/graphql-tracing-plugin';
import type { GatewayContext } from './context';
import { withEnforcedSecurityFeatures } from './enforced-supergraph';
import { DEFAULT_OPERATION_LIMITS, operationLimitsConfig, type OperationLimits } from './plugins/operation-limits';
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
  /** Depth, aliases, directives, tokens and cost an operation may reach. @default {@link DEFAULT_OPERATION_LIMITS} */
  limits?: OperationLimits;
  /** Trusted documents, put in the automatic-persisted-query cache so their hashes answer from the first request. */
  trustedDocumentsManifest?: TrustedDocuments;
  logger: Logger;
}

/** A built gateway: its Apollo Server (not yet started), the subgraphs it routes to, and its API schema once loaded. */
export interface Gateway {
  apollo: ApolloServer<GatewayContext>;
  subgraphs: SupergraphEndpoint[];
  apiSchema(): GraphQLSchema | null;
  /** `@authenticated` / `@requiresScopes` as the supergraph declares them, enforced on every operation. */
  accessRules: AccessRules;
  /** The operation limits in force. */
  limits: OperationLimits;
}

/** Builds the experience API: `@apollo/gateway` over a static supergraph, on Apollo Server 5. It does not listen. */
export function createGateway(options: GatewayOptions): Gateway {
  const subgraphs = subgraphsOf(options.supergraphSdl).map((s) => ({
    name: s.name,
    url: options.subgraphUrls?.[s.name] ?? s.url,
  }));
  const urls = new Map(subgraphs.map((s) => [s.name, s.url]));
  const accessRules = accessRulesOf(parse(options.supergraphSdl));
  const gateway = new ApolloGateway({
    supergraphSdl: withEnforcedSecurityFeatures(options.supergraphSdl),
    buildService: ({ name, url }) =>
      new SubgraphDataSource(name, urls.get(name) ?? url ?? '', options.logger, options.subgraphSecrets[name] ?? null),
    logger: options.logger,
  });
  let apiSchema: GraphQLSchema | null = null;
  gateway.onSchemaLoadOrUpdate((loaded) => {
    apiSchema = loaded.apiSchema;
  });
  const limits = options.limits ?? DEFAULT_OPERATION_LIMITS;
  const limited = operationLimitsConfig<GatewayContext>(limits);
  // Apollo Server 5 keeps CSRF prevention on and batched HTTP requests off by default; both stay that way.
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    formatError: formatGatewayError,
    includeStacktraceInErrorResponses: false,
    introspection: !options.production,
    hideSchemaDetailsFromClientErrors: options.production === true,
    parseOptions: limited.parseOptions,
    ...(options.trustedDocumentsManifest
      ? { persistedQueries: { cache: trustedDocumentsApqCache(options.trustedDocumentsManifest) } }
      : {}),
    validationRules: limited.validationRules,
    // Access first: a caller who may not select a field learns that, not what the operation would cost.
    plugins: [
      accessControlPlugin<GatewayContext>(accessRules),
      ...limited.plugins,
      requestLogPlugin<GatewayContext>(options.logger),
      metricsPlugin<GatewayContext>(),
      tracingPlugin<GatewayContext>(),
    ],
  });
  return { apollo, subgraphs, apiSchema: () => apiSchema, accessRules, limits };
}
