import { join } from 'node:path';
import { intFromEnv } from '../../lib/env';
import { runSubgraphMain } from '../../lib/run-main';
import { DEFAULT_DEMO_ACCOUNTS } from '../../seed/generate';
import { seedEmptyStores } from '../../seed/seed-stores';
import { ledgerSeedTarget } from '../../seed/targets';
import { SqliteLedger } from './engine/sqlite-ledger';
import { startWorker, type Worker } from './engine/worker';
import { FLOWS } from './flows/index';
import { loadGovernance } from './governance/governance';
import { createOrchestrationSubgraph } from './index';
import { createGraphQLSystems } from './systems/graphql-systems';

// The orchestration subgraph alone on ORCHESTRATION_PORT (4004), over the SQLite ledger in DATA_DIR (seeded once
// with the demo data's cross-references when empty), with a flow worker calling the system subgraphs at CRM_URL,
// PSA_URL and ERP_URL (their default ports on this host); ORCHESTRATION_WORKER=0 serves the API without one.
// GOVERNANCE_PATH names another governance file; it is validated before anything starts.
runSubgraphMain('orchestration', 4004, (env, logger) => {
  const governance = env['GOVERNANCE_PATH'] ? loadGovernance(env['GOVERNANCE_PATH']) : loadGovernance();
  const ledger = new SqliteLedger(join(env['DATA_DIR'] ?? 'data', 'orchestration.db'));
  const accounts = intFromEnv(env, 'SEED_ACCOUNTS', DEFAULT_DEMO_ACCOUNTS, 1);
  if (seedEmptyStores([ledgerSeedTarget(ledger)], accounts).length) logger.info({ accounts }, 'seeded the empty ledger with the demo cross-references');
  let worker: Worker | null = null;
  if (env['ORCHESTRATION_WORKER'] !== '0') {
    const systems = createGraphQLSystems({
      crm: env['CRM_URL'] ?? 'http://127.0.0.1:4001/graphql',
      psa: env['PSA_URL'] ?? 'http://127.0.0.1:4002/graphql',
      erp: env['ERP_URL'] ?? 'http://127.0.0.1:4003/graphql',
    });
    worker = startWorker({ ledger, flows: FLOWS, systems, governance, logger: logger.child({ component: 'worker' }) });
  }
  return createOrchestrationSubgraph({
    ledger,
    flows: FLOWS,
    onRunQueued: () => worker?.wake(),
    onClose: async () => {
      await worker?.stop();
      ledger.close();
    },
  });
});
