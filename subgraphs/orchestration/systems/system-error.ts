import type { ErrorClass } from '../engine/ledger';

/** A system call that failed, classified for the retry policy, with a message for a person. */
export class SystemError extends Error {
  constructor(
    readonly errorClass: ErrorClass,
    message: string,
    readonly system: string,
    readonly code: string | null = null,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = 'SystemError';
  }
}

/** Classes a retry can cure; the rest need a person (or a fixed input, or a fixed configuration). */
export const RETRYABLE: ReadonlySet<ErrorClass> = new Set([
  'CONNECTION',
  'INTERMITTENT',
  'RATE_LIMITED',
  'MAINTENANCE',
]);

/** Maps a system subgraph's `extensions.code` to an error class. */
export function classifyCode(code: string | null | undefined): ErrorClass {
  switch (code) {
    case 'RATE_LIMITED':
      return 'RATE_LIMITED';
    case 'SYSTEM_MAINTENANCE':
      return 'MAINTENANCE';
    case 'SUBGRAPH_UNAVAILABLE':
      return 'CONNECTION';
    case 'INTERNAL_SERVER_ERROR':
      return 'INTERMITTENT';
    case 'VALIDATION_REJECTED':
    case 'BAD_USER_INPUT':
      return 'BAD_VALUE';
    case 'NOT_FOUND':
      return 'MISSING_REFERENCE';
    case 'DUPLICATE_EXTERNAL_ID':
    case 'IDEMPOTENCY_KEY_REUSED':
      return 'DUPLICATE';
    case 'INVALID_STATE':
    case 'INVOICED_MILESTONE_LOCKED':
      return 'CONFLICT';
    // The orchestration's own credentials were refused: no retry cures that, only a fixed configuration.
    case 'UNAUTHENTICATED':
    case 'FORBIDDEN':
      return 'ACCESS_DENIED';
    default:
      return 'UNKNOWN';
  }
}

/**
 * The {@link SystemError} for the first GraphQL error a system subgraph answered with. A refusal of the orchestration's
 * credentials (UNAUTHENTICATED, FORBIDDEN) is worded as the configuration problem it is, naming what to fix.
 */
export function systemErrorOf(
  system: string,
  error: { message: string; extensions?: { code?: string; retryAfterMs?: number } },
): SystemError {
  const code = error.extensions?.code ?? null;
  const errorClass = classifyCode(code);
  const label = system.toUpperCase();
  let message = error.message;
  if (code === 'UNAUTHENTICATED') {
    message =
      `${label} refused the orchestration's signed request (${error.message}): a configuration problem. SUBGRAPH_SECRET_${label} must be ` +
      `the same for the orchestration and the ${system} subgraph, and their clocks must agree; retry the run once it is fixed`;
  } else if (code === 'FORBIDDEN') {
    message =
      `${label} refused the orchestration's service identity (${error.message}): a configuration problem. The ${system} subgraph's ` +
      `schema must grant the service role this operation; retry the run once it is fixed`;
  }
  return new SystemError(errorClass, message, system, code, error.extensions?.retryAfterMs ?? null);
}
