import { join } from 'node:path';
import { intFromEnv } from '../../lib/env';
import { createLogger } from '../../lib/logger';
import { startSubgraph } from '../../lib/subgraph';
import { DEFAULT_DEMO_ACCOUNTS } from '../../seed/generate';
import { seedEmptyStores } from '../../seed/seed-stores';
import { ledgerSeedTarget } from '../../seed/targets';
import { SqliteLedger } from './engine/sqlite-ledger';
import { createOrchestrationSubgraph } from './index';

/** Starts the orchestration subgraph alone on `ORCHESTRATION_PORT` (4004), over the SQLite ledger in `DATA_DIR`. */
async function main(env = process.env): Promise<void> {
  const logger = createLogger('orchestration', env['LOG_LEVEL'] ?? 'info');
  const ledger = new SqliteLedger(join(env['DATA_DIR'] ?? 'data', 'orchestration.db'));
  const accounts = intFromEnv(env, 'SEED_ACCOUNTS', DEFAULT_DEMO_ACCOUNTS, 1);
  if (seedEmptyStores([ledgerSeedTarget(ledger)], accounts).length) logger.info({ accounts }, 'seeded the empty ledger with the demo cross-references');
  const running = await startSubgraph(createOrchestrationSubgraph({ ledger, onClose: () => ledger.close() }), {
    port: intFromEnv(env, 'ORCHESTRATION_PORT', 4004, 0, 65535),
    host: env['HOST'] ?? '127.0.0.1',
    logger,
  });
  logger.info({ url: running.url }, 'orchestration subgraph listening');
  const stop = () => void running.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
