import { ApolloServer } from '@apollo/server';
import { createClient } from 'redis';
import { identityOf, ROLES, type Identity } from '../../lib/auth/identity';
import { MeridianError } from '../../lib/errors';
import { createGraphQLRequestListener, listen, type Listening } from '../../lib/graphql-http';
import { silentLogger } from '../../lib/logger';
import {
  createRateLimiter,
  createRateLimitRedisClient,
  DEFAULT_RATE_LIMIT_POINTS,
  DEFAULT_RATE_LIMIT_WINDOW_MS,
  rateLimitFromEnv,
  rateLimitKey,
  type RateLimiter,
} from '../../gateway/plugins/rate-limit';
import { captureLogs } from '../support/log-capture';
import { startRedisServer, type RedisServer } from '../support/redis-server';

/** The error `consume` threw, or null when it let the request through. */
async function refusal(limiter: RateLimiter, key: string): Promise<MeridianError | null> {
  try {
    await limiter.consume(key);
    return null;
  } catch (error) {
    if (error instanceof MeridianError) return error;
    throw error;
  }
}

/** Consumes `count` requests for `key` and returns the codes of the refusals, in order (null for an allowed one). */
async function codes(limiter: RateLimiter, key: string, count: number): Promise<(string | null)[]> {
  const result: (string | null)[] = [];
  for (let i = 0; i < count; i++) result.push((await refusal(limiter, key))?.code ?? null);
  return result;
}

describe('rate limiter in memory', () => {
  it('allows N requests per window and refuses request N+1 with RATE_LIMITED and the time left', async () => {
    const limiter = createRateLimiter({ points: 3, durationMs: 60_000 });
    expect(await codes(limiter, 'bi:analyst-1', 3)).toEqual([null, null, null]);
    const refused = await refusal(limiter, 'bi:analyst-1');
    expect(refused).toBeInstanceOf(MeridianError);
    expect(refused!.code).toBe('RATE_LIMITED');
    expect(refused!.extensions).toEqual({ code: 'RATE_LIMITED', retryAfterMs: refused!.details.retryAfterMs });
    expect(refused!.details.retryAfterMs).toBeGreaterThan(58_000);
    expect(refused!.details.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it('keeps one budget per key: one subject using up its points does not limit another', async () => {
    const limiter = createRateLimiter({ points: 2, durationMs: 60_000 });
    expect(await codes(limiter, 'portal:user-a', 3)).toEqual([null, null, 'RATE_LIMITED']);
    expect(await codes(limiter, 'portal:user-b', 2)).toEqual([null, null]);
    expect(await codes(limiter, 'bi:user-a', 2)).toEqual([null, null]);
    expect(await codes(limiter, 'portal:user-a', 1)).toEqual(['RATE_LIMITED']);
  });

  it('refuses windows that are not whole seconds and budgets that are not whole numbers', () => {
    expect(() => createRateLimiter({ points: 1, durationMs: 1500 })).toThrow('whole number of seconds');
    expect(() => createRateLimiter({ points: 1, durationMs: 500 })).toThrow('whole number of seconds');
    expect(() => createRateLimiter({ points: -1, durationMs: 1000 })).toThrow(
      'rate limit points must be a whole number',
    );
    expect(() => createRateLimiter({ points: 1.5, durationMs: 1000 })).toThrow(
      'rate limit points must be a whole number',
    );
  });

  it('limits nothing with 0 points', async () => {
    const limiter = createRateLimiter({ points: 0, durationMs: 1000 });
    expect(await codes(limiter, 'bi:bench', 2000)).toEqual(new Array(2000).fill(null));
  });
});

describe('rateLimitKey', () => {
  it('keys verified callers by role and token subject, anonymous ones by peer address', () => {
    const req = { socket: { remoteAddress: '10.1.2.3' } } as Parameters<typeof rateLimitKey>[1];
    expect(rateLimitKey(identityOf('user-7', 'portal', [], ['ACC-1']), req)).toBe('portal:user-7');
    expect(rateLimitKey(identityOf('user-7', 'bi', [], null), req)).toBe('bi:user-7');
    expect(rateLimitKey(null, req)).toBe('ip:10.1.2.3');
  });
});

describe('rateLimitFromEnv', () => {
  it('reads RATE_LIMIT_POINTS and RATE_LIMIT_WINDOW_MS, with defaults', () => {
    expect(rateLimitFromEnv({})).toEqual({
      points: DEFAULT_RATE_LIMIT_POINTS,
      durationMs: DEFAULT_RATE_LIMIT_WINDOW_MS,
    });
    expect(rateLimitFromEnv({})).toEqual({ points: 600, durationMs: 60_000 });
    expect(rateLimitFromEnv({ RATE_LIMIT_POINTS: '20', RATE_LIMIT_WINDOW_MS: '1000' })).toEqual({
      points: 20,
      durationMs: 1000,
    });
  });

  it('refuses values that are not whole numbers and windows that are not whole seconds; 0 points is no limit', () => {
    expect(rateLimitFromEnv({ RATE_LIMIT_POINTS: '0' })).toEqual({ points: 0, durationMs: 60_000 });
    expect(() => rateLimitFromEnv({ RATE_LIMIT_POINTS: 'many' })).toThrow('RATE_LIMIT_POINTS');
    expect(() => rateLimitFromEnv({ RATE_LIMIT_POINTS: '-1' })).toThrow('RATE_LIMIT_POINTS');
    expect(() => rateLimitFromEnv({ RATE_LIMIT_WINDOW_MS: '999' })).toThrow('RATE_LIMIT_WINDOW_MS');
    expect(() => rateLimitFromEnv({ RATE_LIMIT_WINDOW_MS: '1500' })).toThrow('RATE_LIMIT_WINDOW_MS');
  });
});

describe('rate limiter shared through a real Redis', () => {
  let redis: RedisServer;
  const clients: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
  }, 30_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await redis?.stop();
  });

  /** A connected client of its own, as each gateway replica has. */
  async function replicaClient() {
    const connection = createRateLimitRedisClient({ url: redis.url, logger: silentLogger() });
    clients.push(connection);
    await connection.ready;
    return connection;
  }

  it('shares one budget between two replicas: what one counts, the other sees', async () => {
    const [a, b] = [await replicaClient(), await replicaClient()];
    const replicaA = createRateLimiter({ points: 5, durationMs: 60_000, redis: a.client, keyPrefix: 'test:shared' });
    const replicaB = createRateLimiter({ points: 5, durationMs: 60_000, redis: b.client, keyPrefix: 'test:shared' });
    expect(await codes(replicaA, 'bi:analyst-1', 3)).toEqual([null, null, null]);
    expect(await codes(replicaB, 'bi:analyst-1', 3)).toEqual([null, null, 'RATE_LIMITED']);
    const refused = await refusal(replicaA, 'bi:analyst-1');
    expect(refused?.code).toBe('RATE_LIMITED');
    expect(refused!.details.retryAfterMs).toBeGreaterThan(58_000);
    expect(refused!.details.retryAfterMs).toBeLessThanOrEqual(60_000);
    // Another subject has its own budget on both replicas.
    expect(await codes(replicaB, 'bi:analyst-2', 5)).toEqual([null, null, null, null, null]);
  });

  it('counts in Redis with a TTL of the window, so the budget comes back once the window ends', async () => {
    const { client } = await replicaClient();
    const events = createClient({ url: redis.url });
    events.on('error', () => undefined);
    await events.connect();
    clients.push({ close: async () => void events.destroy() });
    await events.configSet('notify-keyspace-events', 'Ex');
    let onExpired!: () => void;
    const expired = new Promise<void>((resolve) => {
      onExpired = resolve;
    });
    await events.subscribe('__keyevent@0__:expired', (key) => {
      if (key === 'test:expiry:portal:user-1') onExpired();
    });
    const limiter = createRateLimiter({ points: 1, durationMs: 1000, redis: client, keyPrefix: 'test:expiry' });
    expect(await codes(limiter, 'portal:user-1', 2)).toEqual([null, 'RATE_LIMITED']);
    const raw = (await client.eval("return {redis.call('get', KEYS[1]), redis.call('pttl', KEYS[1])}", {
      keys: ['test:expiry:portal:user-1'],
      arguments: [],
    })) as [string, number];
    expect(raw[0]).toBe('2');
    expect(raw[1]).toBeGreaterThan(0);
    expect(raw[1]).toBeLessThanOrEqual(1000);
    // Wait for Redis itself to report the key expired (a keyspace event), not for a guessed duration.
    await expired;
    expect(await client.exists('test:expiry:portal:user-1')).toBe(0);
    expect(await codes(limiter, 'portal:user-1', 2)).toEqual([null, 'RATE_LIMITED']);
  });

  it('keeps limiting in memory (and warns) when Redis is down, and shares the count again once it is back', async () => {
    const { logger, lines } = captureLogs();
    const connections = [await replicaClient(), await replicaClient()];
    const limiter = createRateLimiter({
      points: 2,
      durationMs: 60_000,
      redis: connections[0]!.client,
      keyPrefix: 'test:outage',
      logger,
    });
    const other = createRateLimiter({
      points: 2,
      durationMs: 60_000,
      redis: connections[1]!.client,
      keyPrefix: 'test:outage',
    });
    const lost = Promise.all(
      connections.map(({ client }) => new Promise((resolve) => client.once('end', resolve).once('error', resolve))),
    );
    await redis.kill();
    await lost;
    // Never fails open: the insurance limiter enforces the same budget in this process.
    expect(await codes(limiter, 'bi:analyst-9', 3)).toEqual([null, null, 'RATE_LIMITED']);
    expect(lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([
      'rate limiter cannot reach Redis: counting in this process meanwhile',
    ]);
    const back = Promise.all(connections.map(({ client }) => new Promise((resolve) => client.once('ready', resolve))));
    await redis.restart();
    await back;
    // Redis restarted empty: the shared count starts over, and the other replica sees this one's request.
    expect(await codes(limiter, 'bi:analyst-9', 1)).toEqual([null]);
    expect(await codes(other, 'bi:analyst-9', 2)).toEqual([null, 'RATE_LIMITED']);
  }, 30_000);
});

describe('rate limiting over HTTP', () => {
  let apollo: ApolloServer;
  let server: Listening;

  beforeAll(async () => {
    apollo = new ApolloServer({
      typeDefs: 'type Query { hello: String }',
      resolvers: { Query: { hello: () => 'world' } },
    });
    await apollo.start();
    const limiter = createRateLimiter({ points: 2, durationMs: 60_000 });
    server = await listen(
      createGraphQLRequestListener(apollo, {
        context: async () => ({}),
        // A stand-in for the gateway's token check: the subject comes from a test header.
        admit: async ({ req }) => {
          const subject = req.headers['x-test-subject'];
          const identity: Identity | null =
            typeof subject === 'string' ? identityOf(subject, ROLES[0], [], null) : null;
          await limiter.consume(rateLimitKey(identity, req));
          return { identity };
        },
      }),
      0,
    );
  });

  afterAll(async () => {
    await server?.close();
    await apollo?.stop();
  });

  const post = (subject?: string) =>
    fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(subject ? { 'x-test-subject': subject } : {}) },
      body: JSON.stringify({ query: '{ hello }' }),
    });

  it('answers 429 with Retry-After, RATE_LIMITED and retryAfterMs once a subject used up its budget', async () => {
    for (let i = 0; i < 2; i++) {
      const ok = await post('analyst-1');
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ data: { hello: 'world' } });
    }
    const refused = await post('analyst-1');
    expect(refused.status).toBe(429);
    const body = (await refused.json()) as { errors: { extensions: { retryAfterMs: number } }[] };
    expect(body).toEqual({
      errors: [
        {
          message: expect.stringContaining('Too many requests'),
          extensions: { code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) },
        },
      ],
    });
    const retryAfterMs = body.errors[0]!.extensions.retryAfterMs;
    expect(retryAfterMs).toBeGreaterThan(55_000);
    expect(refused.headers.get('retry-after')).toBe(String(Math.ceil(retryAfterMs / 1000)));
  });

  it('counts another subject, and anonymous callers by address, separately', async () => {
    expect((await post('analyst-2')).status).toBe(200);
    expect((await post()).status).toBe(200);
    expect((await post()).status).toBe(200);
    expect((await post()).status).toBe(429);
    expect((await post('analyst-2')).status).toBe(200);
    expect((await post('analyst-2')).status).toBe(429);
  });
});
