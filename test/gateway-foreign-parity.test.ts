import { composeServices } from '@apollo/composition';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { GraphQLError, parse } from 'graphql';
import { identityOf } from '../lib/auth/identity';
import { silentLogger } from '../lib/logger';
import { startGateway, type RunningGateway } from '../gateway/start';
import { loadTrustedDocuments } from '../gateway/plugins/trusted-documents';
import { metricsUrl, scrape } from './support/metrics';
import { resultShapingFromEnv } from '../gateway/policies-from-env';
import type { ResultShaping } from '../gateway/result-shaping/apollo-seam';

process.env.APOLLO_TELEMETRY_DISABLED ??= '1';

const LINK = (imports: string) =>
  `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: [${imports}])`;

const products = [
  { upc: 'p1', name: 'Table', price: 899, weight: 100 },
  { upc: 'p2', name: 'Couch', price: 1299, weight: 1000 },
];
const media = [
  { __typename: 'Book', id: 'b1', title: 'Dune', pages: 412 },
  { __typename: 'Movie', id: 'm1', title: 'Alien', minutes: 117 },
];
const users = [{ id: 'u1', name: 'Ada', email: 'ada@example.com' }];
/** Listed by the catalog, unknown to the reviews subgraph: its reviews cannot be fetched (a null in a non-null field). */
const discontinued = [{ upc: 'p9', name: 'Stool', price: 30, weight: 5 }];
const reviews = [
  { id: 'r1', body: 'Sturdy', authorId: 'u1', upc: 'p1' },
  { id: 'r2', body: 'Comfy', authorId: 'u1', upc: 'p2' },
];

/** Four foreign subgraphs: entities, @requires, @provides, an interface, a union, @shareable, and a coded error. */
const SUBGRAPHS = [
  {
    name: 'catalog',
    typeDefs: `${LINK('"@key", "@shareable"')}
      type Query { products: [Product!]! discontinued: [Product!] product(upc: ID!): Product search(text: String!): [SearchResult!]! media: [Media!]! }
      interface Media { id: ID! title: String! }
      type Book implements Media @key(fields: "id") { id: ID! title: String! pages: Int }
      type Movie implements Media @key(fields: "id") { id: ID! title: String! minutes: Int }
      union SearchResult = Book | Movie | Product
      type Product @key(fields: "upc") { upc: ID! name: String! @shareable price: Int weight: Int }`,
    resolvers: {
      Query: {
        products: () => products,
        discontinued: () => discontinued,
        product: (_: unknown, { upc }: { upc: string }) => {
          const found = products.find((p) => p.upc === upc);
          if (!found) throw new GraphQLError(`No product '${upc}'`, { extensions: { code: 'NOT_FOUND' } });
          return found;
        },
        search: (_: unknown, { text }: { text: string }) =>
          [...media, ...products.map((p) => ({ __typename: 'Product', ...p }))].filter((m) =>
            ('title' in m ? m.title : m.name).toLowerCase().includes(text.toLowerCase()),
          ),
        media: () => media,
      },
      Media: { __resolveType: (m: { __typename: string }) => m.__typename },
      SearchResult: { __resolveType: (m: { __typename: string }) => m.__typename },
      Product: { __resolveReference: (ref: { upc: string }) => products.find((p) => p.upc === ref.upc) },
      Book: { __resolveReference: (ref: { id: string }) => media.find((m) => m.id === ref.id) },
      Movie: { __resolveReference: (ref: { id: string }) => media.find((m) => m.id === ref.id) },
    },
  },
  {
    name: 'shipping',
    typeDefs: `${LINK('"@key", "@external", "@requires"')}
      type Product @key(fields: "upc") {
        upc: ID! price: Int @external weight: Int @external
        shippingEstimate: Int @requires(fields: "price weight")
      }`,
    resolvers: {
      Product: {
        shippingEstimate: (p: { price: number; weight: number }) => (p.price > 1000 ? 0 : Math.round(p.weight / 2)),
      },
    },
  },
  {
    name: 'reviews',
    typeDefs: `${LINK('"@key", "@external", "@provides", "@shareable"')}
      type Query { topReviews: [Review!]! }
      type Review { id: ID! body: String! author: User! @provides(fields: "name") product: Product! }
      type User @key(fields: "id") { id: ID! name: String! @external reviews: [Review!]! }
      type Product @key(fields: "upc") { upc: ID! name: String! @shareable reviews: [Review!]! }`,
    resolvers: {
      Query: { topReviews: () => reviews },
      Review: {
        author: (r: { authorId: string }) => ({ id: r.authorId, name: users.find((u) => u.id === r.authorId)!.name }),
        product: (r: { upc: string }) => ({ upc: r.upc }),
      },
      User: {
        __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
        reviews: (u: { id: string }) => reviews.filter((r) => r.authorId === u.id),
      },
      Product: {
        __resolveReference: (ref: { upc: string }) => {
          if (!products.some((p) => p.upc === ref.upc))
            throw new GraphQLError(`No reviews kept for '${ref.upc}'`, { extensions: { code: 'NOT_FOUND' } });
          return { upc: ref.upc };
        },
        name: (p: { upc: string }) => products.find((x) => x.upc === p.upc)!.name,
        reviews: (p: { upc: string }) => reviews.filter((r) => r.upc === p.upc),
      },
    },
  },
  {
    name: 'accounts',
    typeDefs: `${LINK('"@key", "@shareable"')}
      type Query { me: User }
      type User @key(fields: "id") { id: ID! name: String! @shareable email: String! }`,
    resolvers: {
      Query: { me: () => users[0] },
      User: { __resolveReference: (ref: { id: string }) => users.find((u) => u.id === ref.id) },
    },
  },
];

/**
 * Queries across the foreign subgraphs (aliases, fragments on an interface and a union, named fragments, `@skip` and
 * `@include` from variables and their defaults, an aliased `__typename`), one that fails with a coded error, and one
 * whose entity fetch fails so that a non-null field is null (the gateway's own null bubbling).
 */
const QUERIES: readonly (string | [query: string, variables: Record<string, unknown>])[] = [
  '{ products { upc name price shippingEstimate reviews { body author { name email } } } }',
  '{ topReviews { body author { name } product { name shippingEstimate } } }',
  '{ media { __typename id title ... on Book { pages } ... on Movie { minutes } } }',
  '{ search(text: "a") { __typename ... on Product { upc name } ... on Media { title } } }',
  '{ me { name reviews { product { upc name reviews { id } } } } }',
  '{ product(upc: "p2") { name weight shippingEstimate } }',
  '{ product(upc: "nope") { name } }',
  '{ discontinued { name reviews { id } } }',
  '{ first: products { upc kind: __typename } all: products { label: name price } }',
  '{ media { ...Titled ... on Book { pages ...Titled } } } fragment Titled on Media { id title }',
  [
    'query Q($detail: Boolean!, $bare: Boolean = false) { products { upc name @skip(if: $bare) reviews @include(if: $detail) { body } } }',
    { detail: true },
  ],
  [
    'query Q($detail: Boolean!, $bare: Boolean = false) { products { upc name @skip(if: $bare) reviews @include(if: $detail) { body } } }',
    { detail: false, bare: true },
  ],
  [
    'query Q($lean: Boolean!) { search(text: "o") { ... on Media @skip(if: $lean) { id title } ... on Product { upc } } }',
    { lean: true },
  ],
];

type Body = { data?: unknown; errors?: { message: string; path?: unknown; extensions?: { code?: unknown } }[] };

/** The answer, and its body as sent (key order included). */
async function post(url: string, query: string, variables?: Record<string, unknown>): Promise<[Body, string]> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  return [JSON.parse(text) as Body, text];
}

/** Data exactly; each error by message, path and code (ours adds `extensions.system` and keeps only allowlisted ones). */
const comparable = (body: Body) => ({
  data: body.data,
  errors: body.errors?.map((e) => ({ message: e.message, path: e.path, code: e.extensions?.code })),
});

describe('a foreign Federation 2 supergraph (issue 12, item 1)', () => {
  const servers: ApolloServer[] = [];
  let ours: RunningGateway;
  let plainUrl: string;
  let supergraphSdl: string;
  /** Our gateway over the foreign supergraph, as an operator starts it with AUTH=off. */
  const startOurs = (resultShaping: ResultShaping) =>
    startGateway({
      supergraphSdl,
      subgraphSecrets: {},
      logger: silentLogger(),
      port: 0,
      auth: { mode: 'off', identity: identityOf('parity', 'operations', [], null) },
      trustedDocuments: { manifest: loadTrustedDocuments(), roles: ['portal'] },
      resultShaping,
    });

  beforeAll(async () => {
    const services = [];
    for (const s of SUBGRAPHS) {
      const server = new ApolloServer({
        schema: buildSubgraphSchema({ typeDefs: parse(s.typeDefs), resolvers: s.resolvers as never }),
      });
      servers.push(server);
      const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
      services.push({ name: s.name, url, typeDefs: parse(s.typeDefs) });
    }
    const composed = composeServices(services);
    if (composed.errors) throw new Error(composed.errors.map((e) => e.message).join('\n'));
    supergraphSdl = composed.supergraphSdl;
    const plain = new ApolloServer({ gateway: new ApolloGateway({ supergraphSdl }) });
    servers.push(plain);
    plainUrl = (await startStandaloneServer(plain, { listen: { port: 0, host: '127.0.0.1' } })).url;
    ours = await startOurs('compiled');
  }, 60_000);
  afterAll(async () => {
    await ours?.close();
    for (const server of servers.reverse()) await server.stop();
  });

  it.each(QUERIES.map((q) => (typeof q === 'string' ? [q, undefined] : q)))(
    'answers %s (variables %j) as a plain ApolloGateway does',
    async (query, variables) => {
      const before = await scrape(metricsUrl(ours.url));
      const [[mine, mineText], [theirs, theirsText]] = await Promise.all([
        post(ours.url, query, variables),
        post(plainUrl, query, variables),
      ]);
      expect(comparable(mine)).toEqual(comparable(theirs));
      expect(theirs.data).not.toBeUndefined();
      // The same bytes for the data, key order included.
      const dataOf = (text: string) => JSON.stringify((JSON.parse(text) as Body).data);
      expect(dataOf(mineText)).toBe(dataOf(theirsText));
      const after = await scrape(metricsUrl(ours.url));
      const shaped = (by: string) =>
        after.value('meridian_gateway_results_shaped_total', { by }) -
        before.value('meridian_gateway_results_shaped_total', { by });
      if (query.includes('discontinued')) {
        // A null in a non-null field: Apollo's shaping bubbles it up to the nullable list, for ours as for the plain one.
        expect(theirs.data).toEqual({ discontinued: null });
        expect([shaped('plan'), shaped('apollo')]).toEqual([0, 1]);
      } else {
        // Everything else is shaped from our gateway's plan (and only our gateway's: the plain one is not counted).
        expect([shaped('plan'), shaped('apollo')]).toEqual([1, 0]);
        if (!query.includes('nope')) expect(theirs.errors).toBeUndefined();
      }
    },
  );

  it('with GATEWAY_RESULT_SHAPING=apollo, leaves every result to @apollo/gateway (and answers the same)', async () => {
    const apolloShaped = await startOurs(resultShapingFromEnv({ GATEWAY_RESULT_SHAPING: 'apollo' }));
    try {
      const query = QUERIES[0] as string;
      const before = await scrape(metricsUrl(ours.url));
      const [[theirs], [mine]] = await Promise.all([post(plainUrl, query), post(apolloShaped.url, query)]);
      expect(comparable(mine)).toEqual(comparable(theirs));
      const after = await scrape(metricsUrl(ours.url));
      expect(after.value('meridian_gateway_results_shaped_total')).toBe(
        before.value('meridian_gateway_results_shaped_total'),
      );
    } finally {
      await apolloShaped.close();
    }
  });

  it('refuses a GATEWAY_RESULT_SHAPING it does not know, naming it', () => {
    expect(resultShapingFromEnv({})).toBe('compiled');
    expect(() => resultShapingFromEnv({ GATEWAY_RESULT_SHAPING: 'fast' })).toThrow(
      "GATEWAY_RESULT_SHAPING must be 'compiled' or 'apollo'; got 'fast'",
    );
  });
});
