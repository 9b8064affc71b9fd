import { intFromEnv } from '../../lib/env';
import { createLogger } from '../../lib/logger';
import { parseFaultSettings } from '../../lib/reference-faults';
import { startSubgraph } from '../../lib/subgraph';
import { DEFAULT_DEMO_ACCOUNTS } from '../../seed/generate';
import { seedEmptyStores } from '../../seed/seed-stores';
import { erpSeedTarget } from '../../seed/targets';
import { join } from 'node:path';
import { SqliteErpConnector } from './connector/reference/sqlite-erp-connector';
import { createErpSubgraph } from './index';

/** Starts the ERP subgraph alone on `ERP_PORT` (4003), over the embedded reference ERP in `DATA_DIR`. */
async function main(env = process.env): Promise<void> {
  const logger = createLogger('erp', env['LOG_LEVEL'] ?? 'info');
  const erp = new SqliteErpConnector(join(env['DATA_DIR'] ?? 'data', 'erp.db'), parseFaultSettings(env['ERP_FAULTS'], 'ERP_FAULTS'));
  const accounts = intFromEnv(env, 'SEED_ACCOUNTS', DEFAULT_DEMO_ACCOUNTS, 1);
  // The target seeds legal entities and tax jurisdictions (seed/reference-data.ts) before the demo customers.
  if (seedEmptyStores([erpSeedTarget(erp)], accounts).length) logger.info({ accounts }, 'seeded the empty reference ERP with demo data');
  const running = await startSubgraph(createErpSubgraph({ erp, onClose: () => erp.close() }), {
    port: intFromEnv(env, 'ERP_PORT', 4003, 0, 65535),
    host: env['HOST'] ?? '127.0.0.1',
    logger,
  });
  logger.info({ url: running.url }, 'erp subgraph listening');
  const stop = () => void running.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
