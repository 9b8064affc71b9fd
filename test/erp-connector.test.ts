import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateAccounts } from '../seed/generate';
import { LEGAL_ENTITIES, TAX_JURISDICTIONS } from '../seed/reference-data';
import { SqliteErpConnector } from '../subgraphs/erp/connector/reference/sqlite-erp-connector';
import { describeErpConnectorContract } from './contracts/erp-connector.contract';

describeErpConnectorContract('SqliteErpConnector (file)', async (accounts) => {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-erp-'));
  const connector = new SqliteErpConnector(join(dir, 'erp.db'));
  connector.seedReferenceData({ legalEntities: LEGAL_ENTITIES, taxJurisdictions: TAX_JURISDICTIONS });
  connector.seed(generateAccounts(1, accounts + 1).erp);
  return { connector, faults: connector.faults, close: () => { connector.close(); rmSync(dir, { recursive: true, force: true }); } };
});

describe('SqliteErpConnector', () => {
  it('is empty until seeded, and takes its reference data again without complaint', () => {
    const connector = new SqliteErpConnector(':memory:');
    expect(connector.isEmpty()).toBe(true);
    connector.seedReferenceData({ legalEntities: LEGAL_ENTITIES, taxJurisdictions: TAX_JURISDICTIONS });
    connector.seedReferenceData({ legalEntities: LEGAL_ENTITIES, taxJurisdictions: TAX_JURISDICTIONS });
    expect(connector.isEmpty()).toBe(true);
    connector.seed(generateAccounts(1, 3).erp);
    expect(connector.isEmpty()).toBe(false);
    connector.close();
  });
});

describe('SqliteErpConnector faults', () => {
  it('throttles the configured share of calls with a retry-after, then behaves when switched off', async () => {
    const connector = new SqliteErpConnector(':memory:', { throttleRate: 0.5, retryAfterMs: 250, seed: 7 });
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, () => connector.getInvoices(['INV-000000001']).then(() => 'ok', (e: { code: string; details: { retryAfterMs: number } }) => `${e.code}:${e.details.retryAfterMs}`)),
    );
    const throttled = outcomes.filter((o) => o === 'RATE_LIMITED:250').length;
    expect(throttled + outcomes.filter((o) => o === 'ok').length).toBe(200);
    expect(throttled).toBeGreaterThan(70);
    expect(throttled).toBeLessThan(130);
    connector.faults.set({});
    await expect(connector.getInvoices(['INV-000000001'])).resolves.toEqual([null]);
    connector.close();
  });

  it('refuses every call, writes included, during a maintenance window with the time left', async () => {
    const connector = new SqliteErpConnector(':memory:', { maintenanceUntil: Date.now() + 60_000 });
    const error = await connector.postBillingLines([]).catch((e: unknown) => e as { code: string; details: { retryAfterMs: number; system: string } });
    expect(error).toMatchObject({ code: 'SYSTEM_MAINTENANCE', details: { system: 'erp' } });
    expect((error as { details: { retryAfterMs: number } }).details.retryAfterMs).toBeGreaterThan(50_000);
    connector.close();
  });
});
