import { createHash, timingSafeEqual } from 'node:crypto';
import { MeridianError } from '../errors';
import type { Identity } from './identity';
import { createAuthenticator, type AuthOptions, type Authenticator } from './jwt-authenticator';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignedRequest, type SignatureCheck } from './signing';

/** Header a gateway other than ours sends to prove it is trusted (`SUBGRAPH_TRUST=jwt`): the shared secret itself. */
export const GATEWAY_SECRET_HEADER = 'x-meridian-gateway-secret';

/**
 * What a subgraph in `SUBGRAPH_TRUST=jwt` accepts besides signed requests: requests from any gateway that forwards the
 * caller's `Authorization: Bearer <JWT>` and sends the shared secret in {@link GATEWAY_SECRET_HEADER}; the subgraph
 * verifies the token itself, with the gateway's issuer, audience and keys.
 */
export interface GatewayTrust {
  /** The secret every trusted gateway sends in {@link GATEWAY_SECRET_HEADER} (`GATEWAY_SHARED_SECRET`). */
  gatewaySecret: string;
  /** Verifies the forwarded bearer token into the identity our gateway would build (lib/auth/identity.ts). */
  authenticate: Authenticator;
}

type Headers = Record<string, string | string[] | undefined>;

function one(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Compares two secrets in time independent of where they differ; hashing first makes the lengths equal, so the
 * comparison does not reveal the secret's length either.
 */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * Builds the check a subgraph runs on every GraphQL request before anything executes. It returns the caller's identity
 * (null: anonymous, refused by any field that needs a token) and throws MeridianError UNAUTHENTICATED (401) for a
 * missing, wrong or stale signature; with `gateways` (`SUBGRAPH_TRUST=jwt`), a request without signature headers is
 * admitted only with the gateway secret, and then for its bearer token (UNAUTHENTICATED for a malformed, expired,
 * wrongly signed, other-issuer or other-audience one). A request with signature headers is always checked as signed
 * (our gateway, the orchestration's own calls to the systems), so both kinds of gateway can front the same subgraphs.
 */
export function createSubgraphAdmission(
  signature: SignatureCheck,
  gateways: GatewayTrust | null,
): (headers: Headers, body: string) => Promise<Identity | null> {
  if (!gateways) return async (headers, body) => verifySignedRequest(signature, headers, body);
  return async (headers, body) => {
    if (one(headers, SIGNATURE_HEADER) !== undefined || one(headers, TIMESTAMP_HEADER) !== undefined)
      return verifySignedRequest(signature, headers, body);
    const secret = one(headers, GATEWAY_SECRET_HEADER);
    if (secret === undefined || !sameSecret(secret, gateways.gatewaySecret))
      throw new MeridianError(
        'UNAUTHENTICATED',
        `Subgraphs accept only requests from a trusted gateway (signed, or with the ${GATEWAY_SECRET_HEADER} header)`,
      );
    return gateways.authenticate(one(headers, 'authorization'));
  };
}

/**
 * The {@link GatewayTrust} of a subgraph from the token settings our gateway reads (lib/auth/auth-from-env.ts).
 * @throws Error when authentication is off: there would be no token to verify.
 */
export function gatewayTrustOf(gatewaySecret: string, auth: AuthOptions): GatewayTrust {
  if (auth.mode !== 'jwt') throw new Error('SUBGRAPH_TRUST=jwt verifies bearer tokens: it cannot run with AUTH=off');
  return { gatewaySecret, authenticate: createAuthenticator(auth) };
}
