import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Role } from '../../lib/auth/identity';
import { DEV_AUDIENCE, DEV_ISSUER, DEV_JWT_SECRET } from '../../gateway/auth/auth-from-env';
import { mintToken } from '../../gateway/auth/mint-token';
import { startStack, type Stack, type StackOptions, type SubgraphName } from '../../stack/start-stack';

process.env.APOLLO_TELEMETRY_DISABLED ??= '1';

/** A stack on a fresh temporary data folder; `stop()` also deletes the folder. */
export async function startTestStack(
  options: Omit<StackOptions, 'dataDir'> = {},
): Promise<Stack & { dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'meridian-test-'));
  const stack = await startStack({
    seedAccounts: 12,
    ...options,
    // On a loaded machine a client's connection_init can take seconds to be read: only the test of that deadline
    // (which sets its own) should meet it.
    subscriptions: { connectionInitTimeoutMs: 60_000, ...options.subscriptions },
    dataDir,
  });
  return {
    ...stack,
    dataDir,
    stop: async () => {
      await stack.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A GraphQL response as the client sees it: HTTP status, headers, and the parsed body. */
export interface GraphQLResponse<TData = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: {
    data?: TData | null;
    errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
  };
}

/** What a test token says beyond its role. */
export interface TestTokenOptions {
  subject?: string;
  scopes?: string[];
  /** CRM account IDs, for portal tokens. */
  accounts?: string[];
  /** @default '1h' */
  expiresIn?: string | number;
}

/** A bearer token the test stacks (and gateway processes on development defaults) accept. */
export function tokenFor(role: Role, options: TestTokenOptions = {}): Promise<string> {
  return mintToken({
    secret: DEV_JWT_SECRET,
    issuer: DEV_ISSUER,
    audience: DEV_AUDIENCE,
    subject: options.subject ?? `test-${role}`,
    role,
    ...(options.scopes ? { scopes: options.scopes } : {}),
    ...(options.accounts ? { accounts: options.accounts } : {}),
    expiresIn: options.expiresIn ?? '1h',
  });
}

/** `{ authorization: 'Bearer …' }` for a role. */
export async function authHeader(role: Role, options: TestTokenOptions = {}): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await tokenFor(role, options)}` };
}

let serviceHeader: Promise<Record<string, string>> | null = null;

/**
 * POSTs a GraphQL request over real HTTP. Unless `headers` has an `authorization` key (set it to `''` to send none),
 * it carries a service token: the role with every scope but the portal's, which the flow tests act as.
 */
export async function gql<TData = any>(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<GraphQLResponse<TData>> {
  const auth =
    'authorization' in headers ? {} : await (serviceHeader ??= authHeader('service', { subject: 'test-service' }));
  const sent = Object.fromEntries(Object.entries({ ...auth, ...headers }).filter(([, v]) => v !== ''));
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...sent },
    body: JSON.stringify(variables === undefined ? { query } : { query, variables }),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as GraphQLResponse<TData>['body'],
  };
}

/** The system subgraphs of a stack as the orchestration's clients need them: URL and signing secret. */
export function systemTargets(stack: Pick<Stack, 'urls' | 'secrets'>) {
  const target = (name: 'crm' | 'psa' | 'erp') => ({ url: stack.urls[name], secret: stack.secrets[name] });
  return { crm: target('crm'), psa: target('psa'), erp: target('erp') };
}

/** `SUBGRAPH_SECRET_<NAME>` variables for a child process that calls (or serves) the stack's subgraphs. */
export function secretEnv(secrets: Partial<Record<SubgraphName, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(secrets).map(([name, secret]) => [`SUBGRAPH_SECRET_${name.toUpperCase()}`, secret]),
  );
}
