import { accessRefusal } from '../../lib/auth/access-plugin';
import { checkAccess, type AccessRules } from '../../lib/auth/access-rules';
import type { Identity } from '../../lib/auth/identity';
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
      const key = `${operationName ?? ''}|${identity ? scopeKey(identity) : '(anonymous)'}`;
      if (
        allowed(schema, document, key, () => checkAccess(schema, document, operationName, rules, identity).length === 0)
      )
        return;
      const refusal = accessRefusal(checkAccess(schema, document, operationName, rules, identity));
      if (refusal) throw refusal;
    },
  };
}

const scopeKeys = new WeakMap<Identity, string>();

/** The identity's scopes as one sorted string, worked out once per identity (a kept token's is reused). */
function scopeKey(identity: Identity): string {
  let key = scopeKeys.get(identity);
  if (key === undefined) {
    key = [...identity.scopes].sort().join(' ');
    scopeKeys.set(identity, key);
  }
  return key;
}
