import { authFromEnv } from './auth-from-env';
import { MIN_SECRET_LENGTH } from './secrets';
import { gatewayTrustOf, type GatewayTrust } from './subgraph-trust';

/** The values of `SUBGRAPH_TRUST`. @default signed */
export const SUBGRAPH_TRUST_MODES = ['signed', 'jwt'] as const;

/**
 * Reads whom a separately started subgraph trusts besides our signed requests:
 * - `SUBGRAPH_TRUST=signed` (default): nobody else (null);
 * - `SUBGRAPH_TRUST=jwt`: any gateway sending `GATEWAY_SHARED_SECRET` (32+ characters, always required) in
 *   `x-meridian-gateway-secret` and forwarding the caller's bearer token, verified with the gateway's own settings
 *   (`JWT_SECRET` / `JWKS_PATH` / `JWKS_URL`, `JWT_ISSUER`, `JWT_AUDIENCE`: lib/auth/auth-from-env.ts).
 * @throws Error naming the variable when a value is missing or invalid.
 */
export function gatewayTrustFromEnv(env: NodeJS.ProcessEnv): GatewayTrust | null {
  const mode = env.SUBGRAPH_TRUST || 'signed';
  if (!(SUBGRAPH_TRUST_MODES as readonly string[]).includes(mode))
    throw new Error(`SUBGRAPH_TRUST must be one of ${SUBGRAPH_TRUST_MODES.join(', ')}, not '${mode}'`);
  if (mode === 'signed') return null;
  const secret = env.GATEWAY_SHARED_SECRET;
  if (!secret || secret.length < MIN_SECRET_LENGTH)
    throw new Error(
      `GATEWAY_SHARED_SECRET must be set, at least ${MIN_SECRET_LENGTH} characters, when SUBGRAPH_TRUST=jwt (every trusted gateway sends it in x-meridian-gateway-secret)`,
    );
  return gatewayTrustOf(secret, authFromEnv(env));
}
