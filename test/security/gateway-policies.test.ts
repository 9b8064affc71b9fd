import { createRateLimiter } from '../../gateway/plugins/rate-limit';
import { loadTrustedDocuments, sha256Hex, type TrustedDocuments } from '../../gateway/plugins/trusted-documents';
import { authHeader, gql, startTestStack, tokenFor } from '../support/stack';
import { subscribe, wsClient } from '../support/ws-client';

/**
 * The gateway's policies end to end, through the real gateway and subgraphs: a portal user on trusted documents only
 * and seeing only its own account, automatic persisted queries for BI, rate limits per token, production mode.
 */
let OWN = '';
const manifest: TrustedDocuments = loadTrustedDocuments();
const doc = (name: string) => manifest.operations.find((o) => o.name === name)!;
const persisted = (hash: string) => ({ persistedQuery: { version: 1, sha256Hash: hash } });

async function post(url: string, body: unknown, headers: Record<string, string>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as {
      data?: any;
      errors?: { message: string; path?: unknown[]; extensions?: Record<string, unknown> }[];
    },
  };
}

describe('portal users, through the gateway', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  let portal: Record<string, string>;
  beforeAll(async () => {
    stack = await startTestStack({ worker: false, relay: false });
    // The portal user's account: the first with projects (as the service sees them).
    const all = await gql(stack.gatewayUrl, '{ projects(first: 1000) { nodes { account { id } } } }');
    OWN = all.body.data.projects.nodes[0].account.id;
    portal = await authHeader('portal', { accounts: [OWN] });
  });
  afterAll(() => stack.stop());

  it('runs a trusted document sent by hash alone, or by its exact text, and sees only its own account', async () => {
    const byHash = await post(
      stack.gatewayUrl,
      { extensions: persisted(doc('PortalProjects').id), variables: { first: 100 } },
      portal,
    );
    expect(byHash.status).toBe(200);
    expect(byHash.body.errors).toBeUndefined();
    const { totalCount, nodes } = byHash.body.data.projects;
    expect(totalCount).toBe(nodes.length);
    expect(nodes.length).toBeGreaterThan(0);
    // Every project it sees is its own account's, as the service sees them.
    const all = await gql(stack.gatewayUrl, '{ projects(first: 1000) { nodes { id account { id } } } }');
    const own = all.body.data.projects.nodes.filter((p: any) => p.account.id === OWN).map((p: any) => p.id);
    expect(nodes.map((p: any) => p.id).sort()).toEqual(own.sort());
    const byText = await post(
      stack.gatewayUrl,
      { query: doc('PortalProjects').body, variables: { first: 100 } },
      portal,
    );
    expect(byText.body).toEqual(byHash.body);
  });

  it('answers a GET naming a trusted document by its hash alone the first time, with no POST before it', async () => {
    const get = async (headers: Record<string, string>) => {
      const params = new URLSearchParams({
        extensions: JSON.stringify(persisted(doc('PortalAccounts').id)),
        variables: JSON.stringify({ first: 5 }),
      });
      const response = await fetch(`${stack.gatewayUrl}?${params.toString()}`, {
        headers: { 'apollo-require-preflight': 'true', ...headers },
      });
      return { status: response.status, body: (await response.json()) as any };
    };
    const first = await get(portal);
    expect([first.status, first.body.errors, first.body.data.accounts.nodes.map((a: any) => a.id)]).toEqual([
      200,
      undefined,
      [OWN],
    ]);
    // Any caller may name a manifest document by hash: its text is known, whoever asks first.
    const bi = await get(await authHeader('bi'));
    expect([bi.status, bi.body.errors, bi.body.data.accounts.totalCount]).toEqual([200, undefined, 12]);
  });

  it('gets a foreign project exactly as an unknown one: null', async () => {
    const all = await gql(stack.gatewayUrl, '{ projects(first: 1000) { nodes { id account { id } } } }');
    const foreign = all.body.data.projects.nodes.find((p: any) => p.account.id !== OWN).id;
    const ask = (id: string) =>
      post(stack.gatewayUrl, { extensions: persisted(doc('PortalProject').id), variables: { id } }, portal);
    const [a, b] = await Promise.all([ask(foreign), ask('PRJ-999999')]);
    expect(a.body).toEqual({ data: { project: null } });
    expect(b.body).toEqual(a.body);
  });

  it('is refused anything outside the manifest with PERSISTED_QUERY_NOT_IN_LIST, over HTTP and graphql-ws', async () => {
    const freeText = await post(stack.gatewayUrl, { query: '{ accounts { nodes { id } } }' }, portal);
    expect(freeText.status).toBe(400);
    expect(freeText.body).toEqual({
      errors: [{ message: expect.any(String), extensions: { code: 'PERSISTED_QUERY_NOT_IN_LIST' } }],
    });
    const reformatted = await post(stack.gatewayUrl, { query: `${doc('PortalProjects').body} ` }, portal);
    expect(reformatted.body.errors?.[0]?.extensions).toEqual({ code: 'PERSISTED_QUERY_NOT_IN_LIST' });
    const unknownHash = await post(stack.gatewayUrl, { extensions: persisted(sha256Hex('{ __typename }')) }, portal);
    expect(unknownHash.body.errors?.[0]?.extensions).toEqual({ code: 'PERSISTED_QUERY_NOT_IN_LIST' });
    const client = wsClient(stack.gateway.wsUrl, `Bearer ${await tokenFor('portal', { accounts: [OWN] })}`);
    try {
      const refused = subscribe(client, '{ accounts { nodes { id } } }');
      await expect(refused.done).rejects.toEqual([
        expect.objectContaining({ extensions: { code: 'PERSISTED_QUERY_NOT_IN_LIST' } }),
      ]);
      const trusted = subscribe(client, doc('PortalAccounts').body);
      await trusted.done;
      expect(trusted.results).toEqual([{ data: { accounts: expect.objectContaining({ totalCount: 1 }) } }]);
    } finally {
      await client.dispose();
    }
  });
});

describe('automatic persisted queries for BI clients', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack({ worker: false, relay: false });
  });
  afterAll(() => stack.stop());

  it('asks for the text of an unknown hash once, then serves the hash alone', async () => {
    const bi = await authHeader('bi');
    const query = '{ accounts(first: 2) { nodes { id name } } }';
    const hash = sha256Hex(query);
    const first = await post(stack.gatewayUrl, { extensions: persisted(hash) }, bi);
    expect(first.body).toEqual({
      errors: [{ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }],
    });
    const registered = await post(stack.gatewayUrl, { query, extensions: persisted(hash) }, bi);
    expect(registered.body).toEqual({ data: { accounts: { nodes: [expect.any(Object), expect.any(Object)] } } });
    const again = await post(stack.gatewayUrl, { extensions: persisted(hash) }, bi);
    expect(again.body).toEqual(registered.body);
  });
});

describe('access decisions, through the gateway', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack({ worker: false, relay: false });
  });
  afterAll(() => stack.stop());

  it('decides each caller anew on the same document: a scope set allowed once does not let another one in', async () => {
    // One text for every caller, so the gateway sees one cached document; only read:pii may read contact emails.
    const query = '{ accounts(first: 1) { nodes { contacts { email } } } }';
    const withPii = await authHeader('bi', { scopes: ['read:pii'], subject: 'bi-with-pii' });
    const withoutPii = await authHeader('bi', { subject: 'bi-without-pii' });
    const allowed = { data: { accounts: { nodes: [{ contacts: expect.any(Array) }] } } };
    const forbidden = {
      errors: [
        {
          message: expect.stringContaining('read:pii'),
          path: ['accounts', 'nodes', 'contacts', 'email'],
          extensions: { code: 'FORBIDDEN' },
        },
      ],
    };
    expect((await post(stack.gatewayUrl, { query }, withPii)).body).toEqual(allowed);
    const refused = await post(stack.gatewayUrl, { query }, withoutPii);
    expect({ status: refused.status, body: refused.body }).toEqual({ status: 403, body: forbidden });
    // The refusal names this caller, not whoever was refused or allowed before.
    expect(refused.body.errors?.[0]?.message).toContain('bi-without-pii');
    expect((await post(stack.gatewayUrl, { query }, { authorization: '' })).body).toEqual({
      errors: [expect.objectContaining({ extensions: { code: 'UNAUTHENTICATED' } })],
    });
    expect((await post(stack.gatewayUrl, { query }, withPii)).body).toEqual(allowed);
    expect((await post(stack.gatewayUrl, { query }, withoutPii)).body).toEqual(forbidden);
  });
});

describe('rate limits per token subject', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack({
      worker: false,
      relay: false,
      rateLimiter: createRateLimiter({ points: 3, durationMs: 60_000 }),
    });
  });
  afterAll(() => stack.stop());

  it('refuses the request past the budget with 429, Retry-After and RATE_LIMITED, counting each subject apart', async () => {
    const first = await authHeader('bi', { subject: 'bi-first' });
    for (let i = 0; i < 3; i++)
      expect((await gql(stack.gatewayUrl, '{ __typename }', undefined, first)).status).toBe(200);
    const over = await gql(stack.gatewayUrl, '{ __typename }', undefined, first);
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(over.body).toEqual({
      errors: [{ message: expect.any(String), extensions: { code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) } }],
    });
    // Another subject has its own budget; graphql-ws subscribes count against the same one as HTTP.
    const second = await tokenFor('bi', { subject: 'bi-second' });
    expect(
      (await gql(stack.gatewayUrl, '{ __typename }', undefined, { authorization: `Bearer ${second}` })).status,
    ).toBe(200);
    const client = wsClient(stack.gateway.wsUrl, `Bearer ${second}`);
    try {
      await subscribe(client, '{ __typename }').done;
      await subscribe(client, '{ __typename }').done;
      const refused = subscribe(client, '{ __typename }');
      await expect(refused.done).rejects.toEqual([
        expect.objectContaining({ extensions: { code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) } }),
      ]);
    } finally {
      await client.dispose();
    }
  });
});

describe('HTTP hardening', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack({ worker: false, relay: false });
  });
  afterAll(() => stack.stop());

  it('keeps CSRF prevention on and refuses batched requests, with BAD_REQUEST', async () => {
    const bi = await authHeader('bi');
    const csrf = {
      status: 400,
      body: {
        errors: [
          { message: expect.stringContaining('Cross-Site Request Forgery'), extensions: { code: 'BAD_REQUEST' } },
        ],
      },
    };
    const get = await fetch(`${stack.gatewayUrl}?query=${encodeURIComponent('{ __typename }')}`, { headers: bi });
    expect({ status: get.status, body: await get.json() }).toEqual(csrf);
    const plain = await fetch(stack.gatewayUrl, {
      method: 'POST',
      headers: { ...bi, 'content-type': 'text/plain' },
      body: '{"query":"{ __typename }"}',
    });
    expect({ status: plain.status, body: await plain.json() }).toEqual(csrf);
    const batch = await post(stack.gatewayUrl, [{ query: '{ __typename }' }, { query: '{ __typename }' }], bi);
    expect({ status: batch.status, body: batch.body }).toEqual({
      status: 400,
      body: {
        errors: [
          {
            message: 'Batched requests are not accepted; send one operation per request',
            extensions: { code: 'BAD_REQUEST' },
          },
        ],
      },
    });
  });
});

describe('production mode', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack({ worker: false, relay: false, production: true });
  });
  afterAll(() => stack.stop());

  it('refuses introspection and masks field suggestions, over HTTP and graphql-ws', async () => {
    const introspection = await gql(stack.gatewayUrl, '{ __schema { types { name } } }');
    expect(introspection.body.errors?.[0]?.extensions).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED' });
    expect(introspection.body.errors?.[0]?.message).toContain('introspection');
    const typo = await gql(stack.gatewayUrl, '{ acounts { totalCount } }');
    expect(typo.body).toEqual({
      errors: [
        {
          message: 'Cannot query field "acounts" on type "Query".',
          locations: [{ line: 1, column: 3 }],
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
        },
      ],
    });
    const client = wsClient(stack.gateway.wsUrl);
    try {
      const sub = subscribe(client, 'subscription { syncRunsUpdatd { id } }');
      await expect(sub.done).rejects.toEqual([
        {
          message: 'Cannot query field "syncRunsUpdatd" on type "Subscription".',
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
        },
      ]);
    } finally {
      await client.dispose();
    }
  });

  it('keeps introspection for development', async () => {
    const dev = await startTestStack({ worker: false, relay: false });
    try {
      const introspection = await gql(dev.gatewayUrl, '{ __schema { queryType { name } } }');
      expect(introspection.body).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
    } finally {
      await dev.stop();
    }
  });
});
