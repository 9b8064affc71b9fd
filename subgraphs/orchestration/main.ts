import { join } from 'node:path';
import { intFromEnv } from '../../lib/env';
import { runSubgraphMain } from '../../lib/run-main';
import { DEFAULT_DEMO_ACCOUNTS } from '../../seed/generate';
import { seedEmptyStores } from '../../seed/seed-stores';
import { ledgerSeedTarget } from '../../seed/targets';
import { SqliteLedger } from './engine/sqlite-ledger';
import { createOrchestrationSubgraph } from './index';

// The orchestration subgraph alone on ORCHESTRATION_PORT (4004), over the SQLite ledger in DATA_DIR
// (seeded once with the demo data's cross-references when empty).
runSubgraphMain('orchestration', 4004, (env, logger) => {
  const ledger = new SqliteLedger(join(env['DATA_DIR'] ?? 'data', 'orchestration.db'));
  const accounts = intFromEnv(env, 'SEED_ACCOUNTS', DEFAULT_DEMO_ACCOUNTS, 1);
  if (seedEmptyStores([ledgerSeedTarget(ledger)], accounts).length) logger.info({ accounts }, 'seeded the empty ledger with the demo cross-references');
  return createOrchestrationSubgraph({ ledger, onClose: () => ledger.close() });
});
