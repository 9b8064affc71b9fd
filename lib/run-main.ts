import type { Logger } from 'pino';
import { intFromEnv } from './env';
import { formatUsage, wantsHelp, type Usage, type UsageEntry } from './cli';
import { createLogger } from './logger';
import { startMetricsServer } from './metrics/metrics-route';
import { startTracing } from './telemetry/start-tracing';
import type { SecuredContext } from './auth/access-plugin';
import { isProduction, subgraphSecret, subgraphSecretVar } from './auth/secrets';
import { gatewayTrustFromEnv } from './auth/subgraph-trust-from-env';
import { startSubgraph, type Subgraph } from './subgraph';

/**
 * Runs a process entry point: `start` brings servers up and returns how to close them; SIGINT and SIGTERM close
 * them and exit 0; a start-up failure prints its message (a config error reads as one line) and exits 1.
 * With `--help` (or `-h`) on the command line it prints `usage` instead and starts nothing.
 */
export function runMain(start: () => Promise<{ close(): Promise<void> }>, usage: Usage): void {
  if (wantsHelp()) {
    console.log(formatUsage(usage));
    return;
  }
  start().then(
    (running) => {
      const stop = () => void running.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}

/**
 * The `main.ts` of a subgraph: a logger named after it (`LOG_LEVEL`), the subgraph `build` makes from the
 * environment, served on `<NAME>_PORT` (else `defaultPort`) at `HOST` (127.0.0.1), accepting only requests signed with
 * `SUBGRAPH_SECRET_<NAME>` (a development default outside production). `--help` lists those variables and `env`,
 * the ones `build` reads. @default env []
 */
export function runSubgraphMain<TContext extends SecuredContext>(
  name: string,
  defaultPort: number,
  build: (env: NodeJS.ProcessEnv, logger: Logger) => Subgraph<TContext> | Promise<Subgraph<TContext>>,
  env: readonly UsageEntry[] = [],
): void {
  const NAME = name.toUpperCase();
  const usage: Usage = {
    command: `npm run start:${name}`,
    summary: `The ${name} subgraph alone, in its own process; configured by environment variables only.`,
    env: [
      [`${NAME}_PORT`, `port to listen on (default ${defaultPort}; 0 picks a free one)`],
      ['HOST', 'interface to bind (default 127.0.0.1)'],
      [
        subgraphSecretVar(name),
        'secret the gateway signs requests with, 32+ characters (development default outside production)',
      ],
      ['SIGNATURE_TOLERANCE_MS', "how old or early a request's signature may be (default 60000)"],
      [
        'SUBGRAPH_TRUST',
        '`jwt`: also accept any gateway that sends GATEWAY_SHARED_SECRET and forwards the bearer token (default signed)',
      ],
      ['GATEWAY_SHARED_SECRET', 'with SUBGRAPH_TRUST=jwt: the secret trusted gateways send, 32+ characters'],
      ['JWT_SECRET, JWKS_PATH, JWKS_URL', "with SUBGRAPH_TRUST=jwt: the gateway's token keys (docs/configuration.md)"],
      ['JWT_ISSUER, JWT_AUDIENCE', "with SUBGRAPH_TRUST=jwt: the gateway's token issuer and audience"],
      ['NODE_ENV', '`production`: no introspection or field suggestions, no development secret'],
      ['LOG_LEVEL', 'pino level (default info; silent to mute)'],
      [
        'OTEL_EXPORTER_OTLP_ENDPOINT',
        'turns OpenTelemetry tracing on: OTLP over HTTP to this collector (docs/observability.md)',
      ],
      ['METRICS_PORT', 'also serve /metrics (Prometheus) alone on this port (it is always on the main port too)'],
      ...env,
    ],
  };
  runMain(async () => {
    const env = process.env;
    const logger = createLogger(name, env.LOG_LEVEL ?? 'info');
    const tracing = startTracing(`meridian-${name}`, env);
    if (!env[subgraphSecretVar(name)])
      logger.warn(
        `${subgraphSecretVar(name)} is not set: accepting requests signed with the development secret (refused when NODE_ENV=production)`,
      );
    // Read before `build`, so a bad trust setting refuses the start before any store is opened.
    const gateways = gatewayTrustFromEnv(env);
    if (gateways)
      logger.info('SUBGRAPH_TRUST=jwt: also accepting gateways that send the shared secret and a bearer token');
    const running = await startSubgraph(await build(env, logger), {
      port: intFromEnv(env, `${name.toUpperCase()}_PORT`, defaultPort, 0, 65535),
      host: env.HOST ?? '127.0.0.1',
      logger,
      signature: {
        secret: subgraphSecret(env, name),
        toleranceMs: intFromEnv(env, 'SIGNATURE_TOLERANCE_MS', 60_000, 1),
      },
      gateways,
      production: isProduction(env),
    });
    logger.info({ url: running.url }, `${name} subgraph listening`);
    const metrics = env.METRICS_PORT
      ? await startMetricsServer(intFromEnv(env, 'METRICS_PORT', 0, 0, 65535), env.HOST ?? '127.0.0.1')
      : null;
    if (metrics) logger.info({ url: `http://${env.HOST ?? '127.0.0.1'}:${metrics.port}/metrics` }, 'metrics listening');
    return {
      close: async () => {
        await metrics?.close();
        await running.close();
        await tracing.shutdown();
      },
    };
  }, usage);
}
