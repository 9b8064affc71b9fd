import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { getOperationAST } from 'graphql';
import { gatewayRequestDuration, gatewayRequests } from './metrics';

/** Distinct operation names reported before the rest count as `other`. @default 200 */
export const MAX_OPERATION_NAMES = 200;

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/**
 * Operation names are the caller's choice, so a label on them is bounded: the first {@link MAX_OPERATION_NAMES}
 * well-formed names are reported as given, later ones and malformed ones as `other`, unnamed ones as `anonymous`.
 */
export function operationNameLabel(name: string | null | undefined, seen: Set<string>): string {
  if (!name) return 'anonymous';
  if (!NAME.test(name)) return 'other';
  if (seen.has(name)) return name;
  if (seen.size >= MAX_OPERATION_NAMES) return 'other';
  seen.add(name);
  return name;
}

/**
 * Counts every GraphQL operation the server answers (`meridian_gateway_requests_total`) by operation name, type
 * (`unknown` when it did not parse) and outcome (`success`, `error` when the response has errors), and
 * times it (`meridian_gateway_request_duration_seconds`).
 */
export function metricsPlugin<TContext extends BaseContext>(): ApolloServerPlugin<TContext> {
  const seen = new Set<string>();
  return {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse({ request, document, operation, response }) {
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
          const outcome = errors?.length ? 'error' : 'success';
          // A document that parsed but failed validation has no resolved operation yet: read it from the document.
          const resolved = operation ?? (document ? getOperationAST(document, request.operationName) : null);
          const operationType = resolved?.operation ?? 'unknown';
          gatewayRequests.inc({
            operation_name: operationNameLabel(resolved?.name?.value ?? request.operationName, seen),
            operation_type: operationType,
            outcome,
          });
          gatewayRequestDuration.observe(
            { operation_type: operationType, outcome },
            Number(process.hrtime.bigint() - started) / 1e9,
          );
        },
      };
    },
  };
}
