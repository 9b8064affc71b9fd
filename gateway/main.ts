import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { intFromEnv } from '../lib/env';
import { createLogger } from '../lib/logger';
import { runMain } from '../lib/run-main';
import { startGateway } from './start';

/*
 * The gateway alone on `GATEWAY_PORT` (4000) over `SUPERGRAPH_PATH` (./supergraph.graphql), routing to
 * the URLs in the supergraph unless `SUBGRAPH_URL_<NAME>` overrides one (e.g. SUBGRAPH_URL_CRM).
 */
runMain(async () => {
  const env = process.env;
  env['APOLLO_TELEMETRY_DISABLED'] ??= '1';
  const logger = createLogger('gateway', env['LOG_LEVEL'] ?? 'info');
  const supergraphPath = env['SUPERGRAPH_PATH'] ?? join(__dirname, '..', 'supergraph.graphql');
  const subgraphUrls: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    const m = /^SUBGRAPH_URL_(\w+)$/.exec(key);
    if (m && value) subgraphUrls[m[1]!.toLowerCase()] = value;
  }
  const running = await startGateway({
    supergraphSdl: readFileSync(supergraphPath, 'utf8'),
    subgraphUrls,
    logger,
    port: intFromEnv(env, 'GATEWAY_PORT', 4000, 0, 65535),
    host: env['HOST'] ?? '127.0.0.1',
    maxBodyBytes: intFromEnv(env, 'MAX_BODY_BYTES', 1024 * 1024, 1),
  });
  logger.info({ url: running.url, supergraph: supergraphPath, subgraphs: running.subgraphs }, 'gateway listening');
  return running;
});
