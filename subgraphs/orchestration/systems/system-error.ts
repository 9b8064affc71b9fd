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

/** Classes a retry can cure; the rest need a person (or a fixed input). */
export const RETRYABLE: ReadonlySet<ErrorClass> = new Set(['CONNECTION', 'INTERMITTENT', 'RATE_LIMITED', 'MAINTENANCE']);

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
      return 'CONFLICT';
    default:
      return 'UNKNOWN';
  }
}
