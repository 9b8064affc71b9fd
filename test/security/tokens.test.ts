import { UnsecuredJWT } from 'jose';
import { authFromEnv, DEV_AUDIENCE, DEV_ISSUER, DEV_JWT_SECRET } from '../../gateway/auth/auth-from-env';
import {
  createAuthenticator,
  DEFAULT_TOKEN_CACHE_SIZE,
  DEFAULT_TOKEN_CACHE_TTL_MS,
} from '../../gateway/auth/authenticator';
import { mintToken, type TokenRequest } from '../../gateway/auth/mint-token';
import { CLOSE_UNAUTHENTICATED } from '../../gateway/subscriptions/index';
import { gql, startTestStack } from '../support/stack';
import { subscribe, wsClient } from '../support/ws-client';

const valid: TokenRequest = {
  secret: DEV_JWT_SECRET,
  issuer: DEV_ISSUER,
  audience: DEV_AUDIENCE,
  subject: 'ops-1',
  role: 'operations',
};
const now = () => Math.floor(Date.now() / 1000);

/** Tokens the gateway must refuse, each with the reason it gives. */
const BAD_TOKENS: [string, () => Promise<string>, string][] = [
  ['an expired token', () => mintToken({ ...valid, expiresIn: now() - 60 }), 'expired'],
  [
    'a token signed with another secret',
    () => mintToken({ ...valid, secret: 'some-other-secret-of-at-least-32-characters' }),
    'signature',
  ],
  ['a token for another audience', () => mintToken({ ...valid, audience: 'another-api' }), '`aud`'],
  ['a token from another issuer', () => mintToken({ ...valid, issuer: 'https://elsewhere.example' }), '`iss`'],
  [
    'an unsigned alg:none token',
    async () =>
      new UnsecuredJWT({ role: 'service' })
        .setSubject('intruder')
        .setIssuer(DEV_ISSUER)
        .setAudience(DEV_AUDIENCE)
        .setExpirationTime('1h')
        .encode(),
    'algorithm',
  ],
  ['a token with an unknown role', () => mintToken({ ...valid, role: 'admin' as never }), '`role`'],
  ['a portal token without accounts', () => mintToken({ ...valid, role: 'portal' }), 'accounts'],
  ['a header that is not a bearer JWT', async () => 'not-a-jwt', 'Bearer'],
];

describe('authentication at the gateway', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack({ worker: false, relay: false });
  });
  afterAll(() => stack.stop());

  it.each(BAD_TOKENS)('refuses %s over HTTP with 401 UNAUTHENTICATED', async (_name, make, reason) => {
    const { status, body } = await gql(stack.gatewayUrl, '{ health { status } }', undefined, {
      authorization: `Bearer ${await make()}`,
    });
    expect(status).toBe(401);
    expect(body).toEqual({
      errors: [{ message: expect.stringContaining(reason), extensions: { code: 'UNAUTHENTICATED' } }],
    });
  });

  it.each(BAD_TOKENS)(
    'refuses %s at graphql-ws connection_init, closing with 4401 UNAUTHENTICATED',
    async (_name, make) => {
      const client = wsClient(stack.gateway.wsUrl, `Bearer ${await make()}`);
      try {
        const sub = subscribe(client, '{ health { status } }');
        await expect(sub.done).rejects.toMatchObject({
          code: CLOSE_UNAUTHENTICATED,
          reason: expect.stringMatching(/^UNAUTHENTICATED: /),
        });
      } finally {
        await client.dispose();
      }
    },
  );

  it('serves a valid token, and answers an anonymous caller UNAUTHENTICATED with the path of what needs a token', async () => {
    const ok = await gql(stack.gatewayUrl, '{ health { status } }', undefined, {
      authorization: `Bearer ${await mintToken(valid)}`,
    });
    expect(ok.body).toEqual({ data: { health: { status: 'OK' } } });
    const anonymous = await gql(stack.gatewayUrl, '{ __typename health { status } }', undefined, { authorization: '' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toEqual({
      errors: [
        {
          message: expect.stringContaining('send a bearer token'),
          path: ['health'],
          extensions: { code: 'UNAUTHENTICATED' },
        },
      ],
    });
    const typename = await gql(stack.gatewayUrl, '{ __typename }', undefined, { authorization: '' });
    expect(typename.body).toEqual({ data: { __typename: 'Query' } });
  });

  it('closes a graphql-ws socket with 4401 when its token expires, ending its subscriptions', async () => {
    const client = wsClient(stack.gateway.wsUrl, `Bearer ${await mintToken({ ...valid, expiresIn: now() + 2 })}`);
    try {
      const sub = subscribe(client, 'subscription { syncRunsUpdated { id } }');
      await expect(sub.done).rejects.toMatchObject({
        code: CLOSE_UNAUTHENTICATED,
        reason: 'UNAUTHENTICATED: The token has expired',
      });
    } finally {
      await client.dispose();
    }
  });

  it('lets an anonymous graphql-ws socket connect, and refuses what needs a token', async () => {
    const client = wsClient(stack.gateway.wsUrl, null);
    try {
      const sub = subscribe(client, '{ health { status } }');
      await expect(sub.done).rejects.toEqual([
        expect.objectContaining({ path: ['health'], extensions: { code: 'UNAUTHENTICATED' } }),
      ]);
    } finally {
      await client.dispose();
    }
  });
});

describe('authentication settings', () => {
  it('refuses AUTH=off and development keys in production, and accepts them in development', () => {
    expect(() => authFromEnv({ NODE_ENV: 'production', AUTH: 'off' })).toThrow(
      'AUTH=off is refused when NODE_ENV=production',
    );
    expect(() => authFromEnv({ NODE_ENV: 'production', JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' })).toThrow(
      'One of JWKS_URL, JWKS_PATH or JWT_SECRET must be set',
    );
    expect(() => authFromEnv({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40) })).toThrow('JWT_ISSUER must be set');
    expect(() => authFromEnv({ JWT_SECRET: 'short' })).toThrow('JWT_SECRET must be at least 32 characters');
    expect(authFromEnv({ AUTH: 'off' })).toEqual({
      mode: 'off',
      identity: expect.objectContaining({ role: 'operations' }),
    });
    expect(authFromEnv({})).toEqual({
      mode: 'jwt',
      keys: { kind: 'secret', secret: DEV_JWT_SECRET },
      issuer: DEV_ISSUER,
      audience: DEV_AUDIENCE,
      tokenCacheSize: DEFAULT_TOKEN_CACHE_SIZE,
      tokenCacheTtlMs: DEFAULT_TOKEN_CACHE_TTL_MS,
    });
    expect(authFromEnv({ AUTH_TOKEN_CACHE_SIZE: '0', AUTH_TOKEN_CACHE_TTL_MS: '5000' })).toMatchObject({
      tokenCacheSize: 0,
      tokenCacheTtlMs: 5000,
    });
    expect(() => authFromEnv({ AUTH_TOKEN_CACHE_SIZE: '-1' })).toThrow('AUTH_TOKEN_CACHE_SIZE');
  });
});

describe('the verified-token cache', () => {
  const secretKeys = { kind: 'secret' as const, secret: DEV_JWT_SECRET };
  const authenticator = (extra: { tokenCacheSize?: number; tokenCacheTtlMs?: number; now: () => number }) =>
    createAuthenticator({ mode: 'jwt', keys: secretKeys, issuer: DEV_ISSUER, audience: DEV_AUDIENCE, ...extra });
  const bearer = async (request: Partial<TokenRequest> = {}) => `Bearer ${await mintToken({ ...valid, ...request })}`;

  it('answers a token it verified with the same identity until the time to keep it has passed, then verifies it again', async () => {
    let clock = Date.now();
    const authenticate = authenticator({ tokenCacheTtlMs: 60_000, now: () => clock });
    const token = await bearer({ expiresIn: '1h' });
    const first = await authenticate(token);
    expect(first).toMatchObject({ subject: 'ops-1', role: 'operations' });
    clock += 59_000;
    expect(await authenticate(token)).toBe(first);
    clock += 1_000;
    const again = await authenticate(token);
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
  });

  it('never answers a token past its expiry from the cache', async () => {
    let clock = Date.now();
    const authenticate = authenticator({ tokenCacheTtlMs: 3_600_000, now: () => clock });
    const token = await bearer({ expiresIn: Math.floor(clock / 1000) + 30 });
    const identity = await authenticate(token);
    clock += 20_000;
    expect(await authenticate(token)).toBe(identity);
    // Past `exp` and the 5 s leeway: refused exactly as a token never seen.
    clock += 16_000;
    await expect(authenticate(token)).rejects.toMatchObject({
      message: 'The token has expired',
      extensions: { code: 'UNAUTHENTICATED' },
    });
  });

  it('keeps at most tokenCacheSize tokens, the oldest dropped first; 0 keeps none; a refused token is never kept', async () => {
    const clock = Date.now();
    const two = authenticator({ tokenCacheSize: 2, now: () => clock });
    const [a, b, c] = [await bearer({ subject: 'a' }), await bearer({ subject: 'b' }), await bearer({ subject: 'c' })];
    const first = { a: await two(a), b: await two(b) };
    expect(await two(a)).toBe(first.a);
    await two(c); // a is the oldest: dropped
    expect(await two(b)).toBe(first.b);
    expect(await two(a)).not.toBe(first.a);

    const none = authenticator({ tokenCacheSize: 0, now: () => clock });
    expect(await none(a)).not.toBe(await none(a));

    const forged = await bearer({ secret: 'some-other-secret-of-at-least-32-characters' });
    for (let i = 0; i < 2; i++)
      await expect(two(forged)).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
  });
});
