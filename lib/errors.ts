import { GraphQLError } from 'graphql';

/**
 * Every error code Meridian sets in `extensions.code`, with what it means.
 * `docs/errors.md` lists the same codes; `test/error-codes.test.ts` keeps the two equal.
 */
export const ERROR_CODES = {
  BAD_USER_INPUT:
    'An argument is invalid (a negative or over-limit page size, a malformed ID or date, a missing field).',
  INVALID_CURSOR: 'The `after` cursor was not issued by this list; start again without it.',
  NOT_FOUND: 'No record has this ID (or it is not visible to the caller).',
  VALIDATION_REJECTED:
    'The system of record refused the data (an unknown tax jurisdiction, a closed period, a missing mandatory field).',
  INVALID_STATE:
    'The record is not in a state that allows this command (billing a time entry that is not approved, paying a void invoice).',
  INVOICED_MILESTONE_LOCKED:
    'A contract amendment would change or remove a milestone that is already invoiced; an invoiced milestone never changes (the message names each one).',
  DUPLICATE_EXTERNAL_ID: 'The external ID or idempotency key was already used with different data.',
  NOTHING_TO_INVOICE:
    'The project has no billed, uninvoiced work posted up to the billing period’s cut-off: no invoice to raise, nothing written.',
  IDEMPOTENCY_KEY_REUSED: 'The idempotency key was already used with a different input.',
  RATE_LIMITED:
    'Too many requests (from this token at the gateway, or to a system of record); retry after `extensions.retryAfterMs`.',
  SYSTEM_MAINTENANCE: 'The system is in a maintenance window; retry after `extensions.retryAfterMs`.',
  SUBGRAPH_UNAVAILABLE: 'A subgraph did not answer; the response holds what the other subgraphs returned.',
  LIVE_STATUS_UNAVAILABLE: 'This gateway has no event bus to serve subscriptions from; query `syncRun` instead.',
  UNAUTHENTICATED:
    'No valid bearer token (missing where one is required, expired, wrongly signed, wrong issuer or audience), or a subgraph request the gateway did not sign.',
  FORBIDDEN: 'The token is valid but lacks a scope a selected field needs; `path` names the field.',
  QUERY_TOO_DEEP: 'The operation nests fields deeper than the gateway allows.',
  TOO_MANY_ALIASES: 'The operation uses more aliases than the gateway allows.',
  TOO_MANY_DIRECTIVES: 'The operation uses more directives than the gateway allows.',
  TOO_MANY_TOKENS: 'The document has more tokens than the gateway parses.',
  QUERY_TOO_COSTLY:
    'The operation could return more than the gateway allows (list page sizes multiply); ask for smaller pages.',
  PERSISTED_QUERY_NOT_FOUND:
    'The persisted-query hash is not known yet; send the query text with it once (automatic persisted queries).',
  PERSISTED_QUERY_NOT_IN_LIST: 'This role may run only trusted documents, and the operation is not in the manifest.',
  GRAPHQL_PARSE_FAILED: 'The document is not valid GraphQL syntax.',
  GRAPHQL_VALIDATION_FAILED: 'The document does not validate against the schema.',
  BAD_REQUEST: 'The HTTP request is not a GraphQL request (wrong method, content type or body).',
  OPERATION_RESOLUTION_FAILURE: 'The document holds several operations and `operationName` names none of them.',
  INTERNAL_SERVER_ERROR: 'An unexpected error; details are in the log under the request ID, never in the response.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Extension fields a client may see besides `code`; anything else stays in the log. */
export const ALLOWED_EXTENSIONS = ['code', 'system', 'runId', 'step', 'retryAfterMs', 'field', 'value'] as const;

export interface ErrorDetails {
  /** The system of record that raised it: `crm`, `psa`, `erp`, `orchestration`. */
  system?: string;
  retryAfterMs?: number;
  runId?: string;
  step?: string;
  /** The input field at fault, for BAD_USER_INPUT and VALIDATION_REJECTED. */
  field?: string;
  value?: string;
}

/**
 * A `GraphQLError` whose `extensions.code` is one of {@link ERROR_CODES}.
 * Throw it from resolvers and connectors; the server passes it on unmasked. `path` is for errors raised
 * outside a resolver (the gateway's subgraph calls).
 */
export class MeridianError extends GraphQLError {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;
  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, path?: readonly (string | number)[]) {
    const extensions: Record<string, unknown> = { code };
    for (const [k, v] of Object.entries(details)) if (v !== undefined) extensions[k] = v;
    super(message, { extensions, ...(path ? { path } : {}) });
    this.name = 'MeridianError';
    this.code = code;
    this.details = details;
  }
}

/** True when `code` is in the registry. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}
