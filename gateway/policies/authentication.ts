import type { Authenticator } from '../auth/authenticator';
import type { GatewayPolicy } from './policy';

/**
 * Who is calling, once per connection: the bearer JWT of each HTTP request, or of a graphql-ws socket's
 * `connection_init` (the socket keeps that identity, and is closed when the token expires). No token: anonymous, which
 * the access rules then judge; a bad token: UNAUTHENTICATED.
 */
export function authentication(authenticate: Authenticator): GatewayPolicy {
  return {
    name: 'authentication',
    codes: ['UNAUTHENTICATED'],
    async connect(connection) {
      connection.identity = await authenticate(connection.authorization);
    },
  };
}
