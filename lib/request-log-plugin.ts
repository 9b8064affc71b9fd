import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { Logger } from 'pino';
import { isErrorCode } from './errors';

/** What the request-log plugin needs from a server's context. */
export interface LoggedContext extends BaseContext {
  requestId: string;
}

/**
 * Logs one JSON line per GraphQL request: request ID, operation name, duration, error codes.
 * Errors without a registered code (the ones the client sees masked) are logged in full here.
 */
export function requestLogPlugin<TContext extends LoggedContext>(logger: Logger): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart({ contextValue }) {
      const started = process.hrtime.bigint();
      return {
        async didEncounterErrors({ errors }) {
          for (const error of errors) {
            const code =
              error.extensions?.code ??
              (error.originalError as { extensions?: { code?: unknown } } | undefined)?.extensions?.code;
            if (!isErrorCode(code) || code === 'INTERNAL_SERVER_ERROR') {
              logger.error(
                { requestId: contextValue.requestId, err: error.originalError ?? error, path: error.path },
                'unexpected error',
              );
            }
          }
        },
        async willSendResponse({ request, operationName, response }) {
          const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
          logger.info(
            {
              requestId: contextValue.requestId,
              operationName: operationName ?? request.operationName ?? null,
              durationMs: Math.round(durationMs * 100) / 100,
              ...(errors?.length ? { errorCodes: errors.map((e) => e.extensions?.code) } : {}),
            },
            'graphql request',
          );
        },
      };
    },
  };
}
