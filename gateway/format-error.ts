import type { GraphQLFormattedError } from 'graphql';
import { formatError } from '../lib/format-error';

/**
 * The gateway's `formatError`: a subgraph's coded error keeps its code, and the subgraph that raised it
 * becomes `extensions.system`; everything else is masked as in {@link formatError}.
 */
export function formatGatewayError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const serviceName = formatted.extensions?.serviceName;
  const withSystem =
    typeof serviceName === 'string' && formatted.extensions?.system === undefined
      ? { ...formatted, extensions: { ...formatted.extensions, system: serviceName } }
      : formatted;
  return formatError(withSystem, error);
}
