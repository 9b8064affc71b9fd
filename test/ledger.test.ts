import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../lib/logger';
import { LedgerStartError, PgLedger } from '../subgraphs/orchestration/engine/pg-ledger';
import { SqliteLedger } from '../subgraphs/orchestration/engine/sqlite-ledger';
import { describeLedgerContract } from './contracts/ledger.contract';
import { POSTGRES_ADMIN_URL, createTestDatabase } from './support/postgres';

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

describeLedgerContract('PostgreSQL (two pools on one database)', async () => {
  const database = await createTestDatabase();
  const logger = silentLogger();
  // Opened together: migrations must apply once under their lock, whichever process comes first.
  const [a, b] = await Promise.all([
    PgLedger.open({ url: database.url, logger }),
    PgLedger.open({ url: database.url, logger }),
  ]);
  return {
    a,
    b,
    close: async () => {
      await Promise.all([a.close(), b.close()]);
      await database.drop();
    },
  };
});

describe('PgLedger.open', () => {
  const open = (url: string) => PgLedger.open({ url, logger: silentLogger() });

  it('refuses a malformed DATABASE_URL with one line saying what is wrong', async () => {
    await expect(open('not a url')).rejects.toThrow(
      new Error('DATABASE_URL is not a URL (expected postgres://user@host:port/database)'),
    );
    await expect(open('mysql://db.example:3306/meridian')).rejects.toThrow(
      new Error('DATABASE_URL must start with postgres:// or postgresql:// (got mysql://db.example:3306)'),
    );
  });

  it('names host, database and cause when the server cannot be reached or has no such database', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const refused = await open(`postgres://postgres@127.0.0.1:${port}/meridian`).catch((e: Error) => e);
    expect(refused).toBeInstanceOf(LedgerStartError);
    expect((refused as Error).message).toBe(
      `Cannot open the ledger on PostgreSQL at 127.0.0.1:${port}, database "meridian": connect ECONNREFUSED 127.0.0.1:${port}`,
    );
    const url = new URL(POSTGRES_ADMIN_URL);
    url.pathname = '/meridian_no_such_database';
    const missing = await open(url.toString()).catch((e: Error) => e);
    expect((missing as Error).message).toBe(
      `Cannot open the ledger on PostgreSQL at ${url.hostname}:${url.port}, database "meridian_no_such_database": database "meridian_no_such_database" does not exist`,
    );
  });
});
