import { intFromEnv } from '../../lib/env';
import { createLogger } from '../../lib/logger';
import { parseFaultSettings } from '../../lib/reference-faults';
import { startSubgraph } from '../../lib/subgraph';
import { DEFAULT_DEMO_ACCOUNTS } from '../../seed/generate';
import { seedEmptyStores } from '../../seed/seed-stores';
import { psaSeedTarget } from '../../seed/targets';
import { join } from 'node:path';
import { SqlitePsaConnector } from './connector/reference/sqlite-psa-connector';
import { createPsaSubgraph } from './index';

/** Starts the PSA subgraph alone on `PSA_PORT` (4002), over the embedded reference PSA in `DATA_DIR`. */
async function main(env = process.env): Promise<void> {
  const logger = createLogger('psa', env['LOG_LEVEL'] ?? 'info');
  const psa = new SqlitePsaConnector(join(env['DATA_DIR'] ?? 'data', 'psa.db'), parseFaultSettings(env['PSA_FAULTS'], 'PSA_FAULTS'));
  const accounts = intFromEnv(env, 'SEED_ACCOUNTS', DEFAULT_DEMO_ACCOUNTS, 1);
  if (seedEmptyStores([psaSeedTarget(psa)], accounts).length) logger.info({ accounts }, 'seeded the empty reference PSA with demo data');
  const running = await startSubgraph(createPsaSubgraph({ psa, onClose: () => psa.close() }), {
    port: intFromEnv(env, 'PSA_PORT', 4002, 0, 65535),
    host: env['HOST'] ?? '127.0.0.1',
    logger,
  });
  logger.info({ url: running.url }, 'psa subgraph listening');
  const stop = () => void running.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
