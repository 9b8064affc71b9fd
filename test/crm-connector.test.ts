import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { silentLogger } from '../lib/logger';
import { startSubgraph, type RunningSubgraph } from '../lib/subgraph';
import { generateAccounts } from '../seed/generate';
import { SqliteCrmConnector } from '../subgraphs/crm/connector/reference/sqlite-crm-connector';
import { createCrmSubgraph } from '../subgraphs/crm/index';
import { describeCrmConnectorContract } from './contracts/crm-connector.contract';
import { signedGql } from './support/signed';
import { createTestClock } from './support/clock';

/** The secret the CRM subgraph under test shares with its (here: the test's) signed callers. */
const SECRET = 'crm-connector-test-secret';

/**
 * POSTs a GraphQL request over real HTTP, signed as the orchestration's service identity; `locations` are dropped from
 * errors, as they only restate the document's layout.
 */
async function post(url: string, query: string, variables: Record<string, unknown> = {}): Promise<unknown> {
  const { body } = await signedGql(url, SECRET, query, variables);
  for (const error of (body.errors ?? []) as { locations?: unknown }[]) delete error.locations;
  return body;
}

describeCrmConnectorContract('SqliteCrmConnector (file)', async (accounts) => {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-crm-'));
  const connector = new SqliteCrmConnector(join(dir, 'crm.db'));
  connector.seed(generateAccounts(1, accounts + 1).crm);
  return {
    connector,
    close: () => {
      connector.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteCrmConnector', () => {
  it('opens a file from before accounts kept updatedAt, stamping its accounts with the Unix epoch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meridian-crm-old-'));
    const seeded = generateAccounts(1, 3).crm;
    const old = new Database(join(dir, 'crm.db'));
    old.exec(
      'CREATE TABLE accounts (id TEXT PRIMARY KEY, name TEXT NOT NULL, industry TEXT, billing_country TEXT, parent_account_id TEXT REFERENCES accounts(id), owner TEXT, external_id TEXT UNIQUE)',
    );
    const insert = old.prepare(
      'INSERT INTO accounts VALUES (@id, @name, @industry, @billingCountry, @parentAccountId, @owner, @externalId)',
    );
    for (const { updatedAt: _, ...account } of seeded.accounts) insert.run(account);
    old.close();
    const connector = new SqliteCrmConnector(join(dir, 'crm.db'));
    const epoch = '1970-01-01T00:00:00.000Z';
    expect(await connector.listAccountsChangedSince({ since: null, after: null, first: 10 })).toEqual({
      // The master fields came later: none on the file's accounts.
      nodes: seeded.accounts.map((a) => ({
        ...a,
        updatedAt: epoch,
        legalName: null,
        billingAddress: null,
        billingContactId: null,
        paymentTerms: null,
      })),
      hasNextPage: false,
      totalCount: 2,
    });
    connector.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('SqliteCrmConnector faults', () => {
  it('throttles the configured share of calls with a retry-after, then behaves when switched off', async () => {
    const connector = new SqliteCrmConnector(':memory:', { throttleRate: 0.5, retryAfterMs: 250, seed: 7 });
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, () =>
        connector.getAccounts(['ACC-000001']).then(
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
    await expect(connector.getAccounts(['ACC-000001'])).resolves.toEqual([null]);
    connector.close();
  });

  it('refuses every call during a maintenance window with the time left', async () => {
    const clock = createTestClock();
    const connector = new SqliteCrmConnector(':memory:');
    connector.faults.setClock(clock.now);
    connector.faults.set({ maintenanceUntil: clock.now() + 60_000 });
    const error = await connector
      .listAccounts({ first: 1, afterKey: null })
      .catch((e: unknown) => e as { code: string; details: { retryAfterMs: number; system: string } });
    expect(error).toMatchObject({ code: 'SYSTEM_MAINTENANCE', details: { system: 'crm' } });
    expect((error as { details: { retryAfterMs: number } }).details.retryAfterMs).toBe(60_000);
    clock.advanceBy(59_999);
    await expect(connector.listAccounts({ first: 1, afterKey: null })).rejects.toMatchObject({
      code: 'SYSTEM_MAINTENANCE',
      details: { retryAfterMs: 1 },
    });
    clock.advanceBy(1);
    await expect(connector.listAccounts({ first: 1, afterKey: null })).resolves.toMatchObject({ totalCount: 0 });
    connector.close();
  });
});

describe('CRM subgraph: unlinking an opportunity and recording account financials over GraphQL', () => {
  const data = generateAccounts(1, 13).crm;
  let crm: SqliteCrmConnector;
  let subgraph: RunningSubgraph;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meridian-crm-subgraph-'));
    crm = new SqliteCrmConnector(join(dir, 'crm.db'));
    crm.seed(data);
    subgraph = await startSubgraph(createCrmSubgraph({ crm, onClose: () => crm.close() }), {
      port: 0,
      logger: silentLogger(),
      signature: { secret: SECRET },
    });
  });
  afterAll(async () => {
    await subgraph.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("records an account's finance summary once, reports a repeat as unchanged, and refuses bad figures with coded errors", async () => {
    const record = `mutation($input: RecordAccountFinancialsInput!) { recordAccountFinancials(input: $input) {
      account { id finance { invoicedToDate { amount currency } outstanding { amount currency } overdue { amount currency } asOf updatedAt } } changed } }`;
    const input = {
      accountId: 'ACC-000004',
      invoicedToDate: { amount: '1200', currency: 'gbp' },
      outstanding: { amount: '400.5', currency: 'GBP' },
      overdue: { amount: '0', currency: 'GBP' },
      asOf: '2026-11-02T10:00:00Z',
    };
    const first = (await post(subgraph.url, record, { input })) as {
      data: { recordAccountFinancials: { account: { finance: { updatedAt: string } } } };
    };
    const updatedAt = first.data.recordAccountFinancials.account.finance.updatedAt;
    const finance = {
      invoicedToDate: { amount: '1200.00', currency: 'GBP' },
      outstanding: { amount: '400.50', currency: 'GBP' },
      overdue: { amount: '0.00', currency: 'GBP' },
      asOf: '2026-11-02T10:00:00.000Z',
      updatedAt,
    };
    expect(first).toEqual({
      data: { recordAccountFinancials: { account: { id: 'ACC-000004', finance }, changed: true } },
    });
    expect(await post(subgraph.url, record, { input: { ...input, asOf: '2026-11-03T10:00:00Z' } })).toEqual({
      data: { recordAccountFinancials: { account: { id: 'ACC-000004', finance }, changed: false } },
    });
    expect(await post(subgraph.url, 'query { account(id: "ACC-000005") { finance { asOf } } }')).toEqual({
      data: { account: { finance: null } },
    });
    const refused = (message: string, extensions: object) => ({
      data: null,
      errors: [{ message, path: ['recordAccountFinancials'], extensions }],
    });
    expect(
      await post(subgraph.url, record, { input: { ...input, overdue: { amount: '1', currency: 'USD' } } }),
    ).toEqual(
      refused('overdue must be in the currency of invoicedToDate (GBP); got USD', {
        code: 'BAD_USER_INPUT',
        field: 'overdue.currency',
        value: 'USD',
      }),
    );
    expect(await post(subgraph.url, record, { input: { ...input, asOf: '2026-11-02' } })).toEqual(
      refused("asOf must be a UTC timestamp written YYYY-MM-DDTHH:MM:SSZ; got '2026-11-02'", {
        code: 'BAD_USER_INPUT',
        field: 'asOf',
        value: '2026-11-02',
      }),
    );
    expect(await post(subgraph.url, record, { input: { ...input, accountId: 'ACC-999999' } })).toEqual(
      refused("CRM has no account 'ACC-999999' to record financials on", {
        code: 'NOT_FOUND',
        system: 'crm',
        field: 'accountId',
        value: 'ACC-999999',
      }),
    );
  });

  it('lists accounts changed since a time, oldest change first, paging on from a cursor, with their updatedAt', async () => {
    const feed =
      'query($since: String, $after: String) { accountsChangedSince(since: $since, first: 1, after: $after) { nodes { id name updatedAt } pageInfo { endCursor hasNextPage } totalCount } }';
    const upsert =
      'mutation($input: UpsertAccountInput!) { upsertAccount(input: $input) { account { id updatedAt } created } }';
    type Feed = {
      data: {
        accountsChangedSince: {
          nodes: { id: string; name: string; updatedAt: string }[];
          pageInfo: { endCursor: string | null; hasNextPage: boolean };
          totalCount: number;
        };
      };
    };
    const a = (
      (await post(subgraph.url, upsert, { input: { externalId: 'feed-a', name: 'Feed A Ltd' } })) as {
        data: { upsertAccount: { account: { id: string; updatedAt: string } } };
      }
    ).data.upsertAccount.account;
    const b = (
      (await post(subgraph.url, upsert, { input: { externalId: 'feed-b', name: 'Feed B Ltd' } })) as {
        data: { upsertAccount: { account: { id: string; updatedAt: string } } };
      }
    ).data.upsertAccount.account;
    const first = (await post(subgraph.url, feed, { since: a.updatedAt })) as Feed;
    expect(first).toEqual({
      data: {
        accountsChangedSince: {
          nodes: [{ id: a.id, name: 'Feed A Ltd', updatedAt: a.updatedAt }],
          pageInfo: { endCursor: expect.any(String), hasNextPage: true },
          totalCount: 2,
        },
      },
    });
    const after = first.data.accountsChangedSince.pageInfo.endCursor;
    expect(await post(subgraph.url, feed, { since: a.updatedAt, after })).toEqual({
      data: {
        accountsChangedSince: {
          nodes: [{ id: b.id, name: 'Feed B Ltd', updatedAt: b.updatedAt }],
          pageInfo: { endCursor: expect.any(String), hasNextPage: false },
          totalCount: 2,
        },
      },
    });
    // Renaming A moves it after B; reading on from A's old position returns B, then A.
    await post(subgraph.url, upsert, { input: { externalId: 'feed-a', name: 'Feed A Group Ltd' } });
    const rest = 'query($after: String) { accountsChangedSince(first: 10, after: $after) { nodes { id name } } }';
    expect(await post(subgraph.url, rest, { after })).toEqual({
      data: {
        accountsChangedSince: {
          nodes: [
            { id: b.id, name: 'Feed B Ltd' },
            { id: a.id, name: 'Feed A Group Ltd' },
          ],
        },
      },
    });
    expect(await post(subgraph.url, 'query { account(id: "ACC-000001") { updatedAt } }')).toEqual({
      data: { account: { updatedAt: data.accounts[0]!.updatedAt } },
    });
    expect(await post(subgraph.url, feed, { since: 'yesterday' })).toEqual({
      data: null,
      errors: [
        {
          message: "since must be a UTC timestamp written YYYY-MM-DDTHH:MM:SSZ; got 'yesterday'",
          path: ['accountsChangedSince'],
          extensions: { code: 'BAD_USER_INPUT', field: 'since', value: 'yesterday' },
        },
      ],
    });
  });

  it('clears both links, again with the same result, and refuses an unknown opportunity with NOT_FOUND', async () => {
    const linked = data.opportunities.find((o) => o.psaProjectId !== null)!;
    const unlink = 'mutation($id: ID!) { unlinkOpportunity(id: $id) { id stage psaProjectId erpCustomerId } }';
    const unlinked = {
      data: { unlinkOpportunity: { id: linked.id, stage: 'CLOSED_WON', psaProjectId: null, erpCustomerId: null } },
    };
    expect(await post(subgraph.url, unlink, { id: linked.id })).toEqual(unlinked);
    expect(await post(subgraph.url, unlink, { id: linked.id })).toEqual(unlinked);
    expect(await post(subgraph.url, unlink, { id: 'OPP-nope' })).toEqual({
      data: null,
      errors: [
        {
          message: "CRM has no opportunity 'OPP-nope'",
          path: ['unlinkOpportunity'],
          extensions: { code: 'NOT_FOUND', system: 'crm', value: 'OPP-nope' },
        },
      ],
    });
  });
});
