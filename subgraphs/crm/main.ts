import { join } from 'node:path';
import { intFromEnv } from '../../lib/env';
import { parseFaultSettings } from '../../lib/reference-faults';
import { runSubgraphMain } from '../../lib/run-main';
import { DEFAULT_DEMO_ACCOUNTS } from '../../seed/generate';
import { seedEmptyStores } from '../../seed/seed-stores';
import { crmSeedTarget } from '../../seed/targets';
import { SqliteCrmConnector } from './connector/reference/sqlite-crm-connector';
import { createCrmSubgraph } from './index';

// The CRM subgraph alone on CRM_PORT (4001), over the embedded reference CRM in DATA_DIR (seeded once when empty),
// with CRM_FAULTS (JSON) switching on the reference system's failures.
runSubgraphMain(
  'crm',
  4001,
  (env, logger) => {
    const crm = new SqliteCrmConnector(
      join(env.DATA_DIR ?? 'data', 'crm.db'),
      parseFaultSettings(env.CRM_FAULTS, 'CRM_FAULTS'),
    );
    const accounts = intFromEnv(env, 'SEED_ACCOUNTS', DEFAULT_DEMO_ACCOUNTS, 1);
    if (seedEmptyStores([crmSeedTarget(crm)], accounts).length)
      logger.info({ accounts }, 'seeded the empty reference CRM with demo data');
    return createCrmSubgraph({ crm, onClose: () => crm.close() });
  },
  [
    ['DATA_DIR', 'folder of crm.db, created on first start (default ./data)'],
    ['SEED_ACCOUNTS', 'demo accounts seeded into an empty store (default 40)'],
    ['CRM_FAULTS', 'JSON fault settings of the reference CRM (docs/reference-systems.md)'],
  ],
);
