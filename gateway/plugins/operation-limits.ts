import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import {
  GraphQLError,
  Lexer,
  Source,
  TokenKind,
  getNullableType,
  isInterfaceType,
  isListType,
  isObjectType,
  parse,
  validate,
  visit,
  type DocumentNode,
  type GraphQLSchema,
  type ParseOptions,
  type ValidationContext,
  type ValidationRule,
  type ValueNode,
} from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import { intFromEnv } from '../../lib/env';
import { MeridianError, type ErrorCode } from '../../lib/errors';
import { DEFAULT_PAGE_SIZE } from '../../lib/pagination';
import { documentCache } from '../policies/document-cache';

/** How much one operation may ask of the gateway. Every limit is inclusive: an operation exactly at it is served. */
export interface OperationLimits {
  /**
   * Deepest field nesting: `{ accounts { nodes { name } } }` is 3. Fragments add no level; `__schema` is not counted.
   * @default 12 (the deepest documented query, `trace { account { projects { invoices { payments { amount { amount } } } } } }`, is 7)
   */
  maxDepth: number;
  /** Aliases in the operation (fragments counted where spread), `__typename` included. @default 30 */
  maxAliases: number;
  /** Directives in the operation (`@include`, `@skip`, …, on fields, fragments and the operation). @default 20 */
  maxDirectives: number;
  /** Lexical tokens in the document; parsing stops at the first one over. @default 3000 */
  maxTokens: number;
  /**
   * Estimated cost: every selected field costs 1, and a field's selection costs as many times as the field can
   * return items (its `first`, or {@link defaultPageSize} without one; a plain list {@link listSize}), so page
   * sizes multiply down the tree.
   * @default 1_000_000 (the batching test's page of 1,000 accounts with their contacts, deals, projects, invoices
   * and payments costs 583,001; 1,000 projects × 1,000 time entries each costs 2,002,001)
   */
  maxCost: number;
  /**
   * Items assumed for a field that takes `first` when the operation leaves `first` out.
   * @default 50 (what our connections return without `first`: `DEFAULT_PAGE_SIZE` in lib/pagination.ts)
   */
  defaultPageSize: number;
  /**
   * Items assumed for a plain list field, one without `first` (`Account.contacts`, `Project.milestones`): the
   * data bounds these, not the client, so this is a typical length rather than a maximum.
   * @default 10 (the demo data has 1–4 contacts, deals and projects per account, 3–4 milestones per project)
   */
  listSize: number;
}

/** The limits when no `LIMIT_*` variable is set; they fit every query the README, the tests and the benchmarks run. */
export const DEFAULT_OPERATION_LIMITS: Readonly<OperationLimits> = Object.freeze({
  maxDepth: 12,
  maxAliases: 30,
  maxDirectives: 20,
  maxTokens: 3000,
  maxCost: 1_000_000,
  defaultPageSize: DEFAULT_PAGE_SIZE,
  listSize: 10,
});

/**
 * Reads the limits from `LIMIT_MAX_DEPTH`, `LIMIT_MAX_ALIASES`, `LIMIT_MAX_DIRECTIVES`, `LIMIT_MAX_TOKENS`,
 * `LIMIT_MAX_COST`, `LIMIT_DEFAULT_PAGE_SIZE` and `LIMIT_LIST_SIZE`; unset ones keep {@link DEFAULT_OPERATION_LIMITS}.
 * @throws Error naming the variable when one is set but not a whole number of at least 1.
 */
export function operationLimitsFromEnv(env: NodeJS.ProcessEnv): OperationLimits {
  const d = DEFAULT_OPERATION_LIMITS;
  return {
    maxDepth: intFromEnv(env, 'LIMIT_MAX_DEPTH', d.maxDepth, 1),
    maxAliases: intFromEnv(env, 'LIMIT_MAX_ALIASES', d.maxAliases, 1),
    maxDirectives: intFromEnv(env, 'LIMIT_MAX_DIRECTIVES', d.maxDirectives, 1),
    maxTokens: intFromEnv(env, 'LIMIT_MAX_TOKENS', d.maxTokens, 1),
    maxCost: intFromEnv(env, 'LIMIT_MAX_COST', d.maxCost, 1),
    defaultPageSize: intFromEnv(env, 'LIMIT_DEFAULT_PAGE_SIZE', d.defaultPageSize, 1),
    listSize: intFromEnv(env, 'LIMIT_LIST_SIZE', d.listSize, 1),
  };
}

/** What Apollo Server needs to enforce the limits; spread it into the constructor options (merging any own plugins). */
export interface OperationLimitsConfig<TContext extends BaseContext> {
  /** Stops the lexer at `maxTokens + 1` tokens. */
  parseOptions: ParseOptions;
  /** Depth, aliases and directives, reported as coded errors during validation. */
  validationRules: ValidationRule[];
  /** Checks the cost once variables are known, and gives parse/validation refusals their own codes. */
  plugins: ApolloServerPlugin<TContext>[];
}

/**
 * The Apollo Server options that enforce `limits` on HTTP requests. Every refusal has HTTP status 400 and
 * `extensions.code` QUERY_TOO_DEEP, TOO_MANY_ALIASES, TOO_MANY_DIRECTIVES, TOO_MANY_TOKENS or QUERY_TOO_COSTLY.
 */
export function operationLimitsConfig<TContext extends BaseContext>(
  limits: OperationLimits,
): OperationLimitsConfig<TContext> {
  return {
    parseOptions: { maxTokens: limits.maxTokens },
    validationRules: operationLimitRules(limits),
    plugins: [operationLimitsPlugin<TContext>(limits)],
  };
}

/**
 * The Apollo plugin half of {@link operationLimitsConfig}: refuses an operation over `maxCost` (in
 * `didResolveOperation`, where variables are known), and re-codes the parse and validation errors the token
 * limit and {@link operationLimitRules} cause, which Apollo would otherwise send as GRAPHQL_PARSE_FAILED /
 * GRAPHQL_VALIDATION_FAILED. Use it together with the config's `parseOptions` and `validationRules`.
 */
export function operationLimitsPlugin<TContext extends BaseContext>(
  limits: OperationLimits,
): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, request, operation }) {
          if (!operation) return; // several operations and no operationName: execution refuses it
          const error = operationCostRefusal(schema, document, request.variables ?? {}, limits, operation.name?.value);
          if (error) throw error;
        },
        async didEncounterErrors({ errors, source }) {
          // Apollo wraps parse and validation errors in its own classes, overwriting their code: restore ours
          // before the errors are formatted (and logged), so clients see which limit they hit.
          for (const error of errors) {
            const code = error.extensions.code;
            if (code === 'GRAPHQL_VALIDATION_FAILED' && error.originalError instanceof MeridianError) {
              recode(error, error.originalError.code, error.message);
            } else if (
              code === 'GRAPHQL_PARSE_FAILED' &&
              source !== undefined &&
              stoppedByTokenLimit(error, source, limits.maxTokens)
            ) {
              recode(error, 'TOO_MANY_TOKENS', tooManyTokensMessage(limits.maxTokens));
            }
          }
        },
      };
    },
  };
}

/**
 * Depth, alias and directive limits as graphql-js validation rules (GraphQL Armor's), each reporting a
 * {@link MeridianError} with its own code instead of throwing.
 */
export function operationLimitRules(limits: OperationLimits): ValidationRule[] {
  const reporting = (code: ErrorCode, message: (found: string) => string) => ({
    propagateOnRejection: false,
    onReject: [
      (context: ValidationContext | null, error: GraphQLError) => {
        const found = /found (\d+)/.exec(error.message)?.[1] ?? 'more';
        context?.reportError(new MeridianError(code, message(found)));
      },
    ],
  });
  return [
    maxDepthRule({
      n: limits.maxDepth,
      flattenFragments: true,
      ignoreIntrospection: true,
      ...reporting(
        'QUERY_TOO_DEEP',
        (found) => `The operation nests fields ${found} levels deep; this gateway allows ${limits.maxDepth}.`,
      ),
    }),
    maxAliasesRule({
      n: limits.maxAliases,
      allowList: [],
      ...reporting(
        'TOO_MANY_ALIASES',
        (found) => `The operation uses ${found} aliases; this gateway allows ${limits.maxAliases}.`,
      ),
    }),
    maxDirectivesRule({
      n: limits.maxDirectives,
      ...reporting(
        'TOO_MANY_DIRECTIVES',
        (found) => `The operation uses ${found} directives; this gateway allows ${limits.maxDirectives}.`,
      ),
    }),
  ];
}

/**
 * Parses `source` for a transport that does not go through Apollo Server (graphql-ws), stopping at the token limit.
 * @throws MeridianError TOO_MANY_TOKENS over `maxTokens`; the GraphQLError syntax error for an invalid document.
 */
export function parseWithinLimits(source: string, limits: OperationLimits): DocumentNode {
  try {
    return parse(source, { maxTokens: limits.maxTokens });
  } catch (error) {
    if (error instanceof GraphQLError && stoppedByTokenLimit(error, source, limits.maxTokens)) {
      throw limitError('TOO_MANY_TOKENS', tooManyTokensMessage(limits.maxTokens));
    }
    throw error;
  }
}

/**
 * Every limit a parsed (and schema-validated) operation breaks, for a transport that does not go through Apollo
 * Server (graphql-ws); parse with {@link parseWithinLimits} for the token limit. Empty when it may run.
 */
export function checkOperationLimits(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | null | undefined,
  limits: OperationLimits,
  operationName?: string | null,
): MeridianError[] {
  const errors = validate(schema, document, operationLimitRules(limits)).filter(
    (e): e is MeridianError => e instanceof MeridianError,
  );
  const cost = operationCostRefusal(schema, document, variables ?? {}, limits, operationName ?? undefined);
  return cost ? [...errors, cost] : errors;
}

/** Selections graphql-query-complexity expands (fragments included each time they are spread) before giving up. */
const MAX_EVALUATED_SELECTIONS = 10_000;

/**
 * The estimated cost of the operation, per {@link OperationLimits.maxCost}.
 * @throws GraphQLError when the variables do not fit the operation, or it expands to too many selections.
 */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown>,
  limits: OperationLimits,
  operationName?: string,
): number {
  return getComplexity({
    schema,
    query: document,
    variables,
    estimators: [pageSizeEstimator(schema, limits)],
    maxQueryNodes: MAX_EVALUATED_SELECTIONS,
    ...(operationName ? { operationName } : {}),
  });
}

/**
 * The refusal of an operation whose estimated cost is over `maxCost` (or that expands to too many selections):
 * QUERY_TOO_COSTLY with HTTP status 400; null when it may run, or when its variables do not fit (execution refuses those).
 * The cost is counted once per document, operation, limits and values of the variables it depends on (those given to
 * a `first` argument or to `@skip`/`@include`): other requests of the same document reuse it.
 */
export function operationCostRefusal(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown>,
  limits: OperationLimits,
  operationName: string | undefined,
): MeridianError | null {
  const key = `${operationName ?? ''}|${limits.maxCost}|${limits.defaultPageSize}|${limits.listSize}|${costVariablesKey(document, variables)}`;
  const cost = cachedCost(schema, document, key, () => {
    try {
      return operationCost(schema, document, variables, limits, operationName);
    } catch (error) {
      if (error instanceof GraphQLError && /maximum allowed number of nodes/.test(error.message)) return 'too-many';
      return 'unfit'; // variables that do not fit the operation: execution refuses them with BAD_USER_INPUT
    }
  });
  if (cost === 'too-many')
    return limitError(
      'QUERY_TOO_COSTLY',
      `The operation expands to more than ${MAX_EVALUATED_SELECTIONS} selections (fragments count each time they are spread); ask for less.`,
    );
  if (cost === 'unfit' || cost <= limits.maxCost) return null;
  return limitError(
    'QUERY_TOO_COSTLY',
    `The operation could cost ${cost}, more than the ${limits.maxCost} this gateway allows; ask for smaller pages.`,
  );
}

const cachedCost = documentCache<number | 'too-many' | 'unfit'>();
const costVariablesByDocument = new WeakMap<DocumentNode, readonly string[]>();

/**
 * The values of the variables an operation's cost depends on, as a cache key: those passed to a `first` argument
 * (page sizes) or to `@skip`/`@include` (what is selected at all). A cursor or a filter changes no cost.
 */
function costVariablesKey(document: DocumentNode, variables: Record<string, unknown>): string {
  let names = costVariablesByDocument.get(document);
  if (!names) {
    const found = new Set<string>();
    const collect = (value: ValueNode) =>
      visit(value, {
        Variable(variable) {
          found.add(variable.name.value);
        },
      });
    visit(document, {
      Field(field) {
        for (const arg of field.arguments ?? []) if (arg.name.value === 'first') collect(arg.value);
      },
      Directive(directive) {
        if (directive.name.value === 'skip' || directive.name.value === 'include')
          for (const arg of directive.arguments ?? []) collect(arg.value);
      },
    });
    names = [...found].sort();
    costVariablesByDocument.set(document, names);
  }
  // A variable left out (its default applies) is told apart from one sent as null.
  return names.map((name) => (name in variables ? JSON.stringify(variables[name]) : '-')).join(',');
}

/**
 * Cost of one field: 1, plus its selection's cost times the items it can return: `first` when it takes one
 * (`defaultPageSize` when left out), `listSize` for a plain list, 1 otherwise. A list on a page type (one a
 * `first` field returns, e.g. `AccountConnection.nodes`) is the page itself, already counted by that `first`.
 */
function pageSizeEstimator(schema: GraphQLSchema, limits: OperationLimits): ComplexityEstimator {
  const pages = pageTypesOf(schema);
  return ({ type, field, args, childComplexity }) => {
    let items = 1;
    if (field.args.some((a) => a.name === 'first')) {
      const first: unknown = args.first;
      items = typeof first === 'number' && Number.isFinite(first) ? Math.max(0, first) : limits.defaultPageSize;
    } else if (isListType(getNullableType(field.type)) && !pages.has(type.name)) {
      items = limits.listSize;
    }
    return 1 + items * childComplexity;
  };
}

const pageTypesBySchema = new WeakMap<GraphQLSchema, Set<string>>();

/** Names of the types a field with a `first` argument returns (connections, `BillableWork`). */
function pageTypesOf(schema: GraphQLSchema): Set<string> {
  let pages = pageTypesBySchema.get(schema);
  if (!pages) {
    pages = new Set();
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) && !isInterfaceType(type)) continue;
      for (const field of Object.values(type.getFields())) {
        const returned = getNullableType(field.type);
        if (field.args.some((a) => a.name === 'first') && !isListType(returned)) pages.add(String(returned));
      }
    }
    pageTypesBySchema.set(schema, pages);
  }
  return pages;
}

/** True when parsing failed exactly where `source` passes `maxTokens` tokens (not on an earlier syntax error). */
function stoppedByTokenLimit(error: GraphQLError, source: string, maxTokens: number): boolean {
  const lexer = new Lexer(new Source(source));
  try {
    for (let count = 0; count < maxTokens; count++) if (lexer.advance().kind === TokenKind.EOF) return false;
    const over = lexer.advance();
    return over.kind !== TokenKind.EOF && error.positions?.[0] === over.start;
  } catch {
    return false; // a lexical error before the limit
  }
}

/**
 * The TOO_MANY_TOKENS refusal behind a parse error that stopped exactly at the token limit; null for a plain syntax
 * error (which keeps GRAPHQL_PARSE_FAILED).
 */
export function tokenLimitRefusal(error: GraphQLError, source: string, maxTokens: number): MeridianError | null {
  return stoppedByTokenLimit(error, source, maxTokens)
    ? limitError('TOO_MANY_TOKENS', tooManyTokensMessage(maxTokens))
    : null;
}

function tooManyTokensMessage(maxTokens: number): string {
  return `The document has more than ${maxTokens} tokens, the most this gateway parses.`;
}

function limitError(code: ErrorCode, message: string): MeridianError {
  const error = new MeridianError(code, message);
  error.extensions.http = { status: 400 };
  return error;
}

function recode(error: GraphQLError, code: ErrorCode, message: string): void {
  error.extensions.code = code;
  error.message = message;
}
