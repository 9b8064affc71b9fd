import { join } from 'node:path';
import { subgraphSecret } from '../../lib/auth/secrets';
import { intFromEnv } from '../../lib/env';
import { createInProcessBus } from '../../lib/event-bus/in-process-bus';
import { createRedisBus } from '../../lib/event-bus/redis-bus';
import { runSubgraphMain } from '../../lib/run-main';
import { startOutboxRelay, type OutboxRelay } from './engine/outbox-relay';
import { SqliteLedger } from './engine/sqlite-ledger';
import { createGraphQLTriggerSources, startTriggerPoller } from './engine/triggers';
import { startWorker, type Worker } from './engine/worker';
import { FLOWS } from './flows/index';
import { loadGovernance } from './governance/governance';
import { createOrchestrationSubgraph } from './index';
import type { SystemTargets } from './systems/graphql-client';
import { createGraphQLSystems } from './systems/graphql-systems';

// The orchestration subgraph alone on ORCHESTRATION_PORT (4004), over the SQLite ledger in DATA_DIR (`npm run
// start:orchestration` seeds the demo cross-references into an empty one first: scripts/start-subgraph.ts), with a
// flow worker calling the system subgraphs at CRM_URL,
// PSA_URL and ERP_URL (their default ports on this host), each request signed with that subgraph's SUBGRAPH_SECRET_<NAME>;
// ORCHESTRATION_WORKER=0 serves the API without one.
// TRIGGERS=0 switches off starting flows from the systems' state (looked at every TRIGGER_POLL_MS, 5000).
// GOVERNANCE_PATH names another governance file; it is validated before anything starts. With the worker runs an
// outbox relay publishing run events to Redis at REDIS_URL (so every gateway replica sees them), else in-process.
runSubgraphMain('orchestration', 4004, (env, logger) => {
  const governance = env.GOVERNANCE_PATH ? loadGovernance(env.GOVERNANCE_PATH) : loadGovernance();
  const ledger = new SqliteLedger(join(env.DATA_DIR ?? 'data', 'orchestration.db'));
  const targets: SystemTargets = {
    crm: { url: env.CRM_URL ?? 'http://127.0.0.1:4001/graphql', secret: subgraphSecret(env, 'crm') },
    psa: { url: env.PSA_URL ?? 'http://127.0.0.1:4002/graphql', secret: subgraphSecret(env, 'psa') },
    erp: { url: env.ERP_URL ?? 'http://127.0.0.1:4003/graphql', secret: subgraphSecret(env, 'erp') },
  };
  const bus = env.REDIS_URL
    ? createRedisBus({ url: env.REDIS_URL, logger: logger.child({ component: 'bus' }) })
    : createInProcessBus({ logger: logger.child({ component: 'bus' }) });
  let worker: Worker | null = null;
  let relay: OutboxRelay | null = null;
  if (env.ORCHESTRATION_WORKER !== '0') {
    relay = startOutboxRelay({ ledger, bus, logger: logger.child({ component: 'relay' }) });
    worker = startWorker({
      ledger,
      flows: FLOWS,
      systems: createGraphQLSystems(targets),
      governance,
      logger: logger.child({ component: 'worker' }),
      onRunChanged: () => relay?.wake(),
    });
  }
  const runQueued = () => {
    worker?.wake();
    relay?.wake();
  };
  const triggers =
    env.TRIGGERS === '0'
      ? null
      : startTriggerPoller({
          ledger,
          flows: FLOWS,
          sources: createGraphQLTriggerSources(targets),
          governance,
          logger: logger.child({ component: 'triggers' }),
          intervalMs: intFromEnv(env, 'TRIGGER_POLL_MS', 5000, 100),
          onQueued: runQueued,
        });
  return createOrchestrationSubgraph({
    ledger,
    flows: FLOWS,
    systems: createGraphQLSystems(targets),
    governance,
    onRunQueued: runQueued,
    onClose: async () => {
      await triggers?.stop();
      await worker?.stop();
      await relay?.stop();
      await bus.close();
      ledger.close();
    },
  });
});
