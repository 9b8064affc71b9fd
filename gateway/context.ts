import type { Identity } from '../lib/auth/identity';

/** The gateway's per-request context, handed to every subgraph call. */
export interface GatewayContext {
  requestId: string;
  /** The caller, from its verified bearer token; null: anonymous. Forwarded to the subgraphs under the request signature. */
  identity: Identity | null;
}
