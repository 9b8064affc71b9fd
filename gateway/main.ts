import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { subgraphSecret } from '../lib/auth/secrets';
import { intFromEnv } from '../lib/env';
import { createRedisBus } from '../lib/event-bus/redis-bus';
import { createLogger } from '../lib/logger';
import { runMain } from '../lib/run-main';
import { startTracing } from '../lib/telemetry/start-tracing';
import { GATEWAY_USAGE } from './main-usage';
import { gatewayPoliciesFromEnv } from './policies-from-env';
import { DEFAULT_DRAIN_DEADLINE_MS, startGateway } from './start';
import { subgraphsOf } from './supergraph-subgraphs';

/*
 * The gateway alone on `GATEWAY_PORT` (4000) over `SUPERGRAPH_PATH` (./supergraph.graphql), routing to
 * the URLs in the supergraph unless `SUBGRAPH_URL_<NAME>` overrides one (e.g. SUBGRAPH_URL_CRM). graphql-ws on the
 * same /graphql serves subscriptions from the run events on Redis (`REDIS_URL`). Callers authenticate with bearer JWTs
 * (gateway/auth/auth-from-env.ts lists the settings); each subgraph's requests are signed with `SUBGRAPH_SECRET_<NAME>`.
 */
runMain(async () => {
  const env = process.env;
  env.APOLLO_TELEMETRY_DISABLED ??= '1';
  const logger = createLogger('gateway', env.LOG_LEVEL ?? 'info');
  const tracing = startTracing('meridian-gateway', env);
  const supergraphPath = env.SUPERGRAPH_PATH ?? join(__dirname, '..', 'supergraph.graphql');
  const subgraphUrls: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    const m = /^SUBGRAPH_URL_(\w+)$/.exec(key);
    if (m && value) subgraphUrls[m[1]!.toLowerCase()] = value;
  }
  // Subscriptions need the events of the workers' outbox relays; across processes they travel over Redis.
  const bus = env.REDIS_URL ? createRedisBus({ url: env.REDIS_URL, logger: logger.child({ component: 'bus' }) }) : null;
  if (!bus)
    logger.warn(
      'REDIS_URL is not set: this gateway serves queries and mutations, and refuses subscriptions with LIVE_STATUS_UNAVAILABLE',
    );
  let supergraphSdl: string;
  let endpoints: ReturnType<typeof subgraphsOf>;
  try {
    supergraphSdl = readFileSync(supergraphPath, 'utf8');
    endpoints = subgraphsOf(supergraphSdl);
  } catch (error) {
    // One line naming the file: a supergraph that cannot be read or parsed is a deployment error, not a crash.
    throw new Error(`SUPERGRAPH_PATH ${supergraphPath}: not a usable supergraph: ${(error as Error).message}`);
  }
  const { close: closePolicies, ...policies } = gatewayPoliciesFromEnv(env, logger);
  const running = await startGateway({
    supergraphSdl,
    subgraphUrls,
    subgraphSecrets: Object.fromEntries(endpoints.map((s) => [s.name, subgraphSecret(env, s.name)])),
    ...policies,
    logger,
    port: intFromEnv(env, 'GATEWAY_PORT', 4000, 0, 65535),
    host: env.HOST ?? '127.0.0.1',
    maxBodyBytes: intFromEnv(env, 'MAX_BODY_BYTES', 1024 * 1024, 1),
    bus,
    subscriptions: {
      maxPayloadBytes: intFromEnv(env, 'WS_MAX_PAYLOAD_BYTES', 64 * 1024, 1),
      connectionInitTimeoutMs: intFromEnv(env, 'WS_CONNECTION_INIT_TIMEOUT_MS', 3000, 1),
      keepAliveMs: intFromEnv(env, 'WS_KEEP_ALIVE_MS', 12_000, 1),
    },
  });
  const drainDeadlineMs = intFromEnv(env, 'DRAIN_DEADLINE_MS', DEFAULT_DRAIN_DEADLINE_MS, 0);
  logger.info({ url: running.url, supergraph: supergraphPath, subgraphs: running.subgraphs }, 'gateway listening');
  return {
    // SIGTERM / SIGINT: drain (readiness 503, sockets closed, in-flight requests finished) before exiting.
    close: async () => {
      await running.drain(drainDeadlineMs);
      await bus?.close();
      await closePolicies();
      await tracing.shutdown();
    },
  };
}, GATEWAY_USAGE);
