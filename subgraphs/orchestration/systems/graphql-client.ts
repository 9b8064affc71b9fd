import { ORCHESTRATION_SERVICE } from '../../../lib/auth/identity';
import { signRequest } from '../../../lib/auth/signing';
import { REQUEST_ID_HEADER } from '../../../lib/graphql-http';
import { systemCallsThrottled, systemRetryAfter } from '../../../lib/metrics/metrics';
import { tracedFetch } from '../../../lib/telemetry/spans';
import { SystemError, systemErrorOf } from './system-error';

/** How long one system call may take before it counts as a connection failure. @default 15000 */
export const SYSTEM_CALL_TIMEOUT_MS = 15_000;

/** Where a system subgraph listens, and the secret its requests are signed with (`SUBGRAPH_SECRET_<NAME>`). */
export interface SystemTarget {
  url: string;
  secret: string;
}

/** The three system subgraphs the orchestration calls. */
export interface SystemTargets {
  crm: SystemTarget;
  psa: SystemTarget;
  erp: SystemTarget;
}

/** Sends GraphQL operations to one system subgraph at its own endpoint. */
export interface SystemClient {
  readonly system: string;
  /** @throws SystemError classified from the first error's code, or CONNECTION / INTERMITTENT for transport failures. */
  request<T>(query: string, variables: Record<string, unknown>, correlationId?: string): Promise<T>;
}

/**
 * A {@link SystemClient} over HTTP POST with Node's fetch. Every request is signed with the target's secret on behalf
 * of the orchestration's service identity, as the subgraph requires.
 */
export function createSystemClient(
  system: string,
  target: SystemTarget,
  timeoutMs = SYSTEM_CALL_TIMEOUT_MS,
): SystemClient {
  const label = system.toUpperCase();
  return {
    system,
    async request<T>(query: string, variables: Record<string, unknown>, correlationId?: string): Promise<T> {
      const body = JSON.stringify({ query, variables });
      let response: Response;
      try {
        response = await tracedFetch(
          target.url,
          {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              ...(correlationId ? { [REQUEST_ID_HEADER]: correlationId } : {}),
              // Signed per attempt: a signature is only good for the subgraph's tolerance window.
              ...signRequest(target.secret, body, ORCHESTRATION_SERVICE),
            },
            body,
            signal: AbortSignal.timeout(timeoutMs),
          },
          { 'meridian.system': system },
        );
      } catch (error) {
        throw new SystemError('CONNECTION', `${label} could not be reached (${(error as Error).message})`, system);
      }
      let parsed: {
        data?: T | null;
        errors?: { message: string; extensions?: { code?: string; retryAfterMs?: number } }[];
      };
      try {
        parsed = (await response.json()) as typeof parsed;
      } catch {
        throw new SystemError(
          'INTERMITTENT',
          `${label} answered HTTP ${response.status} without a GraphQL body`,
          system,
        );
      }
      const first = parsed.errors?.[0];
      if (first) {
        const failure = systemErrorOf(system, first);
        if (failure.errorClass === 'RATE_LIMITED') {
          systemCallsThrottled.inc({ system });
          if (failure.retryAfterMs !== null) systemRetryAfter.observe({ system }, failure.retryAfterMs / 1000);
        }
        throw failure;
      }
      if (!response.ok || parsed.data === undefined || parsed.data === null) {
        throw new SystemError('INTERMITTENT', `${label} answered HTTP ${response.status} without data`, system);
      }
      return parsed.data;
    },
  };
}
