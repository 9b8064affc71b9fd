import type { GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { ALLOWED_EXTENSIONS, isErrorCode } from './errors';

/**
 * Apollo `formatError` for every server here: coded errors pass with only the allowlisted
 * extensions (no stack, no upstream body); anything else is masked as INTERNAL_SERVER_ERROR.
 * The unmasked error is logged by the request-log plugin under the request ID.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const code =
    formatted.extensions?.code ??
    (unwrapResolverError(error) as { extensions?: { code?: unknown } } | undefined)?.extensions?.code;
  if (!isErrorCode(code) || code === 'INTERNAL_SERVER_ERROR') {
    return {
      message: 'Unexpected error; the log holds the details under this request ID',
      ...(formatted.path ? { path: formatted.path } : {}),
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  }
  const extensions: Record<string, unknown> = {};
  for (const key of ALLOWED_EXTENSIONS) {
    const value = formatted.extensions?.[key];
    if (value !== undefined) extensions[key] = value;
  }
  extensions.code = code;
  return {
    message: formatted.message,
    ...(formatted.locations ? { locations: formatted.locations } : {}),
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions,
  };
}
