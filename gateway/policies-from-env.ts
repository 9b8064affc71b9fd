import type { Logger } from 'pino';
import type { Role } from '../lib/auth/identity';
import { corsOriginsFromEnv } from '../lib/graphql-http';
import { isProduction } from '../lib/auth/secrets';
import { authFromEnv, DEV_JWT_SECRET } from './auth/auth-from-env';
import type { AuthOptions } from './auth/authenticator';
import { operationLimitsFromEnv, type OperationLimits } from './plugins/operation-limits';
import {
  createRateLimiter,
  createRateLimitRedisClient,
  rateLimitFromEnv,
  type RateLimiter,
} from './plugins/rate-limit';
import {
  DEFAULT_TRUSTED_DOCUMENTS_PATH,
  loadTrustedDocuments,
  trustedDocumentRolesFromEnv,
  type TrustedDocuments,
} from './plugins/trusted-documents';
import type { ResultShaping } from './result-shaping/apollo-seam';

/** Everything that decides who may ask the gateway what, as one deployment configures it. */
export interface GatewayPolicies {
  auth: AuthOptions;
  production: boolean;
  limits: OperationLimits;
  rateLimiter: RateLimiter;
  trustedDocuments: { manifest: TrustedDocuments; roles: readonly Role[] };
  /** `CORS_ORIGINS`: browser origins allowed to call the gateway cross-origin. */
  corsOrigins: string[];
  /** `GATEWAY_RESULT_SHAPING`: results shaped from compiled plans (`compiled`, the default) or by Apollo alone (`apollo`). */
  resultShaping: ResultShaping;
  /** Ends the rate limiter's Redis connection, when it has one. */
  close(): Promise<void>;
}

/**
 * Reads the gateway's policies from the environment, for `gateway/main.ts` and `npm start` alike: authentication
 * (gateway/auth/auth-from-env.ts), `NODE_ENV`, the `LIMIT_*` operation limits, `RATE_LIMIT_*` (shared on Redis when
 * `REDIS_URL` is set), `TRUSTED_DOCUMENTS_PATH`, `TRUSTED_DOCUMENTS_ROLES`, `CORS_ORIGINS` and
 * `GATEWAY_RESULT_SHAPING`. Warns when a development secret or `AUTH=off` is in force.
 * @throws Error naming the setting that is missing (in production) or invalid.
 */
export function gatewayPoliciesFromEnv(env: NodeJS.ProcessEnv, logger: Logger): GatewayPolicies {
  const auth = authFromEnv(env);
  if (auth.mode === 'jwt' && auth.keys.kind === 'secret' && auth.keys.secret === DEV_JWT_SECRET) {
    logger.warn(
      'JWT_SECRET is not set: accepting tokens signed with the development secret (`npm run token` mints them; refused when NODE_ENV=production)',
    );
  }
  if (auth.mode === 'off')
    logger.warn(
      { role: auth.identity.role },
      'AUTH=off: every caller is treated as this role; never expose this gateway',
    );
  const limits = operationLimitsFromEnv(env);
  const trustedDocuments = {
    manifest: loadTrustedDocuments(env.TRUSTED_DOCUMENTS_PATH || DEFAULT_TRUSTED_DOCUMENTS_PATH),
    roles: trustedDocumentRolesFromEnv(env),
  };
  const rateSettings = rateLimitFromEnv(env);
  // With Redis, every gateway on it shares each caller's budget.
  const rateLog = logger.child({ component: 'rate-limit' });
  const rateRedis = env.REDIS_URL ? createRateLimitRedisClient({ url: env.REDIS_URL, logger: rateLog }) : null;
  return {
    auth,
    production: isProduction(env),
    limits,
    rateLimiter: createRateLimiter({ ...rateSettings, redis: rateRedis?.client ?? null, logger: rateLog }),
    trustedDocuments,
    corsOrigins: corsOriginsFromEnv(env),
    resultShaping: resultShapingFromEnv(env),
    close: async () => {
      await rateRedis?.close();
    },
  };
}

/**
 * `GATEWAY_RESULT_SHAPING`: `compiled` (unset, the default) or `apollo`.
 * @throws Error naming the variable when it is set to anything else.
 */
export function resultShapingFromEnv(env: NodeJS.ProcessEnv): ResultShaping {
  const raw = env.GATEWAY_RESULT_SHAPING;
  if (raw === undefined || raw === '' || raw === 'compiled') return 'compiled';
  if (raw === 'apollo') return 'apollo';
  throw new Error(`GATEWAY_RESULT_SHAPING must be 'compiled' or 'apollo'; got '${raw}'`);
}
