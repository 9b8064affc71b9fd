import { accessRefusal } from '../../lib/auth/access-plugin';
import { checkAccess, type AccessRules } from '../../lib/auth/access-rules';
import { documentCache } from './document-cache';
import type { GatewayPolicy } from './policy';

/**
 * The supergraph's `@authenticated` / `@requiresScopes`, checked on every operation before any subgraph is called:
 * the first denied field's UNAUTHENTICATED (no token) or FORBIDDEN (a missing scope) with its path, the others counted
 * in its message. It runs before the cost check, so a caller who may not select a field learns that, not its cost.
 * Whether a document's operation is allowed depends only on the caller's scopes (or on there being no caller), so it
 * is decided once per document, operation and scope set; a refusal is worked out in full each time it is given.
 */
export function accessRules(rules: AccessRules): GatewayPolicy {
  const allowed = documentCache<boolean>();
  return {
    name: 'access-rules',
    codes: ['UNAUTHENTICATED', 'FORBIDDEN'],
    operation({ schema, document, operationName, identity }) {
      const scopes = identity ? [...identity.scopes].sort().join(' ') : '(anonymous)';
      const key = `${operationName ?? ''}|${scopes}`;
      if (
        allowed(schema, document, key, () => checkAccess(schema, document, operationName, rules, identity).length === 0)
      )
        return;
      const refusal = accessRefusal(checkAccess(schema, document, operationName, rules, identity));
      if (refusal) throw refusal;
    },
  };
}
