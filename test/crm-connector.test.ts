import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateAccounts } from '../seed/generate';
import { SqliteCrmConnector } from '../subgraphs/crm/connector/reference/sqlite-crm-connector';
import { describeCrmConnectorContract } from './contracts/crm-connector.contract';

describeCrmConnectorContract('SqliteCrmConnector (file)', async (accounts) => {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-crm-'));
  const connector = new SqliteCrmConnector(join(dir, 'crm.db'));
  connector.seed(generateAccounts(1, accounts + 1).crm);
  return { connector, close: () => { connector.close(); rmSync(dir, { recursive: true, force: true }); } };
});

describe('SqliteCrmConnector faults', () => {
  it('throttles the configured share of calls with a retry-after, then behaves when switched off', async () => {
    const connector = new SqliteCrmConnector(':memory:', { throttleRate: 0.5, retryAfterMs: 250, seed: 7 });
    const outcomes = await Promise.all(Array.from({ length: 200 }, () => connector.getAccounts(['ACC-000001']).then(() => 'ok', (e: { code: string; details: { retryAfterMs: number } }) => `${e.code}:${e.details.retryAfterMs}`)));
    const throttled = outcomes.filter((o) => o === 'RATE_LIMITED:250').length;
    expect(throttled + outcomes.filter((o) => o === 'ok').length).toBe(200);
    expect(throttled).toBeGreaterThan(70);
    expect(throttled).toBeLessThan(130);
    connector.faults.set({});
    await expect(connector.getAccounts(['ACC-000001'])).resolves.toEqual([null]);
    connector.close();
  });

  it('refuses every call during a maintenance window with the time left', async () => {
    const connector = new SqliteCrmConnector(':memory:', { maintenanceUntil: Date.now() + 60_000 });
    const error = await connector.listAccounts({ first: 1, afterKey: null }).catch((e: unknown) => e as { code: string; details: { retryAfterMs: number; system: string } });
    expect(error).toMatchObject({ code: 'SYSTEM_MAINTENANCE', details: { system: 'crm' } });
    expect((error as { details: { retryAfterMs: number } }).details.retryAfterMs).toBeGreaterThan(50_000);
    connector.close();
  });
});
