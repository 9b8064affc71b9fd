import { randomBytes } from 'node:crypto';
import type { AuthOptions } from '../gateway/auth/authenticator';
import { mintToken } from '../gateway/auth/mint-token';
import type { Role } from '../lib/auth/identity';
import { subgraphSecretVar } from '../lib/auth/secrets';

/** The token settings of one benchmark run: a fresh HS256 secret, and an issuer and audience of the benchmark's own. */
export interface BenchAuth {
  secret: string;
  issuer: string;
  audience: string;
}

/** Subject of the benchmarks' tokens: `bench-<role>`. */
export function benchSubject(role: Role): string {
  return `bench-${role}`;
}

/** Fresh token settings for one run (the secret is random, at least the 32 characters production demands). */
export function benchAuth(): BenchAuth {
  return { secret: randomBytes(32).toString('base64url'), issuer: 'meridian-bench', audience: 'meridian-bench' };
}

/** {@link BenchAuth} as the `auth` option of `startStack` / `startGateway`. */
export function authOptionsOf(auth: BenchAuth): AuthOptions {
  return { mode: 'jwt', keys: { kind: 'secret', secret: auth.secret }, issuer: auth.issuer, audience: auth.audience };
}

/** `SUBGRAPH_SECRET_<NAME>` for each subgraph: what a gateway or orchestration process needs to sign its requests. */
export function subgraphSecretEnv(secrets: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(secrets).map(([name, secret]) => [subgraphSecretVar(name), secret]));
}

/**
 * The environment of a production gateway (gateway/main.ts) for one run: `JWT_SECRET`, `JWT_ISSUER`, `JWT_AUDIENCE`,
 * each subgraph's `SUBGRAPH_SECRET_<NAME>`, and `RATE_LIMIT_POINTS=0`: the benchmarks send far more than a caller's
 * per-minute allowance on purpose.
 */
export function gatewayAuthEnv(auth: BenchAuth, secrets: Readonly<Record<string, string>>): Record<string, string> {
  return {
    JWT_SECRET: auth.secret,
    JWT_ISSUER: auth.issuer,
    JWT_AUDIENCE: auth.audience,
    RATE_LIMIT_POINTS: '0',
    ...subgraphSecretEnv(secrets),
  };
}

/** An `authorization: Bearer <JWT>` header for `role` (subject {@link benchSubject}), valid for 12 hours. */
export async function bearerHeader(auth: BenchAuth, role: Role): Promise<{ authorization: string }> {
  const token = await mintToken({
    secret: auth.secret,
    issuer: auth.issuer,
    audience: auth.audience,
    subject: benchSubject(role),
    role,
    expiresIn: '12h',
  });
  return { authorization: `Bearer ${token}` };
}
