import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';
import { byKey, groupByKey } from '../../../lib/batch';
import { MeridianError } from '../../../lib/errors';
import { ID_WIDTH } from '../../../lib/ids';
import type { Page, PageRequest } from '../../../lib/pagination';
import type {
  Actor,
  AuditRecord,
  CrossReferenceEntity,
  CrossReferenceRecord,
  ExceptionFilter,
  ExceptionRecord,
  IdempotencyRecord,
  Ledger,
  NewCrossReference,
  NewRun,
  OperationsFigures,
  OutboxEvent,
  RunFilter,
  CreationOrder,
  RunRecord,
  StepError,
} from './ledger';
import { MIGRATIONS } from './migrations';
import {
  RUNNABLE,
  decideCreate,
  decideResolve,
  OUTBOX_INSERT_COLUMNS,
  outboxRows,
  transition,
  type AuditEntry,
  type RunEventInput,
  type Transition,
  type TransitionContext,
} from './run-transitions';

/** What a PostgreSQL ledger process wakes on: a run became due, an outbox event was committed. */
export type LedgerTopic = 'runs' | 'outbox';
const CHANNELS: Record<LedgerTopic, string> = { runs: 'meridian_runs', outbox: 'meridian_outbox' };

// Advisory lock keys (one 64-bit key space per database): migrations, and the outbox's commit order.
const MIGRATION_LOCK = 7_314_001;
const OUTBOX_LOCK = 7_314_002;

/** How to open a {@link PgLedger}. */
export interface PgLedgerOptions {
  /** `postgres://user:password@host:port/database`. */
  url: string;
  /** Connections in the pool. @default 10 */
  poolSize?: number;
  logger: Logger;
}

/** The ledger cannot be opened: the URL is malformed, or the server cannot be reached or refuses. One line. */
export class LedgerStartError extends Error {
  override name = 'LedgerStartError';
}

/** `host:port`, database and cause of a connection failure, on one line, with no password. */
function describeTarget(url: URL): string {
  return `PostgreSQL at ${url.hostname || 'localhost'}:${url.port || '5432'}, database "${decodeURIComponent(url.pathname.slice(1)) || '(default)'}"`;
}

/** A connection failure's cause in a few words (the first of several addresses tried, without an `Error:` prefix). */
function causeOf(error: unknown): string {
  const first = error instanceof AggregateError && error.errors.length ? error.errors[0] : error;
  const text =
    first instanceof Error ? first.message || String((first as { code?: unknown }).code ?? first.name) : String(first);
  return text.replace(/^Error: /, '');
}

/** Parses DATABASE_URL. @throws LedgerStartError when it is not a postgres:// URL. */
export function parseDatabaseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new LedgerStartError(`DATABASE_URL is not a URL (expected postgres://user@host:port/database)`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw new LedgerStartError(
      `DATABASE_URL must start with postgres:// or postgresql:// (got ${url.protocol}//${url.host})`,
    );
  if (!url.pathname.slice(1)) throw new LedgerStartError(`DATABASE_URL names no database (${url.host})`);
  return url;
}

// BIGINT columns (epoch ms, outbox positions) fit a double; read them as numbers, not strings.
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

type Queryable = Pick<pg.PoolClient, 'query'>;
type RunRow = Omit<RunRecord, 'steps'>;

const RUN_COLUMNS = `id, flow, status, input, correlation_id AS "correlationId", subject_key AS "subjectKey",
  account_id AS "accountId", opportunity_id AS "opportunityId", project_id AS "projectId", sequence,
  next_attempt_at AS "nextAttemptAt", triggered_by AS "triggeredBy", trace_context AS "traceContext", created_at AS "createdAt", updated_at AS "updatedAt"`;
const STEP_COLUMNS = `run_id AS "runId", idx AS "index", name, status, attempts, compensation_attempts AS "compensationAttempts",
  output, error, finished_at AS "finishedAt"`;
const XREF_COLUMNS = `id, entity_type AS "entityType", canonical_id AS "canonicalId", system, external_id AS "externalId", created_at AS "createdAt"`;
const EXCEPTION_COLUMNS = `id, run_id AS "runId", flow, step, class, system, message, account_id AS "accountId", status,
  created_at AS "createdAt", resolved_at AS "resolvedAt", resolution`;
const OUTBOX_COLUMNS = `seq, run_id AS "runId", type, sequence, status, flow, account_id AS "accountId",
  exception_id AS "exceptionId", created_at AS "createdAt"`;

/**
 * The ledger on PostgreSQL, for many processes on many machines: the same schema history and the same transitions
 * as the SQLite ledger. Claims lock the run row with `FOR UPDATE SKIP LOCKED` (two workers never wait on, or take,
 * one run); every worker commit locks the run row and checks the lease token first. Outbox rows are written under a
 * transaction-scoped advisory lock, so they commit in `seq` order and a relay reading `seq > cursor` never skips one
 * that commits late. Runs that become due and outbox events are announced with NOTIFY; {@link PgLedger.listen} hears
 * them. Open with {@link PgLedger.open}.
 */
export class PgLedger implements Ledger {
  readonly kind = 'postgres';
  private listener: pg.Client | null = null;
  private readonly listeners = new Map<LedgerTopic, Set<() => void>>();
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly url: URL,
    private readonly logger: Logger,
  ) {}

  /**
   * Connects, applies the migrations the database lacks (under an advisory lock, so processes starting together
   * apply each once) and returns the ledger.
   * @throws LedgerStartError naming host, database and cause when the URL is malformed or the server unreachable.
   */
  static async open(options: PgLedgerOptions): Promise<PgLedger> {
    const url = parseDatabaseUrl(options.url);
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: 10_000,
      types: TYPES,
    });
    // An idle connection that breaks (server restart) must not crash the process; the next query reconnects.
    pool.on('error', (err) =>
      options.logger.warn({ err: err.message }, 'ledger connection lost; reconnecting on next use'),
    );
    const ledger = new PgLedger(pool, url, options.logger);
    try {
      await ledger.migrate();
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new LedgerStartError(`Cannot open the ledger on ${describeTarget(url)}: ${causeOf(error)}`);
    }
    return ledger;
  }

  private async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      try {
        await client.query(
          'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
        );
        const applied = new Set(
          (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
        );
        for (const m of MIGRATIONS) {
          if (applied.has(m.version)) continue;
          await client.query('BEGIN');
          try {
            await client.query(m.postgres);
            await client.query('INSERT INTO schema_migrations VALUES ($1, $2, $3)', [
              m.version,
              m.name,
              new Date().toISOString(),
            ]);
            await client.query('COMMIT');
          } catch (error) {
            await client.query('ROLLBACK');
            throw error;
          }
          this.logger.info({ version: m.version, migration: m.name }, 'ledger migrated');
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
      }
    } finally {
      client.release();
    }
  }

  /**
   * Calls `listener` whenever another (or this) process announces `topic`: a run became due (`runs`) or outbox
   * events were committed (`outbox`). One LISTEN connection per ledger, re-established after it breaks (the callers
   * poll meanwhile). Returns how to stop listening.
   */
  listen(topic: LedgerTopic, listener: () => void): () => void {
    let set = this.listeners.get(topic);
    if (!set) this.listeners.set(topic, (set = new Set()));
    set.add(listener);
    if (!this.listener) void this.connectListener(0);
    return () => set.delete(listener);
  }

  private async connectListener(failures: number): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ connectionString: this.url.toString(), types: TYPES });
    this.listener = client;
    const retry = () => {
      if (this.listener !== client || this.closed) return;
      client.removeAllListeners();
      client.on('error', () => undefined);
      void client.end().catch(() => undefined);
      setTimeout(() => void this.connectListener(failures + 1), Math.min(100 * 2 ** failures, 5000)).unref();
    };
    client.on('error', (err) => {
      this.logger.warn({ err: err.message }, 'ledger LISTEN connection lost; polling until it is back');
      retry();
    });
    client.on('end', retry);
    client.on('notification', (message) => {
      const topic = (Object.keys(CHANNELS) as LedgerTopic[]).find((t) => CHANNELS[t] === message.channel);
      if (topic) for (const listener of this.listeners.get(topic) ?? []) listener();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNELS.runs}; LISTEN ${CHANNELS.outbox}`);
      failures = 0;
      // Whatever was announced while the connection was down is found by one look now.
      for (const set of this.listeners.values()) for (const listener of set) listener();
    } catch {
      retry();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const listener = this.listener;
    this.listener = null;
    if (listener) {
      listener.removeAllListeners();
      listener.on('error', () => undefined);
      await listener.end().catch(() => undefined);
    }
    await this.pool.end();
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  /** Runs `work` in one transaction on one connection; rolls back when it throws. */
  private async tx<T>(work: (db: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      try {
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    } finally {
      client.release();
    }
  }

  private context(now = Date.now()): TransitionContext {
    return { now, newId: randomUUID };
  }

  // ---- cross-references

  async getCrossReferences(ids: readonly string[]): Promise<(CrossReferenceRecord | null)[]> {
    const { rows } = await this.pool.query<CrossReferenceRecord>(
      `SELECT ${XREF_COLUMNS} FROM cross_references WHERE id = ANY($1)`,
      [ids],
    );
    return byKey(ids, rows, (r) => r.id);
  }

  async getCrossReferencesByEntity(
    keys: readonly { entityType: CrossReferenceEntity; canonicalId: string }[],
  ): Promise<CrossReferenceRecord[][]> {
    const { rows } = await this.pool.query<CrossReferenceRecord>(
      `SELECT ${XREF_COLUMNS} FROM cross_references
       WHERE (entity_type, canonical_id) IN (SELECT * FROM unnest($1::text[], $2::text[])) ORDER BY created_at, id`,
      [keys.map((k) => k.entityType), keys.map((k) => k.canonicalId)],
    );
    return groupByKey(
      keys.map((k) => `${k.entityType}:${k.canonicalId}`),
      rows,
      (r) => `${r.entityType}:${r.canonicalId}`,
    );
  }

  async recordCrossReferences(links: readonly NewCrossReference[]): Promise<CrossReferenceRecord[]> {
    return this.tx(async (db) => {
      const recorded: CrossReferenceRecord[] = [];
      for (const l of links) {
        await db.query(
          `INSERT INTO cross_references
           SELECT $1 || lpad(nextval('cross_reference_ids')::text, $2, '0'), $3, $4, $5, $6, $7
           ON CONFLICT (entity_type, canonical_id, system) DO NOTHING`,
          ['XREF-', ID_WIDTH.XREF, l.entityType, l.canonicalId, l.system, l.externalId, new Date().toISOString()],
        );
        const { rows } = await db.query<CrossReferenceRecord>(
          `SELECT ${XREF_COLUMNS} FROM cross_references WHERE entity_type = $1 AND canonical_id = $2 AND system = $3`,
          [l.entityType, l.canonicalId, l.system],
        );
        recorded.push(rows[0]!);
      }
      return recorded;
    });
  }

  // ---- runs

  async createRun(run: NewRun): Promise<{ run: RunRecord; created: boolean }> {
    return this.tx(async (db) => {
      // One creator at a time per idempotency key and per subject, so two requests racing create one run.
      const locks = [
        run.idempotency ? `key:${JSON.stringify([run.idempotency.scope, run.idempotency.key])}` : null,
        run.subjectKey ? `subject:${run.subjectKey}` : null,
      ]
        .filter((k): k is string => k !== null)
        .sort();
      for (const lock of locks) await db.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [lock]);
      const idempotency = run.idempotency
        ? ((
            await db.query<{ requestHash: string; runId: string }>(
              'SELECT request_hash AS "requestHash", run_id AS "runId" FROM idempotency_keys WHERE scope = $1 AND key = $2',
              [run.idempotency.scope, run.idempotency.key],
            )
          ).rows[0] ?? null)
        : null;
      // The subject's latest run, in insertion order (created_at may tie within a millisecond).
      const subjectRun =
        idempotency || !run.subjectKey
          ? null
          : ((
              await db.query<{ id: string; status: RunRecord['status'] }>(
                'SELECT id, status FROM runs WHERE subject_key = $1 ORDER BY created_order DESC LIMIT 1',
                [run.subjectKey],
              )
            ).rows[0] ?? null);
      const ctx = this.context();
      const decision = decideCreate(run, { idempotency, subjectRun }, ctx);
      let runId: string;
      if (decision.kind === 'create') {
        const r = decision.transition.run;
        runId = r.id;
        await db.query(
          `INSERT INTO runs (id, flow, status, input, correlation_id, subject_key, account_id, opportunity_id, project_id,
           sequence, next_attempt_at, triggered_by, trace_context, created_at, updated_at)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)`,
          [
            r.id,
            r.flow,
            r.status,
            JSON.stringify(r.input),
            r.correlationId,
            r.subjectKey,
            r.accountId,
            r.opportunityId,
            r.projectId,
            r.sequence,
            r.nextAttemptAt,
            r.triggeredBy,
            r.traceContext,
            r.createdAt,
            r.updatedAt,
          ],
        );
        await db.query(
          `INSERT INTO steps (run_id, idx, name, status) SELECT $1, i - 1, name, 'PENDING' FROM unnest($2::text[]) WITH ORDINALITY AS s(name, i)`,
          [r.id, r.steps.map((s) => s.name)],
        );
        await this.persist(db, decision.transition);
      } else {
        runId = decision.runId;
        if (decision.audit) await this.audit(db, runId, decision.audit, new Date(ctx.now).toISOString());
      }
      if (decision.recordKey && run.idempotency)
        await db.query(
          'INSERT INTO idempotency_keys (scope, key, request_hash, run_id, created_at) VALUES ($1, $2, $3, $4, $5)',
          [
            run.idempotency.scope,
            run.idempotency.key,
            run.idempotency.requestHash,
            runId,
            new Date(ctx.now).toISOString(),
          ],
        );
      return { run: (await this.loadRuns(db, [runId]))[0]!, created: decision.kind === 'create' };
    });
  }

  async getRuns(ids: readonly string[]): Promise<(RunRecord | null)[]> {
    return byKey(ids, await this.loadRuns(this.pool, ids), (r) => r.id);
  }

  async listRuns(
    page: PageRequest,
    filter: RunFilter = {},
    order: CreationOrder = 'NEWEST_FIRST',
  ): Promise<Page<RunRecord>> {
    const result = await this.insertionOrderPage<RunRow>(
      'runs',
      RUN_COLUMNS,
      [
        ['flow', filter.flow],
        ['correlation_id', filter.correlationId],
        ['status', filter.status],
        ['account_id', filter.accountId],
        ['opportunity_id', filter.opportunityId],
        ['project_id', filter.projectId],
      ],
      [],
      page,
      order,
    );
    return { ...result, nodes: await this.withSteps(this.pool, result.nodes) };
  }

  async getRunsBy(
    field: 'accountId' | 'opportunityId' | 'projectId',
    keys: readonly string[],
    flows?: readonly string[],
  ): Promise<RunRecord[][]> {
    const column = { accountId: 'account_id', opportunityId: 'opportunity_id', projectId: 'project_id' }[field];
    const { rows } = await this.pool.query<RunRow>(
      `SELECT ${RUN_COLUMNS} FROM runs WHERE ${column} = ANY($1) ${flows ? 'AND flow = ANY($2)' : ''} ORDER BY created_at DESC, id`,
      flows ? [keys, flows] : [keys],
    );
    return groupByKey(keys, await this.withSteps(this.pool, rows), (r) => r[field] ?? '');
  }

  // ---- leases and the worker's commits

  async claimRun(owner: string, leaseMs: number, now: number): Promise<RunRecord | null> {
    return this.tx(async (db) => {
      const { rows } = await db.query<{ id: string }>(
        `SELECT id FROM runs WHERE status = ANY($1) AND next_attempt_at <= $2 AND (lease_expires_at IS NULL OR lease_expires_at < $2)
         ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`,
        [RUNNABLE, now],
      );
      if (!rows[0]) return null;
      const [run] = await this.loadRuns(db, [rows[0].id]);
      return this.persist(
        db,
        transition(run!, { type: 'CLAIMED', lease: owner, leaseExpiresAt: now + leaseMs }, this.context(now)),
      );
    });
  }

  async nextDueAt(): Promise<number | null> {
    const { rows } = await this.pool.query<{ due: number | null }>(
      'SELECT min(greatest(next_attempt_at, coalesce(lease_expires_at, 0))) AS due FROM runs WHERE status = ANY($1)',
      [RUNNABLE],
    );
    return rows[0]?.due ?? null;
  }

  async completeStep(
    runId: string,
    owner: string,
    index: number,
    output: unknown,
    ids: { accountId?: string; projectId?: string } = {},
  ): Promise<RunRecord | null> {
    return this.leased(runId, owner, { type: 'STEP_SUCCEEDED', index, output, ids });
  }

  async failStep(
    runId: string,
    owner: string,
    index: number,
    error: StepError,
    retryAt: number | null,
  ): Promise<RunRecord | null> {
    return this.leased(runId, owner, { type: 'STEP_FAILED', index, error, retryAt });
  }

  async scheduleCompensationRetry(
    runId: string,
    owner: string,
    index: number,
    error: StepError,
    retryAt: number,
  ): Promise<RunRecord | null> {
    return this.leased(runId, owner, { type: 'COMPENSATION_RETRY_SCHEDULED', index, error, retryAt });
  }

  async compensateStep(
    runId: string,
    owner: string,
    index: number,
    error: StepError | null,
  ): Promise<RunRecord | null> {
    return this.leased(runId, owner, { type: 'STEP_COMPENSATED', index, error });
  }

  async endCompensation(runId: string, owner: string): Promise<RunRecord | null> {
    return this.leased(runId, owner, { type: 'COMPENSATION_ENDED' });
  }

  async fixStepFacts(
    runId: string,
    owner: string,
    index: number,
    facts: Readonly<Record<string, unknown>>,
  ): Promise<Record<string, unknown> | null> {
    return this.tx(async (db) => {
      // The run's row lock orders two holders' calls (a late one from a lapsed lease finds another owner and stops).
      const held = await db.query('SELECT 1 FROM runs WHERE id = $1 AND lease_owner = $2 FOR UPDATE', [runId, owner]);
      if (held.rowCount !== 1) return null;
      const { rows } = await db.query<{ facts: Record<string, unknown> }>(
        'SELECT facts FROM step_facts WHERE run_id = $1 AND idx = $2',
        [runId, index],
      );
      const stored = rows[0]?.facts ?? {};
      const merged = { ...facts, ...stored };
      if (Object.keys(merged).length !== Object.keys(stored).length || rows.length === 0)
        await db.query(
          `INSERT INTO step_facts (run_id, idx, facts) VALUES ($1, $2, $3)
           ON CONFLICT (run_id, idx) DO UPDATE SET facts = excluded.facts`,
          [runId, index, JSON.stringify(merged)],
        );
      return merged;
    });
  }

  async renewLease(runId: string, owner: string, leaseMs: number, now: number): Promise<boolean> {
    const result = await this.pool.query('UPDATE runs SET lease_expires_at = $1 WHERE id = $2 AND lease_owner = $3', [
      now + leaseMs,
      runId,
      owner,
    ]);
    return result.rowCount === 1;
  }

  async releaseLease(runId: string, owner: string): Promise<void> {
    const result = await this.pool.query(
      'UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND lease_owner = $2',
      [runId, owner],
    );
    if (result.rowCount) await this.pool.query(`NOTIFY ${CHANNELS.runs}`);
  }

  /** Applies a worker's event to a run its token still holds (the row locked meanwhile); null when the lease was lost. */
  private async leased(runId: string, owner: string, event: RunEventInput): Promise<RunRecord | null> {
    return this.tx(async (db) => {
      const { rows } = await db.query('SELECT 1 FROM runs WHERE id = $1 AND lease_owner = $2 FOR UPDATE', [
        runId,
        owner,
      ]);
      if (!rows[0]) return null;
      const [run] = await this.loadRuns(db, [runId]);
      return this.persist(db, transition(run!, event, this.context()));
    });
  }

  // ---- people's commands

  async retryRun(
    id: string,
    actor: Actor,
    patch?: Record<string, unknown>,
    rerun?: readonly number[],
  ): Promise<RunRecord> {
    return this.tx(async (db) =>
      this.persist(
        db,
        transition(
          await this.lockRun(db, id),
          { type: 'RETRY_REQUESTED', actor, ...(patch ? { patch } : {}), rerun: rerun ?? [] },
          this.context(),
        ),
      ),
    );
  }

  async abandonRun(id: string, actor: Actor): Promise<RunRecord> {
    return this.tx(async (db) =>
      this.persist(db, transition(await this.lockRun(db, id), { type: 'ABANDON_REQUESTED', actor }, this.context())),
    );
  }

  async resolveException(id: string, actor: Actor, note: string): Promise<ExceptionRecord> {
    return this.tx(async (db) => {
      const select = `SELECT ${EXCEPTION_COLUMNS} FROM exceptions WHERE id = $1`;
      const found = (await db.query<ExceptionRecord>(select, [id])).rows[0];
      if (!found) throw new MeridianError('NOT_FOUND', `No exception '${id}'`, { value: id });
      // The run's row lock orders this with the worker's commits and the other commands on the run.
      const run = await this.lockRun(db, found.runId);
      const current = (await db.query<ExceptionRecord>(select, [id])).rows[0]!;
      await this.persist(db, decideResolve(run, current, actor, note, this.context()));
      return (await db.query<ExceptionRecord>(select, [id])).rows[0]!;
    });
  }

  async getExceptions(ids: readonly string[]): Promise<(ExceptionRecord | null)[]> {
    const { rows } = await this.pool.query<ExceptionRecord>(
      `SELECT ${EXCEPTION_COLUMNS} FROM exceptions WHERE id = ANY($1)`,
      [ids],
    );
    return byKey(ids, rows, (r) => r.id);
  }

  async listExceptions(
    page: PageRequest,
    filter: ExceptionFilter = {},
    order: CreationOrder = 'NEWEST_FIRST',
  ): Promise<Page<ExceptionRecord>> {
    return this.insertionOrderPage<ExceptionRecord>(
      'exceptions',
      EXCEPTION_COLUMNS,
      [
        ['flow', filter.flow],
        ['class', filter.class],
        ['system', filter.system],
        ['account_id', filter.accountId],
        ['status', filter.status],
      ],
      filter.olderThanMs ? [['created_at <=', new Date(Date.now() - filter.olderThanMs).toISOString()]] : [],
      page,
      order,
    );
  }

  async getOpenExceptionsByRun(runIds: readonly string[]): Promise<(ExceptionRecord | null)[]> {
    const { rows } = await this.pool.query<ExceptionRecord>(
      `SELECT ${EXCEPTION_COLUMNS} FROM exceptions WHERE status = 'OPEN' AND run_id = ANY($1) ORDER BY created_at`,
      [runIds],
    );
    return byKey(runIds, rows, (r) => r.runId);
  }

  // ---- audit, outbox, watermarks, idempotency, leadership

  async getAuditByRun(runIds: readonly string[]): Promise<AuditRecord[][]> {
    const { rows } = await this.pool.query<AuditRecord>(
      `SELECT id, run_id AS "runId", at, actor, role, correlation_id AS "correlationId",
              caller_request_id AS "callerRequestId", action, detail
       FROM audit_log WHERE run_id = ANY($1) ORDER BY id`,
      [runIds],
    );
    return groupByKey(runIds, rows, (r) => r.runId);
  }

  async eventsAfter(seq: number, limit: number): Promise<OutboxEvent[]> {
    const { rows } = await this.pool.query<OutboxEvent>(
      `SELECT ${OUTBOX_COLUMNS} FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2`,
      [seq, limit],
    );
    return rows;
  }

  async getRunAt(runId: string, sequence: number): Promise<RunRecord | null> {
    const { rows } = await this.pool.query<{ snapshot: RunRecord }>(
      `SELECT snapshot FROM outbox WHERE run_id = $1 AND sequence = $2 AND type = 'SYNC_RUN_UPDATED' ORDER BY seq DESC LIMIT 1`,
      [runId, sequence],
    );
    return rows[0]?.snapshot ?? null;
  }

  async readOperationsFigures(relay: string, now: number): Promise<OperationsFigures> {
    const client = await this.pool.connect();
    try {
      // One snapshot for every figure of the scrape.
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const cursor =
        (await client.query<{ seq: number }>('SELECT seq FROM relay_cursors WHERE name = $1', [relay])).rows[0]?.seq ??
        0;
      const outbox = (
        await client.query<{ pending: number; oldest: string | null }>(
          'SELECT COUNT(*) AS pending, MIN(created_at) AS oldest FROM outbox WHERE seq > $1',
          [cursor],
        )
      ).rows[0]!;
      const claimable = (
        await client.query<{ since: number | null }>(
          'SELECT MIN(next_attempt_at) AS since FROM runs WHERE status = ANY($1) AND next_attempt_at <= $2 AND (lease_expires_at IS NULL OR lease_expires_at < $2)',
          [RUNNABLE, now],
        )
      ).rows[0]!;
      const runsByStatus = (
        await client.query<OperationsFigures['runsByStatus'][number]>(
          'SELECT status, COUNT(*) AS count FROM runs GROUP BY status ORDER BY status',
        )
      ).rows;
      const openExceptionsByClass = (
        await client.query<OperationsFigures['openExceptionsByClass'][number]>(
          `SELECT class, COUNT(*) AS count FROM exceptions WHERE status = 'OPEN' GROUP BY class ORDER BY class`,
        )
      ).rows;
      await client.query('COMMIT');
      return {
        runsByStatus,
        oldestClaimableSince: claimable.since,
        outboxPending: outbox.pending,
        oldestPendingEventAt: outbox.oldest,
        openExceptionsByClass,
      };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async getRelayCursor(name: string): Promise<number> {
    const { rows } = await this.pool.query<{ seq: number }>('SELECT seq FROM relay_cursors WHERE name = $1', [name]);
    return rows[0]?.seq ?? 0;
  }

  async setRelayCursor(name: string, seq: number): Promise<void> {
    await this.pool.query(
      'INSERT INTO relay_cursors (name, seq) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq',
      [name, seq],
    );
  }

  async pruneOutbox(before: number): Promise<number> {
    const result = await this.pool.query(
      'DELETE FROM outbox WHERE created_at < $1 AND seq <= coalesce((SELECT min(seq) FROM relay_cursors), 0)',
      [new Date(before).toISOString()],
    );
    return result.rowCount ?? 0;
  }

  async getWatermark(name: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ value: string }>('SELECT value FROM trigger_watermarks WHERE name = $1', [
      name,
    ]);
    return rows[0]?.value ?? null;
  }

  async setWatermark(name: string, value: string, expected: string | null): Promise<boolean> {
    const result =
      expected === null
        ? await this.pool.query(
            'INSERT INTO trigger_watermarks (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING',
            [name, value],
          )
        : await this.pool.query('UPDATE trigger_watermarks SET value = $1 WHERE name = $2 AND value = $3', [
            value,
            name,
            expected,
          ]);
    return result.rowCount === 1;
  }

  async getIdempotencyRecords(keys: readonly { scope: string; key: string }[]): Promise<(IdempotencyRecord | null)[]> {
    const { rows } = await this.pool.query<IdempotencyRecord>(
      `SELECT i.scope, i.key, i.request_hash AS "requestHash", i.run_id AS "runId", i.created_at AS "createdAt"
       FROM unnest($1::text[], $2::text[]) AS k(scope, key)
       JOIN idempotency_keys AS i ON i.scope = k.scope AND i.key = k.key`,
      [keys.map((k) => k.scope), keys.map((k) => k.key)],
    );
    return byKey(
      keys.map((k) => JSON.stringify([k.scope, k.key])),
      rows,
      (r) => JSON.stringify([r.scope, r.key]),
    );
  }

  async acquireLeadership(name: string, owner: string, leaseMs: number, now: number): Promise<boolean> {
    const result = await this.pool.query(
      `INSERT INTO leaders (name, owner, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
       WHERE leaders.owner = excluded.owner OR leaders.expires_at < $4`,
      [name, owner, now + leaseMs, now],
    );
    return result.rowCount === 1;
  }

  async releaseLeadership(name: string, owner: string): Promise<void> {
    await this.pool.query('DELETE FROM leaders WHERE name = $1 AND owner = $2', [name, owner]);
  }

  // ---- internals

  private async lockRun(db: Queryable, id: string): Promise<RunRecord> {
    const { rows } = await db.query('SELECT 1 FROM runs WHERE id = $1 FOR UPDATE', [id]);
    if (!rows[0]) throw new MeridianError('NOT_FOUND', `No sync run '${id}'`, { value: id });
    return (await this.loadRuns(db, [id]))[0]!;
  }

  private async loadRuns(db: Queryable, ids: readonly string[]): Promise<RunRecord[]> {
    const { rows } = await db.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = ANY($1)`, [ids]);
    return this.withSteps(db, rows);
  }

  private async withSteps(db: Queryable, rows: RunRow[]): Promise<RunRecord[]> {
    if (rows.length === 0) return [];
    const { rows: steps } = await db.query<RunRecord['steps'][number] & { runId: string }>(
      `SELECT ${STEP_COLUMNS} FROM steps WHERE run_id = ANY($1) ORDER BY run_id, idx`,
      [rows.map((r) => r.id)],
    );
    const grouped = groupByKey(
      rows.map((r) => r.id),
      steps,
      (s) => s.runId,
    );
    return rows.map((row, i) => ({ ...row, steps: grouped[i]!.map(({ runId: _, ...step }) => step) }));
  }

  /**
   * One page of `table` in insertion order (`created_order`, a sequence), newest first when `order` says so;
   * `page.afterKey` and the returned `endKey` are `created_order` values written as decimal text.
   */
  private async insertionOrderPage<T>(
    table: string,
    columns: string,
    equal: readonly (readonly [string, string | null | undefined])[],
    compare: readonly (readonly [string, string])[],
    page: PageRequest,
    order: CreationOrder,
  ): Promise<Page<T>> {
    const newestFirst = order === 'NEWEST_FIRST';
    const where: string[] = [];
    const params: unknown[] = [];
    for (const [column, value] of equal)
      if (value) {
        params.push(value);
        where.push(`${column} = $${params.length}`);
      }
    for (const [condition, value] of compare) {
      params.push(value);
      where.push(`${condition} $${params.length}`);
    }
    const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const { rows: counted } = await this.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${table} ${filter}`,
      params,
    );
    const pageParams = [...params];
    let after = '';
    if (page.afterKey !== null) {
      pageParams.push(page.afterKey);
      after = `${where.length ? 'AND' : 'WHERE'} created_order ${newestFirst ? '<' : '>'} $${pageParams.length}`;
    }
    pageParams.push(page.first + 1);
    const { rows } = await this.pool.query<T & { orderKey: string }>(
      `SELECT ${columns}, created_order AS "orderKey" FROM ${table} ${filter} ${after}
       ORDER BY created_order ${newestFirst ? 'DESC' : 'ASC'} LIMIT $${pageParams.length}`,
      pageParams,
    );
    const last = rows[Math.min(rows.length, page.first) - 1];
    return {
      nodes: rows.slice(0, page.first).map(({ orderKey: _, ...row }) => row as T),
      hasNextPage: rows.length > page.first,
      totalCount: counted[0]!.n,
      endKey: last ? String(last.orderKey) : null,
    };
  }

  /** Writes what a transition decided: the run row, its changed steps, audit entries, exceptions and outbox events. */
  private async persist(db: Queryable, t: Transition): Promise<RunRecord> {
    const { run } = t;
    const params: unknown[] = [
      run.status,
      JSON.stringify(run.input),
      run.accountId,
      run.projectId,
      run.sequence,
      run.nextAttemptAt,
      run.updatedAt,
      run.id,
    ];
    let lease = '';
    if (t.lease !== 'keep') {
      params.push(t.lease?.owner ?? null, t.lease?.expiresAt ?? null);
      lease = ', lease_owner = $9, lease_expires_at = $10';
    }
    await db.query(
      `UPDATE runs SET status = $1, input = $2, account_id = $3, project_id = $4, sequence = $5, next_attempt_at = $6,
       updated_at = $7${lease} WHERE id = $8`,
      params,
    );
    const changed = [...new Set(t.steps)].map((i) => run.steps[i]!);
    if (changed.length)
      await db.query(
        `UPDATE steps SET status = s.status, attempts = s.attempts, compensation_attempts = s.compensation_attempts,
           output = s.output, error = s.error, finished_at = s.finished_at
         FROM jsonb_to_recordset($2) AS s(idx int, status text, attempts int, compensation_attempts int, output jsonb, error jsonb, finished_at text)
         WHERE steps.run_id = $1 AND steps.idx = s.idx`,
        [
          run.id,
          JSON.stringify(
            changed.map((s) => ({
              idx: s.index,
              status: s.status,
              attempts: s.attempts,
              compensation_attempts: s.compensationAttempts,
              output: s.output,
              error: s.error,
              finished_at: s.finishedAt,
            })),
          ),
        ],
      );
    if (t.resolveOpenExceptions !== null)
      await db.query(
        `UPDATE exceptions SET status = 'RESOLVED', resolved_at = $1, resolution = $2 WHERE run_id = $3 AND status = 'OPEN'`,
        [run.updatedAt, t.resolveOpenExceptions, run.id],
      );
    if (t.resolveException !== null)
      await db.query(
        `UPDATE exceptions SET status = 'RESOLVED', resolved_at = $1, resolution = $2 WHERE id = $3 AND status = 'OPEN'`,
        [new Date().toISOString(), t.resolveException.note, t.resolveException.id],
      );
    if (t.exception) {
      const e = t.exception;
      await db.query(`INSERT INTO exceptions VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'OPEN', $9, NULL, NULL)`, [
        e.id,
        e.runId,
        e.flow,
        e.step,
        e.class,
        e.system,
        e.message,
        e.accountId,
        e.createdAt,
      ]);
    }
    for (const entry of t.audit) await this.audit(db, run.id, entry, entry.at ?? run.updatedAt);
    // A run another worker may take up now: wake the workers listening. NOTIFY is delivered at commit, so it is sent
    // before the outbox lock below, which every commit with events waits on: the lock is held for one statement.
    if (RUNNABLE.includes(run.status) && t.lease === null) await db.query(`NOTIFY ${CHANNELS.runs}`);
    if (t.events.length) {
      await db.query(`NOTIFY ${CHANNELS.outbox}`);
      const values = outboxRows(t);
      const params = values.flat();
      const width = values[0]!.length;
      const rows = values.map(
        (_, r) => `(${Array.from({ length: width }, (_, i) => `$${r * width + i + 1}`).join(', ')})`,
      );
      // Held to commit: outbox rows commit in seq order, so a reader never sees seq N+1 before N. Taken last, with
      // every other write of the transaction done, and the events written in one statement.
      await db.query('SELECT pg_advisory_xact_lock($1)', [OUTBOX_LOCK]);
      await db.query(`INSERT INTO outbox (${OUTBOX_INSERT_COLUMNS}) VALUES ${rows.join(', ')}`, params);
    }
    return run;
  }

  private async audit(db: Queryable, runId: string, entry: AuditEntry, at: string): Promise<void> {
    await db.query(
      `INSERT INTO audit_log (run_id, at, actor, role, correlation_id, caller_request_id, action, detail)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        runId,
        at,
        entry.actor.subject,
        entry.actor.role,
        entry.actor.correlationId,
        entry.actor.callerRequestId ?? null,
        entry.action,
        entry.detail === null ? null : JSON.stringify(entry.detail),
      ],
    );
  }
}
