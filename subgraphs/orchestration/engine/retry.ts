import type { RetryPolicy } from '../governance/governance';

/**
 * When to try a step again after its `attempts`-th failure: exponential backoff with full jitter
 * (a random delay up to `base × 2^(attempts-1)`, capped at `maxDelayMs`), never sooner than the system's
 * Retry-After. Null when the policy's attempts are used up.
 */
export function nextAttemptAt(
  policy: RetryPolicy,
  attempts: number,
  retryAfterMs: number | null,
  now: number,
  random: () => number = Math.random,
): number | null {
  if (attempts >= policy.maxAttempts) return null;
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempts - 1, 30));
  const jittered = Math.floor(random() * ceiling);
  return now + Math.max(jittered, retryAfterMs ?? 0);
}
