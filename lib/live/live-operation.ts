import {
  GraphQLError,
  Kind,
  print,
  visit,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type VariableDefinitionNode,
} from 'graphql';
import { getArgumentValues, getVariableValues } from 'graphql/execution/values';
import { MeridianError } from '../errors';

/** The subscription fields the gateway serves, each backed by a query the gateway runs per event. */
export type LiveField = 'syncRunUpdated' | 'syncRunsUpdated' | 'exceptionRaised';

const LIVE_FIELDS: readonly LiveField[] = ['syncRunUpdated', 'syncRunsUpdated', 'exceptionRaised'];

/** Aliases the gateway adds to its queries to read what it needs; stripped before results reach the client. */
export const SEQUENCE_ALIAS = '_meridianSequence';
export const STATUS_ALIAS = '_meridianStatus';
export const SYSTEM_ALIAS = '_meridianSystem';

/**
 * A subscription turned into the queries that resolve its payload: every field it selects, from whichever
 * subgraph, is resolved by the gateway's own query planner, as for any query.
 */
export interface LiveOperation {
  field: LiveField;
  /** The key the client expects the payload under (its alias, or the field name). */
  responseKey: string;
  /** The root field's arguments, coerced. */
  args: Record<string, unknown>;
  /** The run now: `$_id`. */
  currentRunQuery: string;
  /** The run at one sequence number: `$_id`, `$_sequence`. */
  runAtQuery: string;
  /** One exception: `$_id`. */
  exceptionQuery: string;
  /** The client's variables, coerced, for the queries. */
  variables: Record<string, unknown>;
}

/**
 * Checks a subscription document and plans its queries.
 * @throws MeridianError BAD_USER_INPUT (variables, arguments), GRAPHQL_VALIDATION_FAILED (shape).
 */
export function planLiveOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  rawVariables: Record<string, unknown> | null | undefined,
  operation: OperationDefinitionNode,
): LiveOperation {
  const selections = operation.selectionSet.selections;
  const root = selections[0];
  if (selections.length !== 1 || root?.kind !== Kind.FIELD) {
    throw new MeridianError(
      'GRAPHQL_VALIDATION_FAILED',
      'A subscription selects exactly one field (syncRunUpdated, syncRunsUpdated or exceptionRaised), without fragments at its root',
    );
  }
  const field = root.name.value as LiveField;
  if (!LIVE_FIELDS.includes(field))
    throw new MeridianError('GRAPHQL_VALIDATION_FAILED', `Subscription field '${field}' is not served by this gateway`);
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], rawVariables ?? {});
  if (coerced.errors) throw new MeridianError('BAD_USER_INPUT', coerced.errors.map((e) => e.message).join('; '));
  const fieldDef = schema.getSubscriptionType()!.getFields()[field]!;
  let args: Record<string, unknown>;
  try {
    args = getArgumentValues(fieldDef, root, coerced.coerced);
  } catch (error) {
    throw new MeridianError('BAD_USER_INPUT', (error as Error).message);
  }

  const fragments = document.definitions.filter(
    (d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION,
  );
  const selection = print(root.selectionSet!);
  const used = usedVariables(root, fragments);
  const definitions = (operation.variableDefinitions ?? []).filter((d) => used.has(d.variable.name.value));
  const query = (extraDefs: string, body: string) =>
    `query Live${field}(${[extraDefs, ...definitions.map((d: VariableDefinitionNode) => print(d))].filter(Boolean).join(', ')}) { ${body} }\n${fragments.map((f) => print(f)).join('\n')}`;
  const inner = (alias: string) => selection.replace(/^\{/, `{ ${alias}`);
  return {
    field,
    responseKey: root.alias?.value ?? field,
    args,
    currentRunQuery: query(
      '$_id: ID!',
      `run: syncRun(id: $_id) ${inner(`${SEQUENCE_ALIAS}: sequence ${STATUS_ALIAS}: status`)}`,
    ),
    runAtQuery: query(
      '$_id: ID!, $_sequence: Int!',
      `run: syncRunAt(id: $_id, sequence: $_sequence) ${inner(`${SEQUENCE_ALIAS}: sequence ${STATUS_ALIAS}: status`)}`,
    ),
    exceptionQuery: query('$_id: ID!', `exception: syncException(id: $_id) ${inner(`${SYSTEM_ALIAS}: system`)}`),
    variables: Object.fromEntries(
      definitions.map((d) => [d.variable.name.value, coerced.coerced[d.variable.name.value]]),
    ),
  };
}

function usedVariables(root: FieldNode, fragments: readonly FragmentDefinitionNode[]): Set<string> {
  const names = new Set<string>();
  const collect = (node: FieldNode['selectionSet'] | FragmentDefinitionNode) =>
    node &&
    visit(node, {
      Variable(v) {
        names.add(v.name.value);
      },
    });
  collect(root.selectionSet);
  for (const f of fragments) collect(f);
  return names;
}

/** A coded GraphQL error for the graphql-ws `error` message. */
export function codedError(code: string, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}
