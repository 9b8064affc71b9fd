import { FaultInjector, withFaults } from '../lib/reference-faults';
import { SqliteCrmConnector } from '../subgraphs/crm/connector/reference/sqlite-crm-connector';
import { SqliteErpConnector } from '../subgraphs/erp/connector/reference/sqlite-erp-connector';
import { SqlitePsaConnector } from '../subgraphs/psa/connector/reference/sqlite-psa-connector';

describe('withFaults', () => {
  it.each([
    ['CRM', () => new SqliteCrmConnector(':memory:'), SqliteCrmConnector.prototype, 14],
    ['PSA', () => new SqlitePsaConnector(':memory:'), SqlitePsaConnector.prototype, 24],
    ['ERP', () => new SqliteErpConnector(':memory:'), SqliteErpConnector.prototype, 29],
  ] as const)('puts every port method of the reference %s behind the switches', async (_system, open, proto, count) => {
    // The port's methods are the adapter's async ones; set-up (seed, isEmpty, close) and private helpers are sync.
    const portMethods = Object.getOwnPropertyNames(proto).filter(
      (name) =>
        (proto as unknown as Record<string, { constructor: { name: string } }>)[name]!.constructor.name ===
        'AsyncFunction',
    );
    const connector = open();
    connector.faults.set({ maintenanceUntil: Date.now() + 60_000 });
    const outcomes = await Promise.all(
      portMethods.map((name) =>
        (connector as unknown as Record<string, () => Promise<unknown>>)[name]!().then(
          () => 'ran',
          (error: { code?: string }) => error.code ?? String(error),
        ),
      ),
    );
    expect([portMethods.length, new Set(outcomes)]).toEqual([count, new Set(['SYSTEM_MAINTENANCE'])]);
    expect(connector.isEmpty()).toBe(true);
    connector.close();
  });

  it('reads the switches on every call and runs the method on the connector itself', async () => {
    const faults = new FaultInjector('test');
    const target = {
      calls: 0,
      async read(): Promise<number> {
        this.calls += 1;
        return this.calls;
      },
      helper(): string {
        return 'not on the port';
      },
    };
    const wrapped = withFaults<{ read(): Promise<number> }, typeof target>(target, faults, { read: true });
    expect(await wrapped.read()).toBe(1);
    faults.set({ throttleRate: 1, retryAfterMs: 42 });
    await expect(wrapped.read()).rejects.toMatchObject({ code: 'RATE_LIMITED', details: { retryAfterMs: 42 } });
    expect(wrapped.helper()).toBe('not on the port');
    faults.set({});
    expect(await wrapped.read()).toBe(2);
    expect(target.calls).toBe(2);
  });
});
