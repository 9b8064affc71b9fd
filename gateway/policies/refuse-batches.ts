import { MeridianError } from '../../lib/errors';
import type { GatewayPolicy } from './policy';

/**
 * One operation per request: a batched HTTP body (a JSON array) is refused with BAD_REQUEST before anything else is
 * spent on it. A graphql-ws `subscribe` carries one operation by the protocol (graphql-ws itself closes a socket that
 * sends anything else with 4400), so there this check always passes.
 */
export function refuseBatches(): GatewayPolicy {
  return {
    name: 'refuse-batches',
    codes: ['BAD_REQUEST'],
    request(request) {
      if (Array.isArray(request.body))
        throw new MeridianError('BAD_REQUEST', 'Batched requests are not accepted; send one operation per request');
    },
  };
}
