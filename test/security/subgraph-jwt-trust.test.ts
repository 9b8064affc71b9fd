import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { DEV_AUDIENCE, DEV_ISSUER, DEV_JWT_SECRET } from '../../lib/auth/auth-from-env';
import { ORCHESTRATION_SERVICE } from '../../lib/auth/identity';
import { signRequest } from '../../lib/auth/signing';
import { GATEWAY_SECRET_HEADER, gatewayTrustOf } from '../../lib/auth/subgraph-trust';
import { gatewayTrustFromEnv } from '../../lib/auth/subgraph-trust-from-env';
import { mintToken } from '../../gateway/auth/mint-token';
import { DEV_AUTH } from '../../stack/start-stack';
import { createCallLog, recordCalls } from '../support/record-calls';
import { startTestStack, tokenFor } from '../support/stack';
import { subscribe } from '../support/ws-client';

const GATEWAY_SECRET = 'a-gateway-shared-secret-of-at-least-32-chars';
const ACCOUNTS = JSON.stringify({ query: '{ accounts(first: 2) { nodes { id name } } }' });

describe('SUBGRAPH_TRUST=jwt: a subgraph verifies the bearer token of a trusted gateway itself', () => {
  const calls = createCallLog();
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack({
      worker: false,
      relay: false,
      gatewayTrust: gatewayTrustOf(GATEWAY_SECRET, DEV_AUTH),
      wrapConnector: (system, connector) => (system === 'crm' ? recordCalls(connector, calls, 'crm') : connector),
    });
  });
  afterAll(() => stack.stop());
  beforeEach(() => calls.reset());

  const post = async (headers: Record<string, string>, body = ACCOUNTS) => {
    const response = await fetch(stack.urls.crm, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
    return { status: response.status, body: (await response.json()) as unknown };
  };
  const refused = (message: string) => ({
    status: 401,
    body: { errors: [{ message, extensions: { code: 'UNAUTHENTICATED' } }] },
  });
  const bearer = async (overrides: Partial<Parameters<typeof mintToken>[0]> = {}) => ({
    authorization: `Bearer ${await mintToken({
      secret: DEV_JWT_SECRET,
      issuer: DEV_ISSUER,
      audience: DEV_AUDIENCE,
      subject: 'bi-1',
      role: 'bi',
      expiresIn: '1h',
      ...overrides,
    })}`,
  });

  it('answers a request with the shared secret and a valid token, as the identity the token names', async () => {
    const answer = await post({ [GATEWAY_SECRET_HEADER]: GATEWAY_SECRET, ...(await bearer()) });
    expect(answer.status).toBe(200);
    expect((answer.body as { data: { accounts: { nodes: unknown[] } } }).data.accounts.nodes).toHaveLength(2);
    expect(calls.count('crm.listAccounts')).toBeGreaterThan(0);
  });

  it('refuses a valid token without the shared secret, or with another secret, and runs nothing', async () => {
    const message =
      'Subgraphs accept only requests from a trusted gateway (signed, or with the x-meridian-gateway-secret header)';
    expect(await post(await bearer())).toEqual(refused(message));
    expect(
      await post({ [GATEWAY_SECRET_HEADER]: 'another-secret-of-at-least-32-characters', ...(await bearer()) }),
    ).toEqual(refused(message));
    expect(calls.snapshot()).toEqual({});
  });

  it('refuses a token for another audience, an expired one and one signed with another key, and runs nothing', async () => {
    const secret = { [GATEWAY_SECRET_HEADER]: GATEWAY_SECRET };
    expect(await post({ ...secret, ...(await bearer({ audience: 'someone-else' })) })).toEqual(
      refused("The token's `aud` claim is not accepted here"),
    );
    expect(await post({ ...secret, ...(await bearer({ expiresIn: Math.floor(Date.now() / 1000) - 60 })) })).toEqual(
      refused('The token has expired'),
    );
    expect(
      await post({ ...secret, ...(await bearer({ secret: 'not-the-gateway-jwt-secret-but-32-characters' })) }),
    ).toEqual(refused('The token signature does not verify'));
    expect(calls.snapshot()).toEqual({});
  });

  it('lets the shared secret without a token through as anonymous, which every field refuses', async () => {
    const answer = await post({ [GATEWAY_SECRET_HEADER]: GATEWAY_SECRET });
    expect(answer.status).toBe(401);
    expect((answer.body as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe(
      'UNAUTHENTICATED',
    );
    expect(calls.snapshot()).toEqual({});
  });

  it('scopes a portal token to its accounts inside the subgraph, as behind our gateway', async () => {
    const portal = `Bearer ${await tokenFor('portal', { accounts: ['ACC-000002'] })}`;
    const answer = await post({ [GATEWAY_SECRET_HEADER]: GATEWAY_SECRET, authorization: portal });
    expect(answer).toEqual({
      status: 200,
      body: { data: { accounts: { nodes: [{ id: 'ACC-000002', name: expect.any(String) }] } } },
    });
  });

  it("admits a graphql-ws socket at the orchestration by the secret and the caller's token, and closes one without the secret", async () => {
    const socket = (headers: Record<string, string>, connectionParams: Record<string, string>) => {
      class WithHeaders extends WebSocket {
        constructor(address: string, protocols?: string | string[]) {
          super(address, protocols, { headers });
        }
      }
      return createClient({
        url: stack.urls.orchestration.replace(/^http/, 'ws'),
        webSocketImpl: WithHeaders,
        retryAttempts: 0,
        lazy: true,
        connectionParams,
      });
    };
    const token = (await bearer({ role: 'operations', subject: 'ops-1' })).authorization;
    const admitted = socket({ [GATEWAY_SECRET_HEADER]: GATEWAY_SECRET }, { authorization: token });
    try {
      const health = subscribe(admitted, '{ health { status } }');
      await health.done;
      expect(health.results).toEqual([{ data: { health: { status: 'OK' } } }]);
    } finally {
      await admitted.dispose();
    }
    const refused = socket({}, { authorization: token });
    try {
      const health = subscribe(refused, '{ health { status } }');
      await expect(health.done).rejects.toMatchObject({ code: 4401 });
    } finally {
      await refused.dispose();
    }
  });

  it('still checks a request with signature headers as signed: our gateway and the orchestration keep working', async () => {
    expect((await post(signRequest(stack.secrets.crm, ACCOUNTS, ORCHESTRATION_SERVICE))).status).toBe(200);
    const forged = signRequest('not-the-subgraph-secret-but-32-chars-long', ACCOUNTS, ORCHESTRATION_SERVICE);
    expect(await post({ ...forged, [GATEWAY_SECRET_HEADER]: GATEWAY_SECRET, ...(await bearer()) })).toEqual(
      refused('The request signature does not match'),
    );
  });
});

describe('SUBGRAPH_TRUST and GATEWAY_SHARED_SECRET', () => {
  it('default to signed requests only', () => {
    expect(gatewayTrustFromEnv({})).toBeNull();
    expect(gatewayTrustFromEnv({ SUBGRAPH_TRUST: 'signed' })).toBeNull();
  });

  it('refuse an unknown mode, a missing or short secret, and jwt with AUTH=off, each in one line', () => {
    expect(() => gatewayTrustFromEnv({ SUBGRAPH_TRUST: 'mtls' })).toThrow(
      "SUBGRAPH_TRUST must be one of signed, jwt, not 'mtls'",
    );
    expect(() => gatewayTrustFromEnv({ SUBGRAPH_TRUST: 'jwt' })).toThrow(/^GATEWAY_SHARED_SECRET must be set/);
    expect(() => gatewayTrustFromEnv({ SUBGRAPH_TRUST: 'jwt', GATEWAY_SHARED_SECRET: 'short' })).toThrow(
      /at least 32 characters/,
    );
    expect(() =>
      gatewayTrustFromEnv({ SUBGRAPH_TRUST: 'jwt', GATEWAY_SHARED_SECRET: GATEWAY_SECRET, AUTH: 'off' }),
    ).toThrow('SUBGRAPH_TRUST=jwt verifies bearer tokens: it cannot run with AUTH=off');
  });

  it("read the gateway's own token settings, so production needs them set as the gateway does", () => {
    expect(() =>
      gatewayTrustFromEnv({ SUBGRAPH_TRUST: 'jwt', GATEWAY_SHARED_SECRET: GATEWAY_SECRET, NODE_ENV: 'production' }),
    ).toThrow('JWT_ISSUER must be set when NODE_ENV=production');
    expect(gatewayTrustFromEnv({ SUBGRAPH_TRUST: 'jwt', GATEWAY_SHARED_SECRET: GATEWAY_SECRET })).toEqual({
      gatewaySecret: GATEWAY_SECRET,
      authenticate: expect.any(Function),
    });
  });
});
