import { rateLimitKey, type RateLimiter } from '../plugins/rate-limit';
import type { GatewayPolicy } from './policy';

/**
 * Counts every operation (an HTTP request, a graphql-ws `subscribe`) against the caller's budget: a verified token's
 * role and subject, else the socket address. A connection refused for a bad token counts against its address, so
 * guessing tokens is throttled too. Over budget: RATE_LIMITED with `retryAfterMs`.
 */
export function rateLimit(limiter: RateLimiter): GatewayPolicy {
  return {
    name: 'rate-limit',
    codes: ['RATE_LIMITED'],
    connectionRefused: (connection) => limiter.consume(rateLimitKey(null, connection.req)),
    request: (request) => limiter.consume(rateLimitKey(request.connection.identity, request.connection.req)),
  };
}
