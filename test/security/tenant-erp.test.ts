import { identityOf, ORCHESTRATION_SERVICE } from '../../lib/auth/identity';
import { formatId } from '../../lib/ids';
import { silentLogger } from '../../lib/logger';
import { startSubgraph, type RunningSubgraph } from '../../lib/subgraph';
import { generateAccounts } from '../../seed/generate';
import { LEGAL_ENTITIES, TAX_JURISDICTIONS } from '../../seed/reference-data';
import { SqliteErpConnector } from '../../subgraphs/erp/connector/reference/sqlite-erp-connector';
import type { InvoiceRecord } from '../../subgraphs/erp/connector/erp-connector';
import { createErpSubgraph } from '../../subgraphs/erp/index';
import { signedGql } from '../support/signed';

const SECRET = 'tenant-erp-test-secret';
/** 80 seeded accounts: the other accounts' customers hold hundreds of invoices and payments. */
const data = generateAccounts(1, 81).erp;
const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
const invoicesOf = (customerId: string) => data.invoices.filter((i) => i.customerId === customerId).sort(byId);
const paymentsOf = (invoiceId: string) => data.payments.filter((p) => p.invoiceId === invoiceId).sort(byId);

/** The portal user's one account: the first whose customer has several invoices, payments and an invoiced project. */
const ownCustomer = data.customers.find((c) => {
  const invoices = invoicesOf(c.id);
  return (
    invoices.length >= 3 &&
    invoices.some((i) => paymentsOf(i.id).length > 0) &&
    invoices.some((i) => i.psaProjectId !== null)
  );
})!;
const OWN_ACCOUNT = ownCustomer.externalCrmId;
const ownInvoices = invoicesOf(ownCustomer.id);
const ownProject = ownInvoices.find((i) => i.psaProjectId !== null)!.psaProjectId!;
const portal = identityOf('portal-user-1', 'portal', [], [OWN_ACCOUNT]);

const foreignInvoices = data.invoices.filter((i) => i.customerId !== ownCustomer.id).sort(byId);
const foreignPaid = foreignInvoices.filter((i) => paymentsOf(i.id).length > 0);
const foreignPayments = data.payments.filter((p) => foreignInvoices.some((i) => i.id === p.invoiceId));
const foreignCustomers = data.customers.filter((c) => c.id !== ownCustomer.id);
const foreignProjects = [
  ...new Set([...data.projectDimensions.filter((d) => d.customerId !== ownCustomer.id).map((d) => d.psaProjectId)]),
].sort();
const ownProjects = data.projectDimensions.filter((d) => d.customerId === ownCustomer.id).map((d) => d.psaProjectId);
const ownIds = new Set([
  ownCustomer.id,
  OWN_ACCOUNT,
  ...ownProjects,
  ...ownInvoices.map((i) => i.id),
  ...ownInvoices.flatMap((i) => paymentsOf(i.id).map((p) => p.id)),
]);

/** `n` IDs cycling through `existing` on even positions and through `missing(k)` (IDs no record has) on odd ones. */
function probes(existing: readonly string[], missing: (k: number) => string, n = 1000): string[] {
  return Array.from({ length: n }, (_, i) => (i % 2 === 0 ? existing[(i / 2) % existing.length]! : missing(i)));
}
/** 1,000 invoice IDs: the foreign invoices that bear payments first, then the other foreign ones, and IDs no invoice has. */
const INVOICE_PROBES = probes(
  [...foreignPaid, ...foreignInvoices.filter((i) => !foreignPaid.includes(i))].map((i) => i.id),
  (k) =>
    [
      formatId('INV', 900_000_000 + k),
      formatId('INV', 800_000_000 + k),
      `inv-${String(k).padStart(9, '0')}`,
      `${ownInvoices[0]!.id}x`,
    ][k % 4]!,
);
const ACCOUNT_PROBES = probes(
  foreignCustomers.map((c) => c.externalCrmId),
  (k) => [formatId('ACC', 900_000 + k), `acc-${String(k).padStart(6, '0')}`, `${OWN_ACCOUNT}x`][k % 3]!,
);
const PROJECT_PROBES = probes(
  foreignProjects,
  (k) => [formatId('PRJ', 9_000_000 + k), `prj-${String(k).padStart(7, '0')}`, `${ownProject}x`][k % 3]!,
);

/** Every ERP record ID in a response (invoices, payments, customers, accounts, projects) that is not the portal's own. */
function foreignIdsIn(body: unknown): string[] {
  return [...JSON.stringify(body).matchAll(/\b(?:INV|PAY|CUS|ACC|PRJ)-\d+\b/g)]
    .map((m) => m[0])
    .filter((id) => !ownIds.has(id));
}

const invoiceView = (i: InvoiceRecord) => ({
  id: i.id,
  number: i.number,
  status: i.status,
  account: { id: OWN_ACCOUNT },
  project: i.psaProjectId === null ? null : { id: i.psaProjectId },
  payments: paymentsOf(i.id).map((p) => ({ id: p.id, receivedOn: p.receivedOn, invoice: { id: i.id } })),
});
const INVOICE_FIELDS = 'id number status account { id } project { id } payments { id receivedOn invoice { id } }';

describe('ERP subgraph: tenant isolation for a portal user', () => {
  let subgraph: RunningSubgraph;
  beforeAll(async () => {
    const erp = new SqliteErpConnector(':memory:');
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
  });

  const asPortal = (query: string, variables?: Record<string, unknown>) =>
    signedGql(subgraph.url, SECRET, query, variables, portal);
  const asService = (query: string, variables?: Record<string, unknown>) =>
    signedGql(subgraph.url, SECRET, query, variables, ORCHESTRATION_SERVICE);

  it('seeds other accounts with hundreds of invoices and payments, and the portal account with its own', () => {
    expect(foreignInvoices.length).toBeGreaterThan(300);
    expect(foreignPayments.length).toBeGreaterThan(200);
    expect(foreignProjects.length).toBeGreaterThan(50);
    expect(ownInvoices.flatMap((i) => paymentsOf(i.id)).length).toBeGreaterThan(0);
    expect([INVOICE_PROBES, ACCOUNT_PROBES, PROJECT_PROBES].map((p) => p.length)).toEqual([1000, 1000, 1000]);
    // Odd positions hold IDs no record has.
    const known = new Set([
      ...data.invoices.map((i) => i.id),
      ...data.customers.map((c) => c.externalCrmId),
      ...data.projectDimensions.map((d) => d.psaProjectId),
    ]);
    expect(
      [...INVOICE_PROBES, ...ACCOUNT_PROBES, ...PROJECT_PROBES].filter((id, i) => i % 2 === 1 && known.has(id)),
    ).toEqual([]);
  });

  it('answers invoice(id) with null for each of 1,000 foreign and unknown IDs, batched with its own invoices, nested payments included', async () => {
    for (let start = 0; start < INVOICE_PROBES.length; start += 100) {
      // Its own invoices ride in every batch, so foreign IDs share loader batches with visible ones.
      const ids = [...INVOICE_PROBES.slice(start, start + 100), ...ownInvoices.map((i) => i.id)];
      const query = `query(${ids.map((_, i) => `$i${i}: ID!`).join(', ')}) { ${ids.map((_, i) => `a${i}: invoice(id: $i${i}) { ${INVOICE_FIELDS} }`).join(' ')} }`;
      const variables = Object.fromEntries(ids.map((id, i) => [`i${i}`, id]));
      const response = await asPortal(query, variables);
      expect(response.status).toBe(200);
      expect(response.body).toEqual({
        data: Object.fromEntries(
          ids.map((id, i) => [`a${i}`, ownIds.has(id) ? invoiceView(ownInvoices.find((x) => x.id === id)!) : null]),
        ),
      });
      expect(foreignIdsIn(response.body)).toEqual([]);
      // The same request for the service finds every foreign invoice that exists: the probes are real.
      const control = (await asService(query, variables)).body.data as Record<string, { id: string } | null>;
      expect(
        Object.values(control)
          .filter((v) => v !== null)
          .map((v) => v!.id),
      ).toEqual(ids.filter((id) => data.invoices.some((i) => i.id === id)));
    }
  });

  it('lists none of the invoices of foreign or unknown customers, accounts and projects through invoices(filter), counting only its own', async () => {
    const filters = [
      ...probes(
        foreignCustomers.map((c) => c.id),
        (k) => formatId('CUS', 900_000 + k),
        334,
      ).map((customerId) => ({ customerId })),
      ...ACCOUNT_PROBES.slice(0, 333).map((accountId) => ({ accountId, status: 'PAID' })),
      ...PROJECT_PROBES.slice(0, 333).map((projectId) => ({ projectId })),
    ];
    expect(filters).toHaveLength(1000);
    const empty = { nodes: [], pageInfo: { endCursor: null, hasNextPage: false }, totalCount: 0 };
    for (let start = 0; start < filters.length; start += 100) {
      const chunk = filters.slice(start, start + 100);
      const query = `query(${chunk.map((_, i) => `$f${i}: InvoiceFilter`).join(', ')}) {
        ${chunk.map((_, i) => `l${i}: invoices(first: 1000, filter: $f${i}) { nodes { id payments { id } } pageInfo { endCursor hasNextPage } totalCount }`).join(' ')} }`;
      const variables = Object.fromEntries(chunk.map((f, i) => [`f${i}`, f]));
      const response = await asPortal(query, variables);
      expect(response.body).toEqual({ data: Object.fromEntries(chunk.map((_, i) => [`l${i}`, empty])) });
      const control = (await asService(query, variables)).body.data as Record<string, { totalCount: number }>;
      expect(Object.values(control).some((page) => page.totalCount > 0)).toBe(true);
    }
  });

  it('lists its own invoices with their payments through invoices, unfiltered or filtered by its own customer, account and project', async () => {
    const query = `query($filter: InvoiceFilter, $first: Int, $after: String) { invoices(first: $first, after: $after, filter: $filter) {
      nodes { ${INVOICE_FIELDS} } pageInfo { hasNextPage } totalCount } }`;
    const all = {
      nodes: ownInvoices.map(invoiceView),
      pageInfo: { hasNextPage: false },
      totalCount: ownInvoices.length,
    };
    for (const filter of [null, { customerId: ownCustomer.id }, { accountId: OWN_ACCOUNT }]) {
      expect((await asPortal(query, { filter, first: 1000 })).body).toEqual({ data: { invoices: all } });
    }
    const ofProject = ownInvoices.filter((i) => i.psaProjectId === ownProject);
    expect((await asPortal(query, { filter: { projectId: ownProject }, first: 1000 })).body).toEqual({
      data: {
        invoices: { nodes: ofProject.map(invoiceView), pageInfo: { hasNextPage: false }, totalCount: ofProject.length },
      },
    });
    // A page of one still counts only its own invoices, and the pages hold nothing else.
    const first = await asPortal(query, { first: 1 });
    expect(first.body).toEqual({
      data: {
        invoices: {
          nodes: [invoiceView(ownInvoices[0]!)],
          pageInfo: { hasNextPage: true },
          totalCount: ownInvoices.length,
        },
      },
    });
  });

  it('resolves none of 1,000 foreign and unknown IDs as Invoice entities (_entities), payments included, and its own ones', async () => {
    const query = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Invoice { ${INVOICE_FIELDS} lines { lineNumber } } } }`;
    const ids = [...INVOICE_PROBES, ...ownInvoices.map((i) => i.id)];
    const response = await asPortal(query, { r: ids.map((id) => ({ __typename: 'Invoice', id })) });
    const lines = (id: string) =>
      data.invoiceLines
        .filter((l) => l.invoiceId === id)
        .map((l) => ({ lineNumber: l.lineNumber }))
        .sort((a, b) => a.lineNumber - b.lineNumber);
    expect(response.body).toEqual({
      data: {
        _entities: [
          ...INVOICE_PROBES.map(() => null),
          ...ownInvoices.map((i) => ({ ...invoiceView(i), lines: lines(i.id) })),
        ],
      },
    });
    expect(foreignIdsIn(response.body)).toEqual([]);
    const control = (await asService(query, { r: INVOICE_PROBES.map((id) => ({ __typename: 'Invoice', id })) })).body
      .data as { _entities: ({ payments: unknown[] } | null)[] };
    expect(control._entities.filter((e) => e !== null)).toHaveLength(500);
    expect(control._entities.filter((e) => e !== null && e.payments.length > 0).length).toBeGreaterThan(200);
  });

  it('resolves none of 1,000 foreign and unknown IDs as Account entities: null, with no invoices or payments; its own account with all of them', async () => {
    const query =
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on Account { id invoices { id payments { id } } } } }';
    const response = await asPortal(query, {
      r: [...ACCOUNT_PROBES, OWN_ACCOUNT].map((id) => ({ __typename: 'Account', id })),
    });
    const own = {
      id: OWN_ACCOUNT,
      invoices: ownInvoices.map((i) => ({ id: i.id, payments: paymentsOf(i.id).map((p) => ({ id: p.id })) })),
    };
    expect(response.body).toEqual({ data: { _entities: [...ACCOUNT_PROBES.map(() => null), own] } });
    expect(foreignIdsIn(response.body)).toEqual([]);
    const control = (await asService(query, { r: ACCOUNT_PROBES.map((id) => ({ __typename: 'Account', id })) })).body
      .data as { _entities: { invoices: unknown[] }[] };
    expect(control._entities.filter((e) => e.invoices.length > 0).length).toBeGreaterThan(300);
  });

  it('resolves 1,000 foreign and unknown IDs as Project entities with no invoices, exactly as unknown projects; its own project with its invoices', async () => {
    const query =
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on Project { invoices { id payments { id } } } } }';
    const response = await asPortal(query, {
      r: [...PROJECT_PROBES, ownProject].map((id) => ({ __typename: 'Project', id })),
    });
    const own = {
      invoices: ownInvoices
        .filter((i) => i.psaProjectId === ownProject)
        .map((i) => ({ id: i.id, payments: paymentsOf(i.id).map((p) => ({ id: p.id })) })),
    };
    expect(own.invoices.length).toBeGreaterThan(0);
    expect(response.body).toEqual({ data: { _entities: [...PROJECT_PROBES.map(() => ({ invoices: [] })), own] } });
    expect(foreignIdsIn(response.body)).toEqual([]);
    const control = (await asService(query, { r: PROJECT_PROBES.map((id) => ({ __typename: 'Project', id })) })).body
      .data as { _entities: { invoices: unknown[] }[] };
    expect(control._entities.filter((e) => e.invoices.length > 0).length).toBeGreaterThan(200);
  });

  it('answers a foreign invoice, account or project exactly as one that does not exist, on every path', async () => {
    const foreign = foreignPaid[0]!;
    const cases: [string, Record<string, unknown>, Record<string, unknown>][] = [
      [
        `query($id: ID!) { invoice(id: $id) { ${INVOICE_FIELDS} } }`,
        { id: foreign.id },
        { id: formatId('INV', 999_999_999) },
      ],
      [
        'query($f: InvoiceFilter) { invoices(filter: $f) { nodes { id } pageInfo { endCursor hasNextPage } totalCount } }',
        { f: { customerId: foreign.customerId } },
        { f: { customerId: 'CUS-999999' } },
      ],
      [
        'query($f: InvoiceFilter) { invoices(filter: $f) { nodes { id } pageInfo { endCursor hasNextPage } totalCount } }',
        { f: { accountId: foreignCustomers[0]!.externalCrmId } },
        { f: { accountId: 'ACC-999999' } },
      ],
      [
        'query($f: InvoiceFilter) { invoices(filter: $f) { nodes { id } pageInfo { endCursor hasNextPage } totalCount } }',
        { f: { projectId: foreign.psaProjectId } },
        { f: { projectId: 'PRJ-9999999' } },
      ],
      [
        `query($r: [_Any!]!) { _entities(representations: $r) { ... on Invoice { ${INVOICE_FIELDS} } } }`,
        { r: [{ __typename: 'Invoice', id: foreign.id }] },
        { r: [{ __typename: 'Invoice', id: 'INV-999999999' }] },
      ],
      [
        'query($r: [_Any!]!) { _entities(representations: $r) { ... on Account { invoices { id payments { id } } } } }',
        { r: [{ __typename: 'Account', id: foreignCustomers[0]!.externalCrmId }] },
        { r: [{ __typename: 'Account', id: 'ACC-999999' }] },
      ],
      [
        'query($r: [_Any!]!) { _entities(representations: $r) { ... on Project { invoices { id payments { id } } } } }',
        { r: [{ __typename: 'Project', id: foreign.psaProjectId }] },
        { r: [{ __typename: 'Project', id: 'PRJ-9999999' }] },
      ],
      // Refused fields are refused alike, before anything is read.
      [
        'query($id: ID!) { invoice(id: $id) { id customer { id } } }',
        { id: foreign.id },
        { id: formatId('INV', 999_999_999) },
      ],
    ];
    for (const [query, existing, missing] of cases) {
      const [a, b] = [await asPortal(query, existing), await asPortal(query, missing)];
      expect({ status: a.status, body: a.body }).toEqual({ status: b.status, body: b.body });
      expect(foreignIdsIn(a.body)).toEqual([]);
    }
  });

  it('refuses a portal user Invoice.customer and Account.receivables with FORBIDDEN and the path', async () => {
    const customer = await asPortal('query($id: ID!) { invoice(id: $id) { id customer { id name } } }', {
      id: ownInvoices[0]!.id,
    });
    expect(customer.status).toBe(403);
    expect(customer.body).toEqual({
      errors: [
        {
          message: 'Invoice.customer needs read:business, which the portal token of portal-user-1 does not have',
          path: ['invoice', 'customer'],
          extensions: { code: 'FORBIDDEN' },
        },
      ],
    });
    const receivables = await asPortal(
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on Account { id receivables { amount } } } }',
      {
        r: [{ __typename: 'Account', id: OWN_ACCOUNT }],
      },
    );
    expect(receivables.status).toBe(403);
    expect(receivables.body).toEqual({
      errors: [
        {
          message: 'Account.receivables needs read:business, which the portal token of portal-user-1 does not have',
          path: ['_entities', 'receivables'],
          extensions: { code: 'FORBIDDEN' },
        },
      ],
    });
  });

  it('refuses with 401 UNAUTHENTICATED a request with no signature, a wrong one or a stale timestamp', async () => {
    const query = 'query($id: ID!) { invoice(id: $id) { id } }';
    const variables = { id: ownInvoices[0]!.id };
    const unsigned = await fetch(subgraph.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    expect({ status: unsigned.status, body: await unsigned.json() }).toEqual({
      status: 401,
      body: {
        errors: [
          { message: 'Subgraphs accept only requests signed by the gateway', extensions: { code: 'UNAUTHENTICATED' } },
        ],
      },
    });
    const wrong = await signedGql(subgraph.url, 'not-the-secret', query, variables, portal);
    expect({ status: wrong.status, body: wrong.body }).toEqual({
      status: 401,
      body: { errors: [{ message: 'The request signature does not match', extensions: { code: 'UNAUTHENTICATED' } }] },
    });
    const stale = await signedGql(subgraph.url, SECRET, query, variables, portal, Date.now() - 10 * 60_000);
    expect({ status: stale.status, body: stale.body }).toEqual({
      status: 401,
      body: { errors: [{ message: 'The request signature is stale', extensions: { code: 'UNAUTHENTICATED' } }] },
    });
    // The same request, signed now with the right secret, is served.
    expect((await asPortal(query, variables)).body).toEqual({ data: { invoice: { id: ownInvoices[0]!.id } } });
  });
});
