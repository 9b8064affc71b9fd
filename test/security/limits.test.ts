import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { GraphQLError, Lexer, Source, TokenKind, buildSchema, parse } from 'graphql';
import { join } from 'node:path';
import {
  DEFAULT_OPERATION_LIMITS,
  checkOperationLimits,
  operationCost,
  operationLimitsConfig,
  operationLimitsFromEnv,
  parseWithinLimits,
  type OperationLimits,
} from '../../gateway/plugins/operation-limits';
import type { Identity } from '../../lib/auth/identity';
import { MeridianError } from '../../lib/errors';
import { formatError } from '../../lib/format-error';
import { DEFAULT_MAX_BODY_BYTES, createGraphQLRequestListener, listen } from '../../lib/graphql-http';
import { MAX_PAGE_SIZE } from '../../lib/pagination';
import { requestLogPlugin } from '../../lib/request-log-plugin';
import { loadTypeDefs } from '../../lib/subgraph';
import { captureLogs } from '../support/log-capture';
import { authHeader, startTestStack } from '../support/stack';

process.env.APOLLO_TELEMETRY_DISABLED ??= '1';

/**
 * A server under test: where to POST, the headers a BI reader sends there, and the limits it enforces. The queries
 * below use only CRM fields (`accounts`, `parentAccount`, `contacts`, `Contact.account`), so a gateway works too.
 */
interface LimitsTarget {
  url: string;
  headers: Record<string, string>;
  limits: OperationLimits;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  body: { data?: unknown; errors?: Record<string, unknown>[] };
}

async function post(target: LimitsTarget, body: string): Promise<Reply> {
  const response = await fetch(target.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...target.headers },
    body,
  });
  return { status: response.status, body: (await response.json()) as Reply['body'] };
}

const query = (target: LimitsTarget, text: string, variables?: Record<string, unknown>) =>
  post(target, JSON.stringify({ query: text, variables }));

const served = { status: 200, body: { data: expect.any(Object) } };

/** The whole response of a refused operation: no data, one error with the code, HTTP 400. */
function refused(code: string, message: string, extra: Record<string, unknown> = {}) {
  return { status: 400, body: { errors: [{ message, ...extra, extensions: { code } }] } };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function tokenCount(text: string): number {
  const lexer = new Lexer(new Source(text));
  let count = 0;
  while (lexer.advance().kind !== TokenKind.EOF) count++;
  return count;
}

/** Nests `parentAccount` so that the operation is exactly `depth` fields deep (accounts › nodes › … › id). */
function deepQuery(depth: number): string {
  const levels = depth - 3;
  return `{ accounts(first: 1) { nodes { ${'parentAccount { '.repeat(levels)}id${' }'.repeat(levels)} } } }`;
}

const aliasQuery = (aliases: number) =>
  `{ ${range(aliases)
    .map((i) => `a${i}: accounts(first: 1) { totalCount }`)
    .join(' ')} }`;

const directiveQuery = (directives: number) =>
  `{ accounts(first: 1) { ${'totalCount @include(if: true) '.repeat(directives)}} }`;

/**
 * A document of exactly `tokens` tokens: 19 around an ID filter, one per ID. (Repeating one field instead would trip
 * graphql-js's own budget for comparing overlapping fields, which aborts validation.)
 */
const tokenQuery = (tokens: number) =>
  `{ accounts(first: 1, filter: { ids: [${range(tokens - 19)
    .map((i) => `"A${i}"`)
    .join(' ')}] }) { totalCount } }`;

/**
 * An operation that costs exactly `cost` under the documented model (a field costs 1 plus its selection times the
 * items it returns: `first` for a page, `listSize` for a plain list), built from a few aliased account pages of
 * `contacts { account { … } }` chains with `first` ≤ 1000 (so a real CRM serves it) and `__typename`s for the rest.
 */
function costQuery(cost: number, limits: OperationLimits): string {
  // chain k: `contacts { account { chain k-1 } }` around `id`; its cost c(k) = 1 + listSize × (1 + c(k-1)), c(0) = 1.
  const deepest = Math.floor((limits.maxDepth - 3) / 2);
  const chains = [{ text: 'id', cost: 1 }];
  for (let k = 1; k <= deepest; k++) {
    const inner = chains[k - 1]!;
    chains.push({ text: `contacts { account { ${inner.text} } }`, cost: 1 + limits.listSize * (1 + inner.cost) });
  }
  const parts: string[] = [];
  let left = cost;
  for (let k = deepest; k >= 0; k--) {
    const perAccount = 1 + chains[k]!.cost; // nodes { chain }
    const first = Math.min(MAX_PAGE_SIZE, Math.floor((left - 1) / perAccount));
    if (first < 1) continue;
    parts.push(`t${k}: accounts(first: ${first}) { nodes { ${chains[k]!.text} } }`);
    left -= 1 + first * perAccount;
  }
  if (left > 20) throw new Error(`costQuery cannot reach ${cost} with these limits`);
  return `{ ${parts.join(' ')} ${'__typename '.repeat(left)}}`;
}

/**
 * The acceptance of the operation limits, for any server started by `start`: each limit exceeded by one is refused
 * with its code and HTTP 400, exactly at the limit is served, and abusive documents are refused while others are served.
 */
function describeOperationLimits(title: string, start: () => Promise<LimitsTarget>): void {
  describe(title, () => {
    let target: LimitsTarget;
    beforeAll(async () => {
      target = await start();
    });
    afterAll(() => target.close());

    it('serves an operation exactly as deep as maxDepth and refuses one level deeper with QUERY_TOO_DEEP', async () => {
      const { maxDepth } = target.limits;
      expect(await query(target, deepQuery(maxDepth))).toEqual(served);
      expect(await query(target, deepQuery(maxDepth + 1))).toEqual(
        refused(
          'QUERY_TOO_DEEP',
          `The operation nests fields ${maxDepth + 1} levels deep; this gateway allows ${maxDepth}.`,
        ),
      );
    });

    it('serves maxAliases aliases and refuses one more with TOO_MANY_ALIASES', async () => {
      const { maxAliases } = target.limits;
      expect(await query(target, aliasQuery(maxAliases))).toEqual(served);
      expect(await query(target, aliasQuery(maxAliases + 1))).toEqual(
        refused('TOO_MANY_ALIASES', `The operation uses ${maxAliases + 1} aliases; this gateway allows ${maxAliases}.`),
      );
    });

    it('serves maxDirectives directives and refuses one more with TOO_MANY_DIRECTIVES', async () => {
      const { maxDirectives } = target.limits;
      expect(await query(target, directiveQuery(maxDirectives))).toEqual(served);
      expect(await query(target, directiveQuery(maxDirectives + 1))).toEqual(
        refused(
          'TOO_MANY_DIRECTIVES',
          `The operation uses ${maxDirectives + 1} directives; this gateway allows ${maxDirectives}.`,
        ),
      );
    });

    it('serves a document of maxTokens tokens and refuses one token more with TOO_MANY_TOKENS', async () => {
      const { maxTokens } = target.limits;
      const atLimit = tokenQuery(maxTokens);
      const over = tokenQuery(maxTokens + 1);
      expect([tokenCount(atLimit), tokenCount(over)]).toEqual([maxTokens, maxTokens + 1]);
      expect(await query(target, atLimit)).toEqual(served);
      expect(await query(target, over)).toEqual(
        refused('TOO_MANY_TOKENS', `The document has more than ${maxTokens} tokens, the most this gateway parses.`, {
          locations: [{ line: 1, column: over.lastIndexOf('}') + 1 }],
        }),
      );
    });

    it('serves an operation costing exactly maxCost and refuses one costing one more with QUERY_TOO_COSTLY', async () => {
      const { maxCost } = target.limits;
      expect(await query(target, costQuery(maxCost, target.limits))).toEqual(served);
      expect(await query(target, costQuery(maxCost + 1, target.limits))).toEqual(
        refused(
          'QUERY_TOO_COSTLY',
          `The operation could cost ${maxCost + 1}, more than the ${maxCost} this gateway allows; ask for smaller pages.`,
        ),
      );
    });

    it('reads page sizes from variables: the same document is served with a small page and refused with a huge one', async () => {
      const text = 'query Accounts($first: Int) { accounts(first: $first) { nodes { id name } } }';
      expect(await query(target, text, { first: 10 })).toEqual(served);
      // 1 + first × (nodes 1 + id 1 + name 1)
      const first = Math.ceil(target.limits.maxCost / 3);
      expect(await query(target, text, { first })).toEqual(
        refused(
          'QUERY_TOO_COSTLY',
          `The operation could cost ${1 + first * 3}, more than the ${target.limits.maxCost} this gateway allows; ask for smaller pages.`,
        ),
      );
    });

    it('decides the cost anew for each page size and @include, however often the same document came before', async () => {
      const text =
        'query Accounts($first: Int, $withContacts: Boolean!) { accounts(first: $first) { nodes { id contacts @include(if: $withContacts) { id } } } }';
      // Without contacts: 1 + first × (nodes 1 + id 1); with them each account adds 1 + listSize × 1 more.
      const huge = Math.floor(target.limits.maxCost / 2) + 1;
      const tooCostly = (cost: number) =>
        refused(
          'QUERY_TOO_COSTLY',
          `The operation could cost ${cost}, more than the ${target.limits.maxCost} this gateway allows; ask for smaller pages.`,
        );
      expect(await query(target, text, { first: 10, withContacts: true })).toEqual(served);
      expect(await query(target, text, { first: huge, withContacts: false })).toEqual(tooCostly(1 + huge * 2));
      expect(await query(target, text, { first: huge, withContacts: true })).toEqual(
        tooCostly(1 + huge * (3 + target.limits.listSize)),
      );
      expect(await query(target, text, { first: 10, withContacts: true })).toEqual(served);
      expect(await query(target, text, { first: 10, withContacts: false })).toEqual(served);
      expect(await query(target, text, { first: huge, withContacts: false })).toEqual(tooCostly(1 + huge * 2));
    });

    it('refuses a query whose fragments expand to over 10,000 selections with QUERY_TOO_COSTLY', async () => {
      // Each fragment spreads the previous one twice: 2^15 copies of `id` from a few hundred tokens.
      const fragments = range(15).map((i) => `fragment F${i + 1} on Account { ...F${i} ...F${i} }`);
      const text = `{ accounts(first: 1) { nodes { ...F15 } } } fragment F0 on Account { id } ${fragments.join(' ')}`;
      expect(await query(target, text)).toEqual(
        refused(
          'QUERY_TOO_COSTLY',
          'The operation expands to more than 10000 selections (fragments count each time they are spread); ask for less.',
        ),
      );
    });

    it('refuses a 10,000-alias query, a depth-50 query and a 5 MB document while serving another client', async () => {
      const [aliases, deep, huge, normal] = await Promise.all([
        query(target, aliasQuery(10_000)),
        query(target, deepQuery(50)),
        query(target, `{ ${'__typename '.repeat(500_000)}}`),
        query(target, '{ accounts(first: 2) { totalCount nodes { id name } } }'),
      ]);
      // Three tokens per alias: the lexer stops long before the document is parsed, let alone validated.
      expect(aliases).toEqual(
        refused(
          'TOO_MANY_TOKENS',
          `The document has more than ${target.limits.maxTokens} tokens, the most this gateway parses.`,
          { locations: [expect.any(Object)] },
        ),
      );
      expect(deep).toEqual(
        refused(
          'QUERY_TOO_DEEP',
          `The operation nests fields 50 levels deep; this gateway allows ${target.limits.maxDepth}.`,
        ),
      );
      expect(huge).toEqual({
        status: 413,
        body: {
          errors: [
            {
              message: `The request body exceeds ${DEFAULT_MAX_BODY_BYTES} bytes`,
              extensions: { code: 'BAD_REQUEST' },
            },
          ],
        },
      });
      expect(normal).toEqual(served);
    });
  });
}

interface TestContext {
  requestId: string;
  identity: Identity | null;
}

/** Apollo Server over the real CRM subgraph schema with fixed empty answers, the limits installed as the gateway installs them. */
async function startLimitedCrmServer(limits: OperationLimits, logger = captureLogs().logger): Promise<LimitsTarget> {
  const typeDefs = loadTypeDefs(join(__dirname, '../../subgraphs/crm/schema.graphql'));
  const page = { nodes: [], totalCount: 0, pageInfo: { endCursor: null, hasNextPage: false } };
  const schema = buildSubgraphSchema([
    { typeDefs, resolvers: { Query: { accounts: () => page, account: () => null } } },
  ]);
  const limited = operationLimitsConfig<TestContext>(limits);
  const apollo = new ApolloServer<TestContext>({
    schema,
    formatError,
    includeStacktraceInErrorResponses: false,
    parseOptions: limited.parseOptions,
    validationRules: limited.validationRules,
    plugins: [...limited.plugins, requestLogPlugin<TestContext>(logger), ApolloServerPluginInlineTraceDisabled()],
  });
  await apollo.start();
  const listening = await listen(
    createGraphQLRequestListener(apollo, { context: async (_req, requestId) => ({ requestId, identity: null }) }),
    0,
  );
  return {
    url: listening.url,
    headers: {},
    limits,
    close: async () => {
      await listening.close();
      await apollo.stop();
    },
  };
}

describeOperationLimits('operation limits on a server with the default limits', () =>
  startLimitedCrmServer(DEFAULT_OPERATION_LIMITS),
);

describeOperationLimits('operation limits at the gateway, for a BI token', async () => {
  const stack = await startTestStack({ worker: false, relay: false });
  return {
    url: stack.gatewayUrl,
    headers: await authHeader('bi'),
    limits: DEFAULT_OPERATION_LIMITS,
    close: () => stack.stop(),
  };
});

describe('operation limits, with the token limit out of the way', () => {
  const logs = captureLogs();
  let target: LimitsTarget;
  beforeAll(async () => {
    target = await startLimitedCrmServer({ ...DEFAULT_OPERATION_LIMITS, maxTokens: 1_000_000 }, logs.logger);
  });
  afterAll(() => target.close());

  it('refuses a 10,000-alias query with TOO_MANY_ALIASES', async () => {
    expect(await query(target, aliasQuery(10_000))).toEqual(
      refused('TOO_MANY_ALIASES', 'The operation uses 10000 aliases; this gateway allows 30.'),
    );
  });

  it('logs the limit codes, not the parse or validation failure Apollo wraps them in', async () => {
    logs.lines.length = 0;
    await query(target, deepQuery(13));
    await query(target, directiveQuery(21));
    expect(logs.lines.map((l) => [l.msg, l.errorCodes])).toEqual([
      ['graphql request', ['QUERY_TOO_DEEP']],
      ['graphql request', ['TOO_MANY_DIRECTIVES']],
    ]);
  });
});

/** A schema with pages inside pages, as the gateway's API has (projects › time entries). */
const PAGED = buildSchema(`
  type Query { projects(first: Int): ProjectConnection! }
  type ProjectConnection { nodes: [Project!]! totalCount: Int! }
  type Project { id: ID! code: String! milestones: [Milestone!]! timeEntries(first: Int): TimeEntryConnection! }
  type Milestone { name: String! }
  type TimeEntryConnection { nodes: [TimeEntry!]! totalCount: Int! }
  type TimeEntry { id: ID! hours: Float! }
`);

describe('the cost model', () => {
  const cost = (text: string, variables: Record<string, unknown> = {}) =>
    operationCost(PAGED, parse(text), variables, DEFAULT_OPERATION_LIMITS);

  it('multiplies page sizes down the tree: 1,000 projects × 1,000 time entries each is refused', () => {
    // timeEntries: 1 + 1000 × (nodes 1 + id 1); projects: 1 + 1000 × (nodes 1 + timeEntries 2001)
    const text = '{ projects(first: 1000) { nodes { timeEntries(first: 1000) { nodes { id } } } } }';
    expect(cost(text)).toBe(2_002_001);
    expect(
      checkOperationLimits(PAGED, parse(text), {}, DEFAULT_OPERATION_LIMITS).map((e) => [
        e.code,
        e.message,
        e.extensions,
      ]),
    ).toEqual([
      [
        'QUERY_TOO_COSTLY',
        'The operation could cost 2002001, more than the 1000000 this gateway allows; ask for smaller pages.',
        { code: 'QUERY_TOO_COSTLY', http: { status: 400 } },
      ],
    ]);
  });

  it('counts a plain list as listSize items and a page left without first as defaultPageSize', () => {
    // milestones: 1 + 10 × 1; nodes: 1 + code 1 + milestones 11; projects: 1 + 1000 × (totalCount 1 + nodes 13)
    expect(cost('{ projects(first: 1000) { totalCount nodes { code milestones { name } } } }')).toBe(14_001);
    expect(cost('{ projects { nodes { id } } }')).toBe(1 + 50 * 2);
    expect(cost('query($n: Int) { projects(first: $n) { nodes { id } } }', { n: 7 })).toBe(1 + 7 * 2);
  });

  it('serves a BI page of 1,000 accounts with their contacts, deals, projects and invoices', () => {
    // The README's BI query and the batching test's query at 1,000 accounts, on the composed API's shapes.
    const schema = buildSchema(`
      type Query { accounts(first: Int): AccountConnection! }
      type AccountConnection { nodes: [Account!]! totalCount: Int! }
      type Money { amount: String! currency: String! }
      type Account { name: String! contacts: [Contact!]! opportunities: [Opportunity!]! projects: [Project!] invoices: [Invoice!]
        receivables: Money customer: Customer crossReferences: [CrossReference!] }
      type Contact { email: String }
      type Opportunity { amount: Money project: Project }
      type Project { code: String! milestones: [Milestone!]! billedToDate: Money invoices: [Invoice!] }
      type Milestone { name: String! }
      type Invoice { number: String! total: Money! balance: Money! payments: [Payment!]! }
      type Payment { amount: Money! }
      type Customer { customerNumber: String! legalEntity: LegalEntity! }
      type LegalEntity { name: String! }
      type CrossReference { system: String! }
    `);
    const batching = `{ accounts(first: 1000) { nodes { name contacts { email } opportunities { amount { amount currency } project { code } }
      projects { code milestones { name } billedToDate { amount } invoices { number } }
      invoices { total { amount } balance { amount } payments { amount { amount } } }
      receivables { amount } customer { customerNumber legalEntity { name } } crossReferences { system } } } }`;
    expect(operationCost(schema, parse(batching), {}, DEFAULT_OPERATION_LIMITS)).toBe(583_001);
    expect(checkOperationLimits(schema, parse(batching), {}, DEFAULT_OPERATION_LIMITS)).toEqual([]);
  });

  it('reports every broken limit of a parsed operation for the graphql-ws path', () => {
    const text = `{ ${range(31)
      .map((i) => `p${i}: projects(first: 1000) { nodes { timeEntries(first: 1000) { nodes { id } } } }`)
      .join(' ')} }`;
    expect(checkOperationLimits(PAGED, parse(text), null, DEFAULT_OPERATION_LIMITS).map((e) => e.code)).toEqual([
      'TOO_MANY_ALIASES',
      'QUERY_TOO_COSTLY',
    ]);
  });
});

describe('parseWithinLimits', () => {
  const limits = { ...DEFAULT_OPERATION_LIMITS, maxTokens: 20 };

  it('parses a document of maxTokens tokens', () => {
    expect(parseWithinLimits(tokenQuery(20), limits).definitions).toHaveLength(1);
  });

  it('refuses one token more with TOO_MANY_TOKENS', () => {
    const error = (() => {
      try {
        parseWithinLimits(tokenQuery(21), limits);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(MeridianError);
    expect([(error as MeridianError).code, (error as MeridianError).message]).toEqual([
      'TOO_MANY_TOKENS',
      'The document has more than 20 tokens, the most this gateway parses.',
    ]);
  });

  it('leaves a syntax error before the limit a syntax error', () => {
    const error = (() => {
      try {
        parseWithinLimits(`{ accounts(first: 1 { totalCount ${'id '.repeat(30)}} }`, limits);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(GraphQLError);
    expect(error).not.toBeInstanceOf(MeridianError);
    expect((error as GraphQLError).message).toBe('Syntax Error: Expected Name, found "{".');
  });
});

describe('operationLimitsFromEnv', () => {
  it('keeps the defaults when nothing is set', () => {
    expect(operationLimitsFromEnv({})).toEqual({
      maxDepth: 12,
      maxAliases: 30,
      maxDirectives: 20,
      maxTokens: 3000,
      maxCost: 1_000_000,
      defaultPageSize: 50,
      listSize: 10,
    });
  });

  it('reads every LIMIT_ variable', () => {
    expect(
      operationLimitsFromEnv({
        LIMIT_MAX_DEPTH: '8',
        LIMIT_MAX_ALIASES: '5',
        LIMIT_MAX_DIRECTIVES: '4',
        LIMIT_MAX_TOKENS: '900',
        LIMIT_MAX_COST: '5000',
        LIMIT_DEFAULT_PAGE_SIZE: '25',
        LIMIT_LIST_SIZE: '3',
      }),
    ).toEqual({
      maxDepth: 8,
      maxAliases: 5,
      maxDirectives: 4,
      maxTokens: 900,
      maxCost: 5000,
      defaultPageSize: 25,
      listSize: 3,
    });
  });

  it('refuses a value that is not a whole number of at least 1, naming the variable', () => {
    expect(() => operationLimitsFromEnv({ LIMIT_MAX_COST: 'lots' })).toThrow(
      "LIMIT_MAX_COST must be a whole number from 1 to 9007199254740991; got 'lots'",
    );
    expect(() => operationLimitsFromEnv({ LIMIT_MAX_DEPTH: '0' })).toThrow(
      "LIMIT_MAX_DEPTH must be a whole number from 1 to 9007199254740991; got '0'",
    );
  });
});
