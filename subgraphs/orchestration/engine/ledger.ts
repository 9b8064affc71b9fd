import type { Role } from '../../../lib/auth/identity';
import type { Page, PageRequest } from '../../../lib/pagination';

/** Kinds of business entity the cross-reference registry links. */
export type CrossReferenceEntity = 'ACCOUNT' | 'OPPORTUNITY' | 'PROJECT';
/** Systems of record behind the graph. */
export type SystemName = 'CRM' | 'PSA' | 'ERP';

/** One link: the ID an entity owned by one system has in another. */
export interface CrossReferenceRecord {
  id: string;
  entityType: CrossReferenceEntity;
  canonicalId: string;
  system: SystemName;
  externalId: string;
  createdAt: string;
}

/** A link to record; recording the same (entity, canonical ID, system) again keeps the first link. */
export type NewCrossReference = Omit<CrossReferenceRecord, 'id' | 'createdAt'>;

/** Where a run stands. */
export type RunStatus =
  | 'QUEUED'
  | 'RUNNING'
  | 'WAITING_RETRY'
  | 'SUCCEEDED'
  | 'EXCEPTION'
  | 'RESOLVED'
  | 'COMPENSATING'
  | 'ABANDONED'
  | 'COMPENSATION_FAILED';
/** Where a step stands. */
export type StepStatus = 'PENDING' | 'SUCCEEDED' | 'FAILED' | 'COMPENSATED' | 'COMPENSATION_FAILED';
/** Why a step failed, as the retry policy and a person read it. */
export type ErrorClass =
  | 'BAD_VALUE'
  | 'MISSING_REFERENCE'
  | 'CONNECTION'
  | 'INTERMITTENT'
  | 'RATE_LIMITED'
  | 'MAINTENANCE'
  | 'DUPLICATE'
  | 'CONFLICT'
  | 'ACCESS_DENIED'
  /** What the flow needs stopped holding mid-flight (a deal left closed-won): the run undoes what it created. */
  | 'PRECONDITION_LOST'
  /** The ERP customer is on credit hold: a person releases the hold and retries, or overrides it with a note. */
  | 'CREDIT_HOLD'
  | 'UNKNOWN';

/** A step's last failure: data on the run, not a GraphQL error. */
export interface StepError {
  class: ErrorClass;
  /** The system's error code (`VALIDATION_REJECTED`…) when it gave one. */
  code: string | null;
  /** Written for a finance or PMO reader. */
  message: string;
  system: string | null;
  retryAfterMs: number | null;
  at: string;
  /** The failed attempt's span (W3C `traceparent`) when tracing is on: the next attempt's span links to it. */
  traceparent?: string | null;
}

export interface StepRecord {
  index: number;
  name: string;
  status: StepStatus;
  attempts: number;
  /** Compensations tried so far (a failed one is retried like a step, with the lease let go meanwhile). */
  compensationAttempts: number;
  /** What the step returned (IDs it created or found), JSON. */
  output: unknown;
  error: StepError | null;
  finishedAt: string | null;
}

/** The order of a list by creation: the newest first (lists' default) or the oldest first. */
export type CreationOrder = 'NEWEST_FIRST' | 'OLDEST_FIRST';

/** Who or what started or changed a run, as the audit log records it. */
export interface Actor {
  /** The caller's token subject; `event:<trigger>` for a trigger; `system` for the engine. */
  subject: string;
  /** The caller's role; `service` for a trigger; null for the engine. */
  role: Role | null;
  /** Meridian's request ID of the API call (the gateway mints it); null for triggers and the engine. */
  correlationId: string | null;
  /** The `x-request-id` the caller sent, if any, kept beside ours to find the call in the caller's own logs. */
  callerRequestId?: string | null;
}

/** The engine itself (worker steps, compensation), in the audit log. */
export const SYSTEM_ACTOR: Actor = { subject: 'system', role: null, correlationId: null };

export interface RunRecord {
  id: string;
  flow: string;
  status: RunStatus;
  input: Record<string, unknown>;
  /** Ties the run's log lines, events and exception together. */
  correlationId: string;
  /** The business entity the run is about, e.g. `opportunity:OPP-0000011`: one live run per subject. */
  subjectKey: string | null;
  accountId: string | null;
  opportunityId: string | null;
  projectId: string | null;
  /** Increases with every change; events carry it so subscribers can order and de-duplicate. */
  sequence: number;
  /** Epoch ms from which a worker may take the run (later when a retry waits). */
  nextAttemptAt: number;
  /** The subject of whoever started the run (see {@link Actor.subject}). */
  triggeredBy: string;
  /** The W3C trace context (JSON of `traceparent`, `tracestate`) of the call that queued the run, or null. */
  traceContext: string | null;
  createdAt: string;
  updatedAt: string;
  steps: StepRecord[];
}

/** A run that cannot go on, waiting for a person. */
export interface ExceptionRecord {
  id: string;
  runId: string;
  flow: string;
  step: string;
  class: ErrorClass;
  system: string | null;
  message: string;
  accountId: string | null;
  status: 'OPEN' | 'RESOLVED';
  createdAt: string;
  resolvedAt: string | null;
  resolution: string | null;
}

/** An event committed with the change it reports (transactional outbox). */
export interface OutboxEvent {
  /** Position in the outbox: increases across all runs. */
  seq: number;
  runId: string;
  type: 'SYNC_RUN_UPDATED' | 'EXCEPTION_RAISED';
  /** The run's sequence number after the change. */
  sequence: number;
  status: RunStatus;
  flow: string;
  accountId: string | null;
  /** The exception raised, for EXCEPTION_RAISED. */
  exceptionId: string | null;
  createdAt: string;
}

/** One entry of a run's audit trail. */
export interface AuditRecord {
  id: number;
  runId: string;
  at: string;
  /** {@link Actor.subject}. */
  actor: string;
  role: Role | null;
  correlationId: string | null;
  callerRequestId: string | null;
  action: string;
  detail: unknown;
}

/** A run to create. */
export interface NewRun {
  flow: string;
  input: Record<string, unknown>;
  stepNames: readonly string[];
  subjectKey: string | null;
  /**
   * Whether a succeeded run still stands for its subject: `ever` (one conversion per deal, one invoice per milestone)
   * or only while it is under way, `active` (billing runs again once the last run ended). Resolved runs never stand;
   * abandoned ones stand against triggers but not against an `explicit` request (see `docs/run-lifecycle.md`).
   */
  subjectReuse: 'ever' | 'active';
  accountId: string | null;
  opportunityId: string | null;
  projectId: string | null;
  /** Who starts the run: recorded as its `triggeredBy` (the subject) and, with role and request ID, in its audit trail. */
  triggeredBy: Actor;
  /** The trace context of the call that queues the run (see {@link RunRecord.traceContext}). @default null */
  traceContext?: string | null;
  /**
   * Record a call that returns the run already standing (same idempotency key, or same live subject) in that run's
   * audit trail: true for API calls, false for trigger looks, which find the same subjects again at every look.
   * @default false
   */
  auditRepeats?: boolean;
  /**
   * A person's explicit request (an API call), not a trigger's look: it may start a new run for a subject whose last
   * run was abandoned, which the new run's audit trail records as RUN_RESTARTED_AFTER_ABANDON. A trigger never
   * restarts an abandoned subject.
   * @default false
   */
  explicit?: boolean;
  /**
   * Stripe semantics: the same key and request hash return the first run; another hash fails. Keys are scoped per
   * caller, as Stripe scopes them per account: `scope` is the caller's token subject, so two callers' key "0" never
   * meet.
   */
  idempotency: { scope: string; key: string; requestHash: string } | null;
}

export interface RunFilter {
  flow?: string | null;
  correlationId?: string | null;
  status?: RunStatus | null;
  accountId?: string | null;
  opportunityId?: string | null;
  projectId?: string | null;
}

export interface ExceptionFilter {
  flow?: string | null;
  class?: ErrorClass | null;
  system?: string | null;
  accountId?: string | null;
  status?: 'OPEN' | 'RESOLVED' | null;
  /** Only exceptions raised at least this long ago. */
  olderThanMs?: number | null;
}

/** The run registry and the worker's commands on it: creation (with idempotency and subject dedupe), reads, claims. */
export interface RunLedger {
  /**
   * Creates a run, or returns the one that already stands for its idempotency key or its live subject. Creating
   * records RUN_CREATED by `triggeredBy`; returning a standing run records RUN_REQUEST_REPLAYED (same key) or
   * RUN_REQUEST_DEDUPLICATED (same subject) when `auditRepeats` is set.
   * @throws MeridianError IDEMPOTENCY_KEY_REUSED when the key was used with another request.
   */
  createRun(run: NewRun): Promise<{ run: RunRecord; created: boolean }>;
  getRuns(ids: readonly string[]): Promise<(RunRecord | null)[]>;
  /** Runs in the order they were created, newest first unless `order` says otherwise; `endKey` continues the page. */
  listRuns(page: PageRequest, filter?: RunFilter, order?: CreationOrder): Promise<Page<RunRecord>>;
  /** Runs per key, newest first; `field` names the key column; `flows`, when given, keeps only runs of those flows. */
  getRunsBy(
    field: 'accountId' | 'opportunityId' | 'projectId',
    keys: readonly string[],
    flows?: readonly string[],
  ): Promise<RunRecord[][]>;
}

/**
 * Leases and the worker's commits. Every commit takes the lease token the claim handed out and does nothing
 * (returning null/false) when the token no longer holds the run: a worker whose lease lapsed cannot commit over the
 * worker that took the run over.
 */
export interface LeaseLedger {
  /** Takes the next runnable run (due, unleased or lease expired) for the token `owner` until `now + leaseMs`. */
  claimRun(owner: string, leaseMs: number, now: number): Promise<RunRecord | null>;
  /** Epoch ms when the next waiting run becomes due, or null when none waits. */
  nextDueAt(): Promise<number | null>;
  /** Records a step's success (and the run's entity IDs it revealed), advancing the run. */
  completeStep(
    runId: string,
    owner: string,
    index: number,
    output: unknown,
    ids?: { accountId?: string; projectId?: string },
  ): Promise<RunRecord | null>;
  /** Records a failure: a retry at `retryAt` (the lease let go), or (null) an exception for a person. */
  failStep(
    runId: string,
    owner: string,
    index: number,
    error: StepError,
    retryAt: number | null,
  ): Promise<RunRecord | null>;
  /** Records a failed compensation to be tried again at `retryAt`, letting the lease go meanwhile. */
  scheduleCompensationRetry(
    runId: string,
    owner: string,
    index: number,
    error: StepError,
    retryAt: number,
  ): Promise<RunRecord | null>;
  /** Records one compensation's outcome (a failure also raises an exception). */
  compensateStep(runId: string, owner: string, index: number, error: StepError | null): Promise<RunRecord | null>;
  /** Ends a compensating run: ABANDONED, or COMPENSATION_FAILED when any compensation failed. */
  endCompensation(runId: string, owner: string): Promise<RunRecord | null>;
  /**
   * Fixes what a step derived from the clock or from reference data that may change (a posting date, a rate), so that
   * every retry of the step, by any worker, writes exactly what its first attempt wrote: stores each key of `facts`
   * the step at `index` holds no value for yet, keeps every value stored before (the first attempt's wins), and
   * returns them all. `{}` reads them. Kept until the run is deleted; null when `owner` no longer holds the run.
   */
  fixStepFacts(
    runId: string,
    owner: string,
    index: number,
    facts: Readonly<Record<string, unknown>>,
  ): Promise<Record<string, unknown> | null>;
  /** Extends the lease `owner` holds to `now + leaseMs`; false when it was lost. */
  renewLease(runId: string, owner: string, leaseMs: number, now: number): Promise<boolean>;
  releaseLease(runId: string, owner: string): Promise<void>;
}

/** Exceptions, and the commands a person gives on a stopped run. */
export interface ExceptionLedger {
  /**
   * Puts an EXCEPTION run back in the queue, with `patch` merged into its input; resolves its exception. The
   * completed steps at the indexes in `rerun` are set back to PENDING (output dropped) and run again, because the
   * correction changed what they depend on (`engine/corrections.ts` decides which). Audited as by `actor`.
   * @throws MeridianError INVALID_STATE for a run not in EXCEPTION.
   */
  retryRun(id: string, actor: Actor, patch?: Record<string, unknown>, rerun?: readonly number[]): Promise<RunRecord>;
  /** Asks for a run to be compensated (the worker undoes its completed steps newest first). Audited as by `actor`. */
  abandonRun(id: string, actor: Actor): Promise<RunRecord>;
  /**
   * Marks an exception resolved with `note`, audited as by `actor` (a repeat on a resolved one is audited too and
   * changes nothing). A run stopped on the exception (EXCEPTION) becomes RESOLVED, which releases its subject.
   * @throws MeridianError NOT_FOUND for an unknown exception.
   */
  resolveException(id: string, actor: Actor, note: string): Promise<ExceptionRecord>;
  getExceptions(ids: readonly string[]): Promise<(ExceptionRecord | null)[]>;
  /** Exceptions in the order they were raised, newest first unless `order` says otherwise. */
  listExceptions(page: PageRequest, filter?: ExceptionFilter, order?: CreationOrder): Promise<Page<ExceptionRecord>>;
  /** The open exception of each run, or null. */
  getOpenExceptionsByRun(runIds: readonly string[]): Promise<(ExceptionRecord | null)[]>;
}

/** The transactional outbox: events in commit order, the run as each event saw it, and the relays' cursors. */
export interface OutboxLedger {
  /** Outbox events after `seq`, oldest first (`seq` strictly increasing, in commit order). */
  eventsAfter(seq: number, limit: number): Promise<OutboxEvent[]>;
  /** The run as it was when its sequence number was `sequence` (kept with the outbox event), or null. */
  getRunAt(runId: string, sequence: number): Promise<RunRecord | null>;
  /** The outbox position up to which the relay `name` has published (0 before its first). */
  getRelayCursor(name: string): Promise<number>;
  /** Records that the relay `name` has published every outbox event up to `seq`. */
  setRelayCursor(name: string, seq: number): Promise<void>;
  /**
   * Deletes outbox events created before `before` (epoch ms) that every relay cursor has passed; returns how many.
   * Runs, steps and the audit log are kept.
   */
  pruneOutbox(before: number): Promise<number>;
}

/** The cross-reference registry: the ID each entity has in each system. */
export interface CrossReferenceLedger {
  getCrossReferences(ids: readonly string[]): Promise<(CrossReferenceRecord | null)[]>;
  getCrossReferencesByEntity(
    keys: readonly { entityType: CrossReferenceEntity; canonicalId: string }[],
  ): Promise<CrossReferenceRecord[][]>;
  /** Records links; a link already recorded for (entity, canonical ID, system) is kept and returned. */
  recordCrossReferences(links: readonly NewCrossReference[]): Promise<CrossReferenceRecord[]>;
}

/** Trigger watermarks: how far each trigger has read a system's change feed. */
export interface WatermarkLedger {
  /** The position the trigger `name` has read a system's change feed up to (its own text), or null before its first. */
  getWatermark(name: string): Promise<string | null>;
  /**
   * Moves the trigger `name`'s watermark to `value` if it still holds `expected` (null: none yet), and says whether it
   * did: false when another poller moved it meanwhile, so two pollers never move it back.
   */
  setWatermark(name: string, value: string, expected: string | null): Promise<boolean>;
}

/** The audit log: who did what to each run. Kept for good (no retention). */
export interface AuditLedger {
  /** The audit trail of each run, oldest first. */
  getAuditByRun(runIds: readonly string[]): Promise<AuditRecord[][]>;
}

/** A stored idempotency key: the request it was first used with and the run it returned. */
export interface IdempotencyRecord {
  /** Whose key it is: the caller's token subject. */
  scope: string;
  key: string;
  requestHash: string;
  runId: string;
  createdAt: string;
}

/** Idempotency records (written by {@link RunLedger.createRun}). */
export interface IdempotencyLedger {
  /** The record of each (scope, key), or null. */
  getIdempotencyRecords(keys: readonly { scope: string; key: string }[]): Promise<(IdempotencyRecord | null)[]>;
}

/**
 * Singleton leadership (the outbox relay, the trigger poller): one holder per name at a time, by a lease row.
 */
export interface LeadershipLedger {
  /**
   * Takes or extends the leadership `name` for `owner` until `now + leaseMs`: true when `owner` holds it afterwards
   * (it was free, expired or already `owner`'s), false when another owner's lease still runs.
   */
  acquireLeadership(name: string, owner: string, leaseMs: number, now: number): Promise<boolean>;
  /** Lets the leadership go if `owner` holds it. */
  releaseLeadership(name: string, owner: string): Promise<void>;
}

/** What a metrics scrape reads of the ledger: counts over every process's runs, not one process's memory. */
export interface OperationsFigures {
  /** Runs by status, for the statuses present (a status with no run is absent). */
  runsByStatus: { status: RunStatus; count: number }[];
  /** Epoch ms since which the longest-waiting run has been due and unleased (waiting for a worker), or null. */
  oldestClaimableSince: number | null;
  /** Outbox events the relay has not published yet. */
  outboxPending: number;
  /** When the oldest of them was committed (ISO), or null. */
  oldestPendingEventAt: string | null;
  /** Open exceptions by class, for the classes present. */
  openExceptionsByClass: { class: ErrorClass; count: number }[];
}

/** Figures for `/metrics`, read with one round of queries per scrape. */
export interface FiguresLedger {
  /** The figures at `now` (epoch ms), the outbox counted after the cursor of the relay named `relay`. */
  readOperationsFigures(relay: string, now: number): Promise<OperationsFigures>;
}

/**
 * The orchestration's durable store, as the roles above: runs, leases, exceptions, the outbox, cross-references,
 * watermarks, the audit log, idempotency records and leadership. Every state change and its outbox event commit in
 * one transaction; the changes themselves are decided by `run-transitions.ts`, not the adapter. Batch reads return
 * one entry per key, in the keys' order.
 */
export interface Ledger
  extends RunLedger,
    LeaseLedger,
    ExceptionLedger,
    OutboxLedger,
    CrossReferenceLedger,
    WatermarkLedger,
    AuditLedger,
    IdempotencyLedger,
    LeadershipLedger,
    FiguresLedger {
  /** Which adapter this is (`sqlite`, `postgres`). */
  readonly kind: string;
  ping(): Promise<void>;
  /**
   * Calls `listener` when any process announces `topic` (a run became due, outbox events committed); absent when the
   * store cannot announce (SQLite: the callers poll). Returns how to stop listening.
   */
  listen?(topic: 'runs' | 'outbox', listener: () => void): () => void;
  /** Closes the store's connections. */
  close(): Promise<void> | void;
}
