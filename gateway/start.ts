import type { ExecutionResult } from 'graphql';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Role } from '../lib/auth/identity';
import { signRequest } from '../lib/auth/signing';
import type { EventBus } from '../lib/event-bus/event-bus';
import { createAuthenticator, type AuthOptions } from './auth/authenticator';
import { parse } from 'graphql';
import { accessRulesOf } from '../lib/auth/access-rules';
import { DEFAULT_OPERATION_LIMITS, type OperationLimits } from './plugins/operation-limits';
import { createRateLimiter, type RateLimiter } from './plugins/rate-limit';
import {
  DEFAULT_TRUSTED_DOCUMENT_ROLES,
  loadTrustedDocuments,
  trustedRolesInUse,
  validateTrustedDocuments,
  type TrustedDocuments,
} from './plugins/trusted-documents';
import { callerRequestIdOf, createGraphQLRequestListener, listen, sendJson, type Listening } from '../lib/graphql-http';
import { metricsRoute } from '../lib/metrics/metrics-route';
import { createGateway, type GatewayOptions } from './index';
import { serveConsoleOn } from './console';
import { gatewayPolicyPipeline } from './policies/index';
import { httpAdmission } from './policies/http';
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
  subscriptions?: Pick<SubscriptionServerOptions, 'maxPayloadBytes' | 'connectionInitTimeoutMs' | 'keepAliveMs'>;
  /** How callers prove who they are: bearer JWTs (HTTP `Authorization`, graphql-ws `connection_init` payload), or off. */
  auth: AuthOptions;
  /** Per-caller request budget (HTTP requests and graphql-ws subscribes). @default in memory, 600 per minute */
  rateLimiter?: RateLimiter;
  /** Depth, aliases, directives, tokens and cost an operation may reach. @default {@link DEFAULT_OPERATION_LIMITS} */
  limits?: OperationLimits;
  /** Roles that may run only the manifest's operations. @default the checked-in manifest, for portal users */
  trustedDocuments?: { manifest: TrustedDocuments; roles: readonly Role[] };
  /** Browser origins allowed to call `/graphql` cross-origin (credentials never). @default none */
  corsOrigins?: readonly string[];
}

/** A running gateway: its URL (HTTP and graphql-ws), its subgraphs, and `close()`. */
export interface RunningGateway extends Listening {
  subgraphs: SupergraphEndpoint[];
  /** The names of the policies every request and subscribe goes through, in order (gateway/policies/index.ts). */
  policies: readonly string[];
  /** `ws://host:port/graphql` */
  wsUrl: string;
  /** Open graphql-ws sockets. */
  connections(): number;
  /**
   * Shuts down gracefully (SIGTERM): `/readyz` answers 503 at once so load balancers stop sending, graphql-ws sockets
   * are closed with 1001 (clients reconnect to another replica), in-flight HTTP requests finish, then the server
   * closes; whatever is still open at `deadlineMs` is cut. @default deadlineMs {@link DEFAULT_DRAIN_DEADLINE_MS}
   */
  drain(deadlineMs?: number): Promise<void>;
}

/** How long a draining gateway waits for in-flight requests before it cuts them. @default 10000 */
export const DEFAULT_DRAIN_DEADLINE_MS = 10_000;

/**
 * Starts the gateway: GraphQL on `/graphql`, liveness on `/healthz`, readiness on `/readyz` (this gateway can serve:
 * schema loaded, not draining; each subgraph's state in the body, which does not decide it).
 */
export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  const accessRules = accessRulesOf(parse(options.supergraphSdl));
  const configured = options.trustedDocuments ?? {
    manifest: loadTrustedDocuments(),
    roles: DEFAULT_TRUSTED_DOCUMENT_ROLES,
  };
  const trusted = {
    ...configured,
    roles: trustedRolesInUse(configured.roles, options.auth.mode === 'off' ? options.auth.identity.role : null),
  };
  // One ordered list of policies, run by the HTTP adapter (below and in createGateway) and the graphql-ws one alike.
  const pipeline = gatewayPolicyPipeline({
    authenticate: createAuthenticator(options.auth),
    rateLimiter: options.rateLimiter ?? createRateLimiter(),
    trusted,
    limits: options.limits ?? DEFAULT_OPERATION_LIMITS,
    accessRules,
  });
  const { apollo, subgraphs, apiSchema, closeConnections } = createGateway(
    { ...options, trustedDocumentsManifest: configured.manifest },
    pipeline,
  );
  await apollo.start();
  // A portal operation the schema no longer serves (or the portal may not read) is a deployment error: refuse to start.
  // When no caller is limited to the manifest, it is not checked, so any composed supergraph can be served.
  const problems =
    trusted.roles.length === 0
      ? []
      : validateTrustedDocuments(trusted.manifest, apiSchema()!, { rules: accessRules, roles: trusted.roles });
  if (trusted.roles.length === 0)
    options.logger.info(
      { manifest: trusted.manifest.source },
      options.auth.mode === 'off'
        ? 'trusted documents: AUTH=off and its role is not limited to the manifest; the manifest is not checked against the schema'
        : 'trusted documents: no role is limited to the manifest (TRUSTED_DOCUMENTS_ROLES); the manifest is not checked against the schema',
    );
  if (problems.length > 0) {
    await apollo.stop();
    await closeConnections();
    throw new Error(
      `${trusted.manifest.source}: trusted documents that do not fit the schema:\n  ${problems.join('\n  ')}`,
    );
  }
  let draining = false;
  const inFlight = createInFlight();
  const graphQLListener = createGraphQLRequestListener(apollo, {
    admit: httpAdmission(pipeline),
    requestIds: 'mint',
    context: async (req, requestId, identity) => ({ requestId, callerRequestId: callerRequestIdOf(req), identity }),
    routes: {
      '/healthz': (_req, res) => sendJson(res, 200, { status: 'ok' }),
      '/readyz': (req, res) =>
        readiness(subgraphs, options.subgraphSecrets, { schemaLoaded: apiSchema() !== null, draining }, req, res),
      '/metrics': metricsRoute,
    },
    ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
    ...(options.corsOrigins ? { corsOrigins: options.corsOrigins } : {}),
  });
  const listening = await listen(
    (req, res) => {
      inFlight.track(res);
      graphQLListener(req, res);
    },
    options.port,
    options.host,
  );
  serveConsoleOn(listening.server);
  const subscriptions = attachSubscriptions({
    server: listening.server,
    schema: apiSchema,
    bus: options.bus ?? null,
    logger: options.logger,
    pipeline,
    production: options.production ?? false,
    ...options.subscriptions,
    execute: async (query, variables, requestId, identity) => {
      const response = await apollo.executeOperation({ query, variables }, { contextValue: { requestId, identity } });
      if (response.body.kind !== 'single') throw new Error('incremental delivery is not used here');
      return response.body.singleResult as ExecutionResult;
    },
  });
  return {
    ...listening,
    subgraphs,
    policies: pipeline.policies.map((p) => p.name),
    wsUrl: listening.url.replace(/^http/, 'ws'),
    connections: subscriptions.connections,
    close: async () => {
      await subscriptions.close();
      await listening.close();
      await apollo.stop();
      await closeConnections();
    },
    drain: async (deadlineMs = DEFAULT_DRAIN_DEADLINE_MS) => {
      draining = true;
      options.logger.info(
        { inFlight: inFlight.count(), sockets: subscriptions.connections(), deadlineMs },
        'draining: /readyz answers 503; closing sockets and finishing in-flight requests',
      );
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'deadline'>((resolve) => {
        timer = setTimeout(() => resolve('deadline'), deadlineMs);
      });
      const done = (async () => {
        await subscriptions.close();
        await inFlight.idle();
        return 'drained' as const;
      })();
      const outcome = await Promise.race([done, deadline]);
      clearTimeout(timer);
      if (outcome === 'deadline') {
        options.logger.warn({ inFlight: inFlight.count() }, 'drain deadline reached: cutting what is still open');
        listening.server.closeAllConnections();
      }
      await listening.close();
      await apollo.stop();
      await closeConnections();
      options.logger.info({ outcome }, 'gateway stopped');
    },
  };
}

/** Counts responses not yet finished, and tells when there are none. */
function createInFlight() {
  let count = 0;
  const waiters: (() => void)[] = [];
  return {
    track(res: ServerResponse) {
      count++;
      res.once('close', () => {
        count--;
        if (count === 0) for (const w of waiters.splice(0)) w();
      });
    },
    count: () => count,
    /** Resolves when no response is in flight (at once when none is). */
    idle: () => (count === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
  };
}

const READY_QUERY = '{"query":"{ __typename }"}';

/**
 * `/readyz`: 200 while this gateway can serve (schema loaded, not draining), 503 otherwise. Each subgraph's state is in
 * the body but does not decide it: one subgraph's outage must not pull every gateway replica out of the load balancer
 * (they would all fail alike, and the other subgraphs' data would be lost with them).
 */
async function readiness(
  subgraphs: SupergraphEndpoint[],
  secrets: Record<string, string>,
  gateway: { schemaLoaded: boolean; draining: boolean },
  _req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const results = await Promise.all(
    subgraphs.map(async (s) => {
      const secret = secrets[s.name];
      try {
        const response = await fetch(s.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(secret ? signRequest(secret, READY_QUERY, null) : {}) },
          body: READY_QUERY,
          signal: AbortSignal.timeout(READY_TIMEOUT_MS),
        });
        return [s.name, response.ok ? 'up' : `down: HTTP ${response.status}`] as const;
      } catch (error) {
        return [s.name, `down: ${(error as Error).message}`] as const;
      }
    }),
  );
  const status = gateway.draining ? 'draining' : gateway.schemaLoaded ? 'ready' : 'not ready';
  sendJson(res, status === 'ready' ? 200 : 503, { status, subgraphs: Object.fromEntries(results) });
}
