import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteLedger } from '../subgraphs/orchestration/engine/sqlite-ledger';
import { describeLedgerContract } from './contracts/ledger.contract';

describeLedgerContract('SQLite (two connections on one file)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-ledger-'));
  const a = new SqliteLedger(join(dir, 'orchestration.db'));
  const b = new SqliteLedger(join(dir, 'orchestration.db'));
  return {
    a,
    b,
    close: async () => {
      a.close();
      b.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
