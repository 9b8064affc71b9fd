import { accessRefusal } from '../../lib/auth/access-plugin';
import { checkAccess, type AccessRules } from '../../lib/auth/access-rules';
import type { GatewayPolicy } from './policy';

/**
 * The supergraph's `@authenticated` / `@requiresScopes`, checked on every operation before any subgraph is called:
 * the first denied field's UNAUTHENTICATED (no token) or FORBIDDEN (a missing scope) with its path, the others counted
 * in its message. It runs before the cost check, so a caller who may not select a field learns that, not its cost.
 */
export function accessRules(rules: AccessRules): GatewayPolicy {
  return {
    name: 'access-rules',
    codes: ['UNAUTHENTICATED', 'FORBIDDEN'],
    operation({ schema, document, operationName, identity }) {
      const refusal = accessRefusal(checkAccess(schema, document, operationName, rules, identity));
      if (refusal) throw refusal;
    },
  };
}
