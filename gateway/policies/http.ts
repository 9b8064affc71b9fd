import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import type { ParseOptions, ValidationRule } from 'graphql';
import { MeridianError } from '../../lib/errors';
import type { AdmissionRequest, Admission } from '../../lib/graphql-http';
import type { GatewayContext } from '../context';
import type { PolicyPipeline } from './pipeline';
import type { PolicyConnection, PolicyRequest } from './policy';

/**
 * The HTTP adapter, admission half: every request is a connection and one operation, so each policy's `connect` and
 * `request` hooks run in list order before Apollo Server sees the body (for `createGraphQLRequestListener`'s `admit`).
 */
export function httpAdmission(pipeline: PolicyPipeline): (request: AdmissionRequest) => Promise<Admission> {
  return async ({ req, body }) => {
    const connection: PolicyConnection = {
      transport: 'http',
      req,
      authorization: req.headers.authorization,
      identity: null,
    };
    const request: PolicyRequest = {
      connection,
      body,
      getUrl: (req.method ?? 'GET').toUpperCase() === 'GET' ? (req.url ?? '/') : null,
    };
    await pipeline.admit(request, true);
    return { identity: connection.identity, body: request.body };
  };
}

/** What Apollo Server needs to run the pipeline's document and operation stages. */
export interface ApolloPolicyConfig<TContext extends GatewayContext> {
  parseOptions: ParseOptions;
  validationRules: ValidationRule[];
  plugins: ApolloServerPlugin<TContext>[];
}

/**
 * The HTTP adapter, execution half: the pipeline's token limit and validation rules as Apollo Server options (Apollo
 * caches their outcome per document), and one plugin that checks each resolved operation and restores the policies'
 * codes on the parse and validation errors Apollo re-codes as GRAPHQL_PARSE_FAILED / GRAPHQL_VALIDATION_FAILED.
 */
export function apolloPolicyConfig<TContext extends GatewayContext>(
  pipeline: PolicyPipeline,
): ApolloPolicyConfig<TContext> {
  // One listener for every request: its hooks read all they need from their arguments.
  const listener: GraphQLRequestListener<TContext> = {
    async didResolveOperation({ schema, document, request, contextValue }) {
      pipeline.checkOperation({
        identity: contextValue.identity,
        schema,
        document,
        operationName: request.operationName,
        variables: request.variables ?? {},
      });
    },
    async didEncounterErrors({ errors, source }) {
      for (const error of errors) {
        const code = error.extensions.code;
        if (code === 'GRAPHQL_VALIDATION_FAILED' && error.originalError instanceof MeridianError) {
          error.extensions.code = error.originalError.code;
        } else if (code === 'GRAPHQL_PARSE_FAILED' && source !== undefined) {
          const refusal = pipeline.parseRefusal(error, source);
          if (refusal) {
            error.extensions.code = refusal.code;
            error.message = refusal.message;
          }
        }
      }
    },
  };
  return {
    parseOptions: pipeline.maxTokens === undefined ? {} : { maxTokens: pipeline.maxTokens },
    validationRules: [...pipeline.validationRules],
    plugins: [{ requestDidStart: async () => listener }],
  };
}
