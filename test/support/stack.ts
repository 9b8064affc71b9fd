import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, type Stack, type StackOptions } from '../../stack/start-stack';

process.env['APOLLO_TELEMETRY_DISABLED'] ??= '1';

/** A stack on a fresh temporary data folder; `stop()` also deletes the folder. */
export async function startTestStack(options: Omit<StackOptions, 'dataDir'> = {}): Promise<Stack & { dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'meridian-test-'));
  const stack = await startStack({ seedAccounts: 12, ...options, dataDir });
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
  body: { data?: TData | null; errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[] };
}

/** POSTs a GraphQL request over real HTTP. */
export async function gql<TData = any>(url: string, query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}): Promise<GraphQLResponse<TData>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(variables === undefined ? { query } : { query, variables }),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as GraphQLResponse<TData>['body'] };
}
