import { join } from 'node:path';
import { intFromEnv } from '../../lib/env';
import { parseFaultSettings } from '../../lib/reference-faults';
import { runSubgraphMain } from '../../lib/run-main';
import { DEFAULT_DEMO_ACCOUNTS } from '../../seed/generate';
import { seedEmptyStores } from '../../seed/seed-stores';
import { psaSeedTarget } from '../../seed/targets';
import { SqlitePsaConnector } from './connector/reference/sqlite-psa-connector';
import { createPsaSubgraph } from './index';

// The PSA subgraph alone on PSA_PORT (4002), over the embedded reference PSA in DATA_DIR (seeded once when empty),
// with PSA_FAULTS (JSON) switching on the reference system's failures.
runSubgraphMain(
  'psa',
  4002,
  (env, logger) => {
    const psa = new SqlitePsaConnector(
      join(env.DATA_DIR ?? 'data', 'psa.db'),
      parseFaultSettings(env.PSA_FAULTS, 'PSA_FAULTS'),
    );
    const accounts = intFromEnv(env, 'SEED_ACCOUNTS', DEFAULT_DEMO_ACCOUNTS, 1);
    if (seedEmptyStores([psaSeedTarget(psa)], accounts).length)
      logger.info({ accounts }, 'seeded the empty reference PSA with demo data');
    return createPsaSubgraph({ psa, onClose: () => psa.close() });
  },
  [
    ['DATA_DIR', 'folder of psa.db, created on first start (default ./data)'],
    ['SEED_ACCOUNTS', 'demo accounts seeded into an empty store (default 40)'],
    ['PSA_FAULTS', 'JSON fault settings of the reference PSA (docs/reference-systems.md)'],
  ],
);
