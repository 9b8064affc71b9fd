import { join } from 'node:path';
import { parseFaultSettings } from '../../lib/reference-faults';
import { runSubgraphMain } from '../../lib/run-main';
import { SqliteErpConnector } from './connector/reference/sqlite-erp-connector';
import { createErpSubgraph } from './index';

// The ERP subgraph alone on ERP_PORT (4003), over the embedded reference ERP in DATA_DIR, with
// ERP_FAULTS (JSON) switching on the reference system's failures. It seeds nothing: `npm run start:erp` seeds an
// empty store first (scripts/start-subgraph.ts).
runSubgraphMain(
  'erp',
  4003,
  (env) => {
    const erp = new SqliteErpConnector(
      join(env.DATA_DIR ?? 'data', 'erp.db'),
      parseFaultSettings(env.ERP_FAULTS, 'ERP_FAULTS'),
    );
    return createErpSubgraph({ erp, onClose: () => erp.close() });
  },
  [
    ['DATA_DIR', 'folder of erp.db, created on first start (default ./data)'],
    ['ERP_FAULTS', 'JSON fault settings of the reference ERP (docs/reference-systems.md)'],
  ],
);
