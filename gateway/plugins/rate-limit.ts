import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { createClient } from 'redis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Identity } from '../../lib/auth/identity';
import { intFromEnv } from '../../lib/env';
import { MeridianError } from '../../lib/errors';

/** Requests one caller may make per window. @default 600 */
export const DEFAULT_RATE_LIMIT_POINTS = 600;

/** Length of the fixed window the points are counted in, in ms (whole seconds). @default 60000 */
export const DEFAULT_RATE_LIMIT_WINDOW_MS = 60_000;

/** Prefix of the counters' keys (in Redis: `<keyPrefix>:<key>`). @default 'meridian:rate' */
export const DEFAULT_RATE_LIMIT_KEY_PREFIX = 'meridian:rate';

/** While Redis cannot be used, the fallback warning is logged at most this often. */
const FALLBACK_WARNING_INTERVAL_MS = 60_000;

/**
 * What the limiter needs of a node-redis (v4+, here 6) client: the limiter runs one Lua script per request (`EVAL`,
 * an atomic INCRBY + PTTL), and checks `isReady` so that a disconnected client goes to the fallback at once.
 */
export interface RateLimitRedisClient {
  readonly isReady: boolean;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** Options of {@link createRateLimiter}. */
export interface RateLimiterOptions {
  /** Requests per window and key; 0 switches limiting off (benchmarks, load tests). @default {@link DEFAULT_RATE_LIMIT_POINTS} */
  points?: number;
  /** The window, in ms; a whole number of seconds, at least 1000. @default {@link DEFAULT_RATE_LIMIT_WINDOW_MS} */
  durationMs?: number;
  /**
   * A connected node-redis client shared by every gateway replica: replicas then share each caller's budget.
   * It needs an `error` listener (see {@link createRateLimitRedisClient}). @default none: counted in this process
   */
  redis?: RateLimitRedisClient | null;
  /** @default {@link DEFAULT_RATE_LIMIT_KEY_PREFIX} */
  keyPrefix?: string;
  /** Gets a warning (at most one a minute) while Redis cannot be used and requests are counted in memory. */
  logger?: Logger;
}

/** A per-key request budget. */
export interface RateLimiter {
  /**
   * Counts one request for `key`.
   * @throws MeridianError RATE_LIMITED with `retryAfterMs` (time until the key's window ends) when the key has
   * used up its points in the current window.
   */
  consume(key: string): Promise<void>;
}

/**
 * A fixed-window rate limiter (rate-limiter-flexible): in memory by default, in Redis when `redis` is given.
 *
 * Redis down: the limiter does not fail open. A Redis error, a timeout, or a client that is not ready sends the
 * request to an in-memory insurance limiter with the same points and window (rate-limiter-flexible's
 * `insuranceLimiter`), so during an outage each replica enforces the budget on its own: a caller may get up to
 * (replicas × points) per window across the fleet, never unlimited. The shared count resumes when Redis is back.
 * @throws Error when `points` or `durationMs` is out of range.
 */
export function createRateLimiter(options: RateLimiterOptions = {}): RateLimiter {
  const points = options.points ?? DEFAULT_RATE_LIMIT_POINTS;
  const durationMs = options.durationMs ?? DEFAULT_RATE_LIMIT_WINDOW_MS;
  const keyPrefix = options.keyPrefix ?? DEFAULT_RATE_LIMIT_KEY_PREFIX;
  if (!Number.isInteger(points) || points < 0)
    throw new Error(`rate limit points must be a whole number (0 for no limit); got ${points}`);
  if (points === 0) return { consume: async () => {} };
  // RateLimiterRedis counts in whole seconds (a shorter window would never expire there), so both stores do.
  if (!Number.isInteger(durationMs) || durationMs < 1000 || durationMs % 1000 !== 0) {
    throw new Error(`rate limit window must be a whole number of seconds in ms (1000, 60000, …); got ${durationMs}`);
  }
  const duration = durationMs / 1000;
  let limiter: RateLimiterMemory | RateLimiterRedis;
  if (!options.redis) {
    limiter = new RateLimiterMemory({ points, duration, keyPrefix });
  } else {
    const { logger } = options;
    let warnedAt = -Infinity;
    const insurance = new RateLimiterMemory({ points, duration, keyPrefix });
    const consumeInMemory = insurance.consume.bind(insurance);
    // rate-limiter-flexible calls the insurance limiter only when the Redis call failed: that is where an outage shows.
    insurance.consume = (key, pointsToConsume, consumeOptions) => {
      const now = Date.now();
      if (now - warnedAt >= FALLBACK_WARNING_INTERVAL_MS) {
        warnedAt = now;
        logger?.warn({ keyPrefix }, 'rate limiter cannot reach Redis: counting in this process meanwhile');
      }
      return consumeInMemory(key, pointsToConsume, consumeOptions);
    };
    limiter = new RateLimiterRedis({
      storeClient: options.redis,
      // node-redis v4+ (`redis` 6 here): EVAL takes { keys, arguments } rather than ioredis' positional arguments.
      useRedisPackage: true,
      rejectIfRedisNotReady: true,
      points,
      duration,
      keyPrefix,
      insuranceLimiter: insurance,
    });
  }
  return {
    consume: async (key) => {
      try {
        await limiter.consume(key);
      } catch (error) {
        if (error instanceof RateLimiterRes) {
          const retryAfterMs = Math.max(1, Math.ceil(error.msBeforeNext));
          throw new MeridianError(
            'RATE_LIMITED',
            `Too many requests: at most ${points} per ${durationMs / 1000} s; retry in ${Math.ceil(retryAfterMs / 1000)} s`,
            { retryAfterMs },
          );
        }
        throw error;
      }
    },
  };
}

/** The limiter's settings from the environment. */
export interface RateLimitSettings {
  points: number;
  durationMs: number;
}

/**
 * Reads `RATE_LIMIT_POINTS` (requests per window and caller, {@link DEFAULT_RATE_LIMIT_POINTS}; 0 for no limit) and
 * `RATE_LIMIT_WINDOW_MS` (the window, whole seconds in ms, {@link DEFAULT_RATE_LIMIT_WINDOW_MS}).
 * @throws Error naming the variable when a value is not a whole number in range.
 */
export function rateLimitFromEnv(env: NodeJS.ProcessEnv): RateLimitSettings {
  const points = intFromEnv(env, 'RATE_LIMIT_POINTS', DEFAULT_RATE_LIMIT_POINTS, 0);
  const durationMs = intFromEnv(env, 'RATE_LIMIT_WINDOW_MS', DEFAULT_RATE_LIMIT_WINDOW_MS, 1000);
  if (durationMs % 1000 !== 0)
    throw new Error(
      `RATE_LIMIT_WINDOW_MS must be a whole number of seconds in ms (1000, 60000, …); got '${env.RATE_LIMIT_WINDOW_MS}'`,
    );
  return { points, durationMs };
}

/**
 * The key a request is counted under: `<role>:<subject>` for a verified caller (each token subject has its own
 * budget), `ip:<address>` for an anonymous one (the socket's peer address: `X-Forwarded-For` is not trusted, since
 * any client can set it).
 */
export function rateLimitKey(identity: Identity | null, req: Pick<IncomingMessage, 'socket'>): string {
  return identity ? `${identity.role}:${identity.subject}` : `ip:${req.socket.remoteAddress ?? 'unknown'}`;
}

/** Options of {@link createRateLimitRedisClient}. */
export interface RateLimitRedisOptions {
  /** `redis://host:port[/db]`. */
  url: string;
  /** Gets one warning per outage (not one per reconnect attempt). */
  logger: Logger;
  /** Longest a count waits for Redis before the request is counted in memory instead. @default 500 */
  commandTimeoutMs?: number;
}

/**
 * A node-redis 6 client for {@link createRateLimiter}, connecting in the background: no offline queue and a
 * command timeout, so that while Redis is down or slow a request is counted in memory at once rather than waiting;
 * an `error` listener (without one a lost connection would end the process); reconnects forever with backoff.
 * `ready` resolves once it first connects (nothing needs to wait for it); `close()` ends it.
 */
export function createRateLimitRedisClient(options: RateLimitRedisOptions): {
  client: RateLimitNodeRedisClient;
  ready: Promise<void>;
  close(): Promise<void>;
} {
  const { logger } = options;
  let outageLogged = false;
  let closed = false;
  const client = newClient(options.url, options.commandTimeoutMs ?? 500);
  client.on('error', (error: unknown) => {
    if (closed || outageLogged) return;
    outageLogged = true;
    logger.warn({ err: error }, 'rate limiter Redis connection lost or refused; reconnecting with backoff');
  });
  const ready = new Promise<void>((resolve) => {
    client.on('ready', () => {
      if (outageLogged && !closed) logger.info('rate limiter Redis connection is back');
      outageLogged = false;
      resolve();
    });
  });
  client.connect().catch((error: unknown) => {
    if (!closed) logger.error({ err: error }, 'rate limiter Redis client gave up connecting');
  });
  return {
    client,
    ready,
    close: async () => {
      closed = true;
      if (client.isReady) await client.close().catch(() => client.destroy());
      else client.destroy();
    },
  };
}

function newClient(url: string, commandTimeoutMs: number) {
  return createClient({
    url,
    disableOfflineQueue: true,
    commandOptions: { timeout: commandTimeoutMs },
    socket: {
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000) + Math.floor(Math.random() * 100),
    },
  });
}

/** The node-redis client {@link createRateLimitRedisClient} makes. */
export type RateLimitNodeRedisClient = ReturnType<typeof newClient>;
