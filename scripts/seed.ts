import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_DEMO_ACCOUNTS } from '../seed/generate';
import { seedEmptyStores } from '../seed/seed-stores';
import { crmSeedTarget, erpSeedTarget, ledgerSeedTarget, psaSeedTarget } from '../seed/targets';
import { SqliteCrmConnector } from '../subgraphs/crm/connector/reference/sqlite-crm-connector';
import { SqliteErpConnector } from '../subgraphs/erp/connector/reference/sqlite-erp-connector';
import { SqliteLedger } from '../subgraphs/orchestration/engine/sqlite-ledger';
import { SqlitePsaConnector } from '../subgraphs/psa/connector/reference/sqlite-psa-connector';

const FILES = ['crm.db', 'psa.db', 'erp.db', 'orchestration.db'];
const USAGE = `usage: npm run seed -- [--accounts N] [--data-dir DIR] [--reset]
  --accounts N    demo accounts to generate (default ${DEFAULT_DEMO_ACCOUNTS}); each brings contacts, opportunities,
                  and for won deals projects, time, expenses, ERP customers, invoices and payments
  --data-dir DIR  folder of the SQLite files (default ./data, or DATA_DIR)
  --reset         delete the existing stores first (otherwise a folder that holds data is refused)`;

/** `npm run seed`: fills the embedded reference systems and the ledger with deterministic demo data. */
function main(argv = process.argv.slice(2), env = process.env): number {
  const options = {
    accounts: { type: 'string' },
    'data-dir': { type: 'string' },
    reset: { type: 'boolean' },
    help: { type: 'boolean' },
  } as const;
  let values: ReturnType<typeof parseArgs<{ args: string[]; options: typeof options }>>['values'];
  try {
    ({ values } = parseArgs({ args: argv, options }));
  } catch (error) {
    console.error(`seed: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const accounts = values.accounts === undefined ? DEFAULT_DEMO_ACCOUNTS : Number(values.accounts);
  if (!Number.isInteger(accounts) || accounts < 1) {
    console.error(`seed: --accounts must be a whole number of at least 1; got '${values.accounts}'\n${USAGE}`);
    return 2;
  }
  const dataDir = values['data-dir'] ?? env.DATA_DIR ?? join(__dirname, '..', 'data');
  const existing = FILES.filter((f) => existsSync(join(dataDir, f)));
  if (existing.length && !values.reset) {
    console.error(`seed: ${dataDir} already holds ${existing.join(', ')}; pass --reset to replace them`);
    return 1;
  }
  for (const f of FILES) for (const suffix of ['', '-wal', '-shm']) rmSync(join(dataDir, f + suffix), { force: true });

  const crm = new SqliteCrmConnector(join(dataDir, 'crm.db'));
  const psa = new SqlitePsaConnector(join(dataDir, 'psa.db'));
  const erp = new SqliteErpConnector(join(dataDir, 'erp.db'));
  const ledger = new SqliteLedger(join(dataDir, 'orchestration.db'));
  const started = Date.now();
  try {
    seedEmptyStores(
      [crmSeedTarget(crm), psaSeedTarget(psa), erpSeedTarget(erp), ledgerSeedTarget(ledger)],
      accounts,
      (done, total) => {
        console.log(`seed: ${done}/${total} accounts (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      },
    );
  } finally {
    crm.close();
    psa.close();
    erp.close();
    ledger.close();
  }
  console.log(`seed: done — ${accounts} accounts in ${dataDir} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return 0;
}

process.exitCode = main();
