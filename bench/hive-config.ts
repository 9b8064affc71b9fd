import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IDENTITY_HEADER, ROLE_SCOPES } from '../lib/auth/identity';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../lib/auth/signing';
import type { BenchAuth } from './bench-auth';

/** The config file Hive Gateway's CLI loads (`--config-path`; it would also find it by this name in its cwd). */
export const HIVE_CONFIG_FILE = 'gateway.config.mjs';

/** The variable that hands the generated config this run's secrets, so that none is written to disk. */
export const HIVE_SETTINGS_VAR = 'MERIDIAN_BENCH_HIVE';

/** What the generated config reads from {@link HIVE_SETTINGS_VAR}. */
interface HiveSettings {
  jwt: BenchAuth;
  /** Signing secret by subgraph URL, exactly as the supergraph routes to it. */
  secretsByUrl: Record<string, string>;
  /** lib/auth/identity.ts's ROLE_SCOPES, so Hive builds the identity from the claims as ours does. */
  roleScopes: typeof ROLE_SCOPES;
}

/**
 * Hive Gateway's config for the benchmark, as the source of an ES module (it is loaded by Hive's own Node process,
 * which cannot import our TypeScript): so that Hive does what our gateway does for each request,
 * - `jwt`: its JWT plugin verifies the bearer token (HS256, issuer, audience, expiry; a request without a valid one is
 *   refused), as ours does with jose;
 * - `genericAuth` (`protect-granular`): the caller is the identity our gateway would build from the claims (the role's
 *   base scopes plus the grantable ones the `scope` claim asks for), and the supergraph's `@authenticated` and
 *   `@requiresScopes` are checked against its scopes before any subgraph is called, as ours does;
 * - an `onFetch` plugin signs every subgraph request exactly as gateway/subgraph-data-source.ts does:
 *   `x-meridian-timestamp`, `x-meridian-identity` (base64url JSON of that identity) and
 *   `x-meridian-signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<identity header>.<body>")>` over the exact body
 *   sent, with the secret of the subgraph at that URL.
 */
export function hiveGatewayConfigSource(): string {
  return `// Written by bench/gateway.ts into this run's temporary folder and removed with it; never committed.
// Settings (secrets included) come from the ${HIVE_SETTINGS_VAR} environment variable.
import { createHmac } from 'node:crypto';

const settings = JSON.parse(process.env.${HIVE_SETTINGS_VAR} ?? 'null');
if (!settings) throw new Error('${HIVE_SETTINGS_VAR} is not set');
const { jwt, secretsByUrl, roleScopes } = settings;

// lib/auth/identity.ts identityFromClaims, on claims the JWT plugin has verified.
function identityOf(claims) {
  const grant = roleScopes[claims.role];
  if (!grant || typeof claims.sub !== 'string') return null;
  const requested = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
  const scopes = [...grant.base, ...grant.grantable.filter((s) => requested.includes(s))];
  return { subject: claims.sub, role: claims.role, scopes, accounts: claims.role === 'portal' ? [...(claims.accounts ?? [])] : null };
}

const signSubgraphRequests = {
  onFetch({ url, options, setOptions, context }) {
    const secret = secretsByUrl[url];
    if (secret === undefined) throw new Error('no signing secret for ' + url);
    if (typeof options.body !== 'string') throw new Error('cannot sign a body that is not a string: ' + typeof options.body);
    const identity = context?.currentUser ? Buffer.from(JSON.stringify(context.currentUser)).toString('base64url') : '';
    const timestamp = String(Date.now());
    const signature = createHmac('sha256', secret).update(timestamp + '.' + identity + '.' + options.body).digest('hex');
    const headers = options.headers instanceof Headers ? Object.fromEntries(options.headers) : { ...options.headers };
    headers['${TIMESTAMP_HEADER}'] = timestamp;
    headers['${IDENTITY_HEADER}'] = identity;
    headers['${SIGNATURE_HEADER}'] = 'v1=' + signature;
    setOptions({ ...options, headers });
  },
};

export const gatewayConfig = {
  jwt: {
    signingKeyProviders: [() => jwt.secret],
    tokenVerification: { algorithms: ['HS256'], issuer: jwt.issuer, audience: jwt.audience },
    reject: { missingToken: true, invalidToken: true },
  },
  genericAuth: {
    mode: 'protect-granular',
    resolveUserFn: (context) => (context.jwt?.payload ? identityOf(context.jwt.payload) : null),
    extractScopes: (identity) => [...identity.scopes],
    rejectUnauthenticated: true,
  },
  plugins: () => [signSubgraphRequests],
};
`;
}

/** Writes {@link hiveGatewayConfigSource} into `dir` as {@link HIVE_CONFIG_FILE}; returns its path. */
export function writeHiveGatewayConfig(dir: string): string {
  const path = join(dir, HIVE_CONFIG_FILE);
  writeFileSync(path, hiveGatewayConfigSource(), { mode: 0o600 });
  return path;
}

/**
 * The environment entry the generated config reads: the token settings, and each subgraph's secret under the URL Hive
 * calls it at.
 */
export function hiveGatewayEnv(
  auth: BenchAuth,
  urls: Readonly<Record<string, string>>,
  secrets: Readonly<Record<string, string>>,
): Record<string, string> {
  const secretsByUrl: Record<string, string> = {};
  for (const [name, url] of Object.entries(urls)) {
    const secret = secrets[name];
    if (secret === undefined) throw new Error(`no signing secret for the ${name} subgraph`);
    secretsByUrl[url] = secret;
  }
  const settings: HiveSettings = { jwt: auth, secretsByUrl, roleScopes: ROLE_SCOPES };
  return { [HIVE_SETTINGS_VAR]: JSON.stringify(settings) };
}
