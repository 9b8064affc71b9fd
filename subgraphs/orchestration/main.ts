import { createInProcessBus } from '../../lib/event-bus/in-process-bus';
import { createRedisBus } from '../../lib/event-bus/redis-bus';
import { runSubgraphMain } from '../../lib/run-main';
import { startEngine } from './engine/start-engine';
import { createGraphQLTriggerSources } from './systems/graphql-trigger-sources';
import { ENGINE_ENV, engineTuningFromEnv, openLedgerFromEnv, systemTargetsFromEnv } from './engine-from-env';
import { FLOWS } from './flows/index';
import { loadGovernance } from './governance/governance';
import { createOrchestrationSubgraph } from './index';
import { createGraphQLSystems } from './systems/graphql-systems';

// The orchestration subgraph on ORCHESTRATION_PORT (4004), over the ledger on PostgreSQL at DATABASE_URL, or else the
// SQLite file in DATA_DIR (`npm run start:orchestration` seeds the demo cross-references into an empty one first:
// scripts/start-subgraph.ts), with the engine (startEngine: a flow worker, and the outbox relay and trigger poller
// under one leader across processes) calling the system subgraphs at CRM_URL, PSA_URL and ERP_URL, each request signed
// with that subgraph's SUBGRAPH_SECRET_<NAME>. ORCHESTRATION_WORKER=0 serves the API without a worker or relay.
// TRIGGERS=0 switches off starting flows from the systems' state (looked at every TRIGGER_POLL_MS, 5000). Tuning
// (WORKER_CONCURRENCY, LEASE_MS, …): docs/scale-out.md. GOVERNANCE_PATH names another governance file; it is validated
// before anything starts. Run events go to Redis at REDIS_URL (so every gateway replica sees them), else in-process.
runSubgraphMain(
  'orchestration',
  4004,
  async (env, logger) => {
    const governance = env.GOVERNANCE_PATH ? loadGovernance(env.GOVERNANCE_PATH) : loadGovernance();
    const ledger = await openLedgerFromEnv(env, logger);
    const targets = systemTargetsFromEnv(env);
    const bus = env.REDIS_URL
      ? createRedisBus({ url: env.REDIS_URL, logger: logger.child({ component: 'bus' }) })
      : createInProcessBus({ logger: logger.child({ component: 'bus' }) });
    const { triggerIntervalMs, ...tuning } = engineTuningFromEnv(env);
    const withWorker = env.ORCHESTRATION_WORKER !== '0';
    const engine = startEngine({
      ledger,
      bus,
      flows: FLOWS,
      systems: createGraphQLSystems(targets),
      governance,
      logger,
      ...tuning,
      ...(withWorker ? {} : { worker: false as const, relay: false }),
      triggers:
        triggerIntervalMs === null
          ? false
          : { sources: createGraphQLTriggerSources(targets), intervalMs: triggerIntervalMs },
    });
    await engine.ready;
    return createOrchestrationSubgraph({
      ledger,
      flows: FLOWS,
      systems: createGraphQLSystems(targets),
      governance,
      onRunQueued: engine.runQueued,
      // Its own subscriptions, for gateways that federate them; ours resolves payloads across subgraphs itself.
      bus,
      onClose: async () => {
        await engine.stop();
        await bus.close();
        await ledger.close();
      },
    });
  },
  [['ORCHESTRATION_WORKER', '`0`: serve the API without a worker or relay'], ...ENGINE_ENV],
);
