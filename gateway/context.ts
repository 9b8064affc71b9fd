import type { Identity } from '../lib/auth/identity';

/** The gateway's per-request context, handed to every subgraph call. */
export interface GatewayContext {
  /** Ours, minted per request; returned to the caller as `x-request-id` and passed to every subgraph. */
  requestId: string;
  /** The `x-request-id` the caller sent, if sane; passed on as `x-caller-request-id` for the audit log. */
  callerRequestId?: string | null;
  /** The caller, from its verified bearer token; null: anonymous. Forwarded to the subgraphs under the request signature. */
  identity: Identity | null;
}
