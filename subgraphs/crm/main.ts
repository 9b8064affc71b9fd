import { intFromEnv } from '../../lib/env';
import { createLogger } from '../../lib/logger';
import { parseFaultSettings } from '../../lib/reference-faults';
import { startSubgraph } from '../../lib/subgraph';
import { DEFAULT_DEMO_ACCOUNTS } from '../../seed/generate';
import { seedEmptyStores } from '../../seed/seed-stores';
import { crmSeedTarget } from '../../seed/targets';
import { join } from 'node:path';
import { SqliteCrmConnector } from './connector/reference/sqlite-crm-connector';
import { createCrmSubgraph } from './index';

/** Starts the CRM subgraph alone on `CRM_PORT` (4001), over the embedded reference CRM in `DATA_DIR`. */
async function main(env = process.env): Promise<void> {
  const logger = createLogger('crm', env['LOG_LEVEL'] ?? 'info');
  const crm = new SqliteCrmConnector(join(env['DATA_DIR'] ?? 'data', 'crm.db'), parseFaultSettings(env['CRM_FAULTS'], 'CRM_FAULTS'));
  const accounts = intFromEnv(env, 'SEED_ACCOUNTS', DEFAULT_DEMO_ACCOUNTS, 1);
  if (seedEmptyStores([crmSeedTarget(crm)], accounts).length) logger.info({ accounts }, 'seeded the empty reference CRM with demo data');
  const running = await startSubgraph(createCrmSubgraph({ crm, onClose: () => crm.close() }), {
    port: intFromEnv(env, 'CRM_PORT', 4001, 0, 65535),
    host: env['HOST'] ?? '127.0.0.1',
    logger,
  });
  logger.info({ url: running.url }, 'crm subgraph listening');
  const stop = () => void running.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
