import { composeServices } from '@apollo/composition';
import { ApolloServer } from '@apollo/server';
import { parse, print, type GraphQLSchema } from 'graphql';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { accessRulesOf, type AccessRules } from '../../lib/auth/access-rules';
import { identityOf, type Identity } from '../../lib/auth/identity';
import { loadSupergraphConfig } from '../../lib/compose';
import { MeridianError } from '../../lib/errors';
import { createGraphQLRequestListener, listen, type Listening } from '../../lib/graphql-http';
import {
  admitTrustedDocument,
  admitTrustedRequest,
  admitTrustedSubscribePayload,
  DEFAULT_TRUSTED_DOCUMENTS_PATH,
  loadTrustedDocuments,
  parseTrustedDocuments,
  sha256Hex,
  trustedDocumentRolesFromEnv,
  validateTrustedDocuments,
  type TrustedDocuments,
} from '../../gateway/plugins/trusted-documents';

const root = join(__dirname, '..', '..');
const portal: Identity = identityOf('portal-user-1', 'portal', [], ['ACC-000001']);
const bi: Identity = identityOf('analyst-1', 'bi', [], null);

/** A manifest entry for `body`, with its correct ID. */
const entry = (name: string, body: string, type = 'query') => ({ id: sha256Hex(body), name, type, body });
const manifestOf = (...operations: unknown[]) => ({
  format: 'apollo-persisted-query-manifest',
  version: 1,
  operations,
});

/** The MeridianError `fn` throws (fails the test when it throws nothing or something else). */
function thrown(fn: () => unknown): MeridianError {
  try {
    fn();
  } catch (error) {
    if (error instanceof MeridianError) return error;
    throw error;
  }
  throw new Error('expected a MeridianError, nothing was thrown');
}

describe('the checked-in manifest', () => {
  const manifest = loadTrustedDocuments();
  let composed: { schema: GraphQLSchema; rules: AccessRules };

  beforeAll(() => {
    const services = loadSupergraphConfig(join(root, 'supergraph.yaml')).map((s) => ({
      name: s.name,
      url: s.routingUrl,
      typeDefs: parse(readFileSync(s.schemaFile, 'utf8')),
    }));
    const result = composeServices(services);
    if (result.errors)
      throw new Error(`the subgraph schemas do not compose:\n${result.errors.map((e) => e.message).join('\n')}`);
    composed = {
      schema: result.schema.toAPISchema().toGraphQLJSSchema(),
      rules: accessRulesOf(parse(result.supergraphSdl)),
    };
  });

  it("is the default manifest, in Apollo's format, with the portal's operations", () => {
    expect(DEFAULT_TRUSTED_DOCUMENTS_PATH).toBe(join(root, 'gateway', 'trusted-documents.json'));
    const json = JSON.parse(readFileSync(DEFAULT_TRUSTED_DOCUMENTS_PATH, 'utf8')) as {
      format: string;
      version: number;
    };
    expect([json.format, json.version]).toEqual(['apollo-persisted-query-manifest', 1]);
    expect(manifest.operations.map((op) => `${op.type} ${op.name}`)).toEqual([
      'query PortalAccounts',
      'query PortalAccount',
      'query PortalProjects',
      'query PortalProject',
      'query PortalInvoices',
      'query PortalInvoice',
      'subscription PortalRunUpdated',
    ]);
  });

  it('gives every operation the SHA-256 of its body as its ID', () => {
    for (const op of manifest.operations) expect(op.id).toBe(sha256Hex(op.body));
  });

  it('holds documents that validate against the composed API schema and that a portal token may select in full', () => {
    expect(validateTrustedDocuments(manifest, composed.schema, { rules: composed.rules, roles: ['portal'] })).toEqual(
      [],
    );
  });

  it('finds a document that no longer validates, and one selecting internal fields a portal token may not see', () => {
    const broken = parseTrustedDocuments(
      manifestOf(
        entry('Gone', 'query Gone($id: ID!) { project(id: $id) { id marginPercent } }'),
        entry('Internal', 'query Internal($id: ID!) { project(id: $id) { id financials { asOf } } }'),
      ),
      'test',
    );
    expect(validateTrustedDocuments(broken, composed.schema, { rules: composed.rules, roles: ['portal'] })).toEqual([
      `Gone (${broken.operations[0]!.id}): Cannot query field "marginPercent" on type "Project".`,
      `Internal (${broken.operations[1]!.id}) for portal: Project.financials needs read:business, which the portal token of trusted-documents-check does not have at project.financials`,
    ]);
  });
});

describe('loading a manifest', () => {
  it('refuses an entry whose id is not the SHA-256 of its body, naming it and the right id', () => {
    const body = 'query Mine { accounts { totalCount } }';
    const wrong = { ...entry('Mine', body), id: sha256Hex(`${body} `) };
    expect(() =>
      parseTrustedDocuments(manifestOf(entry('Fine', 'query Fine { __typename }'), wrong), 'm.json'),
    ).toThrow(
      `m.json: 1 bad trusted document(s):\n  operations[1] (Mine): id ${wrong.id} is not the SHA-256 of its body, which is ${sha256Hex(body)}`,
    );
  });

  it('refuses a file that is not a persisted query manifest, and entries that are malformed, misnamed or repeated', () => {
    expect(() => parseTrustedDocuments({ operations: [] }, 'm.json')).toThrow('m.json: not a persisted query manifest');
    expect(() => parseTrustedDocuments([], 'm.json')).toThrow('m.json: not a persisted query manifest');
    const problems = (() => {
      try {
        parseTrustedDocuments(
          manifestOf(
            { name: 'NoId', type: 'query', body: 'query NoId { a }' },
            entry('Two', 'query Two { a } query Other { b }'),
            entry('Named', 'query Misnamed { a }'),
            entry('Typed', 'query Typed { a }', 'mutation'),
            entry('Broken', 'query Broken {'),
            entry('Same', 'query Same { a }'),
            entry('Same', 'query Same { a }'),
          ),
          'm.json',
        );
      } catch (error) {
        return (error as Error).message.split('\n').slice(1);
      }
      return [];
    })();
    expect(problems).toEqual([
      '  operations[0] (NoId): needs string "id", "name" and "body", and "type" query, mutation or subscription',
      '  operations[1] (Two): the body must hold exactly one operation',
      '  operations[2] (Named): the body is query Misnamed, not query Named',
      '  operations[3] (Typed): the body is query Typed, not mutation Typed',
      '  operations[4] (Broken): the body is not valid GraphQL: Syntax Error: Expected Name, found <EOF>.',
      `  operations[6] (Same): id ${sha256Hex('query Same { a }')} appears twice`,
      '  operations[6] (Same): name Same appears twice',
    ]);
  });

  it('refuses a file that cannot be read, naming it', () => {
    expect(() => loadTrustedDocuments('/nonexistent/trusted.json')).toThrow(
      '/nonexistent/trusted.json: cannot read the trusted documents manifest',
    );
  });
});

describe('admitting requests', () => {
  const listed = 'query PortalHello($n: Int) { hello(n: $n) }';
  const manifest: TrustedDocuments = parseTrustedDocuments(manifestOf(entry('PortalHello', listed)), 'test');
  const hash = sha256Hex(listed);
  const apq = (sha256Hash: string) => ({ persistedQuery: { version: 1, sha256Hash } });

  describe('for a portal token (trusted documents only)', () => {
    it('fills in the query of a listed hash, keeping the extension, the variables and the operation name', () => {
      const body = { operationName: 'PortalHello', variables: { n: 2 }, extensions: apq(hash) };
      expect(admitTrustedDocument(manifest, portal, body)).toEqual({
        operationName: 'PortalHello',
        variables: { n: 2 },
        extensions: apq(hash),
        query: listed,
      });
      expect(admitTrustedDocument(manifest, portal, { ...body, query: listed })).toEqual({ ...body, query: listed });
    });

    it('refuses a hash that is not listed, and a listed hash sent with other text', () => {
      const unknown = thrown(() => admitTrustedDocument(manifest, portal, { extensions: apq(sha256Hex('{ hello }')) }));
      expect([unknown.code, unknown.extensions]).toEqual([
        'PERSISTED_QUERY_NOT_IN_LIST',
        { code: 'PERSISTED_QUERY_NOT_IN_LIST' },
      ]);
      expect(unknown.message).toBe(
        `A portal token may run only the trusted documents in the manifest; the persisted query ${sha256Hex('{ hello }')} is not one of them`,
      );
      expect(
        thrown(() => admitTrustedDocument(manifest, portal, { query: '{ secrets }', extensions: apq(hash) })).code,
      ).toBe('PERSISTED_QUERY_NOT_IN_LIST');
    });

    it('runs free query text whose SHA-256 is listed, as sent', () => {
      const body = { query: listed, variables: { n: 1 } };
      expect(admitTrustedDocument(manifest, portal, body)).toEqual(body);
    });

    it('refuses free query text that is not listed, even the listed document reformatted', () => {
      const other = thrown(() => admitTrustedDocument(manifest, portal, { query: '{ hello }' }));
      expect([other.code, other.message]).toEqual([
        'PERSISTED_QUERY_NOT_IN_LIST',
        'A portal token may run only the trusted documents in the manifest; this query text is not one of them',
      ]);
      expect(thrown(() => admitTrustedDocument(manifest, portal, { query: print(parse(listed)) })).code).toBe(
        'PERSISTED_QUERY_NOT_IN_LIST',
      );
    });

    it('refuses bodies that name no document', () => {
      expect(thrown(() => admitTrustedDocument(manifest, portal, {})).code).toBe('BAD_REQUEST');
      expect(thrown(() => admitTrustedDocument(manifest, portal, 'query=%7B%20hello%20%7D')).code).toBe('BAD_REQUEST');
      expect(thrown(() => admitTrustedDocument(manifest, portal, undefined)).code).toBe('BAD_REQUEST');
      expect(
        thrown(() => admitTrustedDocument(manifest, portal, { extensions: { persistedQuery: { version: 1 } } })).code,
      ).toBe('BAD_REQUEST');
    });
  });

  describe('for other roles (automatic persisted queries as Apollo does them)', () => {
    it('passes bodies through unchanged, listed or not', () => {
      for (const identity of [bi, identityOf('ops-1', 'operations', [], null), null]) {
        const body = { query: '{ anything }' };
        expect(admitTrustedDocument(manifest, identity, body)).toBe(body);
        const hashOnly = { extensions: apq(sha256Hex('{ anything }')) };
        expect(admitTrustedDocument(manifest, identity, hashOnly)).toBe(hashOnly);
      }
    });

    it('makes a role trusted-documents-only when it is listed', () => {
      expect(thrown(() => admitTrustedDocument(manifest, bi, { query: '{ anything }' }, ['portal', 'bi'])).code).toBe(
        'PERSISTED_QUERY_NOT_IN_LIST',
      );
      const body = { query: '{ anything }' };
      expect(admitTrustedDocument(manifest, portal, body, ['bi'])).toBe(body);
    });
  });

  it('refuses batched bodies for every role', () => {
    for (const identity of [portal, bi, null]) {
      const batch = thrown(() => admitTrustedDocument(manifest, identity, [{ query: listed }]));
      expect([batch.code, batch.message]).toEqual([
        'BAD_REQUEST',
        'Batched requests are not accepted: send one operation per request',
      ]);
    }
  });

  it("checks a GET request's operation in its URL, and POSTs in their body", () => {
    const get = (params: Record<string, string>, identity: Identity | null = portal) =>
      admitTrustedRequest(manifest, identity, {
        method: 'GET',
        url: `/graphql?${new URLSearchParams(params).toString()}`,
        body: undefined,
      });
    expect(get({ query: listed })).toBeUndefined();
    expect(get({ extensions: JSON.stringify(apq(hash)) })).toBeUndefined();
    expect(get({ query: listed, extensions: JSON.stringify(apq(hash)) })).toBeUndefined();
    expect(thrown(() => get({ query: '{ hello }' })).code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
    expect(thrown(() => get({ query: '{ hello }', extensions: JSON.stringify(apq(hash)) })).code).toBe(
      'PERSISTED_QUERY_NOT_IN_LIST',
    );
    expect(thrown(() => get({ extensions: JSON.stringify(apq(sha256Hex('{ hello }'))) })).code).toBe(
      'PERSISTED_QUERY_NOT_IN_LIST',
    );
    expect(thrown(() => get({ query: listed, extensions: '{not json' })).code).toBe('BAD_REQUEST');
    expect(thrown(() => get({})).code).toBe('BAD_REQUEST');
    expect(get({ query: '{ anything }' }, bi)).toBeUndefined();
    expect(
      admitTrustedRequest(manifest, portal, { method: 'POST', url: '/graphql', body: { extensions: apq(hash) } }),
    ).toEqual({ extensions: apq(hash), query: listed });
    expect(
      thrown(() =>
        admitTrustedRequest(manifest, portal, { method: 'POST', url: '/graphql', body: { query: '{ hello }' } }),
      ).code,
    ).toBe('PERSISTED_QUERY_NOT_IN_LIST');
  });

  it('checks graphql-ws subscribe payloads the same way', () => {
    expect(
      admitTrustedSubscribePayload(manifest, portal, { query: '', extensions: apq(hash), variables: { n: 1 } }),
    ).toEqual({ query: listed, extensions: apq(hash), variables: { n: 1 } });
    expect(admitTrustedSubscribePayload(manifest, portal, { query: listed })).toEqual({ query: listed });
    expect(
      thrown(() => admitTrustedSubscribePayload(manifest, portal, { query: 'subscription { syncRunsUpdated { id } }' }))
        .code,
    ).toBe('PERSISTED_QUERY_NOT_IN_LIST');
    const payload = { query: 'subscription { syncRunsUpdated { id } }' };
    expect(admitTrustedSubscribePayload(manifest, bi, payload)).toBe(payload);
  });
});

describe('trustedDocumentRolesFromEnv', () => {
  it('reads TRUSTED_DOCUMENTS_ROLES, comma-separated, portal by default, none when set empty', () => {
    expect(trustedDocumentRolesFromEnv({})).toEqual(['portal']);
    expect(trustedDocumentRolesFromEnv({ TRUSTED_DOCUMENTS_ROLES: '' })).toEqual([]);
    expect(trustedDocumentRolesFromEnv({ TRUSTED_DOCUMENTS_ROLES: ' ' })).toEqual([]);
    expect(trustedDocumentRolesFromEnv({ TRUSTED_DOCUMENTS_ROLES: 'portal, bi' })).toEqual(['portal', 'bi']);
    expect(() => trustedDocumentRolesFromEnv({ TRUSTED_DOCUMENTS_ROLES: 'portal,partner' })).toThrow(
      "TRUSTED_DOCUMENTS_ROLES: unknown role 'partner'",
    );
  });
});

describe('trusted documents and APQ over HTTP with Apollo Server', () => {
  const listed = 'query PortalHello { hello }';
  const manifest = parseTrustedDocuments(manifestOf(entry('PortalHello', listed)), 'test');
  let apollo: ApolloServer;
  let server: Listening;

  beforeAll(async () => {
    apollo = new ApolloServer({
      typeDefs: 'type Query { hello: String, internal: String }',
      resolvers: { Query: { hello: () => 'world', internal: () => 'secret' } },
    });
    await apollo.start();
    server = await listen(
      createGraphQLRequestListener(apollo, {
        context: async () => ({}),
        // A stand-in for the gateway's token check: the role comes from a test header.
        admit: ({ req, body }) => {
          const identity = req.headers['x-test-role'] === 'portal' ? portal : bi;
          return {
            identity,
            body: admitTrustedRequest(manifest, identity, { method: req.method, url: req.url, body }),
          };
        },
      }),
      0,
    );
  });

  afterAll(async () => {
    await server?.close();
    await apollo?.stop();
  });

  const post = async (role: 'portal' | 'bi', body: unknown) => {
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-test-role': role },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as unknown };
  };
  const apq = (query: string) => ({ persistedQuery: { version: 1, sha256Hash: sha256Hex(query) } });

  it("runs a portal's listed hash without the text (Apollo accepts the filled-in query under its hash)", async () => {
    expect(await post('portal', { extensions: apq(listed) })).toEqual({
      status: 200,
      body: { data: { hello: 'world' } },
    });
  });

  it("refuses a portal's unlisted operation with 400 PERSISTED_QUERY_NOT_IN_LIST, by text or by hash", async () => {
    const refused = {
      status: 400,
      body: {
        errors: [
          {
            message:
              'A portal token may run only the trusted documents in the manifest; this query text is not one of them',
            extensions: { code: 'PERSISTED_QUERY_NOT_IN_LIST' },
          },
        ],
      },
    };
    expect(await post('portal', { query: '{ internal }' })).toEqual(refused);
    const byHash = await post('portal', { query: '{ internal }', extensions: apq('{ internal }') });
    expect(byHash).toEqual({
      status: 400,
      body: {
        errors: [
          {
            message: `A portal token may run only the trusted documents in the manifest; the persisted query ${sha256Hex('{ internal }')} is not one of them`,
            extensions: { code: 'PERSISTED_QUERY_NOT_IN_LIST' },
          },
        ],
      },
    });
  });

  it("checks a portal's GET requests too, where the operation is in the URL", async () => {
    const get = async (params: Record<string, string>) => {
      const response = await fetch(`${server.url}?${new URLSearchParams(params).toString()}`, {
        headers: { 'x-test-role': 'portal', 'apollo-require-preflight': 'true' },
      });
      return { status: response.status, body: (await response.json()) as unknown };
    };
    expect(await get({ query: listed })).toEqual({ status: 200, body: { data: { hello: 'world' } } });
    expect(await get({ query: '{ internal }' })).toEqual({
      status: 400,
      body: {
        errors: [
          {
            message:
              'A portal token may run only the trusted documents in the manifest; this query text is not one of them',
            extensions: { code: 'PERSISTED_QUERY_NOT_IN_LIST' },
          },
        ],
      },
    });
  });

  it('gives BI clients automatic persisted queries: an unknown hash, then the hash with its text, then the hash alone', async () => {
    const notFound = await post('bi', { extensions: apq('{ internal }') });
    expect(notFound).toEqual({
      status: 200,
      body: { errors: [{ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }] },
    });
    expect(await post('bi', { query: '{ internal }', extensions: apq('{ internal }') })).toEqual({
      status: 200,
      body: { data: { internal: 'secret' } },
    });
    expect(await post('bi', { extensions: apq('{ internal }') })).toEqual({
      status: 200,
      body: { data: { internal: 'secret' } },
    });
  });
});
