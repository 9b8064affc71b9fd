import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { identityFromClaims, type Identity } from './identity';
import { MeridianError } from '../errors';

/** Algorithms accepted from a JWKS (asymmetric keys only); a shared secret accepts HS256 only. Never `none`. */
export const JWKS_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];

/** Where the gateway's token keys come from. */
export type TokenKeys =
  | { kind: 'secret'; secret: string }
  | { kind: 'jwks-file'; path: string }
  | { kind: 'jwks-url'; url: string };

/** How callers are authenticated: bearer JWTs, or (development, foreign subgraphs) nobody, with one fixed identity. */
export type AuthOptions =
  | {
      mode: 'jwt';
      keys: TokenKeys;
      /** The `iss` every token must carry. */
      issuer: string;
      /** The `aud` every token must carry. */
      audience: string;
      /** Leeway for `exp` / `nbf`, in seconds. @default 5 */
      clockToleranceSeconds?: number;
      /** Verified tokens kept, so a caller's next requests skip the signature check; 0 keeps none. @default 10000 */
      tokenCacheSize?: number;
      /**
       * How long a verified token is kept at most (never past its `exp`): a key withdrawn from the JWKS stops being
       * honoured within this time. @default 60000
       */
      tokenCacheTtlMs?: number;
      /** The clock, epoch ms (tests hand in their own). @default Date.now */
      now?: () => number;
    }
  | { mode: 'off'; identity: Identity };

/** {@link AuthOptions} `tokenCacheSize` by default. */
export const DEFAULT_TOKEN_CACHE_SIZE = 10_000;
/** {@link AuthOptions} `tokenCacheTtlMs` by default. */
export const DEFAULT_TOKEN_CACHE_TTL_MS = 60_000;

/** Verifies a bearer token (or its absence) into an identity. */
export type Authenticator = (authorization: string | undefined) => Promise<Identity | null>;

/**
 * Builds the authenticator of the gateway (and of subgraphs in `SUBGRAPH_TRUST=jwt`): `Authorization: Bearer <JWT>` verified with jose against the configured keys,
 * issuer, audience and expiry; no header means an anonymous caller (refused by any field that needs a token).
 * The returned function throws MeridianError UNAUTHENTICATED for a malformed, expired, wrongly signed, wrong-issuer,
 * wrong-audience or `alg: none` token. With `mode: 'off'` every caller is the configured identity.
 * A token that verified is kept (by its exact text, up to `tokenCacheSize`, the oldest dropped first) and answers with
 * the same identity until `tokenCacheTtlMs` has passed or a second before it would expire, whichever comes first;
 * then it is verified again. Only tokens that verified are kept, so a refused token is checked every time.
 */
export function createAuthenticator(options: AuthOptions): Authenticator {
  if (options.mode === 'off') return async () => options.identity;
  const key: Uint8Array | JWTVerifyGetKey =
    options.keys.kind === 'secret'
      ? new TextEncoder().encode(options.keys.secret)
      : options.keys.kind === 'jwks-file'
        ? createLocalJWKSet(
            JSON.parse(readFileSync(options.keys.path, 'utf8')) as Parameters<typeof createLocalJWKSet>[0],
          )
        : createRemoteJWKSet(new URL(options.keys.url));
  const algorithms = options.keys.kind === 'secret' ? ['HS256'] : JWKS_ALGORITHMS;
  const toleranceSeconds = options.clockToleranceSeconds ?? 5;
  const now = options.now ?? Date.now;
  const cacheSize = options.tokenCacheSize ?? DEFAULT_TOKEN_CACHE_SIZE;
  const cacheTtlMs = options.tokenCacheTtlMs ?? DEFAULT_TOKEN_CACHE_TTL_MS;
  // Insertion order is verification order: the first key is the oldest.
  const verified = new Map<string, { identity: Identity; until: number }>();
  return async (authorization) => {
    if (authorization === undefined || authorization === '') return null;
    const match = /^Bearer ([\w-]+\.[\w-]*\.[\w-]*)$/i.exec(authorization.trim());
    if (!match) throw new MeridianError('UNAUTHENTICATED', 'The Authorization header must be `Bearer <JWT>`');
    const token = match[1]!;
    const at = now();
    const kept = verified.get(token);
    if (kept && at < kept.until) return kept.identity;
    if (kept) verified.delete(token);
    const verifyOptions = {
      issuer: options.issuer,
      audience: options.audience,
      algorithms,
      clockTolerance: toleranceSeconds,
      requiredClaims: ['exp', 'sub'],
      currentDate: new Date(at),
    };
    let claims: Record<string, unknown>;
    try {
      claims = (
        await (typeof key === 'function' ? jwtVerify(token, key, verifyOptions) : jwtVerify(token, key, verifyOptions))
      ).payload;
    } catch (error) {
      throw new MeridianError('UNAUTHENTICATED', reasonOf(error));
    }
    const identity = identityFromClaims(claims);
    if (cacheSize > 0 && identity.expiresAt !== undefined) {
      // A second short of what jose accepts, so a kept token never outlives the verdict a fresh check would give.
      const until = Math.min(at + cacheTtlMs, identity.expiresAt + (toleranceSeconds - 1) * 1000);
      if (verified.size >= cacheSize) verified.delete(verified.keys().next().value!);
      verified.set(token, { identity, until });
    }
    return identity;
  };
}

function reasonOf(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'The token has expired';
  if (error instanceof errors.JWTClaimValidationFailed)
    return `The token's \`${error.claim}\` claim is not accepted here`;
  if (error instanceof errors.JOSEAlgNotAllowed)
    return 'The token is signed with an algorithm this gateway does not accept';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'The token signature does not verify';
  if (error instanceof errors.JWKSNoMatchingKey) return 'No configured key matches the token';
  return 'The token is not a valid JWT';
}
