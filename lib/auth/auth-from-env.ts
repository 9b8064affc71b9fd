import { identityOf, ROLES, type Role } from './identity';
import { isProduction, MIN_SECRET_LENGTH } from './secrets';
import { intFromEnv } from '../env';
import { type AuthOptions, DEFAULT_TOKEN_CACHE_SIZE, DEFAULT_TOKEN_CACHE_TTL_MS } from './jwt-authenticator';

/** Issuer and audience of development tokens, when JWT_ISSUER / JWT_AUDIENCE are not set outside production. */
export const DEV_ISSUER = 'meridian-dev';
export const DEV_AUDIENCE = 'meridian';
/** The HS256 secret used outside production when none is configured; `npm run token` signs with it too. */
export const DEV_JWT_SECRET = 'meridian-development-only-jwt-secret-not-for-production';

/**
 * Reads the gateway's authentication settings:
 * - `AUTH=off` switches authentication off (every caller becomes `AUTH_OFF_ROLE`, default `operations`, with
 *   read:pii) — for local development or fronting foreign subgraphs; refused when `NODE_ENV=production`;
 * - keys from `JWKS_URL`, else `JWKS_PATH` (a JWKS JSON file), else `JWT_SECRET` (HS256);
 * - `JWT_ISSUER`, `JWT_AUDIENCE`;
 * - `AUTH_TOKEN_CACHE_SIZE` (10000; 0 keeps none) and `AUTH_TOKEN_CACHE_TTL_MS` (60000): verified tokens kept.
 * Outside production, missing settings fall back to {@link DEV_JWT_SECRET}, {@link DEV_ISSUER}, {@link DEV_AUDIENCE}.
 * @throws Error naming the setting when production lacks one, or a value is invalid.
 */
export function authFromEnv(env: NodeJS.ProcessEnv): AuthOptions {
  const production = isProduction(env);
  const switchedOff = env.AUTH ?? 'on';
  if (switchedOff !== 'on' && switchedOff !== 'off')
    throw new Error(`AUTH must be 'on' or 'off', not '${switchedOff}'`);
  if (switchedOff === 'off') {
    if (production) throw new Error('AUTH=off is refused when NODE_ENV=production');
    const role = (env.AUTH_OFF_ROLE ?? 'operations') as Role;
    if (!ROLES.includes(role) || role === 'portal')
      throw new Error(`AUTH_OFF_ROLE must be one of bi, operations, service, not '${role}'`);
    return { mode: 'off', identity: identityOf('auth-off', role, ['read:pii'], null) };
  }
  const required = (name: string, fallback: string) => {
    const value = env[name];
    if (value) return value;
    if (production) throw new Error(`${name} must be set when NODE_ENV=production`);
    return fallback;
  };
  const issuer = required('JWT_ISSUER', DEV_ISSUER);
  const audience = required('JWT_AUDIENCE', DEV_AUDIENCE);
  const cache = {
    tokenCacheSize: intFromEnv(env, 'AUTH_TOKEN_CACHE_SIZE', DEFAULT_TOKEN_CACHE_SIZE, 0),
    tokenCacheTtlMs: intFromEnv(env, 'AUTH_TOKEN_CACHE_TTL_MS', DEFAULT_TOKEN_CACHE_TTL_MS, 1),
  };
  if (env.JWKS_URL) return { mode: 'jwt', keys: { kind: 'jwks-url', url: env.JWKS_URL }, issuer, audience, ...cache };
  if (env.JWKS_PATH)
    return { mode: 'jwt', keys: { kind: 'jwks-file', path: env.JWKS_PATH }, issuer, audience, ...cache };
  const secret = env.JWT_SECRET;
  if (secret !== undefined && secret.length < MIN_SECRET_LENGTH)
    throw new Error(`JWT_SECRET must be at least ${MIN_SECRET_LENGTH} characters`);
  if (!secret && production)
    throw new Error('One of JWKS_URL, JWKS_PATH or JWT_SECRET must be set when NODE_ENV=production');
  return { mode: 'jwt', keys: { kind: 'secret', secret: secret || DEV_JWT_SECRET }, issuer, audience, ...cache };
}
