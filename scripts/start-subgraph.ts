import { join } from 'node:path';
import { isProduction } from '../lib/auth/secrets';
import { wantsHelp } from '../lib/cli';
import { intFromEnv } from '../lib/env';
import { createLogger } from '../lib/logger';
import { DEFAULT_DEMO_ACCOUNTS } from '../seed/generate';
import { seedEmptyStores, type SeedTarget } from '../seed/seed-stores';
import { crmSeedTarget, erpSeedTarget, ledgerSeedTarget, psaSeedTarget } from '../seed/targets';
import { SqliteCrmConnector } from '../subgraphs/crm/connector/reference/sqlite-crm-connector';
import { SqliteErpConnector } from '../subgraphs/erp/connector/reference/sqlite-erp-connector';
import { SqliteLedger } from '../subgraphs/orchestration/engine/sqlite-ledger';
import { SqlitePsaConnector } from '../subgraphs/psa/connector/reference/sqlite-psa-connector';

/** One subgraph process: its embedded store as a seed target, and its `main.ts`. */
interface SubgraphProcess {
  /** Opens the store at `path` as a seed target, with how to close it. */
  store(path: string): { target: SeedTarget; close(): void; what: string };
  file: string;
  /** Loads the subgraph's `main.ts`, which starts it (or prints its `--help`). */
  main(): unknown;
}

const SUBGRAPHS: Record<string, SubgraphProcess> = {
  crm: {
    file: 'crm.db',
    store: (path) => {
      const crm = new SqliteCrmConnector(path);
      return { target: crmSeedTarget(crm), close: () => crm.close(), what: 'the empty reference CRM with demo data' };
    },
    main: () => require('../subgraphs/crm/main'),
  },
  psa: {
    file: 'psa.db',
    store: (path) => {
      const psa = new SqlitePsaConnector(path);
      return { target: psaSeedTarget(psa), close: () => psa.close(), what: 'the empty reference PSA with demo data' };
    },
    main: () => require('../subgraphs/psa/main'),
  },
  erp: {
    file: 'erp.db',
    store: (path) => {
      const erp = new SqliteErpConnector(path);
      return { target: erpSeedTarget(erp), close: () => erp.close(), what: 'the empty reference ERP with demo data' };
    },
    main: () => require('../subgraphs/erp/main'),
  },
  orchestration: {
    file: 'orchestration.db',
    store: (path) => {
      const ledger = new SqliteLedger(path);
      return {
        target: ledgerSeedTarget(ledger),
        close: () => ledger.close(),
        what: 'the empty ledger with the demo cross-references',
      };
    },
    main: () => require('../subgraphs/orchestration/main'),
  },
};

/*
 * `npm run start:<name>` (crm, psa, erp, orchestration): one subgraph in its own process. Outside production it first
 * seeds the subgraph's embedded store in DATA_DIR with SEED_ACCOUNTS demo accounts (40) when that store is empty, as
 * `npm start` does for all of them; with NODE_ENV=production an empty store stays empty. Then it runs the subgraph's
 * main.ts, which reads the rest of the environment (`--help` lists it).
 */
function main(argv = process.argv.slice(2), env = process.env): void {
  const name = argv[0] ?? '';
  const subgraph = SUBGRAPHS[name];
  if (!subgraph) {
    console.error(`usage: tsx scripts/start-subgraph.ts <${Object.keys(SUBGRAPHS).join('|')}> [--help]`);
    process.exitCode = 2;
    return;
  }
  if (wantsHelp(argv)) {
    subgraph.main();
    console.log(
      `  ${'SEED_ACCOUNTS'.padEnd(24)}demo accounts seeded into an empty store before start (default ${DEFAULT_DEMO_ACCOUNTS}); never in production`,
    );
    return;
  }
  // On PostgreSQL the orchestration's SQLite ledger is not used: nothing to seed (and processes started together
  // would race to seed the same file).
  if (!isProduction(env) && !(name === 'orchestration' && env.DATABASE_URL)) {
    const accounts = intFromEnv(env, 'SEED_ACCOUNTS', DEFAULT_DEMO_ACCOUNTS, 1);
    const store = subgraph.store(join(env.DATA_DIR ?? 'data', subgraph.file));
    try {
      if (seedEmptyStores([store.target], accounts).length)
        createLogger(name, env.LOG_LEVEL ?? 'info').info({ accounts }, `seeded ${store.what}`);
    } finally {
      store.close();
    }
  }
  subgraph.main();
}

try {
  main();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
