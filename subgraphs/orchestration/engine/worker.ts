import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { exceptionsRaised, runLeadTime, runsFinished, stepAttempts } from '../../../lib/metrics/metrics';
import { contextFromStored } from '../../../lib/telemetry/propagation';
import { withStepSpan, type StepSpanInfo } from '../../../lib/telemetry/spans';
import { createWakeableSleep } from '../../../lib/wakeable-sleep';
import type { Flow, StepContext } from '../flows/flow';
import type { Governance, SystemKey } from '../governance/governance';
import { RETRYABLE, SystemError } from '../systems/system-error';
import type { Systems } from '../systems/systems';
import type { Ledger, RunRecord, RunStatus, StepError, StepRecord } from './ledger';
import { nextAttemptAt } from './retry';

/** End states: a worker's commit that returns a run in one of them finished it (claims never do). */
const FINISHED: ReadonlySet<RunStatus> = new Set(['SUCCEEDED', 'EXCEPTION', 'ABANDONED', 'COMPENSATION_FAILED']);

/**
 * A step's span: a child of the call that queued the run (its stored trace context), linked to the step's previous
 * failed attempt when there was one (its span is stored with the failure).
 */
const spanOf = (
  run: RunRecord,
  kind: StepSpanInfo['kind'],
  step: StepRecord,
  system: string,
  attempt: number,
  onSpan?: (traceparent: string | null) => void,
): StepSpanInfo => ({
  kind,
  runId: run.id,
  flow: run.flow,
  step: step.name,
  correlationId: run.correlationId,
  attempt,
  system,
  parent: contextFromStored(run.traceContext),
  retryOf: step.error?.traceparent ?? null,
  ...(onSpan ? { onSpan } : {}),
});

/**
 * Whose retry policy a failed call follows: the system that failed (a billing step calls the PSA and the ERP; a PSA
 * throttle follows the PSA's policy), else the step's own system.
 */
const policyOf = (failure: StepError, stepSystem: SystemKey): SystemKey =>
  failure.system === 'crm' || failure.system === 'psa' || failure.system === 'erp' ? failure.system : stepSystem;

/** The error class a span records (the step's failure is classified in full by `toStepError`). */
const classOf = (error: unknown): string =>
  error instanceof SystemError
    ? error.errorClass
    : (error as { code?: unknown }).code === 'BAD_USER_INPUT'
      ? 'BAD_VALUE'
      : 'UNKNOWN';

/** What a worker needs: the ledger, the flows it can run, the systems they call, and the governance. */
export interface WorkerOptions {
  ledger: Ledger;
  flows: readonly Flow<any>[];
  systems: Systems;
  governance: Governance;
  logger: Logger;
  /** Names this worker's leases (each claim's token starts with it). @default a random UUID */
  owner?: string;
  /** How long a claimed run stays this worker's without renewal. @default 30000 */
  leaseMs?: number;
  /** Longest wait between looks for due runs (other processes' runs arrive only this way). @default 250 */
  idlePollMs?: number;
  /** Runs this worker advances at once (each waits on system calls most of the time). @default 4 */
  concurrency?: number;
  /** First wait after the ledger failed (unreachable, say); doubles per consecutive failure up to `retryMaxMs`. @default 100 */
  retryMinMs?: number;
  /** @default 5000 */
  retryMaxMs?: number;
  /** Source of retry jitter. @default Math.random */
  random?: () => number;
  /** The time in epoch ms, for leases, due retries and error stamps (tests move it by hand). @default Date.now */
  now?: () => number;
  /** Called with the run after every change this worker commits (tests and in-process listeners wait on it). */
  onRunChanged?: (run: RunRecord) => void;
}

/** A running worker. */
export interface Worker {
  readonly owner: string;
  /** Looks for work now (after this process queued a run). */
  wake(): void;
  /** Finishes the step in hand, then stops. */
  stop(): Promise<void>;
}

/**
 * Starts a worker: it claims due runs with a lease, runs their steps in order (each outcome and its event commit
 * together in the ledger), schedules retries, raises exceptions, and compensates abandoned runs newest step first.
 * A run whose worker died is taken over when its lease expires, from its last committed step.
 */
export function startWorker(options: WorkerOptions): Worker {
  const { ledger, systems, governance, logger } = options;
  const owner = options.owner ?? randomUUID();
  const leaseMs = options.leaseMs ?? 30_000;
  const idlePollMs = options.idlePollMs ?? 250;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const retryMinMs = options.retryMinMs ?? 100;
  const retryMaxMs = options.retryMaxMs ?? 5000;
  const flows = new Map(options.flows.map((f) => [f.name, f]));
  const changed = (run: RunRecord | null): RunRecord | null => {
    if (run && FINISHED.has(run.status)) {
      runsFinished.inc({ flow: run.flow, status: run.status });
      runLeadTime.observe(
        { flow: run.flow, status: run.status },
        Math.max(0, now() - Date.parse(run.createdAt)) / 1000,
      );
      if (run.status === 'EXCEPTION') {
        const failed = run.steps.find((s) => s.status === 'FAILED');
        exceptionsRaised.inc({ flow: run.flow, error_class: failed?.error?.class ?? 'UNKNOWN' });
      }
    }
    if (run) options.onRunChanged?.(run);
    return run;
  };
  let stopped = false;
  const { sleep, wakeAll } = createWakeableSleep();

  const context = (
    run: RunRecord,
    flow: Flow<unknown>,
    stepName: string,
    lease: string,
    index = run.steps.find((s) => s.name === stepName)?.index ?? 0,
  ): StepContext<unknown> => ({
    runId: run.id,
    correlationId: run.correlationId,
    input: flow.parseInput(run.input),
    results: Object.fromEntries(
      run.steps
        .filter((s) => s.status === 'SUCCEEDED' || s.status === 'COMPENSATION_FAILED')
        .map((s) => [s.name, s.output]),
    ),
    key: `${run.id}:${stepName}`,
    systems,
    governance,
    ledger,
    recordCrossReferences: async (links) => {
      await ledger.recordCrossReferences(links);
    },
    heartbeat: async () => {
      if (!(await ledger.renewLease(run.id, lease, leaseMs, now()))) throw new Error(`Lease on run ${run.id} lost`);
    },
    now,
    fixFacts: async (facts) => {
      const stored = await ledger.fixStepFacts(run.id, lease, index, facts);
      if (!stored) throw new Error(`Lease on run ${run.id} lost`);
      return stored;
    },
  });

  const toStepError = (error: unknown, run: RunRecord, step: string): StepError => {
    const at = new Date(now()).toISOString();
    if (error instanceof SystemError)
      return {
        class: error.errorClass,
        code: error.code,
        message: error.message,
        system: error.system,
        retryAfterMs: error.retryAfterMs,
        at,
      };
    const code = (error as { code?: unknown }).code;
    if (code === 'BAD_USER_INPUT')
      return { class: 'BAD_VALUE', code, message: (error as Error).message, system: null, retryAfterMs: null, at };
    logger.error({ correlationId: run.correlationId, runId: run.id, step, err: error }, 'unexpected error in a step');
    return {
      class: 'UNKNOWN',
      code: null,
      message: `Unexpected error in step '${step}'; the log holds the details under correlation ID ${run.correlationId}`,
      system: null,
      retryAfterMs: null,
      at,
    };
  };

  /** When to try a failed call again (forward or compensating), by its system's retry policy; null when never. */
  function retryAtAfter(failure: StepError, stepSystem: SystemKey, attempts: number): number | null {
    if (!RETRYABLE.has(failure.class)) return null;
    return nextAttemptAt(
      governance.retry[policyOf(failure, stepSystem)],
      attempts,
      failure.retryAfterMs,
      now(),
      random,
    );
  }

  async function advance(run: RunRecord, flow: Flow<unknown>, lease: string): Promise<void> {
    let current = run;
    for (const step of run.steps) {
      if (step.status === 'SUCCEEDED') continue;
      const def = flow.steps[step.index]!;
      const log = { correlationId: run.correlationId, runId: run.id, flow: run.flow, step: step.name };
      let output: unknown;
      let traceparent: string | null = null;
      try {
        const span = spanOf(run, 'step', step, def.system, step.attempts + 1, (t) => (traceparent = t));
        output = await withStepSpan(span, classOf, () => def.run(context(current, flow, step.name, lease)));
      } catch (error) {
        const failure = toStepError(error, run, step.name);
        if (traceparent) failure.traceparent = traceparent;
        stepAttempts.inc({ system: def.system, error_class: failure.class });
        const attempts = step.attempts + 1;
        const retryAt = retryAtAfter(failure, def.system, attempts);
        if (retryAt === null && RETRYABLE.has(failure.class))
          failure.message = `Gave up after ${attempts} attempts: ${failure.message}`;
        logger.warn(
          {
            ...log,
            attempts,
            errorClass: failure.class,
            code: failure.code,
            retryAt,
            err: error instanceof SystemError ? undefined : error,
            reason: failure.message,
          },
          retryAt ? 'step failed; retry scheduled' : 'step failed; exception raised',
        );
        changed(await ledger.failStep(run.id, lease, step.index, failure, retryAt));
        return;
      }
      stepAttempts.inc({ system: def.system, error_class: 'none' });
      // Only what the step declares it reveals about the run.
      const fields = output && typeof output === 'object' ? (output as Record<string, unknown>) : {};
      const revealed = (key: 'accountId' | 'projectId') =>
        def.reveals?.includes(key) && typeof fields[key] === 'string' ? { [key]: fields[key] as string } : {};
      const next = changed(
        await ledger.completeStep(run.id, lease, step.index, output, {
          ...revealed('accountId'),
          ...revealed('projectId'),
        }),
      );
      if (!next) {
        logger.warn(log, 'lease lost; another worker owns the run now');
        return;
      }
      logger.info({ ...log, status: next.status }, 'step succeeded');
      current = next;
      if (!(await ledger.renewLease(run.id, lease, leaseMs, now()))) return;
    }
  }

  async function compensate(run: RunRecord, flow: Flow<unknown>, lease: string): Promise<void> {
    const done = run.steps.filter((s) => s.status === 'SUCCEEDED').sort((a, b) => b.index - a.index);
    for (const step of done) {
      const def = flow.steps[step.index]!;
      let failure: StepError | null = null;
      if (def.compensate) {
        try {
          await withStepSpan(
            // Compensations are not linked: a step's stored span is its last forward attempt's.
            { ...spanOf(run, 'compensate', step, def.system, step.compensationAttempts + 1), retryOf: null },
            classOf,
            () => def.compensate!(context(run, flow, step.name, lease), step.output),
          );
        } catch (error) {
          failure = toStepError(error, run, step.name);
          const attempts = step.compensationAttempts + 1;
          const retryAt = retryAtAfter(failure, def.system, attempts);
          if (retryAt !== null) {
            // Recorded, and the lease let go: whichever worker claims the run when it is due tries again, so a wait
            // longer than the lease never lets two workers compensate the same step.
            logger.warn(
              {
                correlationId: run.correlationId,
                runId: run.id,
                step: step.name,
                attempts,
                retryAt,
                reason: failure.message,
              },
              'compensation failed; retry scheduled',
            );
            changed(await ledger.scheduleCompensationRetry(run.id, lease, step.index, failure, retryAt));
            return;
          }
          if (RETRYABLE.has(failure.class)) failure.message = `Gave up after ${attempts} attempts: ${failure.message}`;
        }
      }
      logger.info(
        { correlationId: run.correlationId, runId: run.id, step: step.name, failed: failure !== null },
        'step compensated',
      );
      if (!changed(await ledger.compensateStep(run.id, lease, step.index, failure))) return;
    }
    changed(await ledger.endCompensation(run.id, lease));
  }

  async function execute(run: RunRecord, lease: string): Promise<void> {
    const flow = flows.get(run.flow) as Flow<unknown> | undefined;
    if (!flow) {
      logger.error({ runId: run.id, flow: run.flow }, 'no such flow in this worker; releasing the run');
      await ledger.releaseLease(run.id, lease);
      return;
    }
    if (run.status === 'COMPENSATING') await compensate(run, flow, lease);
    else await advance(run, flow, lease);
  }

  // Consecutive failures to reach the ledger, shared by the loops: while it is down they back off together and log
  // once per outage, then resume where the ledger stands.
  let failures = 0;
  let outageSince: number | null = null;
  const loop = async () => {
    while (!stopped) {
      let run: RunRecord | null = null;
      let lease = owner;
      let failed = false;
      try {
        // A token per claim, not per worker: if this claim lapses while its step still runs, whoever takes the run
        // over (another worker, or another loop of this one) holds a different token, and this loop's late commits
        // are refused instead of racing the new holder.
        lease = `${owner}:${randomUUID()}`;
        run = changed(await ledger.claimRun(lease, leaseMs, now()));
        if (run) await execute(run, lease);
        if (outageSince !== null) {
          logger.info({ outageMs: Date.now() - outageSince }, 'ledger reachable again; worker resumed');
          outageSince = null;
        }
        failures = 0;
      } catch (error) {
        failed = true;
        failures++;
        if (outageSince === null) {
          outageSince = Date.now();
          logger.error({ runId: run?.id, err: error }, 'worker error; the run is released and will be retried');
        }
        if (run) await ledger.releaseLease(run.id, lease).catch(() => undefined);
      }
      if (failed && !stopped) await sleep(Math.min(retryMinMs * 2 ** (failures - 1), retryMaxMs));
      else if (!run && !stopped) {
        const due = await ledger.nextDueAt().catch(() => null);
        await sleep(due === null ? idlePollMs : Math.max(0, Math.min(idlePollMs, due - now())));
      }
    }
  };
  const loops = Array.from({ length: options.concurrency ?? 4 }, loop);

  return {
    owner,
    wake: wakeAll,
    stop: async () => {
      stopped = true;
      wakeAll();
      await Promise.all(loops);
    },
  };
}
