import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  parse,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
  type IntrospectionQuery,
} from 'graphql';
import { accessRulesOf, satisfies } from '../../lib/auth/access-rules';
import { loadTrustedDocuments } from '../../gateway/plugins/trusted-documents';
import { identityOf, ROLES, type Role } from '../../lib/auth/identity';
import { composeSupergraph, loadSupergraphConfig } from '../../lib/compose';
import { SUPERGRAPH_CONFIG } from '../../stack/start-stack';
import { authHeader, gql, startTestStack, tokenFor } from '../support/stack';
import { createCallLog, recordCalls } from '../support/record-calls';
import { subscribe, wsClient } from '../support/ws-client';

/**
 * Every root field, mutation and subscription of the composed API schema × every role (none, bi, portal, operations,
 * service): the gateway allows it or refuses it with UNAUTHENTICATED / FORBIDDEN exactly as the schema's
 * `@authenticated` / `@requiresScopes` declare — and the declarations themselves keep to the roles' promises.
 */
type Caller = Role | 'none';
const CALLERS: Caller[] = ['none', ...ROLES];
type Outcome = 'allowed' | 'UNAUTHENTICATED' | 'FORBIDDEN';

/** A value of an input type that validates: required input fields filled, lists of one. */
function sample(type: GraphQLInputType): unknown {
  const inner = getNullableType(type);
  if (isListType(inner)) return [sample(inner.ofType)];
  if (isEnumType(inner)) return inner.getValues()[0]!.value;
  if (isInputObjectType(inner)) {
    return Object.fromEntries(
      Object.values(inner.getFields())
        .filter((f) => isNonNullType(f.type))
        .map((f) => [f.name, sample(f.type)]),
    );
  }
  if (isScalarType(inner))
    return ({ Int: 1, Float: 1, Boolean: false } as Record<string, unknown>)[inner.name] ?? 'MATRIX-0';
  throw new Error(`no sample for ${String(type)}`);
}

/** An operation selecting only `field` (and `__typename` under it), with its required arguments as variables. */
function operationFor(kind: 'query' | 'mutation' | 'subscription', field: GraphQLField<unknown, unknown>) {
  const required = field.args.filter((a) => isNonNullType(a.type));
  const defs = required.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
  const args = required.map((a) => `${a.name}: $${a.name}`).join(', ');
  const named = getNamedType(field.type);
  const selection = isScalarType(named) || isEnumType(named) ? '' : ' { __typename }';
  return {
    query: `${kind} Matrix${defs ? `(${defs})` : ''} { ${field.name}${args ? `(${args})` : ''}${selection} }`,
    variables: Object.fromEntries(required.map((a) => [a.name, sample(a.type)])),
  };
}

describe('access by role, as the composed schema declares it', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  let schema: GraphQLSchema;
  const rules = (() => {
    const composed = composeSupergraph(loadSupergraphConfig(SUPERGRAPH_CONFIG));
    if (composed.errors) throw new Error(composed.errors.join('\n'));
    return accessRulesOf(parse(composed.supergraphSdl));
  })();
  const headers: Record<Caller, Record<string, string>> = {} as never;
  // Every call into a system or the ledger: a refused operation must make none.
  const calls = createCallLog();

  beforeAll(async () => {
    // No worker: mutations only queue runs, nothing is sent to the systems.
    // Portal users are also held to trusted documents (test/security/gateway-policies.test.ts); here every role may send
    // any document, so what decides is the schema's declarations alone.
    stack = await startTestStack({
      worker: false,
      relay: false,
      trustedDocuments: { manifest: loadTrustedDocuments(), roles: [] },
      wrapConnector: (system, connector) => recordCalls(connector, calls, system),
    });
    for (const caller of CALLERS)
      headers[caller] =
        caller === 'none'
          ? { authorization: '' }
          : await authHeader(caller, caller === 'portal' ? { accounts: ['ACC-000001'] } : {});
    const introspection = await gql<IntrospectionQuery>(
      stack.gatewayUrl,
      getIntrospectionQuery(),
      undefined,
      headers.none,
    );
    schema = buildClientSchema(introspection.body.data!);
  });
  afterAll(() => stack.stop());

  const expected = (typeName: string, field: GraphQLField<unknown, unknown>, caller: Caller): Outcome => {
    const requirements = [
      ...(rules.fields.get(`${typeName}.${field.name}`) ?? []),
      ...(rules.types.get(getNamedType(field.type).name) ?? []),
    ];
    if (requirements.length === 0) return 'allowed';
    if (caller === 'none') return 'UNAUTHENTICATED';
    return satisfies(identityOf('matrix', caller, [], caller === 'portal' ? ['ACC-000001'] : null), requirements)
      ? 'allowed'
      : 'FORBIDDEN';
  };

  const rootFields = (kind: 'query' | 'mutation' | 'subscription') => {
    const type =
      kind === 'query'
        ? schema.getQueryType()
        : kind === 'mutation'
          ? schema.getMutationType()
          : schema.getSubscriptionType();
    return { typeName: type!.name, fields: Object.values(type!.getFields()) };
  };

  it('declares a requirement on every root field, and keeps the roles to their promises', () => {
    const table: Record<string, Record<Caller, Outcome>> = {};
    for (const kind of ['query', 'mutation', 'subscription'] as const) {
      const { typeName, fields } = rootFields(kind);
      for (const field of fields)
        table[`${typeName}.${field.name}`] = Object.fromEntries(
          CALLERS.map((c) => [c, expected(typeName, field, c)]),
        ) as Record<Caller, Outcome>;
    }
    const where = (predicate: (row: Record<Caller, Outcome>, key: string) => boolean) =>
      Object.keys(table).filter((k) => predicate(table[k]!, k));
    // Nobody anonymous gets anything.
    expect(where((row) => row.none !== 'UNAUTHENTICATED')).toEqual([]);
    // A BI reader never mutates; a portal user never mutates and reads only its own records' root fields.
    expect(where((row, key) => key.startsWith('Mutation.') && row.bi === 'allowed')).toEqual([]);
    expect(where((row, key) => key.startsWith('Mutation.') && row.portal === 'allowed')).toEqual([]);
    // `health` needs only a valid token, of any role; a portal user may also read (and watch) runs, which the
    // orchestration scopes to its own accounts (test/portal-live-status.test.ts).
    expect(where((row) => row.portal === 'allowed').sort()).toEqual(
      [
        'Query.account',
        'Query.health',
        'Query.accounts',
        'Query.invoice',
        'Query.invoices',
        'Query.milestone',
        'Query.milestones',
        'Query.project',
        'Query.projects',
        'Query.syncRun',
        'Query.syncRunAt',
        'Subscription.syncRunUpdated',
      ].sort(),
    );
    // Operations trigger flows; only the service writes straight to the systems of record.
    expect(where((row, key) => key.startsWith('Mutation.') && row.operations === 'allowed').sort()).toEqual(
      [
        'abandonRun',
        'applyContractAmendment',
        'billApprovedTime',
        'billMilestone',
        'convertOpportunityToProject',
        'invoiceBilledWork',
        'resolveException',
        'retryRun',
        'retryRunWithInput',
        'syncCustomer',
        'syncInvoiceStatus',
      ]
        .map((m) => `Mutation.${m}`)
        .sort(),
    );
    expect(where((row, key) => key.startsWith('Mutation.') && row.service !== 'allowed')).toEqual([]);
  });

  it('allows or refuses every query and mutation over HTTP exactly as declared', async () => {
    const mismatches: string[] = [];
    let cells = 0;
    let expectedCells = 0;
    for (const kind of ['query', 'mutation'] as const) {
      const { typeName, fields } = rootFields(kind);
      expectedCells += fields.length * CALLERS.length;
      for (const field of fields) {
        const { query, variables } = operationFor(kind, field);
        for (const caller of CALLERS) {
          const want = expected(typeName, field, caller);
          calls.reset();
          const { body } = await gql(stack.gatewayUrl, query, variables, headers[caller]);
          const codes = (body.errors ?? []).map((e) => e.extensions?.code);
          // Refused for another reason, the cell would say nothing about access.
          expect(
            codes.filter((c) =>
              [
                'GRAPHQL_VALIDATION_FAILED',
                'GRAPHQL_PARSE_FAILED',
                'PERSISTED_QUERY_NOT_IN_LIST',
                'RATE_LIMITED',
              ].includes(c as string),
            ),
          ).toEqual([]);
          const got: Outcome = codes.includes('UNAUTHENTICATED')
            ? 'UNAUTHENTICATED'
            : codes.includes('FORBIDDEN')
              ? 'FORBIDDEN'
              : 'allowed';
          if (got !== want)
            mismatches.push(
              `${typeName}.${field.name} as ${caller}: expected ${want}, got ${got} ${JSON.stringify(body.errors ?? [])}`,
            );
          if (got !== 'allowed') {
            // Refused at the gateway: no subgraph was asked anything.
            expect(calls.snapshot()).toEqual({});
            expect(body.data ?? null).toBeNull();
            expect(body.errors![0]!.path).toEqual([field.name]);
          }
          cells += 1;
        }
      }
    }
    expect(mismatches).toEqual([]);
    expect(cells).toBe(expectedCells);
    expect(cells).toBeGreaterThan(250);
  });

  it('allows or refuses every subscription over graphql-ws exactly as declared', async () => {
    const mismatches: string[] = [];
    const { typeName, fields } = rootFields('subscription');
    for (const caller of CALLERS) {
      const client = wsClient(
        stack.gateway.wsUrl,
        caller === 'none'
          ? null
          : `Bearer ${await tokenFor(caller, caller === 'portal' ? { accounts: ['ACC-000001'] } : {})}`,
      );
      try {
        for (const field of fields) {
          const want = expected(typeName, field, caller);
          const { query, variables } = operationFor('subscription', field);
          const sub = subscribe(client, query, variables);
          let error: unknown = null;
          sub.done.catch((e: unknown) => (error = e));
          if (want === 'allowed') {
            // Subscriptions register before a later operation on the same socket answers; a refusal would be there by then.
            await subscribe(client, '{ __typename }').done.catch(() => undefined);
            await Promise.resolve();
            const codes = Array.isArray(error)
              ? (error as { extensions?: { code?: string } }[]).map((e) => e.extensions?.code)
              : [];
            if (codes.includes('UNAUTHENTICATED') || codes.includes('FORBIDDEN'))
              mismatches.push(`${field.name} as ${caller}: expected allowed, got ${codes.join(',')}`);
            sub.unsubscribe();
          } else {
            await sub.done.catch(() => undefined);
            const codes = Array.isArray(error)
              ? (error as { extensions?: { code?: string } }[]).map((e) => e.extensions?.code)
              : [];
            if (!codes.includes(want))
              mismatches.push(`${field.name} as ${caller}: expected ${want}, got ${JSON.stringify(error)}`);
          }
        }
      } finally {
        await client.dispose();
      }
    }
    expect(mismatches).toEqual([]);
  });
});
