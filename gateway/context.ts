/** The gateway's per-request context, handed to every subgraph call. */
export interface GatewayContext {
  requestId: string;
}
