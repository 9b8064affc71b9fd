import type { Usage, UsageEntry } from '../lib/cli';

/** The variables `gatewayPoliciesFromEnv` reads: authentication, operation limits, rate limits, trusted documents. */
export const GATEWAY_POLICY_ENV: readonly UsageEntry[] = [
  ['JWT_SECRET', 'HS256 key of the bearer tokens, 32+ characters (development default outside production)'],
  ['JWKS_PATH, JWKS_URL', 'a JWKS file or URL instead of JWT_SECRET'],
  ['JWT_ISSUER, JWT_AUDIENCE', 'iss and aud every token must carry (default meridian-dev, meridian)'],
  ['AUTH, AUTH_OFF_ROLE', 'AUTH=off: every caller is AUTH_OFF_ROLE (default operations); refused in production'],
  ['LIMIT_MAX_DEPTH, LIMIT_MAX_ALIASES', 'operation limits (default 12, 30; docs/security.md#operation-limits)'],
  ['LIMIT_MAX_DIRECTIVES, LIMIT_MAX_TOKENS', 'operation limits (default 20, 3000)'],
  ['LIMIT_MAX_COST', 'estimated cost limit (default 1000000), with LIMIT_DEFAULT_PAGE_SIZE (50), LIMIT_LIST_SIZE (10)'],
  ['RATE_LIMIT_POINTS', 'requests per window per caller (default 600; 0: no limit)'],
  ['RATE_LIMIT_WINDOW_MS', 'the rate-limit window (default 60000)'],
  ['TRUSTED_DOCUMENTS_ROLES', 'roles limited to the trusted documents (default portal)'],
  ['TRUSTED_DOCUMENTS_PATH', 'the trusted-documents manifest (default gateway/trusted-documents.json)'],
  [
    'GATEWAY_RESULT_SHAPING',
    'compiled (default): results shaped from a plan per operation; apollo: by @apollo/gateway alone',
  ],
  ['NODE_ENV', '`production`: introspection off, suggestions masked, development secrets and AUTH=off refused'],
];

/** What `npm run start:gateway -- --help` prints. */
export const GATEWAY_USAGE: Usage = {
  command: 'npm run start:gateway',
  summary:
    'The gateway alone, in its own process, over a composed supergraph; configured by environment variables only.',
  env: [
    ['GATEWAY_PORT', 'port to listen on (default 4000; 0 picks a free one)'],
    ['HOST', 'interface to bind (default 127.0.0.1)'],
    ['SUPERGRAPH_PATH', 'the supergraph to serve (default ./supergraph.graphql)'],
    ['SUBGRAPH_URL_<NAME>', "overrides one subgraph's routing URL, e.g. SUBGRAPH_URL_CRM"],
    [
      'SUBGRAPH_SECRET_<NAME>',
      "secret each subgraph's requests are signed with (development default outside production)",
    ],
    ['REDIS_URL', 'Redis carrying the run events subscriptions are served from (unset: subscriptions refused)'],
    ['MAX_BODY_BYTES', 'largest request body read (default 1048576)'],
    ['WS_MAX_PAYLOAD_BYTES', 'largest graphql-ws message (default 65536)'],
    ['WS_CONNECTION_INIT_TIMEOUT_MS', 'time a socket has to send connection_init (default 3000)'],
    ['WS_KEEP_ALIVE_MS', 'ping interval (default 12000)'],
    [
      'DRAIN_DEADLINE_MS',
      'on SIGTERM: /readyz answers 503, sockets close, in-flight requests get this long (default 10000)',
    ],
    ['LOG_LEVEL', 'pino level (default info; silent to mute)'],
    [
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      'turns OpenTelemetry tracing on: OTLP over HTTP to this collector (docs/observability.md)',
    ],
    ...GATEWAY_POLICY_ENV,
  ],
};
