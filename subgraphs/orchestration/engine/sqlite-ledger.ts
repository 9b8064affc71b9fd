import { randomUUID } from 'node:crypto';
import { byKey, groupByKey } from '../../../lib/batch';
import { MeridianError } from '../../../lib/errors';
import { formatId } from '../../../lib/ids';
import type { Page, PageRequest } from '../../../lib/pagination';
import { inJson, insertionOrderPage, nextId, openSqlite, type SqliteDatabase } from '../../../lib/sqlite';
import { migrateSqlite } from './migrations';
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
  StepRecord,
} from './ledger';

// Qualified, so the same list serves the plain reads and the join over a JSON key table.
const XREF_COLUMNS = `c.id, c.entity_type AS entityType, c.canonical_id AS canonicalId, c.system, c.external_id AS externalId, c.created_at AS createdAt`;
const RUN_COLUMNS = `id, flow, status, input, correlation_id AS correlationId, subject_key AS subjectKey, account_id AS accountId,
  opportunity_id AS opportunityId, project_id AS projectId, sequence, next_attempt_at AS nextAttemptAt,
  triggered_by AS triggeredBy, trace_context AS traceContext, created_at AS createdAt, updated_at AS updatedAt`;
const EXCEPTION_COLUMNS = `id, run_id AS runId, flow, step, class, system, message, account_id AS accountId, status,
  created_at AS createdAt, resolved_at AS resolvedAt, resolution`;

type RunRow = Omit<RunRecord, 'input' | 'steps'> & { input: string };
type StepRow = {
  runId: string;
  index: number;
  name: string;
  status: StepRecord['status'];
  attempts: number;
  compensationAttempts: number;
  output: string | null;
  error: string | null;
  finishedAt: string | null;
};

/** The ledger on a SQLite file: the default, with no server to run. One writer at a time, so claims are atomic. */
export class SqliteLedger implements Ledger {
  readonly kind = 'sqlite';
  private readonly db: SqliteDatabase;

  /** Opens (creating on first use) the ledger at `path`; `:memory:` for a private one. */
  constructor(path: string) {
    this.db = openSqlite(path);
    migrateSqlite(this.db);
  }

  /** True when no link and no run is recorded yet (so start-up seeds the demo links). */
  isEmpty(): boolean {
    return this.db.prepare('SELECT 1 FROM cross_references UNION ALL SELECT 1 FROM runs LIMIT 1').get() === undefined;
  }

  /** Inserts demo links with fresh IDs in one transaction. */
  seedCrossReferences(links: readonly NewCrossReference[], createdAt: string): void {
    const insert = this.db.prepare(`INSERT INTO cross_references VALUES (?, ?, ?, ?, ?, ?)`);
    this.db.transaction(() => {
      let n = Number(nextId(this.db, 'cross_references', 'XREF').slice('XREF-'.length));
      for (const l of links)
        insert.run(formatId('XREF', n++), l.entityType, l.canonicalId, l.system, l.externalId, createdAt);
    })();
  }

  close(): void {
    this.db.close();
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  // ---- cross-references

  async getCrossReferences(ids: readonly string[]): Promise<(CrossReferenceRecord | null)[]> {
    const rows = this.db
      .prepare(`SELECT ${XREF_COLUMNS} FROM cross_references AS c WHERE ${inJson('c.id')}`)
      .all(JSON.stringify(ids)) as CrossReferenceRecord[];
    return byKey(ids, rows, (r) => r.id);
  }

  async getCrossReferencesByEntity(
    keys: readonly { entityType: CrossReferenceEntity; canonicalId: string }[],
  ): Promise<CrossReferenceRecord[][]> {
    // Joining the keys as a JSON table lets SQLite use the (entity_type, canonical_id, system) index.
    const rows = this.db
      .prepare(
        `SELECT ${XREF_COLUMNS} FROM json_each(?) AS k
         JOIN cross_references AS c ON c.entity_type = json_extract(k.value, '$.entityType') AND c.canonical_id = json_extract(k.value, '$.canonicalId')
         ORDER BY c.created_at, c.id`,
      )
      .all(JSON.stringify(keys)) as CrossReferenceRecord[];
    return groupByKey(
      keys.map((k) => `${k.entityType}:${k.canonicalId}`),
      rows,
      (r) => `${r.entityType}:${r.canonicalId}`,
    );
  }

  async recordCrossReferences(links: readonly NewCrossReference[]): Promise<CrossReferenceRecord[]> {
    return this.db.transaction(() => links.map((l) => this.recordLink(l)))();
  }

  private recordLink(l: NewCrossReference): CrossReferenceRecord {
    const find = this.db.prepare(
      `SELECT ${XREF_COLUMNS} FROM cross_references AS c WHERE entity_type = ? AND canonical_id = ? AND system = ?`,
    );
    const existing = find.get(l.entityType, l.canonicalId, l.system) as CrossReferenceRecord | undefined;
    if (existing) return existing;
    this.db
      .prepare(`INSERT INTO cross_references VALUES (?, ?, ?, ?, ?, ?)`)
      .run(
        nextId(this.db, 'cross_references', 'XREF'),
        l.entityType,
        l.canonicalId,
        l.system,
        l.externalId,
        new Date().toISOString(),
      );
    return find.get(l.entityType, l.canonicalId, l.system) as CrossReferenceRecord;
  }

  // ---- runs

  async createRun(run: NewRun): Promise<{ run: RunRecord; created: boolean }> {
    return this.db
      .transaction((): { run: RunRecord; created: boolean } => {
        const idempotency = run.idempotency
          ? ((this.db
              .prepare(
                'SELECT request_hash AS requestHash, run_id AS runId FROM idempotency_keys WHERE scope = ? AND key = ?',
              )
              .get(run.idempotency.scope, run.idempotency.key) as { requestHash: string; runId: string } | undefined) ??
            null)
          : null;
        // The subject's latest run: rowid follows insertion order (created_at may tie within a millisecond).
        const subjectRun =
          idempotency || !run.subjectKey
            ? null
            : ((this.db
                .prepare(`SELECT id, status FROM runs WHERE subject_key = ? ORDER BY rowid DESC LIMIT 1`)
                .get(run.subjectKey) as { id: string; status: RunRecord['status'] } | undefined) ?? null);
        const decision = decideCreate(run, { idempotency, subjectRun }, this.context());
        let runId: string;
        if (decision.kind === 'create') {
          const created = decision.transition.run;
          runId = created.id;
          this.db
            .prepare(
              `INSERT INTO runs (id, flow, status, input, correlation_id, subject_key, account_id, opportunity_id, project_id, sequence,
               next_attempt_at, triggered_by, trace_context, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(
              runId,
              created.flow,
              created.status,
              JSON.stringify(created.input),
              created.correlationId,
              created.subjectKey,
              created.accountId,
              created.opportunityId,
              created.projectId,
              created.sequence,
              created.nextAttemptAt,
              created.triggeredBy,
              created.traceContext,
              created.createdAt,
              created.updatedAt,
            );
          const step = this.db.prepare(`INSERT INTO steps (run_id, idx, name, status) VALUES (?, ?, ?, 'PENDING')`);
          for (const s of decision.transition.run.steps) step.run(runId, s.index, s.name);
          this.persist(decision.transition);
        } else {
          runId = decision.runId;
          if (decision.audit) this.audit(runId, decision.audit);
        }
        if (decision.recordKey && run.idempotency)
          this.db
            .prepare(
              'INSERT INTO idempotency_keys (scope, key, request_hash, run_id, created_at) VALUES (?, ?, ?, ?, ?)',
            )
            .run(
              run.idempotency.scope,
              run.idempotency.key,
              run.idempotency.requestHash,
              runId,
              new Date(this.context().now).toISOString(),
            );
        return { run: this.findRun(runId), created: decision.kind === 'create' };
      })
      .immediate();
  }

  async getRuns(ids: readonly string[]): Promise<(RunRecord | null)[]> {
    const rows = this.db
      .prepare(`SELECT ${RUN_COLUMNS} FROM runs WHERE ${inJson('id')}`)
      .all(JSON.stringify(ids)) as RunRow[];
    return byKey(ids, this.withSteps(rows), (r) => r.id);
  }

  async listRuns(
    page: PageRequest,
    filter: RunFilter = {},
    order: CreationOrder = 'NEWEST_FIRST',
  ): Promise<Page<RunRecord>> {
    const where: string[] = [];
    const params: unknown[] = [];
    for (const [key, column] of [
      ['flow', 'flow'],
      ['correlationId', 'correlation_id'],
      ['status', 'status'],
      ['accountId', 'account_id'],
      ['opportunityId', 'opportunity_id'],
      ['projectId', 'project_id'],
    ] as const) {
      if (filter[key]) {
        where.push(`${column} = ?`);
        params.push(filter[key]);
      }
    }
    const result = insertionOrderPage<RunRow>(
      this.db,
      { table: 'runs', columns: RUN_COLUMNS, where, params },
      page,
      order === 'NEWEST_FIRST',
    );
    return { ...result, nodes: this.withSteps(result.nodes) };
  }

  async getRunsBy(
    field: 'accountId' | 'opportunityId' | 'projectId',
    keys: readonly string[],
    flows?: readonly string[],
  ): Promise<RunRecord[][]> {
    const column = { accountId: 'account_id', opportunityId: 'opportunity_id', projectId: 'project_id' }[field];
    const byFlow = flows ? `AND ${inJson('flow')}` : '';
    const params = flows ? [JSON.stringify(keys), JSON.stringify(flows)] : [JSON.stringify(keys)];
    const rows = this.db
      .prepare(`SELECT ${RUN_COLUMNS} FROM runs WHERE ${inJson(column)} ${byFlow} ORDER BY created_at DESC, id`)
      .all(...params) as RunRow[];
    return groupByKey(keys, this.withSteps(rows), (r) => r[field] ?? '');
  }

  // ---- worker commands

  async claimRun(owner: string, leaseMs: number, now: number): Promise<RunRecord | null> {
    return this.db
      .transaction((): RunRecord | null => {
        const due = this.db
          .prepare(
            `SELECT id FROM runs WHERE ${inJson('status')} AND next_attempt_at <= ? AND (lease_expires_at IS NULL OR lease_expires_at < ?)
           ORDER BY next_attempt_at, id LIMIT 1`,
          )
          .get(JSON.stringify(RUNNABLE), now, now) as { id: string } | undefined;
        if (!due) return null;
        const run = this.findRun(due.id);
        return this.persist(
          transition(run, { type: 'CLAIMED', lease: owner, leaseExpiresAt: now + leaseMs }, this.context(now)),
        );
      })
      .immediate();
  }

  async nextDueAt(): Promise<number | null> {
    const row = this.db
      .prepare(
        `SELECT min(max(next_attempt_at, coalesce(lease_expires_at, 0))) AS due FROM runs WHERE ${inJson('status')}`,
      )
      .get(JSON.stringify(RUNNABLE)) as { due: number | null };
    return row.due;
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
    return this.db
      .transaction((): Record<string, unknown> | null => {
        if (!this.db.prepare('SELECT 1 FROM runs WHERE id = ? AND lease_owner = ?').get(runId, owner)) return null;
        const row = this.db.prepare('SELECT facts FROM step_facts WHERE run_id = ? AND idx = ?').get(runId, index) as
          | { facts: string }
          | undefined;
        const stored = row ? (JSON.parse(row.facts) as Record<string, unknown>) : {};
        const merged = { ...facts, ...stored };
        if (Object.keys(merged).length !== Object.keys(stored).length || !row)
          this.db
            .prepare(
              'INSERT INTO step_facts (run_id, idx, facts) VALUES (?, ?, ?) ON CONFLICT (run_id, idx) DO UPDATE SET facts = excluded.facts',
            )
            .run(runId, index, JSON.stringify(merged));
        return merged;
      })
      .immediate();
  }

  async renewLease(runId: string, owner: string, leaseMs: number, now: number): Promise<boolean> {
    return (
      this.db
        .prepare('UPDATE runs SET lease_expires_at = ? WHERE id = ? AND lease_owner = ?')
        .run(now + leaseMs, runId, owner).changes === 1
    );
  }

  async releaseLease(runId: string, owner: string): Promise<void> {
    this.db
      .prepare('UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ? AND lease_owner = ?')
      .run(runId, owner);
  }

  // ---- people's commands

  async retryRun(
    id: string,
    actor: Actor,
    patch?: Record<string, unknown>,
    rerun?: readonly number[],
  ): Promise<RunRecord> {
    return this.db.transaction(
      (): RunRecord =>
        this.persist(
          transition(
            this.findRun(id),
            { type: 'RETRY_REQUESTED', actor, ...(patch ? { patch } : {}), rerun: rerun ?? [] },
            this.context(),
          ),
        ),
    )();
  }

  async abandonRun(id: string, actor: Actor): Promise<RunRecord> {
    return this.db.transaction(
      (): RunRecord => this.persist(transition(this.findRun(id), { type: 'ABANDON_REQUESTED', actor }, this.context())),
    )();
  }

  async resolveException(id: string, actor: Actor, note: string): Promise<ExceptionRecord> {
    return this.db
      .transaction((): ExceptionRecord => {
        const found = this.findException(id);
        this.persist(decideResolve(this.findRun(found.runId), found, actor, note, this.context()));
        return this.findException(id);
      })
      .immediate();
  }

  private findException(id: string): ExceptionRecord {
    const found = this.db.prepare(`SELECT ${EXCEPTION_COLUMNS} FROM exceptions WHERE id = ?`).get(id) as
      | ExceptionRecord
      | undefined;
    if (!found) throw new MeridianError('NOT_FOUND', `No exception '${id}'`, { value: id });
    return found;
  }

  async getExceptions(ids: readonly string[]): Promise<(ExceptionRecord | null)[]> {
    const rows = this.db
      .prepare(`SELECT ${EXCEPTION_COLUMNS} FROM exceptions WHERE ${inJson('id')}`)
      .all(JSON.stringify(ids)) as ExceptionRecord[];
    return byKey(ids, rows, (r) => r.id);
  }

  async listExceptions(
    page: PageRequest,
    filter: ExceptionFilter = {},
    order: CreationOrder = 'NEWEST_FIRST',
  ): Promise<Page<ExceptionRecord>> {
    const where: string[] = [];
    const params: unknown[] = [];
    for (const [key, column] of [
      ['flow', 'flow'],
      ['class', 'class'],
      ['system', 'system'],
      ['accountId', 'account_id'],
      ['status', 'status'],
    ] as const) {
      if (filter[key]) {
        where.push(`${column} = ?`);
        params.push(filter[key]);
      }
    }
    if (filter.olderThanMs) {
      where.push('created_at <= ?');
      params.push(new Date(Date.now() - filter.olderThanMs).toISOString());
    }
    return insertionOrderPage(
      this.db,
      { table: 'exceptions', columns: EXCEPTION_COLUMNS, where, params },
      page,
      order === 'NEWEST_FIRST',
    );
  }

  async getOpenExceptionsByRun(runIds: readonly string[]): Promise<(ExceptionRecord | null)[]> {
    const rows = this.db
      .prepare(
        `SELECT ${EXCEPTION_COLUMNS} FROM exceptions WHERE status = 'OPEN' AND ${inJson('run_id')} ORDER BY created_at`,
      )
      .all(JSON.stringify(runIds)) as ExceptionRecord[];
    return byKey(runIds, rows, (r) => r.runId);
  }

  async getAuditByRun(runIds: readonly string[]): Promise<AuditRecord[][]> {
    const rows = this.db
      .prepare(
        `SELECT id, run_id AS runId, at, actor, role, correlation_id AS correlationId,
         caller_request_id AS callerRequestId, action, detail FROM audit_log WHERE ${inJson('run_id')} ORDER BY id`,
      )
      .all(JSON.stringify(runIds)) as (Omit<AuditRecord, 'detail'> & { detail: string | null })[];
    return groupByKey(
      runIds,
      rows.map((r) => ({ ...r, detail: r.detail === null ? null : (JSON.parse(r.detail) as unknown) })),
      (r) => r.runId,
    );
  }

  async eventsAfter(seq: number, limit: number): Promise<OutboxEvent[]> {
    return this.db
      .prepare(
        `SELECT seq, run_id AS runId, type, sequence, status, flow, account_id AS accountId, exception_id AS exceptionId, created_at AS createdAt FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?`,
      )
      .all(seq, limit) as OutboxEvent[];
  }

  async getRunAt(runId: string, sequence: number): Promise<RunRecord | null> {
    const row = this.db
      .prepare(
        `SELECT snapshot FROM outbox WHERE run_id = ? AND sequence = ? AND type = 'SYNC_RUN_UPDATED' ORDER BY seq DESC LIMIT 1`,
      )
      .get(runId, sequence) as { snapshot: string } | undefined;
    return row ? (JSON.parse(row.snapshot) as RunRecord) : null;
  }

  async readOperationsFigures(relay: string, now: number): Promise<OperationsFigures> {
    return this.db
      .transaction((): OperationsFigures => {
        const cursor =
          (this.db.prepare('SELECT seq FROM relay_cursors WHERE name = ?').get(relay) as { seq: number } | undefined)
            ?.seq ?? 0;
        const outbox = this.db
          .prepare('SELECT COUNT(*) AS pending, MIN(created_at) AS oldest FROM outbox WHERE seq > ?')
          .get(cursor) as { pending: number; oldest: string | null };
        const claimable = this.db
          .prepare(
            `SELECT MIN(next_attempt_at) AS since FROM runs WHERE ${inJson('status')} AND next_attempt_at <= ? AND (lease_expires_at IS NULL OR lease_expires_at < ?)`,
          )
          .get(JSON.stringify(RUNNABLE), now, now) as { since: number | null };
        return {
          runsByStatus: this.db
            .prepare('SELECT status, COUNT(*) AS count FROM runs GROUP BY status')
            .all() as OperationsFigures['runsByStatus'],
          oldestClaimableSince: claimable.since,
          outboxPending: outbox.pending,
          oldestPendingEventAt: outbox.oldest,
          openExceptionsByClass: this.db
            .prepare(`SELECT class, COUNT(*) AS count FROM exceptions WHERE status = 'OPEN' GROUP BY class`)
            .all() as OperationsFigures['openExceptionsByClass'],
        };
      })
      .deferred();
  }

  async getRelayCursor(name: string): Promise<number> {
    return (
      (this.db.prepare('SELECT seq FROM relay_cursors WHERE name = ?').get(name) as { seq: number } | undefined)?.seq ??
      0
    );
  }

  async setRelayCursor(name: string, seq: number): Promise<void> {
    this.db
      .prepare(
        'INSERT INTO relay_cursors (name, seq) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq',
      )
      .run(name, seq);
  }

  async getWatermark(name: string): Promise<string | null> {
    return (
      (
        this.db.prepare('SELECT value FROM trigger_watermarks WHERE name = ?').get(name) as
          | { value: string }
          | undefined
      )?.value ?? null
    );
  }

  async setWatermark(name: string, value: string, expected: string | null): Promise<boolean> {
    const moved =
      expected === null
        ? this.db
            .prepare('INSERT INTO trigger_watermarks (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING')
            .run(name, value)
        : this.db
            .prepare('UPDATE trigger_watermarks SET value = ? WHERE name = ? AND value = ?')
            .run(value, name, expected);
    return moved.changes === 1;
  }

  async getIdempotencyRecords(keys: readonly { scope: string; key: string }[]): Promise<(IdempotencyRecord | null)[]> {
    const rows = this.db
      .prepare(
        `SELECT i.scope, i.key, i.request_hash AS requestHash, i.run_id AS runId, i.created_at AS createdAt
         FROM json_each(?) AS k JOIN idempotency_keys AS i
           ON i.scope = json_extract(k.value, '$.scope') AND i.key = json_extract(k.value, '$.key')`,
      )
      .all(JSON.stringify(keys)) as IdempotencyRecord[];
    return byKey(
      keys.map((k) => JSON.stringify([k.scope, k.key])),
      rows,
      (r) => JSON.stringify([r.scope, r.key]),
    );
  }

  async pruneOutbox(before: number): Promise<number> {
    // Never past the slowest relay's cursor: an event no relay has published yet is kept whatever its age.
    return this.db
      .prepare(`DELETE FROM outbox WHERE created_at < ? AND seq <= coalesce((SELECT min(seq) FROM relay_cursors), 0)`)
      .run(new Date(before).toISOString()).changes;
  }

  async acquireLeadership(name: string, owner: string, leaseMs: number, now: number): Promise<boolean> {
    return (
      this.db
        .prepare(
          `INSERT INTO leaders (name, owner, expires_at) VALUES (?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
           WHERE leaders.owner = excluded.owner OR leaders.expires_at < ?`,
        )
        .run(name, owner, now + leaseMs, now).changes === 1
    );
  }

  async releaseLeadership(name: string, owner: string): Promise<void> {
    this.db.prepare('DELETE FROM leaders WHERE name = ? AND owner = ?').run(name, owner);
  }

  // ---- internals (called inside transactions)

  private context(now = Date.now()): TransitionContext {
    return { now, newId: randomUUID };
  }

  /** Applies a worker's event to a run it still holds the lease on; null when the lease was lost. */
  private leased(runId: string, owner: string, event: RunEventInput): Promise<RunRecord | null> {
    return Promise.resolve(
      this.db.transaction((): RunRecord | null => {
        if (this.db.prepare('SELECT 1 FROM runs WHERE id = ? AND lease_owner = ?').get(runId, owner) === undefined)
          return null;
        return this.persist(transition(this.findRun(runId), event, this.context()));
      })(),
    );
  }

  /** Writes what a transition decided: the run row, its changed steps, audit entries, exceptions and outbox events. */
  private persist(t: Transition): RunRecord {
    const { run } = t;
    const lease = t.lease === 'keep' ? '' : ', lease_owner = ?, lease_expires_at = ?';
    const leaseParams = t.lease === 'keep' ? [] : t.lease === null ? [null, null] : [t.lease.owner, t.lease.expiresAt];
    this.db
      .prepare(
        `UPDATE runs SET status = ?, input = ?, account_id = ?, project_id = ?, sequence = ?, next_attempt_at = ?, updated_at = ?${lease} WHERE id = ?`,
      )
      .run(
        run.status,
        JSON.stringify(run.input),
        run.accountId,
        run.projectId,
        run.sequence,
        run.nextAttemptAt,
        run.updatedAt,
        ...leaseParams,
        run.id,
      );
    const step = this.db.prepare(
      `UPDATE steps SET status = ?, attempts = ?, compensation_attempts = ?, output = ?, error = ?, finished_at = ? WHERE run_id = ? AND idx = ?`,
    );
    for (const index of new Set(t.steps)) {
      const s = run.steps[index]!;
      step.run(
        s.status,
        s.attempts,
        s.compensationAttempts,
        s.output === null ? null : JSON.stringify(s.output),
        s.error === null ? null : JSON.stringify(s.error),
        s.finishedAt,
        run.id,
        index,
      );
    }
    if (t.resolveOpenExceptions !== null)
      this.db
        .prepare(
          `UPDATE exceptions SET status = 'RESOLVED', resolved_at = ?, resolution = ? WHERE run_id = ? AND status = 'OPEN'`,
        )
        .run(run.updatedAt, t.resolveOpenExceptions, run.id);
    if (t.resolveException !== null)
      this.db
        .prepare(
          `UPDATE exceptions SET status = 'RESOLVED', resolved_at = ?, resolution = ? WHERE id = ? AND status = 'OPEN'`,
        )
        .run(new Date().toISOString(), t.resolveException.note, t.resolveException.id);
    if (t.exception) {
      const e = t.exception;
      this.db
        .prepare(`INSERT INTO exceptions VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'OPEN', ?, NULL, NULL)`)
        .run(e.id, e.runId, e.flow, e.step, e.class, e.system, e.message, e.accountId, e.createdAt);
    }
    for (const entry of t.audit) this.audit(run.id, entry, entry.at ?? run.updatedAt);
    const insert = this.db.prepare(`INSERT INTO outbox (${OUTBOX_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    for (const row of outboxRows(t)) insert.run(...row);
    return run;
  }

  private audit(runId: string, entry: AuditEntry, at = new Date().toISOString()): void {
    this.db
      .prepare(
        'INSERT INTO audit_log (run_id, at, actor, role, correlation_id, caller_request_id, action, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        runId,
        at,
        entry.actor.subject,
        entry.actor.role,
        entry.actor.correlationId,
        entry.actor.callerRequestId ?? null,
        entry.action,
        entry.detail === null ? null : JSON.stringify(entry.detail),
      );
  }

  private findRun(id: string): RunRecord {
    const [run] = this.withSteps(this.db.prepare(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = ?`).all(id) as RunRow[]);
    if (!run) throw new MeridianError('NOT_FOUND', `No sync run '${id}'`, { value: id });
    return run;
  }

  private withSteps(rows: RunRow[]): RunRecord[] {
    if (rows.length === 0) return [];
    const steps = this.db
      .prepare(
        `SELECT run_id AS runId, idx AS "index", name, status, attempts, compensation_attempts AS compensationAttempts, output, error, finished_at AS finishedAt FROM steps WHERE ${inJson('run_id')} ORDER BY run_id, idx`,
      )
      .all(JSON.stringify(rows.map((r) => r.id))) as StepRow[];
    const grouped = groupByKey(
      rows.map((r) => r.id),
      steps,
      (s) => s.runId,
    );
    return rows.map((row, i) => ({
      ...row,
      input: JSON.parse(row.input) as Record<string, unknown>,
      steps: grouped[i]!.map((s) => ({
        index: s.index,
        name: s.name,
        status: s.status,
        attempts: s.attempts,
        compensationAttempts: s.compensationAttempts,
        output: s.output === null ? null : (JSON.parse(s.output) as unknown),
        error: s.error === null ? null : (JSON.parse(s.error) as StepError),
        finishedAt: s.finishedAt,
      })),
    }));
  }
}
