import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { corsOriginsFromEnv } from '../../lib/graphql-http';
import { silentLogger } from '../../lib/logger';
import { startGateway, type RunningGateway } from '../../gateway/start';
import { DEV_AUTH } from '../../stack/start-stack';
import { authHeader } from '../support/stack';

process.env.APOLLO_TELEMETRY_DISABLED ??= '1';

const PORTAL = 'https://portal.example.com';
const supergraphSdl = readFileSync(join(__dirname, '..', '..', 'supergraph.graphql'), 'utf8');

const preflight = (url: string, origin: string) =>
  fetch(url, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type, authorization',
    },
  });

/** The CORS headers of a response, by name. */
const corsHeaders = (response: Response) =>
  Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('access-control-')));

describe('CORS (issue 12, item 5)', () => {
  const gateways: RunningGateway[] = [];
  const start = async (corsOrigins?: string[]) => {
    const gateway = await startGateway({
      supergraphSdl,
      subgraphSecrets: {},
      logger: silentLogger(),
      port: 0,
      auth: DEV_AUTH,
      ...(corsOrigins ? { corsOrigins } : {}),
    });
    gateways.push(gateway);
    return gateway;
  };
  afterAll(async () => {
    for (const g of gateways) await g.close();
  });

  it('answers a preflight from an allowed origin, without credentials, and marks its responses', async () => {
    const gateway = await start([PORTAL, 'http://localhost:5173']);
    const answer = await preflight(gateway.url, PORTAL);
    expect(answer.status).toBe(204);
    expect(corsHeaders(answer)).toEqual({
      'access-control-allow-origin': PORTAL,
      'access-control-allow-methods': 'GET,POST',
      'access-control-allow-headers':
        'content-type,authorization,apollo-require-preflight,x-apollo-operation-name,x-request-id',
      'access-control-max-age': '600',
      'access-control-expose-headers': 'x-request-id,retry-after',
    });
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { origin: PORTAL, 'content-type': 'application/json', ...(await authHeader('bi')) },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(response.status).toBe(200);
    expect(corsHeaders(response)).toEqual({
      'access-control-allow-origin': PORTAL,
      'access-control-expose-headers': 'x-request-id,retry-after',
    });
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('gives another origin no CORS headers, so the browser refuses it', async () => {
    const gateway = await start([PORTAL]);
    for (const origin of ['https://evil.example.com', 'https://portal.example.com.evil.example.com']) {
      const answer = await preflight(gateway.url, origin);
      expect(answer.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it('sends no CORS headers at all by default', async () => {
    const gateway = await start();
    const answer = await preflight(gateway.url, PORTAL);
    expect(corsHeaders(answer)).toEqual({});
    expect(answer.status).not.toBe(204);
  });

  it('reads CORS_ORIGINS as an allowlist of origins, refusing anything else by name', () => {
    expect(corsOriginsFromEnv({})).toEqual([]);
    expect(corsOriginsFromEnv({ CORS_ORIGINS: `${PORTAL}, http://localhost:5173` })).toEqual([
      PORTAL,
      'http://localhost:5173',
    ]);
    expect(() => corsOriginsFromEnv({ CORS_ORIGINS: '*' })).toThrow("CORS_ORIGINS: '*' is not an origin");
    expect(() => corsOriginsFromEnv({ CORS_ORIGINS: `${PORTAL}/app` })).toThrow(
      `CORS_ORIGINS: '${PORTAL}/app' is not an origin`,
    );
  });
});
