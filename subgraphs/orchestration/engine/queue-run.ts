import { createHash } from 'node:crypto';
import { MeridianError } from '../../../lib/errors';
import { runsStarted } from '../../../lib/metrics/metrics';
import { captureTraceContext } from '../../../lib/telemetry/propagation';
import type { Flow } from '../flows/flow';
import type { Actor, Ledger, NewRun, RunRecord } from './ledger';

/** Who queues a run, and how. */
export interface QueueRunOptions {
  /** Recorded as the run's `triggeredBy` and in its audit trail. */
  actor: Actor;
  /** Stripe-style idempotency key (1 to 255 characters); none when null or omitted. */
  idempotencyKey?: string | null;
  /** Audit a call that gets a standing run back (API callers: yes; trigger looks: no). @default false */
  auditRepeats?: boolean;
  /** A person's explicit call (see {@link NewRun.explicit}): may restart an abandoned subject. @default false */
  explicit?: boolean;
}

/**
 * Queues a run of `flow` for `raw` input, or returns the run that already stands for the same idempotency key
 * (Stripe semantics: the request hash is the flow and its parsed input) or the same subject.
 * @throws MeridianError BAD_USER_INPUT for invalid input or key; IDEMPOTENCY_KEY_REUSED.
 */
export async function queueRun(
  ledger: Ledger,
  flow: Flow<unknown>,
  raw: Record<string, unknown>,
  options: QueueRunOptions,
): Promise<{ run: RunRecord; created: boolean }> {
  const { actor, idempotencyKey } = options;
  const input = flow.parseInput(raw) as Record<string, unknown>;
  if (
    idempotencyKey !== undefined &&
    idempotencyKey !== null &&
    (idempotencyKey.length === 0 || idempotencyKey.length > 255)
  ) {
    throw new MeridianError('BAD_USER_INPUT', 'idempotencyKey must be 1 to 255 characters', {
      field: 'idempotencyKey',
    });
  }
  const queued = await ledger.createRun({
    flow: flow.name,
    input,
    stepNames: flow.steps.map((s) => s.name),
    ...flow.subject(input),
    triggeredBy: actor,
    // The worker's step spans join the trace of the call that queued the run.
    traceContext: captureTraceContext(),
    auditRepeats: options.auditRepeats ?? false,
    explicit: options.explicit ?? false,
    idempotency: idempotencyKey
      ? {
          // Scoped per caller, as Stripe scopes keys per account: another caller's "0" is another key.
          scope: actor.subject,
          key: idempotencyKey,
          requestHash: createHash('sha256')
            .update(JSON.stringify([flow.name, input]))
            .digest('hex'),
        }
      : null,
  });
  if (queued.created) runsStarted.inc({ flow: flow.name });
  return queued;
}
