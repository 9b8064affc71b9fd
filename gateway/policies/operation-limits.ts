import {
  operationCostRefusal,
  operationLimitRules,
  tokenLimitRefusal,
  type OperationLimits,
} from '../plugins/operation-limits';
import type { GatewayPolicy } from './policy';

/**
 * How much one operation may ask: tokens (parsing stops past the limit), depth, aliases and directives (validation,
 * cached with the document), and the estimated cost (per operation, once its variables are known). Refusals:
 * TOO_MANY_TOKENS, QUERY_TOO_DEEP, TOO_MANY_ALIASES, TOO_MANY_DIRECTIVES, QUERY_TOO_COSTLY (HTTP 400).
 */
export function operationLimits(limits: OperationLimits): GatewayPolicy {
  return {
    name: 'operation-limits',
    codes: ['TOO_MANY_TOKENS', 'QUERY_TOO_DEEP', 'TOO_MANY_ALIASES', 'TOO_MANY_DIRECTIVES', 'QUERY_TOO_COSTLY'],
    document: {
      maxTokens: limits.maxTokens,
      validationRules: operationLimitRules(limits),
      parseRefusal: (error, source) => tokenLimitRefusal(error, source, limits.maxTokens),
    },
    operation({ schema, document, variables, operationName }) {
      const refusal = operationCostRefusal(schema, document, variables, limits, operationName ?? undefined);
      if (refusal) throw refusal;
    },
  };
}
