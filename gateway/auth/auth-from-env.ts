// The token settings are read in lib/ since the subgraphs read the same ones (SUBGRAPH_TRUST=jwt): one place reads
// JWT_SECRET, JWKS_URL, JWKS_PATH, JWT_ISSUER and JWT_AUDIENCE for every process.
export * from '../../lib/auth/auth-from-env';
