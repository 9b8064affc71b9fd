// The bearer-token check lives in lib/ since the subgraphs verify tokens too (SUBGRAPH_TRUST=jwt); the gateway's
// imports stay where they were.
export * from '../../lib/auth/jwt-authenticator';
