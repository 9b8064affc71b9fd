import { join } from 'node:path';
import { parseFaultSettings } from '../../lib/reference-faults';
import { runSubgraphMain } from '../../lib/run-main';
import { SqliteCrmConnector } from './connector/reference/sqlite-crm-connector';
import { createCrmSubgraph } from './index';

// The CRM subgraph alone on CRM_PORT (4001), over the embedded reference CRM in DATA_DIR, with
// CRM_FAULTS (JSON) switching on the reference system's failures. It seeds nothing: `npm run start:crm` seeds an
// empty store first (scripts/start-subgraph.ts).
runSubgraphMain(
  'crm',
  4001,
  (env) => {
    const crm = new SqliteCrmConnector(
      join(env.DATA_DIR ?? 'data', 'crm.db'),
      parseFaultSettings(env.CRM_FAULTS, 'CRM_FAULTS'),
    );
    return createCrmSubgraph({ crm, onClose: () => crm.close() });
  },
  [
    ['DATA_DIR', 'folder of crm.db, created on first start (default ./data)'],
    ['CRM_FAULTS', 'JSON fault settings of the reference CRM (docs/reference-systems.md)'],
  ],
);
