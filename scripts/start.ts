import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isProduction } from '../lib/auth/secrets';
import { gatewayTrustFromEnv } from '../lib/auth/subgraph-trust-from-env';
import type { Usage } from '../lib/cli';
import { intFromEnv } from '../lib/env';
import { createRedisBus } from '../lib/event-bus/redis-bus';
import { createLogger } from '../lib/logger';
import { parseFaultSettings } from '../lib/reference-faults';
import { runMain } from '../lib/run-main';
import { startTracing } from '../lib/telemetry/start-tracing';
import { DEFAULT_DEMO_ACCOUNTS } from '../seed/generate';
import { GATEWAY_POLICY_ENV } from '../gateway/main-usage';
import { gatewayPoliciesFromEnv } from '../gateway/policies-from-env';
import { startStack } from '../stack/start-stack';

/*
 * `npm start`: the whole graph in one process on its embedded defaults — four subgraphs on 4001–4004 over
 * SQLite reference systems in ./data (seeded once when empty, never in production), the gateway on 4000 serving
 * supergraph.graphql.
 * Run events go over Redis when REDIS_URL is set, else in-process.
 */
const USAGE: Usage = {
  command: 'npm start',
  summary:
    'The whole graph in one process: the gateway and the four subgraphs over SQLite reference systems, seeded with ' +
    'demo data when empty (never with NODE_ENV=production); configured by environment variables only.',
  env: [
    ['GATEWAY_PORT, CRM_PORT, PSA_PORT', 'ports (default 4000, 4001, 4002; 0 picks a free one)'],
    ['ERP_PORT, ORCHESTRATION_PORT', 'ports (default 4003, 4004)'],
    ['HOST', 'interface every server binds to (default 127.0.0.1)'],
    ['DATA_DIR', 'folder of the SQLite files, created on first start (default ./data)'],
    ['SEED_ACCOUNTS', 'demo accounts seeded into an empty store (default 40); never in production'],
    ['SUPERGRAPH_PATH', 'the supergraph the gateway serves (default ./supergraph.graphql)'],
    ['CRM_FAULTS, PSA_FAULTS, ERP_FAULTS', 'JSON fault settings of a reference system (docs/reference-systems.md)'],
    ['TRIGGERS, TRIGGER_POLL_MS', "TRIGGERS=0: no flows started from the systems' state; else a look every 5000 ms"],
    ['REDIS_URL', 'Redis for run events and shared rate limits (default: in-process)'],
    ['DATABASE_URL', 'the orchestration ledger on PostgreSQL (default: SQLite in DATA_DIR; docs/scale-out.md)'],
    ['LOG_LEVEL', 'pino level (default info; silent to mute)'],
    [
      'SUBGRAPH_TRUST, GATEWAY_SHARED_SECRET',
      '`jwt`: the subgraphs also accept another gateway sending this secret and the bearer token (docs/security.md)',
    ],
    [
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      'turns OpenTelemetry tracing on: OTLP over HTTP to this collector (docs/observability.md)',
    ],
    ...GATEWAY_POLICY_ENV,
  ],
};

runMain(async () => {
  const env = process.env;
  env.APOLLO_TELEMETRY_DISABLED ??= '1';
  const started = Date.now();
  const logger = createLogger('meridian', env.LOG_LEVEL ?? 'info');
  const tracing = startTracing('meridian', env);
  const dataDir = env.DATA_DIR ?? join(__dirname, '..', 'data');
  const { close: closePolicies, ...policies } = gatewayPoliciesFromEnv(env, logger);
  const { auth } = policies;
  const bus = env.REDIS_URL
    ? createRedisBus({ url: env.REDIS_URL, logger: logger.child({ service: 'bus' }) })
    : undefined;
  const gatewayTrust = gatewayTrustFromEnv(env);
  const stack = await startStack({
    dataDir,
    ...(gatewayTrust ? { gatewayTrust } : {}),
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
    // Demo data never lands in a production store: an empty one stays empty.
    seedAccounts: isProduction(env) ? 0 : intFromEnv(env, 'SEED_ACCOUNTS', DEFAULT_DEMO_ACCOUNTS, 1),
    supergraphSdl: readFileSync(env.SUPERGRAPH_PATH ?? join(__dirname, '..', 'supergraph.graphql'), 'utf8'),
    host: env.HOST ?? '127.0.0.1',
    ports: {
      gateway: intFromEnv(env, 'GATEWAY_PORT', 4000, 0, 65535),
      crm: intFromEnv(env, 'CRM_PORT', 4001, 0, 65535),
      psa: intFromEnv(env, 'PSA_PORT', 4002, 0, 65535),
      erp: intFromEnv(env, 'ERP_PORT', 4003, 0, 65535),
      orchestration: intFromEnv(env, 'ORCHESTRATION_PORT', 4004, 0, 65535),
    },
    faults: {
      crm: parseFaultSettings(env.CRM_FAULTS, 'CRM_FAULTS'),
      psa: parseFaultSettings(env.PSA_FAULTS, 'PSA_FAULTS'),
      erp: parseFaultSettings(env.ERP_FAULTS, 'ERP_FAULTS'),
    },
    triggers: env.TRIGGERS === '0' ? false : { intervalMs: intFromEnv(env, 'TRIGGER_POLL_MS', 5000, 100) },
    logger,
    bus,
    ...policies,
    onSeedProgress: (done, total) => logger.info({ done, total }, 'seeding demo accounts'),
  });
  logger.info(
    { gateway: stack.gatewayUrl, subgraphs: stack.urls, dataDir, startupMs: Date.now() - started },
    'Meridian is up',
  );
  const tokens =
    auth.mode === 'off'
      ? `Authentication is OFF (AUTH=off): every caller is ${auth.identity.role}.\n`
      : `Every request needs a bearer token. Mint a development one per role:\n` +
        `  npm run token -- --role bi                       # reads, in bulk; add --scope read:pii for contact data\n` +
        `  npm run token -- --role operations               # triggers, replays, resolves exceptions\n` +
        `  npm run token -- --role portal --account ACC-000001   # one client's projects, milestones, invoices\n` +
        `  npm run token -- --role service                  # machine to machine\n`;
  process.stderr.write(
    `\nMeridian graph ready at ${stack.gatewayUrl} (health: /healthz, readiness: /readyz)\n` +
      `Operations console: ${stack.gatewayUrl.replace(/\/graphql$/, '/console/')} (sign in with an operations or bi token)\n` +
      tokens +
      `Try: TOKEN=$(npm run -s token -- --role bi)\n` +
      `     curl -s ${stack.gatewayUrl} -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" \\\n` +
      `       -d '{"query":"{ accounts(first: 3) { nodes { name opportunities { stage amount { amount currency } } projects { code billedToDate { amount currency } } receivables { amount currency } } } }"}'\n\n`,
  );
  return {
    close: async () => {
      await stack.stop();
      await bus?.close();
      await closePolicies();
      await tracing.shutdown();
    },
  };
}, USAGE);
