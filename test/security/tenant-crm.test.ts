import { encodeIdentity, identityOf, IDENTITY_HEADER, ORCHESTRATION_SERVICE } from '../../lib/auth/identity';
import { signRequest } from '../../lib/auth/signing';
import { silentLogger } from '../../lib/logger';
import { startSubgraph, type RunningSubgraph } from '../../lib/subgraph';
import { generateAccounts } from '../../seed/generate';
import { SqliteCrmConnector } from '../../subgraphs/crm/connector/reference/sqlite-crm-connector';
import type { CrmConnector } from '../../subgraphs/crm/connector/crm-connector';
import type { CrmContext } from '../../subgraphs/crm/context';
import { createCrmSubgraph } from '../../subgraphs/crm/index';
import { createLoaders } from '../../subgraphs/crm/loaders';
import { Account } from '../../subgraphs/crm/resolvers/Account';
import { Mutation } from '../../subgraphs/crm/resolvers/Mutation';
import { Query } from '../../subgraphs/crm/resolvers/Query';
import { signedGql } from '../support/signed';

const SECRET = 'tenant-crm-test-secret';
/** 40 seeded accounts, ACC-000001 … ACC-000040; the portal user owns two of them. */
const data = generateAccounts(1, 41).crm;
const OWN = ['ACC-000007', 'ACC-000023'] as const;
const portal = identityOf('portal-user-1', 'portal', [], [...OWN]);
const analyst = identityOf('analyst-1', 'bi', [], null);
const piiAnalyst = identityOf('analyst-2', 'bi', ['read:pii'], null);

const foreign = data.accounts.map((a) => a.id).filter((id) => !(OWN as readonly string[]).includes(id));
/**
 * 1,000 IDs the portal user must not see: every foreign account (repeated) and IDs no account has, in the same
 * shapes (a higher number, other case, padding, another system's prefix, an own ID with a suffix).
 */
const PROBES: string[] = Array.from({ length: 1000 }, (_, i) => {
  if (i % 2 === 0) return foreign[(i / 2) % foreign.length]!;
  const n = 41 + i;
  return [
    `ACC-${String(900_000 + n).padStart(6, '0')}`,
    `acc-${String(n).padStart(6, '0')}`,
    ` ${foreign[0]}`,
    `PRJ-${String(n).padStart(6, '0')}`,
    `${OWN[0]}x`,
  ][i % 5]!;
});
const own = (id: string) => {
  const a = data.accounts.find((x) => x.id === id)!;
  return { id: a.id, name: a.name };
};

/** The CRM subgraph over a fresh in-memory store seeded with {@link data}, trusting {@link SECRET}. */
async function startSeededCrm(): Promise<{ crm: SqliteCrmConnector; subgraph: RunningSubgraph }> {
  const crm = new SqliteCrmConnector(':memory:');
  crm.seed(data);
  return {
    crm,
    subgraph: await startSubgraph(createCrmSubgraph({ crm, onClose: () => crm.close() }), {
      port: 0,
      logger: silentLogger(),
      signature: { secret: SECRET },
    }),
  };
}

describe('CRM subgraph: tenant isolation for a portal user', () => {
  let subgraph: RunningSubgraph;
  beforeAll(async () => {
    ({ subgraph } = await startSeededCrm());
  });
  afterAll(() => subgraph.close());

  const asPortal = (query: string, variables?: Record<string, unknown>) =>
    signedGql(subgraph.url, SECRET, query, variables, portal);

  it('answers account(id) with null for each of 1,000 foreign and unknown IDs, batched with its own accounts', async () => {
    for (let start = 0; start < PROBES.length; start += 100) {
      // Its own accounts ride in every batch, so foreign IDs share a loader batch with visible ones.
      const ids = [...PROBES.slice(start, start + 100), ...OWN];
      const query = `query(${ids.map((_, i) => `$i${i}: ID!`).join(', ')}) { ${ids.map((_, i) => `a${i}: account(id: $i${i}) { id name }`).join(' ')} }`;
      const response = await asPortal(query, Object.fromEntries(ids.map((id, i) => [`i${i}`, id])));
      expect(response.status).toBe(200);
      expect(response.body).toEqual({
        data: Object.fromEntries(
          ids.map((id, i) => [`a${i}`, (OWN as readonly string[]).includes(id) ? own(id) : null]),
        ),
      });
    }
  });

  it('lists none of 1,000 foreign and unknown IDs through accounts(filter: { ids }), counting only its own', async () => {
    const query =
      'query($ids: [ID!]) { accounts(first: 1000, filter: { ids: $ids }) { nodes { id name } pageInfo { endCursor hasNextPage } totalCount } }';
    expect((await asPortal(query, { ids: PROBES })).body).toEqual({
      data: { accounts: { nodes: [], pageInfo: { endCursor: null, hasNextPage: false }, totalCount: 0 } },
    });
    const mixed = await asPortal(query, { ids: [...PROBES, OWN[1]] });
    expect(mixed.body).toEqual({
      data: {
        accounts: {
          nodes: [own(OWN[1])],
          pageInfo: { endCursor: expect.any(String), hasNextPage: false },
          totalCount: 1,
        },
      },
    });
  });

  it('resolves none of 1,000 foreign and unknown IDs as Account entities (_entities), and its own ones', async () => {
    const query = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Account { id name } } }';
    const representations = [...PROBES, ...OWN].map((id) => ({ __typename: 'Account', id }));
    expect((await asPortal(query, { r: representations })).body).toEqual({
      data: { _entities: [...PROBES.map(() => null), ...OWN.map(own)] },
    });
  });

  it('answers a foreign account exactly as an account that does not exist, on every path', async () => {
    const queries: [string, (id: string) => Record<string, unknown>][] = [
      ['query($id: ID!) { account(id: $id) { id name industry billingCountry } }', (id) => ({ id })],
      [
        'query($ids: [ID!]) { accounts(filter: { ids: $ids }) { nodes { id } pageInfo { endCursor hasNextPage } totalCount } }',
        (id) => ({ ids: [id] }),
      ],
      [
        'query($r: [_Any!]!) { _entities(representations: $r) { ... on Account { id name } } }',
        (id) => ({ r: [{ __typename: 'Account', id }] }),
      ],
    ];
    for (const [query, variables] of queries) {
      const existing = await asPortal(query, variables('ACC-000008'));
      const missing = await asPortal(query, variables('ACC-999999'));
      expect(existing.status).toBe(missing.status);
      expect(JSON.stringify(existing.body)).toBe(JSON.stringify(missing.body));
    }
    // The same foreign account is there for the firm's own staff.
    expect(
      (await signedGql(subgraph.url, SECRET, 'query { account(id: "ACC-000008") { id name } }', undefined, analyst))
        .body,
    ).toEqual({ data: { account: own('ACC-000008') } });
  });

  it('returns its own accounts, and only those, from account(id) and an unfiltered accounts list', async () => {
    const account = data.accounts.find((a) => a.id === OWN[0])!;
    expect(
      (await asPortal('query($id: ID!) { account(id: $id) { id name industry billingCountry } }', { id: OWN[0] })).body,
    ).toEqual({
      data: {
        account: {
          id: account.id,
          name: account.name,
          industry: account.industry,
          billingCountry: account.billingCountry,
        },
      },
    });
    const first = await asPortal(
      '{ accounts(first: 1) { nodes { id name } pageInfo { endCursor hasNextPage } totalCount } }',
    );
    expect(first.body).toEqual({
      data: {
        accounts: {
          nodes: [own(OWN[0])],
          pageInfo: { endCursor: expect.any(String), hasNextPage: true },
          totalCount: 2,
        },
      },
    });
    const after = (first.body.data as { accounts: { pageInfo: { endCursor: string } } }).accounts.pageInfo.endCursor;
    expect(
      (
        await asPortal(
          'query($after: String) { accounts(first: 10, after: $after) { nodes { id name } pageInfo { hasNextPage } totalCount } }',
          { after },
        )
      ).body,
    ).toEqual({
      data: { accounts: { nodes: [own(OWN[1])], pageInfo: { hasNextPage: false }, totalCount: 2 } },
    });
    // Other filters narrow within its own accounts, never beyond them.
    const country = account.billingCountry;
    expect(data.accounts.filter((a) => a.billingCountry === country).length).toBeGreaterThan(2);
    const mine = data.accounts
      .filter((a) => (OWN as readonly string[]).includes(a.id) && a.billingCountry === country)
      .map((a) => ({ id: a.id }));
    expect(
      (
        await asPortal('query($c: String) { accounts(filter: { billingCountry: $c }) { nodes { id } totalCount } }', {
          c: country,
        })
      ).body,
    ).toEqual({
      data: { accounts: { nodes: mine, totalCount: mine.length } },
    });
  });
});

describe('CRM subgraph: scopes', () => {
  let subgraph: RunningSubgraph;
  beforeAll(async () => {
    ({ subgraph } = await startSeededCrm());
  });
  afterAll(() => subgraph.close());

  const contacts = data.contacts.filter((c) => c.accountId === OWN[0]);

  it("refuses a portal user opportunities, the change feed, its own account's contacts and opportunity entities with FORBIDDEN", async () => {
    const refusals: [string, (string | number)[], string][] = [
      ['{ opportunities { nodes { id } } }', ['opportunities'], 'Query.opportunities needs read:business'],
      [
        `{ opportunity(id: "${data.opportunities[0]!.id}") { id } }`,
        ['opportunity'],
        'Query.opportunity needs read:business',
      ],
      [
        '{ accountsChangedSince { nodes { id } } }',
        ['accountsChangedSince'],
        'Query.accountsChangedSince needs read:business',
      ],
      [
        `{ account(id: "${OWN[0]}") { id contacts { id } } }`,
        ['account', 'contacts'],
        'Account.contacts needs read:business',
      ],
      [
        `{ account(id: "${OWN[0]}") { opportunities { id } } }`,
        ['account', 'opportunities'],
        'Account.opportunities needs read:business',
      ],
      [
        `{ _entities(representations: [{ __typename: "Opportunity", id: "${data.opportunities[0]!.id}" }]) { ... on Opportunity { id } } }`,
        ['_entities'],
        'Type Opportunity needs read:business',
      ],
    ];
    for (const [query, path, needs] of refusals) {
      const response = await signedGql(subgraph.url, SECRET, query, undefined, portal);
      expect(response.status).toBe(403);
      // The field's and its type's requirements may both be named (`read:business, and read:business`).
      const message = expect.stringMatching(
        new RegExp(
          `^${needs.replace(/\./g, '\\.')}(, and read:business)?, which the portal token of portal-user-1 does not have$`,
        ),
      );
      expect(response.body).toEqual({ errors: [{ message, path, extensions: { code: 'FORBIDDEN' } }] });
    }
  });

  it('refuses Contact.email to a bi user without read:pii, and serves it with read:pii', async () => {
    const query = 'query($id: ID!) { account(id: $id) { contacts { id email } } }';
    const refused = await signedGql(subgraph.url, SECRET, query, { id: OWN[0] }, analyst);
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({
      errors: [
        {
          message: 'Contact.email needs read:pii, which the bi token of analyst-1 does not have',
          path: ['account', 'contacts', 'email'],
          extensions: { code: 'FORBIDDEN' },
        },
      ],
    });
    expect((await signedGql(subgraph.url, SECRET, query, { id: OWN[0] }, piiAnalyst)).body).toEqual({
      data: { account: { contacts: contacts.map((c) => ({ id: c.id, email: c.email })) } },
    });
    expect(contacts.length).toBeGreaterThan(0);
  });
});

describe('CRM subgraph: signed requests only', () => {
  let subgraph: RunningSubgraph;
  beforeAll(async () => {
    ({ subgraph } = await startSeededCrm());
  });
  afterAll(() => subgraph.close());

  const query = `{ account(id: "${OWN[0]}") { id name } }`;
  const refused = (message: string) => ({
    status: 401,
    body: { errors: [{ message, extensions: { code: 'UNAUTHENTICATED' } }] },
  });
  const raw = async (headers: Record<string, string>, body = JSON.stringify({ query })) => {
    const response = await fetch(subgraph.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
    return { status: response.status, body: (await response.json()) as unknown };
  };

  it('answers a request signed with the secret', async () => {
    expect((await signedGql(subgraph.url, SECRET, query, undefined, portal)).body).toEqual({
      data: { account: own(OWN[0]) },
    });
  });

  it('refuses an unsigned request with 401 UNAUTHENTICATED', async () => {
    expect(await raw({})).toEqual(refused('Subgraphs accept only requests signed by the gateway'));
    expect(await raw({ [IDENTITY_HEADER]: encodeIdentity(ORCHESTRATION_SERVICE) })).toEqual(
      refused('Subgraphs accept only requests signed by the gateway'),
    );
  });

  it('refuses a request signed with another secret with 401 UNAUTHENTICATED', async () => {
    const { status, body } = await signedGql(subgraph.url, 'not-the-secret', query, undefined, portal);
    expect({ status, body }).toEqual(refused('The request signature does not match'));
  });

  it('refuses a signature ten minutes old with 401 UNAUTHENTICATED', async () => {
    const { status, body } = await signedGql(subgraph.url, SECRET, query, undefined, portal, Date.now() - 10 * 60_000);
    expect({ status, body }).toEqual(refused('The request signature is stale'));
  });

  it('refuses a signed request whose identity or body was swapped with 401 UNAUTHENTICATED', async () => {
    const body = JSON.stringify({ query });
    const signed = signRequest(SECRET, body, portal);
    expect(await raw({ ...signed, [IDENTITY_HEADER]: encodeIdentity(ORCHESTRATION_SERVICE) }, body)).toEqual(
      refused('The request signature does not match'),
    );
    expect(await raw(signed, JSON.stringify({ query: '{ accounts { totalCount } }' }))).toEqual(
      refused('The request signature does not match'),
    );
  });
});

/** Wraps a real connector so every call's first argument (the IDs it was asked for) is recorded, then delegates unchanged. */
function recordingArguments(target: CrmConnector, calls: [string, unknown][]): CrmConnector {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver) as unknown;
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (...args: unknown[]) => {
        calls.push([prop, args[0]]);
        return (value as (...a: unknown[]) => unknown).apply(obj, args);
      };
    },
  });
}

// The scopes in the schema refuse these paths to a portal user before any resolver runs; these tests call the
// loaders and resolvers directly, to show they would not leak a foreign record should a rule ever be dropped.
describe('CRM loaders and resolvers behind the scopes', () => {
  let store: SqliteCrmConnector;
  let calls: [string, unknown][];
  let crm: CrmConnector;
  beforeAll(() => {
    store = new SqliteCrmConnector(':memory:');
    store.seed(data);
  });
  afterAll(() => store.close());
  beforeEach(() => {
    calls = [];
    crm = recordingArguments(store, calls);
  });
  const contextOf = (identity: CrmContext['identity']): CrmContext => ({
    requestId: 'test',
    identity,
    crm,
    loaders: createLoaders(crm, identity),
    now: Date.now,
  });
  const foreignOpportunity = data.opportunities.find((o) => o.accountId === 'ACC-000008')!;
  const ownOpportunity = data.opportunities.find((o) => o.accountId === OWN[0])!;

  it('loads foreign accounts as null without asking the store for them, and their contacts, opportunities and finance as empty', async () => {
    const { loaders } = contextOf(portal);
    expect(await loaders.account.loadMany([OWN[0], 'ACC-000008', 'ACC-999999'])).toEqual([
      data.accounts.find((a) => a.id === OWN[0]),
      null,
      null,
    ]);
    expect(await loaders.contactsByAccount.loadMany(['ACC-000008', OWN[0]])).toEqual([
      [],
      data.contacts.filter((c) => c.accountId === OWN[0]),
    ]);
    expect(await loaders.opportunitiesByAccount.load('ACC-000008')).toEqual([]);
    expect(await loaders.finance.load('ACC-000008')).toBeNull();
    expect(calls).toEqual([
      ['getAccounts', [OWN[0]]],
      ['getContactsByAccount', [OWN[0]]],
    ]);
    expect(await loaders.opportunity.loadMany([foreignOpportunity.id, ownOpportunity.id, 'OPP-999999'])).toEqual([
      null,
      ownOpportunity,
      null,
    ]);
  });

  it("loads every account for the firm's roles, and none for an anonymous caller", async () => {
    expect(await contextOf(analyst).loaders.account.loadMany([OWN[0], 'ACC-000008'])).toEqual([
      data.accounts.find((a) => a.id === OWN[0]),
      data.accounts.find((a) => a.id === 'ACC-000008'),
    ]);
    expect(await contextOf(null).loaders.account.loadMany([OWN[0], 'ACC-000008'])).toEqual([null, null]);
  });

  it('answers a foreign parent account as null', async () => {
    // ACC-000010 belongs to the group of ACC-000009.
    const child = data.accounts.find((a) => a.id === 'ACC-000010')!;
    expect(child.parentAccountId).toBe('ACC-000009');
    const scoped = identityOf('portal-user-2', 'portal', [], ['ACC-000010']);
    expect(await Account.parentAccount(child, {}, contextOf(scoped))).toBeNull();
    expect(await Account.parentAccount(child, {}, contextOf(analyst))).toEqual(
      data.accounts.find((a) => a.id === 'ACC-000009'),
    );
  });

  it('lists only the opportunities of its own accounts, counting only those', async () => {
    const theirs = data.opportunities
      .filter((o) => (OWN as readonly string[]).includes(o.accountId))
      .map((o) => o.id)
      .sort();
    const page = await Query.opportunities(undefined, { first: 1000 }, contextOf(portal));
    expect({ ids: page.nodes.map((o) => o.id), totalCount: page.totalCount }).toEqual({
      ids: theirs,
      totalCount: theirs.length,
    });
    const filtered = await Query.opportunities(undefined, { filter: { accountId: 'ACC-000008' } }, contextOf(portal));
    expect({ nodes: filtered.nodes, totalCount: filtered.totalCount }).toEqual({ nodes: [], totalCount: 0 });
  });

  it('refuses the change feed and every command to a portal user with FORBIDDEN', async () => {
    const ctx = contextOf(portal);
    const forbidden = (field: string) =>
      expect.objectContaining({
        message: `${field} is not available to a caller scoped to a client's accounts`,
        extensions: { code: 'FORBIDDEN' },
      });
    await expect(Query.accountsChangedSince(undefined, {}, ctx)).rejects.toEqual(forbidden('accountsChangedSince'));
    await expect(
      Mutation.upsertAccount(undefined, { input: { externalId: 'portal-1', name: 'Mine Ltd' } }, ctx),
    ).rejects.toEqual(forbidden('upsertAccount'));
    await expect(Mutation.unlinkOpportunity(undefined, { id: foreignOpportunity.id }, ctx)).rejects.toEqual(
      forbidden('unlinkOpportunity'),
    );
    expect(calls).toEqual([]);
  });
});
