import { join } from 'node:path';
import { intFromEnv } from '../../lib/env';
import { parseFaultSettings } from '../../lib/reference-faults';
import { runSubgraphMain } from '../../lib/run-main';
import { DEFAULT_DEMO_ACCOUNTS } from '../../seed/generate';
import { seedEmptyStores } from '../../seed/seed-stores';
import { erpSeedTarget } from '../../seed/targets';
import { SqliteErpConnector } from './connector/reference/sqlite-erp-connector';
import { createErpSubgraph } from './index';

// The ERP subgraph alone on ERP_PORT (4003), over the embedded reference ERP in DATA_DIR (seeded once when empty),
// with ERP_FAULTS (JSON) switching on the reference system's failures.
runSubgraphMain(
  'erp',
  4003,
  (env, logger) => {
    const erp = new SqliteErpConnector(
      join(env.DATA_DIR ?? 'data', 'erp.db'),
      parseFaultSettings(env.ERP_FAULTS, 'ERP_FAULTS'),
    );
    const accounts = intFromEnv(env, 'SEED_ACCOUNTS', DEFAULT_DEMO_ACCOUNTS, 1);
    if (seedEmptyStores([erpSeedTarget(erp)], accounts).length)
      logger.info({ accounts }, 'seeded the empty reference ERP with demo data');
    return createErpSubgraph({ erp, onClose: () => erp.close() });
  },
  [
    ['DATA_DIR', 'folder of erp.db, created on first start (default ./data)'],
    ['SEED_ACCOUNTS', 'demo accounts seeded into an empty store (default 40)'],
    ['ERP_FAULTS', 'JSON fault settings of the reference ERP (docs/reference-systems.md)'],
  ],
);
