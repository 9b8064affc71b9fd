// Hive Gateway (@graphql-hive/gateway) in front of Meridian's subgraphs started with SUBGRAPH_TRUST=jwt.
// No plugin, no code of ours: header propagation only. Every subgraph request carries
// - the caller's `Authorization: Bearer <JWT>`, which each subgraph verifies itself (issuer, audience, keys, expiry);
// - `x-meridian-gateway-secret`, the GATEWAY_SHARED_SECRET the subgraphs share with this gateway;
// - `traceparent` / `tracestate`, so a subgraph's spans join the caller's trace.
// Run: GATEWAY_SHARED_SECRET=... npx hive-gateway supergraph supergraph.graphql --config-path gateway.config.mjs
const gatewaySecret = process.env.GATEWAY_SHARED_SECRET;
if (!gatewaySecret || gatewaySecret.length < 32)
  throw new Error('GATEWAY_SHARED_SECRET must be set (the subgraphs’ value, at least 32 characters)');

/** Headers copied from the client's request to every subgraph request, when the client sent them. */
const FORWARDED = ['authorization', 'traceparent', 'tracestate'];

export const gatewayConfig = {
  // The operation limits our gateway applies by default (LIMIT_MAX_TOKENS, LIMIT_MAX_DEPTH), with Hive's built-in
  // GraphQL Armor rules; the subgraphs only see the planned pieces of an operation, so the edge must refuse big ones.
  maxTokens: 3000,
  maxDepth: 12,
  // As our gateway in production: no "did you mean" hints that spell out the schema to unauthenticated callers.
  blockFieldSuggestions: true,
  propagateHeaders: {
    fromClientToSubgraphs: ({ request }) => {
      const headers = { 'x-meridian-gateway-secret': gatewaySecret };
      for (const name of FORWARDED) {
        const value = request.headers.get(name);
        if (value) headers[name] = value;
      }
      return headers;
    },
  },
  // Subscriptions (syncRunUpdated, exceptionRaised) go to the orchestration subgraph over graphql-ws on its /graphql.
  // A socket has no per-request headers: the secret goes on the upgrade request, the caller's token in
  // connection_init, where the subgraph reads both.
  transportEntries: {
    orchestration: {
      options: {
        subscriptions: {
          kind: 'ws',
          location: '/graphql',
          headers: [['x-meridian-gateway-secret', '{env.GATEWAY_SHARED_SECRET}']],
          options: {
            connectionParams: {
              authorization: '{context.headers.authorization}',
              'x-meridian-gateway-secret': '{env.GATEWAY_SHARED_SECRET}',
            },
          },
        },
      },
    },
  },
};
