import type { Ledger, RunRecord } from '../../subgraphs/orchestration/engine/ledger';

/** The worker commands that need the lease; the ledger refuses them (null or false) for a token that lost it. */
const LEASED: ReadonlySet<keyof Ledger> = new Set<keyof Ledger>([
  'completeStep',
  'failStep',
  'compensateStep',
  'endCompensation',
  'renewLease',
]);

/** What the ledger answered about leases, as the worker saw it. */
export interface LeaseLog {
  /** Every successful claim: the run and the lease token it was claimed with, in order. */
  readonly claims: { runId: string; token: string }[];
  /** Every command the ledger refused because the token no longer held the run's lease. */
  readonly refused: { runId: string; token: string; command: string }[];
  /** The distinct lease tokens `runId` was claimed with. */
  tokens(runId: string): string[];
  /** Resolves once `predicate` holds of the log (checked now and after every claim and refusal). */
  until(predicate: (log: LeaseLog) => boolean): Promise<void>;
}

/**
 * Wraps a real ledger so each claim and each refused lease-holder command is recorded, then answers unchanged
 * (a recorder, not a mock). Hand it to `startTestStack({ wrapConnector })` for the `orchestration` system.
 */
export function recordLeases<T extends object>(ledger: T): { ledger: T; log: LeaseLog } {
  const waiters = new Set<() => void>();
  const changed = () => {
    for (const check of [...waiters]) check();
  };
  const log: LeaseLog = {
    claims: [],
    refused: [],
    tokens: (runId) => [...new Set(log.claims.filter((c) => c.runId === runId).map((c) => c.token))],
    until: (predicate) =>
      new Promise((resolve) => {
        const check = () => {
          if (!predicate(log)) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      }),
  };
  const wrapped = new Proxy(ledger, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      if (prop === 'claimRun')
        return async (token: string, ...rest: unknown[]) => {
          const run = await (value as (...a: unknown[]) => Promise<RunRecord | null>).call(target, token, ...rest);
          if (run) log.claims.push({ runId: run.id, token });
          changed();
          return run;
        };
      if (LEASED.has(prop as keyof Ledger))
        return async (runId: string, token: string, ...rest: unknown[]) => {
          const result = await (value as (...a: unknown[]) => Promise<unknown>).call(target, runId, token, ...rest);
          if (result === null || result === false) log.refused.push({ runId, token, command: prop });
          changed();
          return result;
        };
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
  return { ledger: wrapped, log };
}
