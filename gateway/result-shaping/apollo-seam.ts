import type { ApolloGateway } from '@apollo/gateway';
import type { Operation, Schema } from '@apollo/federation-internals';
import type { Logger } from 'pino';
import { resultsShaped } from '../../lib/metrics/metrics';
import { compileOperationShaper, NOT_SHAPED } from './shape';

/**
 * Where {@link compileOperationShaper} takes over from `@apollo/gateway`'s result shaping.
 *
 * After its fetches, `@apollo/gateway` walks the merged subgraph answers once more to keep only what the operation
 * asked (`computeResponse` in its `dist/resultShaping.js`), interpreting the operation again at every object; on the
 * benchmark's BI query that walk and the serialisation of its null-prototype objects were a sixth of the gateway's
 * CPU (docs/benchmarks.md). The gateway offers no option for it, so this replaces that module's export — the function
 * `executeQueryPlan` calls — with one that shapes from a plan and hands anything its plan cannot take back to Apollo's.
 *
 * It is scoped: only the API schemas of gateways built with `resultShaping: 'compiled'` are shaped here; any other
 * `ApolloGateway` in the process (a plain one in a test) keeps Apollo's. It is guarded: on an `@apollo/gateway` other
 * than the version line it was checked against, or one whose module no longer has that export, it installs nothing,
 * logs one line, and Apollo's shaping serves every request.
 */

/** The `@apollo/gateway` version line whose `computeResponse` this mirrors (test/gateway-result-shaping.test.ts). */
export const CHECKED_GATEWAY_VERSION = /^2\.14\./;

/** Who shapes a gateway's results: the compiled plan (Apollo's when it cannot), or Apollo's always. */
export type ResultShaping = 'compiled' | 'apollo';

interface ComputeResponseArgs {
  operation: Operation;
  variables?: Record<string, unknown>;
  input: Record<string, unknown> | null | undefined;
}
type ComputeResponse = (args: ComputeResponseArgs) => { data: unknown; errors: unknown[] };

const shapedSchemas = new WeakSet<Schema>();
let apolloComputeResponse: ComputeResponse | null = null;
let refusal: string | null = null;
const byPlan = resultsShaped.labels('plan');
const byApollo = resultsShaped.labels('apollo');

/** `computeResponse` as installed: the plan for opted-in schemas, Apollo's otherwise and as the fallback. */
function computeResponse(args: ComputeResponseArgs): { data: unknown; errors: unknown[] } {
  const apollo = apolloComputeResponse!;
  const { operation, input } = args;
  if (!input || !shapedSchemas.has(operation.schema())) return apollo(args);
  const shaper = compileOperationShaper(operation);
  if (shaper) {
    const data = shaper.shape(input, args.variables);
    if (data !== NOT_SHAPED) {
      byPlan.inc();
      return { data, errors: [] };
    }
  }
  byApollo.inc();
  return apollo(args);
}

/**
 * Puts {@link computeResponse} in place of `@apollo/gateway`'s, once per process.
 * @returns null when it is in place, or why it is not.
 */
export function installResultShaping(): string | null {
  if (apolloComputeResponse || refusal) return refusal;
  const version = (require('@apollo/gateway/package.json') as { version: string }).version;
  const shaping = require('@apollo/gateway/dist/resultShaping') as { computeResponse?: unknown };
  if (!CHECKED_GATEWAY_VERSION.test(version))
    refusal = `@apollo/gateway ${version} is not the version line the compiled result shaping was checked against (${CHECKED_GATEWAY_VERSION.source})`;
  else if (typeof shaping.computeResponse !== 'function')
    refusal = `@apollo/gateway ${version} has no dist/resultShaping computeResponse to take over from`;
  if (refusal) return refusal;
  apolloComputeResponse = shaping.computeResponse as ComputeResponse;
  shaping.computeResponse = computeResponse;
  return null;
}

/**
 * Has `gateway`'s results shaped from compiled plans, from its first loaded schema on (and each one it loads after):
 * installs the seam if it is not yet, and says in one line when it cannot (Apollo's shaping then serves).
 */
export function shapeResultsOf(gateway: ApolloGateway, logger: Logger): void {
  const refused = installResultShaping();
  if (refused) {
    logger.warn(`result shaping: ${refused}; @apollo/gateway shapes every result itself`);
    return;
  }
  gateway.onSchemaLoadOrUpdate(() => {
    // The API schema `executeQueryPlan` passes on with each operation: set by the gateway before it calls listeners.
    const apiSchema = (gateway as unknown as { apiSchema?: Schema }).apiSchema;
    if (apiSchema) shapedSchemas.add(apiSchema);
    else
      logger.warn(
        'result shaping: the loaded gateway has no API schema to recognise; @apollo/gateway shapes its results',
      );
  });
}
