import { REQUEST_ID_HEADER } from '../../../lib/graphql-http';
import { classifyCode, SystemError } from './system-error';

/** How long one system call may take before it counts as a connection failure. @default 15000 */
export const SYSTEM_CALL_TIMEOUT_MS = 15_000;

/** Sends GraphQL operations to one system subgraph at its own endpoint. */
export interface SystemClient {
  readonly system: string;
  /** @throws SystemError classified from the first error's code, or CONNECTION / INTERMITTENT for transport failures. */
  request<T>(query: string, variables: Record<string, unknown>, correlationId?: string): Promise<T>;
}

/** A {@link SystemClient} over HTTP POST with Node's fetch. */
export function createSystemClient(system: string, url: string, timeoutMs = SYSTEM_CALL_TIMEOUT_MS): SystemClient {
  const label = system.toUpperCase();
  return {
    system,
    async request<T>(query: string, variables: Record<string, unknown>, correlationId?: string): Promise<T> {
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(correlationId ? { [REQUEST_ID_HEADER]: correlationId } : {}) },
          body: JSON.stringify({ query, variables }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        throw new SystemError('CONNECTION', `${label} could not be reached (${(error as Error).message})`, system);
      }
      let body: { data?: T | null; errors?: { message: string; extensions?: { code?: string; retryAfterMs?: number } }[] };
      try {
        body = (await response.json()) as typeof body;
      } catch {
        throw new SystemError('INTERMITTENT', `${label} answered HTTP ${response.status} without a GraphQL body`, system);
      }
      const first = body.errors?.[0];
      if (first) {
        const code = first.extensions?.code ?? null;
        throw new SystemError(classifyCode(code), first.message, system, code, first.extensions?.retryAfterMs ?? null);
      }
      if (!response.ok || body.data === undefined || body.data === null) {
        throw new SystemError('INTERMITTENT', `${label} answered HTTP ${response.status} without data`, system);
      }
      return body.data;
    },
  };
}
