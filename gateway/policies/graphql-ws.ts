import type { IncomingMessage } from 'node:http';
import {
  GraphQLError,
  getOperationAST,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import type { Identity } from '../../lib/auth/identity';
import { MeridianError } from '../../lib/errors';
import type { PolicyPipeline } from './pipeline';
import type { PolicyConnection, PolicyRequest } from './policy';

/** Parsed and validated documents kept per adapter: many subscribers send the same document. */
const DOCUMENT_CACHE_ENTRIES = 500;

/** A graphql-ws `subscribe` payload. */
export interface SubscribePayload {
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
  extensions?: Record<string, unknown> | null;
}

/** An operation every policy admitted, ready to execute or subscribe to. */
export interface AdmittedOperation {
  identity: Identity | null;
  schema: GraphQLSchema;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  operationName: string | null;
  variables: Record<string, unknown>;
}

/** The graphql-ws adapter of the policy pipeline. */
export interface GraphQLWsPolicies {
  /**
   * A socket's `connection_init`: every `connect` hook, on its upgrade request and `connectionParams`.
   * @throws MeridianError when a policy refuses the socket (the server closes it).
   */
  connect(req: IncomingMessage, connectionParams: Record<string, unknown> | undefined): Promise<PolicyConnection>;
  /**
   * A `subscribe`: the `request` hooks, then parsing and validation (once per document text, with every policy's
   * rules), then the `operation` hooks. Returns the admitted operation, or the coded errors for graphql-ws's `error`
   * message.
   */
  subscribe(connection: PolicyConnection, payload: SubscribePayload): Promise<AdmittedOperation | GraphQLError[]>;
}

/**
 * Runs the pipeline for graphql-ws, which, unlike HTTP, does not go through Apollo Server: it authenticates once per
 * socket and parses and validates here.
 */
export function graphqlWsPolicies(
  pipeline: PolicyPipeline,
  options: {
    /** The API schema, once loaded. */
    schema: () => GraphQLSchema | null;
    /** Masks field suggestions in validation errors (`NODE_ENV=production`). @default false */
    production?: boolean;
  },
): GraphQLWsPolicies {
  const rules = [...specifiedRules, ...pipeline.validationRules];
  const parseOptions = pipeline.maxTokens === undefined ? {} : { maxTokens: pipeline.maxTokens };
  const documents = new Map<string, { document: DocumentNode; errors: readonly GraphQLError[] }>();
  const mask = (message: string) => (options.production ? message.replace(/ ?Did you mean .+\?$/, '') : message);
  const checked = (schema: GraphQLSchema, text: string) => {
    let entry = documents.get(text);
    if (!entry) {
      const document = parse(text, parseOptions);
      entry = {
        document,
        errors: validate(schema, document, rules).map((e) =>
          e instanceof MeridianError
            ? codedError(e.code, e.message)
            : codedError('GRAPHQL_VALIDATION_FAILED', mask(e.message)),
        ),
      };
      if (documents.size >= DOCUMENT_CACHE_ENTRIES) documents.delete(documents.keys().next().value!);
      documents.set(text, entry);
    }
    return entry;
  };

  return {
    connect: async (req, connectionParams) => {
      const connection: PolicyConnection = {
        transport: 'graphql-ws',
        req,
        authorization: bearerOf(connectionParams),
        identity: null,
      };
      await pipeline.connect(connection);
      return connection;
    },
    subscribe: async (connection, received) => {
      const request: PolicyRequest = { connection, body: received, getUrl: null };
      try {
        await pipeline.admit(request, false);
      } catch (error) {
        if (error instanceof MeridianError) return [error];
        throw error;
      }
      const payload = request.body as SubscribePayload;
      const schema = options.schema();
      if (!schema) return [codedError('SUBGRAPH_UNAVAILABLE', 'The gateway has not loaded its schema yet')];
      let document: DocumentNode;
      let errors: readonly GraphQLError[];
      try {
        ({ document, errors } = checked(schema, payload.query));
      } catch (error) {
        if (!(error instanceof GraphQLError)) throw error;
        const refusal = pipeline.parseRefusal(error, payload.query);
        return [
          refusal ? codedError(refusal.code, refusal.message) : codedError('GRAPHQL_PARSE_FAILED', error.message),
        ];
      }
      if (errors.length) return [...errors];
      const operation = getOperationAST(document, payload.operationName ?? undefined);
      if (!operation)
        return [codedError('OPERATION_RESOLUTION_FAILURE', 'Name the operation to run with operationName')];
      const admitted: AdmittedOperation = {
        identity: connection.identity,
        schema,
        document,
        operation,
        operationName: payload.operationName ?? null,
        variables: payload.variables ?? {},
      };
      try {
        pipeline.checkOperation(admitted);
      } catch (error) {
        if (error instanceof MeridianError) return [codedError(error.code, error.message, error.path)];
        throw error;
      }
      return admitted;
    },
  };
}

/** The bearer token of a graphql-ws `connection_init` payload: `{ authorization: "Bearer …" }` (any case of the key). */
function bearerOf(connectionParams: Record<string, unknown> | undefined): string | undefined {
  const entry = Object.entries(connectionParams ?? {}).find(([key]) => key.toLowerCase() === 'authorization');
  return typeof entry?.[1] === 'string' ? entry[1] : undefined;
}

/** A coded GraphQL error for the graphql-ws `error` message (no locations, no other extensions). */
function codedError(code: string, message: string, path?: readonly (string | number)[]): GraphQLError {
  return new GraphQLError(message, { extensions: { code }, ...(path ? { path } : {}) });
}
