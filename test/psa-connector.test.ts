import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateAccounts } from '../seed/generate';
import { PROJECT_TEMPLATES, RATE_CARDS, RESOURCES } from '../seed/reference-data';
import { SqlitePsaConnector } from '../subgraphs/psa/connector/reference/sqlite-psa-connector';
import { describePsaConnectorContract } from './contracts/psa-connector.contract';

describePsaConnectorContract('SqlitePsaConnector (file)', async (accounts) => {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-psa-'));
  const connector = new SqlitePsaConnector(join(dir, 'psa.db'));
  connector.seedReferenceData({ rateCards: RATE_CARDS, templates: PROJECT_TEMPLATES, resources: RESOURCES });
  connector.seed(generateAccounts(1, accounts + 1).psa);
  return { connector, close: () => { connector.close(); rmSync(dir, { recursive: true, force: true }); } };
});

describe('SqlitePsaConnector', () => {
  it('is empty until reference data is seeded', () => {
    const connector = new SqlitePsaConnector(':memory:');
    expect(connector.isEmpty()).toBe(true);
    connector.seedReferenceData({ rateCards: RATE_CARDS, templates: PROJECT_TEMPLATES, resources: RESOURCES });
    expect(connector.isEmpty()).toBe(false);
    connector.close();
  });

  it('throttles the configured share of calls with a retry-after, then behaves when switched off', async () => {
    const connector = new SqlitePsaConnector(':memory:', { throttleRate: 0.5, retryAfterMs: 250, seed: 7 });
    const outcomes = await Promise.all(Array.from({ length: 200 }, () => connector.getProjects(['PRJ-0000011']).then(() => 'ok', (e: { code: string; details: { retryAfterMs: number; system: string } }) => `${e.code}:${e.details.system}:${e.details.retryAfterMs}`)));
    const throttled = outcomes.filter((o) => o === 'RATE_LIMITED:psa:250').length;
    expect(throttled + outcomes.filter((o) => o === 'ok').length).toBe(200);
    expect(throttled).toBeGreaterThan(70);
    expect(throttled).toBeLessThan(130);
    connector.faults.set({});
    await expect(connector.getProjects(['PRJ-0000011'])).resolves.toEqual([null]);
    connector.close();
  });

  it('refuses every call, commands included, during a maintenance window with the time left', async () => {
    const connector = new SqlitePsaConnector(':memory:', { maintenanceUntil: Date.now() + 60_000 });
    for (const call of [() => connector.listProjects({ first: 1, afterKey: null }), () => connector.approveTimeEntries(['TE-0000011001'])]) {
      const error = await call().then(() => null, (e: unknown) => e as { code: string; details: { retryAfterMs: number; system: string } });
      expect(error).toMatchObject({ code: 'SYSTEM_MAINTENANCE', details: { system: 'psa' } });
      expect(error!.details.retryAfterMs).toBeGreaterThan(50_000);
    }
    connector.close();
  });
});
