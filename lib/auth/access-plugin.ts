import type { ApolloServerPlugin } from '@apollo/server';
import type { LoggedContext } from '../request-log-plugin';
import { checkAccess, type AccessRules } from './access-rules';
import type { Identity } from './identity';
import type { MeridianError } from '../errors';

/** A server context that carries the caller's verified identity (null: anonymous). */
export interface SecuredContext extends LoggedContext {
  identity: Identity | null;
}

/** HTTP status of an access error: 401 for no or a bad identity, 403 for a missing scope. */
export function accessStatus(code: string): number {
  return code === 'UNAUTHENTICATED' ? 401 : 403;
}

/**
 * Enforces the schema's `@authenticated` / `@requiresScopes` on every operation once it is parsed and validated,
 * before any resolver (or, at the gateway, any subgraph) runs: the first denied field's UNAUTHENTICATED or FORBIDDEN
 * error with its path, the others counted in its message.
 */
export function accessControlPlugin<TContext extends SecuredContext>(rules: AccessRules): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operationName, contextValue }) {
          const refusal = accessRefusal(checkAccess(schema, document, operationName, rules, contextValue.identity));
          if (refusal) throw refusal;
        },
      };
    },
  };
}

/**
 * The one error an operation with denied fields is refused with: the first, its message counting the others' paths,
 * with its HTTP status (401 or 403) for Apollo Server. Null when `errors` is empty.
 */
export function accessRefusal(errors: MeridianError[]): MeridianError | null {
  const first = errors[0];
  if (!first) return null;
  if (errors.length > 1) {
    (first as { message: string }).message = `${first.message}; ${errors.length - 1} more: ${errors
      .slice(1)
      .map((e) => (e.path ?? []).join('.'))
      .join(', ')}`;
  }
  first.extensions.http = { status: accessStatus(first.code) };
  return first;
}
