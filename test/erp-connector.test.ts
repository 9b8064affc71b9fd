import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { silentLogger } from '../lib/logger';
import { startSubgraph, type RunningSubgraph } from '../lib/subgraph';
import { generateAccounts } from '../seed/generate';
import { LEGAL_ENTITIES, TAX_JURISDICTIONS } from '../seed/reference-data';
import { SqliteErpConnector } from '../subgraphs/erp/connector/reference/sqlite-erp-connector';
import { createErpSubgraph } from '../subgraphs/erp/index';
import { describeErpConnectorContract } from './contracts/erp-connector.contract';
import { signedGql } from './support/signed';
import { createTestClock } from './support/clock';

/** The secret the test signs its requests to the ERP subgraph with, as the gateway would. */
const SECRET = 'erp-connector-test-secret';

/**
 * POSTs a GraphQL request over real HTTP, signed for the orchestration's service identity; `locations` are dropped from
 * errors, as they only restate the document's layout.
 */
async function post(url: string, query: string, variables: Record<string, unknown> = {}): Promise<unknown> {
  const { body } = await signedGql(url, SECRET, query, variables);
  for (const error of (body.errors ?? []) as { locations?: unknown }[]) delete error.locations;
  return body;
}

describeErpConnectorContract('SqliteErpConnector (file)', async (accounts) => {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-erp-'));
  const connector = new SqliteErpConnector(join(dir, 'erp.db'));
  connector.seedReferenceData({ legalEntities: LEGAL_ENTITIES, taxJurisdictions: TAX_JURISDICTIONS });
  connector.seed(generateAccounts(1, accounts + 1).erp);
  return {
    connector,
    faults: connector.faults,
    close: () => {
      connector.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
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

  it('opens a file from before invoices kept updatedAt, stamping each invoice with its issue date', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meridian-erp-old-'));
    const seeded = generateAccounts(1, 3).erp.invoices;
    const old = new Database(join(dir, 'erp.db'));
    old.exec(`CREATE TABLE invoices (id TEXT PRIMARY KEY, number TEXT NOT NULL UNIQUE, customer_id TEXT NOT NULL, psa_project_id TEXT, status TEXT NOT NULL,
      issue_date TEXT NOT NULL, due_date TEXT NOT NULL, currency TEXT NOT NULL, subtotal_minor INTEGER NOT NULL, tax_minor INTEGER NOT NULL,
      total_minor INTEGER NOT NULL, balance_minor INTEGER NOT NULL, external_id TEXT UNIQUE, request TEXT)`);
    const insert =
      old.prepare(`INSERT INTO invoices VALUES (@id, @number, @customerId, @psaProjectId, @status, @issueDate, @dueDate, @currency, @subtotalMinor,
      @taxMinor, @totalMinor, @balanceMinor, @externalId, NULL)`);
    for (const { updatedAt: _, ...invoice } of seeded) insert.run(invoice);
    old.close();
    const connector = new SqliteErpConnector(join(dir, 'erp.db'));
    const stamped = seeded
      .map((i) => ({ ...i, updatedAt: `${i.issueDate}T00:00:00.000Z` }))
      .sort((a, b) => a.updatedAt.localeCompare(b.updatedAt) || a.id.localeCompare(b.id));
    expect(seeded.length).toBeGreaterThan(0);
    expect(await connector.listInvoicesChangedSince({ since: null, after: null, first: 100 })).toEqual({
      nodes: stamped,
      hasNextPage: false,
      totalCount: seeded.length,
    });
    connector.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('SqliteErpConnector faults', () => {
  it('throttles the configured share of calls with a retry-after, then behaves when switched off', async () => {
    const connector = new SqliteErpConnector(':memory:', { throttleRate: 0.5, retryAfterMs: 250, seed: 7 });
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, () =>
        connector.getInvoices(['INV-000000001']).then(
          () => 'ok',
          (e: { code: string; details: { retryAfterMs: number } }) => `${e.code}:${e.details.retryAfterMs}`,
        ),
      ),
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
    const clock = createTestClock();
    const connector = new SqliteErpConnector(':memory:');
    connector.faults.setClock(clock.now);
    connector.faults.set({ maintenanceUntil: clock.now() + 60_000 });
    const error = await connector
      .postBillingLines([])
      .catch((e: unknown) => e as { code: string; details: { retryAfterMs: number; system: string } });
    expect(error).toMatchObject({ code: 'SYSTEM_MAINTENANCE', details: { system: 'erp' } });
    expect((error as { details: { retryAfterMs: number } }).details.retryAfterMs).toBe(60_000);
    clock.advanceBy(60_000);
    await expect(connector.postBillingLines([])).resolves.toEqual([]);
    connector.close();
  });
});

describe('ERP subgraph: customer by account, customer field updates and compensations over GraphQL', () => {
  const data = generateAccounts(1, 13).erp;
  let erp: SqliteErpConnector;
  let subgraph: RunningSubgraph;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meridian-erp-subgraph-'));
    erp = new SqliteErpConnector(join(dir, 'erp.db'));
    erp.seedReferenceData({ legalEntities: LEGAL_ENTITIES, taxJurisdictions: TAX_JURISDICTIONS });
    erp.seed(data);
    subgraph = await startSubgraph(createErpSubgraph({ erp, onClose: () => erp.close() }), {
      port: 0,
      logger: silentLogger(),
      signature: { secret: SECRET },
    });
  });
  afterAll(async () => {
    await subgraph.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("pages through the invoices' change feed, from the start or from `since`, and refuses a bad `since` or a foreign cursor with coded errors", async () => {
    const feed =
      'query($since: String, $after: String) { invoicesChangedSince(since: $since, first: 20, after: $after) { nodes { id updatedAt } pageInfo { endCursor hasNextPage } totalCount } }';
    type Feed = {
      data: {
        invoicesChangedSince: {
          nodes: { id: string; updatedAt: string }[];
          pageInfo: { endCursor: string | null; hasNextPage: boolean };
          totalCount: number;
        };
      };
    };
    const expected = [...data.invoices]
      .sort((a, b) => a.updatedAt.localeCompare(b.updatedAt) || a.id.localeCompare(b.id))
      .map((i) => ({ id: i.id, updatedAt: i.updatedAt }));
    const seen: { id: string; updatedAt: string }[] = [];
    let after: string | null = null;
    for (;;) {
      const page: Feed['data']['invoicesChangedSince'] = ((await post(subgraph.url, feed, { after })) as Feed).data
        .invoicesChangedSince;
      expect(page.totalCount).toBe(data.invoices.length);
      seen.push(...page.nodes);
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(expected);
    const since = expected[expected.length - 2]!.updatedAt;
    const tail = expected.filter((i) => i.updatedAt >= since);
    expect(await post(subgraph.url, feed, { since: since.replace('.000Z', 'Z') })).toEqual({
      data: {
        invoicesChangedSince: {
          nodes: tail,
          pageInfo: { endCursor: expect.any(String), hasNextPage: false },
          totalCount: tail.length,
        },
      },
    });
    expect(await post(subgraph.url, feed, { since: '2026-11-02' })).toEqual({
      data: null,
      errors: [
        {
          message: "since must be a UTC timestamp written YYYY-MM-DDTHH:MM:SSZ; got '2026-11-02'",
          path: ['invoicesChangedSince'],
          extensions: { code: 'BAD_USER_INPUT', field: 'since', value: '2026-11-02' },
        },
      ],
    });
    const listCursor = (
      (await post(subgraph.url, 'query { invoices(first: 1) { pageInfo { endCursor } } }')) as {
        data: { invoices: { pageInfo: { endCursor: string } } };
      }
    ).data.invoices.pageInfo.endCursor;
    expect(await post(subgraph.url, feed, { after: listCursor })).toEqual({
      data: null,
      errors: [
        {
          message: `The cursor '${listCursor}' does not belong to invoicesChangedSince; start again without 'after'.`,
          path: ['invoicesChangedSince'],
          extensions: { code: 'INVALID_CURSOR', field: 'after', value: listCursor },
        },
      ],
    });
  });

  it('finds the customer of a CRM account, and null for an account without one', async () => {
    const customer = data.customers.find((c) => c.externalCrmId === 'ACC-000002')!;
    const query =
      'query($a: ID!, $b: ID!) { a: customerByAccount(accountId: $a) { id customerNumber externalCrmId legalEntity { code } } b: customerByAccount(accountId: $b) { id } }';
    expect(await post(subgraph.url, query, { a: 'ACC-000002', b: 'ACC-000003' })).toEqual({
      data: {
        a: {
          id: customer.id,
          customerNumber: customer.customerNumber,
          externalCrmId: 'ACC-000002',
          legalEntity: { code: customer.legalEntityCode },
        },
        b: null,
      },
    });
  });

  it('changes only the fields given, reports a repeat as unchanged, and refuses an out-of-date expected value with INVALID_STATE', async () => {
    const customer = data.customers.find((c) => c.id === 'CUS-000005')!;
    const update = `mutation($input: UpdateCustomerFieldsInput!) { updateCustomerFields(input: $input) {
      customer { id name legalEntity { code } taxJurisdiction { code } paymentTerms currency externalCrmId } changed } }`;
    const renamed = {
      id: customer.id,
      name: 'Renamed Group plc',
      legalEntity: { code: customer.legalEntityCode },
      taxJurisdiction: { code: customer.taxJurisdictionCode },
      paymentTerms: customer.paymentTerms,
      currency: customer.currency,
      externalCrmId: customer.externalCrmId,
    };
    const input = { id: customer.id, name: 'Renamed Group plc', expected: { name: customer.name } };
    expect(await post(subgraph.url, update, { input })).toEqual({
      data: { updateCustomerFields: { customer: renamed, changed: true } },
    });
    expect(await post(subgraph.url, update, { input })).toEqual({
      data: { updateCustomerFields: { customer: renamed, changed: false } },
    });
    expect(await post(subgraph.url, update, { input: { ...input, name: 'Third Name plc' } })).toEqual({
      data: null,
      errors: [
        {
          message: `Customer ${customer.id} (${customer.customerNumber}) is named 'Renamed Group plc', not '${customer.name}' as expected: it changed since it was read`,
          path: ['updateCustomerFields'],
          extensions: { code: 'INVALID_STATE', system: 'erp', field: 'name', value: 'Renamed Group plc' },
        },
      ],
    });
  });

  it('deletes dimensions and then the customer once each, answers deleted: false after, and refuses a customer with invoices', async () => {
    const { record } = await erp.upsertCustomer({
      externalCrmId: 'ACC-000003',
      name: 'Summit Retail Ltd',
      legalEntityCode: 'MERIDIAN-UK',
      taxJurisdictionCode: 'GB',
      paymentTerms: 'NET_30',
      currency: 'GBP',
    });
    await erp.upsertProjectDimensions({
      psaProjectId: 'PRJ-0000031',
      customerId: record.id,
      projectCode: 'ERP-0000031',
      billingSchedule: 'ON_MILESTONE',
      revenueTreatment: 'PERCENT_COMPLETE',
    });
    const compensate =
      'mutation($project: ID!, $customer: ID!) { deleteProjectDimensions(projectId: $project) { id deleted } deleteCustomer(id: $customer) { id deleted } }';
    expect(await post(subgraph.url, compensate, { project: 'PRJ-0000031', customer: record.id })).toEqual({
      data: {
        deleteProjectDimensions: { id: 'PRJ-0000031', deleted: true },
        deleteCustomer: { id: record.id, deleted: true },
      },
    });
    expect(await post(subgraph.url, compensate, { project: 'PRJ-0000031', customer: record.id })).toEqual({
      data: {
        deleteProjectDimensions: { id: 'PRJ-0000031', deleted: false },
        deleteCustomer: { id: record.id, deleted: false },
      },
    });
    // A customer with invoices and projects but no billing lines (its projects are billed by milestone or retainer).
    const invoiced = data.customers.find((c) => c.id === 'CUS-000008')!;
    const projects = data.projectDimensions.filter((d) => d.customerId === invoiced.id).map((d) => d.psaProjectId);
    const invoices = data.invoices.filter((i) => i.customerId === invoiced.id).length;
    expect(data.billingLines.filter((l) => projects.includes(l.psaProjectId))).toEqual([]);
    expect(
      await post(subgraph.url, 'mutation($id: ID!) { deleteCustomer(id: $id) { deleted } }', { id: invoiced.id }),
    ).toEqual({
      data: null,
      errors: [
        {
          message: `Customer CUS-000008 (C100008, ${invoiced.name}) has ${invoices} invoices and ${projects.length} projects; only a customer with no invoices, billing lines, projects or child customers can be deleted`,
          path: ['deleteCustomer'],
          extensions: { code: 'INVALID_STATE', system: 'erp', field: 'id', value: 'CUS-000008' },
        },
      ],
    });
  });
});
