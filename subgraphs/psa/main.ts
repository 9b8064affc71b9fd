import { join } from 'node:path';
import { parseFaultSettings } from '../../lib/reference-faults';
import { subgraphSecret } from '../../lib/auth/secrets';
import { runSubgraphMain } from '../../lib/run-main';
import { erpInvoicesOverGraphQL } from './erp-invoices';
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
    // The ERP subgraph, where markMilestoneInvoiced checks the invoice it is given.
    const erp = { url: env.ERP_URL ?? 'http://127.0.0.1:4003/graphql', secret: subgraphSecret(env, 'erp') };
    return createPsaSubgraph({ psa, erpInvoices: erpInvoicesOverGraphQL(() => erp), onClose: () => psa.close() });
  },
  [
    ['DATA_DIR', 'folder of psa.db, created on first start (default ./data)'],
    ['PSA_FAULTS', 'JSON fault settings of the reference PSA (docs/reference-systems.md)'],
    [
      'ERP_URL',
      'the ERP subgraph, where markMilestoneInvoiced checks its invoice (default http://127.0.0.1:4003/graphql)',
    ],
  ],
);
