import { join } from 'node:path';
import { parseFaultSettings } from '../../lib/reference-faults';
import { runSubgraphMain } from '../../lib/run-main';
import { SqlitePsaConnector } from './connector/reference/sqlite-psa-connector';
import { createPsaSubgraph } from './index';

// The PSA subgraph alone on PSA_PORT (4002), over the embedded reference PSA in DATA_DIR, with
// PSA_FAULTS (JSON) switching on the reference system's failures. It seeds nothing: `npm run start:psa` seeds an
// empty store first (scripts/start-subgraph.ts).
runSubgraphMain(
  'psa',
  4002,
  (env) => {
    const psa = new SqlitePsaConnector(
      join(env.DATA_DIR ?? 'data', 'psa.db'),
      parseFaultSettings(env.PSA_FAULTS, 'PSA_FAULTS'),
    );
    return createPsaSubgraph({ psa, onClose: () => psa.close() });
  },
  [
    ['DATA_DIR', 'folder of psa.db, created on first start (default ./data)'],
    ['PSA_FAULTS', 'JSON fault settings of the reference PSA (docs/reference-systems.md)'],
  ],
);
