import { MeridianError } from '../../../lib/errors';
import {
  SYSTEM_ACTOR,
  type Actor,
  type ErrorClass,
  type NewRun,
  type OutboxEvent,
  type RunRecord,
  type RunStatus,
  type StepError,
} from './ledger';

/*
 * The run state machine, as pure code: a run's state and an event in, the run's next state and the records that go
 * with it (audit entries, an exception raised or resolved, outbox events) out. A ledger adapter loads the run, asks
 * here what happens, and persists the answer in one transaction; it decides nothing itself, so a second store never
 * re-implements a business rule.
 */

/** Run states a worker may take up (when due and unleased). */
export const RUNNABLE: readonly RunStatus[] = ['QUEUED', 'RUNNING', 'WAITING_RETRY', 'COMPENSATING'];

/**
 * Run states still under way or waiting for a person: a run in one of them holds its subject, so a new request for
 * the subject gets that run back.
 */
export const ACTIVE: readonly RunStatus[] = ['QUEUED', 'RUNNING', 'WAITING_RETRY', 'EXCEPTION', 'COMPENSATING'];

/**
 * Run states a person ended by abandoning the run (its compensation done, or failed): final for the subject against
 * triggers; only an explicit request starts a new run.
 */
export const ABANDONED_STATES: readonly RunStatus[] = ['ABANDONED', 'COMPENSATION_FAILED'];

/** Run states a person may abandon. */
export const ABANDONABLE: readonly RunStatus[] = ['QUEUED', 'WAITING_RETRY', 'EXCEPTION'];

/** What happens to a run, as the engine or a person reports it. */
export type RunEventInput =
  /** A worker claims a due run (`lease` is its token, held until `leaseExpiresAt`). */
  | { type: 'CLAIMED'; lease: string; leaseExpiresAt: number }
  /** A step returned `output`; `ids` are the entity IDs it revealed about the run. */
  | { type: 'STEP_SUCCEEDED'; index: number; output: unknown; ids?: { accountId?: string; projectId?: string } }
  /** A step failed: retried at `retryAt`, or (null) an exception for a person. */
  | { type: 'STEP_FAILED'; index: number; error: StepError; retryAt: number | null }
  /** A compensation failed and is tried again at `retryAt` (the lease is let go meanwhile). */
  | { type: 'COMPENSATION_RETRY_SCHEDULED'; index: number; error: StepError; retryAt: number }
  /** A step's compensation ended: undone (`error` null), or failed for good. */
  | { type: 'STEP_COMPENSATED'; index: number; error: StepError | null }
  /** Every completed step was compensated (or failed to be). */
  | { type: 'COMPENSATION_ENDED' }
  /**
   * A person puts a stopped run back in the queue, `patch` merged into its input; the completed steps at the indexes
   * in `rerun` run again (the correction changed what they depend on).
   */
  | { type: 'RETRY_REQUESTED'; actor: Actor; patch?: Record<string, unknown>; rerun?: readonly number[] }
  /** A person asks for the run to be compensated. */
  | { type: 'ABANDON_REQUESTED'; actor: Actor };

/** An exception to raise with the change. */
export interface RaisedException {
  id: string;
  runId: string;
  flow: string;
  step: string;
  class: ErrorClass;
  system: string | null;
  message: string;
  accountId: string | null;
  createdAt: string;
}

/** One audit entry to write with the change. */
export interface AuditEntry {
  actor: Actor;
  action: string;
  detail: unknown;
  /** When (ISO 8601), for an entry that changes no run; otherwise the run's `updatedAt` after the change. */
  at?: string;
}

/** What a ledger persists for one transition, in one transaction. */
export interface Transition {
  /** The run as it is after the change (written whole: run columns and the steps in `steps`). */
  run: RunRecord;
  /** Indexes of the steps whose row changed. */
  steps: number[];
  /** The lease after the change: `keep` leaves it, null lets it go. */
  lease: { owner: string; expiresAt: number } | null | 'keep';
  audit: AuditEntry[];
  /** Resolve the run's open exceptions with this note. */
  resolveOpenExceptions: string | null;
  /** Resolve this one exception (of the run) with this note. */
  resolveException: { id: string; note: string } | null;
  exception: RaisedException | null;
  /** Outbox events, each carrying `run` as its snapshot. */
  events: { type: OutboxEvent['type']; exceptionId: string | null }[];
}

/** The outbox columns each adapter writes, in the order of {@link outboxRows}' values. */
export const OUTBOX_INSERT_COLUMNS =
  'run_id, type, sequence, status, flow, account_id, exception_id, snapshot, created_at';

/** The values of each outbox row a transition writes, in {@link OUTBOX_INSERT_COLUMNS} order: the run is each row's snapshot. */
export function outboxRows(t: Transition): unknown[][] {
  const { run } = t;
  const snapshot = JSON.stringify(run);
  return t.events.map((event) => [
    run.id,
    event.type,
    run.sequence,
    run.status,
    run.flow,
    run.accountId,
    event.exceptionId,
    snapshot,
    run.updatedAt,
  ]);
}

/** What a transition may not compute itself: the time and fresh IDs. */
export interface TransitionContext {
  now: number;
  newId: () => string;
}

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value ?? null)) as T;

/**
 * The next state of `run` for `event`. Worker events assume the caller holds the run's lease (the adapter checks
 * it, under a lock, before asking).
 * @throws MeridianError INVALID_STATE when a person's command does not apply to the run's status.
 */
export function transition(run: RunRecord, event: RunEventInput, ctx: TransitionContext): Transition {
  const at = new Date(ctx.now).toISOString();
  const next: RunRecord = { ...run, steps: run.steps.map((s) => ({ ...s })), updatedAt: at };
  const out: Transition = {
    run: next,
    steps: [],
    lease: 'keep',
    audit: [],
    resolveOpenExceptions: null,
    resolveException: null,
    exception: null,
    events: [],
  };
  const bump = () => {
    next.sequence += 1;
  };
  const step = (index: number) => {
    const found = next.steps[index];
    if (!found) throw new Error(`Run ${run.id} has no step ${index}`);
    out.steps.push(index);
    return found;
  };
  const emit = () => out.events.push({ type: 'SYNC_RUN_UPDATED', exceptionId: null });
  const raise = (stepName: string, error: StepError) => {
    const id = `EXC-${ctx.newId()}`;
    out.exception = {
      id,
      runId: run.id,
      flow: run.flow,
      step: stepName,
      class: error.class,
      system: error.system,
      message: error.message,
      accountId: next.accountId,
      createdAt: at,
    };
    out.audit.push({
      actor: SYSTEM_ACTOR,
      action: 'EXCEPTION_RAISED',
      detail: { exceptionId: id, step: stepName, error },
    });
    out.events.push({ type: 'SYNC_RUN_UPDATED', exceptionId: null }, { type: 'EXCEPTION_RAISED', exceptionId: id });
  };

  switch (event.type) {
    case 'CLAIMED': {
      out.lease = { owner: event.lease, expiresAt: event.leaseExpiresAt };
      // Starting (or resuming after a wait) is a change subscribers see; a takeover of a running run is not.
      if (run.status === 'QUEUED' || run.status === 'WAITING_RETRY') {
        next.status = 'RUNNING';
        bump();
        emit();
      }
      return out;
    }
    case 'STEP_SUCCEEDED': {
      const s = step(event.index);
      s.status = 'SUCCEEDED';
      s.attempts += 1;
      s.output = clone(event.output);
      s.error = null;
      s.finishedAt = at;
      next.status = next.steps.every((x) => x.status === 'SUCCEEDED') ? 'SUCCEEDED' : 'RUNNING';
      next.accountId = event.ids?.accountId ?? next.accountId;
      next.projectId = event.ids?.projectId ?? next.projectId;
      bump();
      out.audit.push({ actor: SYSTEM_ACTOR, action: 'STEP_SUCCEEDED', detail: { step: s.name, output: s.output } });
      if (next.status === 'SUCCEEDED') {
        out.audit.push({ actor: SYSTEM_ACTOR, action: 'RUN_SUCCEEDED', detail: null });
        out.lease = null;
      }
      emit();
      return out;
    }
    case 'STEP_FAILED': {
      const s = step(event.index);
      s.attempts += 1;
      s.error = clone(event.error);
      out.lease = null;
      bump();
      if (event.retryAt !== null) {
        s.status = 'PENDING';
        next.status = 'WAITING_RETRY';
        next.nextAttemptAt = event.retryAt;
        out.audit.push({
          actor: SYSTEM_ACTOR,
          action: 'STEP_RETRY_SCHEDULED',
          detail: { step: s.name, error: s.error, retryAt: new Date(event.retryAt).toISOString() },
        });
        emit();
      } else if (event.error.class === 'PRECONDITION_LOST') {
        // What the run needs no longer holds (a deal lost mid-flight): nothing a retry or a correction can cure, and
        // what it created must not stay. It undoes its completed steps at once; the exception tells a person why.
        s.status = 'FAILED';
        next.status = 'COMPENSATING';
        next.nextAttemptAt = ctx.now;
        raise(s.name, s.error!);
        out.audit.push({ actor: SYSTEM_ACTOR, action: 'RUN_COMPENSATION_STARTED', detail: { step: s.name } });
      } else {
        s.status = 'FAILED';
        next.status = 'EXCEPTION';
        raise(s.name, s.error!);
      }
      return out;
    }
    case 'COMPENSATION_RETRY_SCHEDULED': {
      const s = step(event.index);
      s.compensationAttempts += 1;
      s.error = clone(event.error);
      next.nextAttemptAt = event.retryAt;
      out.lease = null;
      bump();
      out.audit.push({
        actor: SYSTEM_ACTOR,
        action: 'COMPENSATION_RETRY_SCHEDULED',
        detail: { step: s.name, error: s.error, retryAt: new Date(event.retryAt).toISOString() },
      });
      emit();
      return out;
    }
    case 'STEP_COMPENSATED': {
      const s = step(event.index);
      s.status = event.error ? 'COMPENSATION_FAILED' : 'COMPENSATED';
      if (event.error) s.error = clone(event.error);
      s.compensationAttempts += 1;
      s.finishedAt = at;
      bump();
      out.audit.push({
        actor: SYSTEM_ACTOR,
        action: event.error ? 'COMPENSATION_FAILED' : 'STEP_COMPENSATED',
        detail: { step: s.name, error: event.error },
      });
      if (event.error) raise(s.name, s.error!);
      else emit();
      return out;
    }
    case 'COMPENSATION_ENDED': {
      next.status = next.steps.some((s) => s.status === 'COMPENSATION_FAILED') ? 'COMPENSATION_FAILED' : 'ABANDONED';
      out.lease = null;
      bump();
      out.audit.push({
        actor: SYSTEM_ACTOR,
        action: next.status === 'ABANDONED' ? 'RUN_ABANDONED' : 'RUN_COMPENSATION_FAILED',
        detail: null,
      });
      emit();
      return out;
    }
    case 'RETRY_REQUESTED': {
      if (run.status !== 'EXCEPTION')
        throw new MeridianError(
          'INVALID_STATE',
          `Run ${run.id} is ${run.status}; only a run stopped on an exception can be retried`,
          { runId: run.id },
        );
      if (event.patch) next.input = { ...run.input, ...event.patch };
      reopenFailedSteps(next, out);
      const rerun: string[] = [];
      for (const s of next.steps)
        if (event.rerun?.includes(s.index) && s.status === 'SUCCEEDED') {
          s.status = 'PENDING';
          s.output = null;
          s.error = null;
          s.finishedAt = null;
          out.steps.push(s.index);
          rerun.push(s.name);
        }
      next.status = 'QUEUED';
      next.nextAttemptAt = ctx.now;
      bump();
      out.resolveOpenExceptions = event.patch ? `Retried with ${JSON.stringify(event.patch)}` : 'Retried';
      out.audit.push({
        actor: event.actor,
        action: event.patch ? 'RUN_RETRIED_WITH_INPUT' : 'RUN_RETRIED',
        detail: event.patch ? { patch: event.patch, ...(rerun.length ? { rerun } : {}) } : null,
      });
      emit();
      return out;
    }
    case 'ABANDON_REQUESTED': {
      if (!ABANDONABLE.includes(run.status))
        throw new MeridianError(
          'INVALID_STATE',
          `Run ${run.id} is ${run.status}; only a queued, waiting or stopped run can be abandoned`,
          { runId: run.id },
        );
      reopenFailedSteps(next, out);
      next.status = 'COMPENSATING';
      next.nextAttemptAt = ctx.now;
      bump();
      out.resolveOpenExceptions = 'Abandoned';
      out.audit.push({ actor: event.actor, action: 'RUN_ABANDON_REQUESTED', detail: null });
      emit();
      return out;
    }
  }
}

function reopenFailedSteps(next: RunRecord, out: Transition): void {
  for (const s of next.steps)
    if (s.status === 'FAILED') {
      s.status = 'PENDING';
      out.steps.push(s.index);
    }
}

/** An exception as {@link decideResolve} needs it. */
export interface ExceptionToResolve {
  id: string;
  runId: string;
  status: 'OPEN' | 'RESOLVED';
}

/**
 * Decides what resolving an exception does. A repeat on a resolved exception is audited and changes nothing. An open
 * one is marked resolved with the note; when its run is stopped on it (EXCEPTION) the run becomes RESOLVED: it ends,
 * and its subject is released, so a later event or call starts a new run. An exception of a run in another state (a
 * failed compensation) is resolved and the run stays as it is.
 */
export function decideResolve(
  run: RunRecord,
  exception: ExceptionToResolve,
  actor: Actor,
  note: string,
  ctx: TransitionContext,
): Transition {
  const out: Transition = {
    run,
    steps: [],
    lease: 'keep',
    audit: [],
    resolveOpenExceptions: null,
    resolveException: null,
    exception: null,
    events: [],
  };
  const at = new Date(ctx.now).toISOString();
  if (exception.status === 'RESOLVED') {
    out.audit.push({ actor, action: 'EXCEPTION_RESOLVE_REPEATED', detail: { exceptionId: exception.id, note }, at });
    return out;
  }
  out.resolveException = { id: exception.id, note };
  out.audit.push({ actor, action: 'EXCEPTION_RESOLVED', detail: { exceptionId: exception.id, note }, at });
  if (run.status !== 'EXCEPTION') return out;
  out.run = { ...run, steps: run.steps.map((s) => ({ ...s })), status: 'RESOLVED', updatedAt: at };
  out.run.sequence += 1;
  out.lease = null;
  out.audit.push({ actor, action: 'RUN_RESOLVED', detail: { exceptionId: exception.id, note } });
  out.events.push({ type: 'SYNC_RUN_UPDATED', exceptionId: null });
  return out;
}

/** What an adapter found for a new run's idempotency key and subject. */
export interface CreateLookup {
  /** The record standing for the run's idempotency key, if any. */
  idempotency: { requestHash: string; runId: string } | null;
  /**
   * The subject's latest run (the one created last), if any: at most one run of a subject is ever active, and a
   * subject whose run succeeded under `ever` gets no later run, so the latest decides.
   */
  subjectRun: { id: string; status: RunStatus } | null;
}

/** What creating a run comes to. */
export type CreateDecision =
  | { kind: 'existing'; runId: string; audit: AuditEntry | null; recordKey: boolean }
  | { kind: 'create'; transition: Transition; recordKey: boolean };

/**
 * Whether the subject's latest run stands for a new request (which then gets it back): an active run does; a
 * succeeded one under `ever`; an abandoned one unless the request is a person's explicit one. A resolved run never
 * does.
 */
export function standsForSubject(
  latest: { status: RunStatus },
  reuse: NewRun['subjectReuse'],
  explicit: boolean,
): boolean {
  if (ACTIVE.includes(latest.status)) return true;
  if (latest.status === 'SUCCEEDED') return reuse === 'ever';
  if (ABANDONED_STATES.includes(latest.status)) return !explicit;
  return false;
}

/**
 * Decides what `createRun` does: return the run standing for the idempotency key or the subject (auditing the repeat
 * when asked), or create a QUEUED run with PENDING steps. `recordKey` says whether to store the idempotency key
 * (pointing at the run returned).
 * @throws MeridianError IDEMPOTENCY_KEY_REUSED when the key was used with another request.
 */
export function decideCreate(run: NewRun, found: CreateLookup, ctx: TransitionContext): CreateDecision {
  const actor = run.triggeredBy;
  if (run.idempotency && found.idempotency) {
    if (found.idempotency.requestHash !== run.idempotency.requestHash)
      throw new MeridianError(
        'IDEMPOTENCY_KEY_REUSED',
        `The idempotency key '${run.idempotency.key}' was already used with a different input (run ${found.idempotency.runId})`,
        { runId: found.idempotency.runId, field: 'idempotencyKey' },
      );
    return {
      kind: 'existing',
      runId: found.idempotency.runId,
      audit: run.auditRepeats
        ? { actor, action: 'RUN_REQUEST_REPLAYED', detail: { idempotencyKey: run.idempotency.key } }
        : null,
      recordKey: false,
    };
  }
  const latest = found.subjectRun;
  if (latest && standsForSubject(latest, run.subjectReuse, run.explicit ?? false))
    return {
      kind: 'existing',
      runId: latest.id,
      audit: run.auditRepeats
        ? {
            actor,
            action: 'RUN_REQUEST_DEDUPLICATED',
            detail: { flow: run.flow, input: run.input, idempotencyKey: run.idempotency?.key ?? null },
          }
        : null,
      recordKey: run.idempotency !== null,
    };
  const at = new Date(ctx.now).toISOString();
  const created: RunRecord = {
    id: `RUN-${ctx.newId()}`,
    flow: run.flow,
    status: 'QUEUED',
    input: clone(run.input),
    correlationId: ctx.newId(),
    subjectKey: run.subjectKey,
    accountId: run.accountId,
    opportunityId: run.opportunityId,
    projectId: run.projectId,
    sequence: 1,
    nextAttemptAt: ctx.now,
    triggeredBy: actor.subject,
    traceContext: run.traceContext ?? null,
    createdAt: at,
    updatedAt: at,
    steps: run.stepNames.map((name, index) => ({
      index,
      name,
      status: 'PENDING',
      attempts: 0,
      compensationAttempts: 0,
      output: null,
      error: null,
      finishedAt: null,
    })),
  };
  return {
    kind: 'create',
    recordKey: run.idempotency !== null,
    transition: {
      run: created,
      steps: created.steps.map((s) => s.index),
      lease: null,
      audit: [
        { actor, action: 'RUN_CREATED', detail: { flow: run.flow, input: created.input } },
        ...(latest && ABANDONED_STATES.includes(latest.status)
          ? [
              {
                actor,
                action: 'RUN_RESTARTED_AFTER_ABANDON',
                detail: { abandonedRunId: latest.id, abandonedStatus: latest.status },
              },
            ]
          : []),
      ],
      resolveOpenExceptions: null,
      resolveException: null,
      exception: null,
      events: [{ type: 'SYNC_RUN_UPDATED', exceptionId: null }],
    },
  };
}
