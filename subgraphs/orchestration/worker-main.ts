import { createInProcessBus } from '../../lib/event-bus/in-process-bus';
import { createRedisBus } from '../../lib/event-bus/redis-bus';
import { createLogger } from '../../lib/logger';
import { runMain } from '../../lib/run-main';
import { startEngine } from './engine/start-engine';
import { createGraphQLTriggerSources } from './systems/graphql-trigger-sources';
import { ENGINE_ENV, engineTuningFromEnv, openLedgerFromEnv, systemTargetsFromEnv } from './engine-from-env';
import { FLOWS } from './flows/index';
import { loadGovernance } from './governance/governance';
import { createGraphQLSystems } from './systems/graphql-systems';

// `npm run start:worker`: the engine with no HTTP server — a flow worker, and the outbox relay and trigger poller
// when this process is elected to lead them — over the same ledger and environment as the orchestration subgraph
// (DATABASE_URL, REDIS_URL, CRM_URL/PSA_URL/ERP_URL, SUBGRAPH_SECRET_<NAME>, the tuning in docs/scale-out.md). Start as
// many as wanted, on any machine that reaches the database. SIGTERM finishes the steps in hand, lets the
// leaderships go and exits.
runMain(
  async () => {
    const env = process.env;
    const logger = createLogger('orchestration-worker', env.LOG_LEVEL ?? 'info');
    const governance = env.GOVERNANCE_PATH ? loadGovernance(env.GOVERNANCE_PATH) : loadGovernance();
    const ledger = await openLedgerFromEnv(env, logger);
    if (ledger.kind === 'sqlite')
      logger.warn(
        'DATABASE_URL is not set: this worker shares the SQLite ledger in DATA_DIR, so only with processes on this host',
      );
    const targets = systemTargetsFromEnv(env);
    const bus = env.REDIS_URL
      ? createRedisBus({ url: env.REDIS_URL, logger: logger.child({ component: 'bus' }) })
      : createInProcessBus({ logger: logger.child({ component: 'bus' }) });
    if (!env.REDIS_URL)
      logger.warn('REDIS_URL is not set: run events this process relays reach no gateway in another process');
    const { triggerIntervalMs, ...tuning } = engineTuningFromEnv(env);
    const engine = startEngine({
      ledger,
      bus,
      flows: FLOWS,
      systems: createGraphQLSystems(targets),
      governance,
      logger,
      ...tuning,
      ...(env.WORKER_OWNER ? { owner: env.WORKER_OWNER } : {}),
      triggers:
        triggerIntervalMs === null
          ? false
          : { sources: createGraphQLTriggerSources(targets), intervalMs: triggerIntervalMs },
    });
    await engine.ready;
    logger.info({ owner: engine.owner, ledger: ledger.kind }, 'orchestration worker started');
    return {
      close: async () => {
        await engine.stop();
        await bus.close();
        await ledger.close();
      },
    };
  },
  {
    command: 'npm run start:worker',
    summary:
      'A flow worker with no HTTP server, plus the outbox relay and trigger poller when elected their leader; start as many as wanted on one ledger (docs/scale-out.md).',
    env: [
      ['WORKER_OWNER', 'this process’s name in leases and leaderships (default a random UUID)'],
      ['LOG_LEVEL', 'pino level (default info)'],
      ...ENGINE_ENV,
    ],
  },
);
