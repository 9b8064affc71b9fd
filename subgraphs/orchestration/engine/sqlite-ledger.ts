import { randomUUID } from 'node:crypto';
import { byKey, groupByKey } from '../../../lib/batch';
import { MeridianError } from '../../../lib/errors';
import { formatId } from '../../../lib/ids';
import type { Page, PageRequest } from '../../../lib/pagination';
import { inJson, keysetPage, nextId, openSqlite, type SqliteDatabase } from '../../../lib/sqlite';
import {
  SYSTEM_ACTOR,
  type Actor,
  type AuditRecord,
  type CrossReferenceEntity,
  type CrossReferenceRecord,
  type ExceptionFilter,
  type ExceptionRecord,
  type Ledger,
  type NewCrossReference,
  type NewRun,
  type OutboxEvent,
  type RunFilter,
  type RunRecord,
  type RunStatus,
  type StepError,
  type StepRecord,
} from './ledger';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS cross_references (
  id TEXT PRIMARY KEY,
  entity_type TEXT NOT NULL,
  canonical_id TEXT NOT NULL,
  system TEXT NOT NULL,
  external_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (entity_type, canonical_id, system)
);
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  flow TEXT NOT NULL,
  status TEXT NOT NULL,
  input TEXT NOT NULL,
  correlation_id TEXT NOT NULL,
  subject_key TEXT,
  account_id TEXT,
  opportunity_id TEXT,
  project_id TEXT,
  sequence INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  lease_owner TEXT,
  lease_expires_at INTEGER,
  triggered_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_due ON runs(status, next_attempt_at);
CREATE INDEX IF NOT EXISTS runs_subject ON runs(subject_key);
CREATE INDEX IF NOT EXISTS runs_account ON runs(account_id);
CREATE INDEX IF NOT EXISTS runs_opportunity ON runs(opportunity_id);
CREATE INDEX IF NOT EXISTS runs_project ON runs(project_id);
CREATE INDEX IF NOT EXISTS runs_correlation ON runs(correlation_id);
CREATE TABLE IF NOT EXISTS steps (
  run_id TEXT NOT NULL REFERENCES runs(id),
  idx INTEGER NOT NULL,
  name TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  output TEXT,
  error TEXT,
  finished_at TEXT,
  PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS idempotency_keys (
  key TEXT PRIMARY KEY,
  request_hash TEXT NOT NULL,
  run_id TEXT NOT NULL REFERENCES runs(id),
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL,
  type TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  status TEXT NOT NULL,
  flow TEXT NOT NULL,
  account_id TEXT,
  exception_id TEXT,
  snapshot TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_run ON outbox(run_id, sequence);
CREATE TABLE IF NOT EXISTS relay_cursors (
  name TEXT PRIMARY KEY,
  seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS trigger_watermarks (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  detail TEXT,
  role TEXT,
  correlation_id TEXT
);
CREATE INDEX IF NOT EXISTS audit_run ON audit_log(run_id, id);
CREATE TABLE IF NOT EXISTS exceptions (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs(id),
  flow TEXT NOT NULL,
  step TEXT NOT NULL,
  class TEXT NOT NULL,
  system TEXT,
  message TEXT NOT NULL,
  account_id TEXT,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  resolved_at TEXT,
  resolution TEXT
);
CREATE INDEX IF NOT EXISTS exceptions_run ON exceptions(run_id, status);
`;

// Qualified, so the same list serves the plain reads and the join over a JSON key table.
const XREF_COLUMNS = `c.id, c.entity_type AS entityType, c.canonical_id AS canonicalId, c.system, c.external_id AS externalId, c.created_at AS createdAt`;
const RUN_COLUMNS = `id, flow, status, input, correlation_id AS correlationId, subject_key AS subjectKey, account_id AS accountId,
  opportunity_id AS opportunityId, project_id AS projectId, sequence, next_attempt_at AS nextAttemptAt,
  triggered_by AS triggeredBy, created_at AS createdAt, updated_at AS updatedAt`;
const EXCEPTION_COLUMNS = `id, run_id AS runId, flow, step, class, system, message, account_id AS accountId, status,
  created_at AS createdAt, resolved_at AS resolvedAt, resolution`;

/** Run states a worker may take up. */
const RUNNABLE: RunStatus[] = ['QUEUED', 'RUNNING', 'WAITING_RETRY', 'COMPENSATING'];
/** Run states in which a subject counts as taken, per `NewRun.subjectReuse`. */
const SUBJECT_TAKEN: Record<NewRun['subjectReuse'], RunStatus[]> = {
  ever: ['QUEUED', 'RUNNING', 'WAITING_RETRY', 'SUCCEEDED', 'EXCEPTION', 'COMPENSATING', 'COMPENSATION_FAILED'],
  active: ['QUEUED', 'RUNNING', 'WAITING_RETRY', 'EXCEPTION', 'COMPENSATING'],
};

type RunRow = Omit<RunRecord, 'input' | 'steps'> & { input: string };
type StepRow = {
  runId: string;
  index: number;
  name: string;
  status: StepRecord['status'];
  attempts: number;
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
    this.db.exec(SCHEMA);
    // Ledgers created before the audit log kept the caller's role and request ID get the columns (appended last, as
    // SCHEMA has them); their earlier entries keep null there.
    const columns = new Set(
      (this.db.prepare(`SELECT name FROM pragma_table_info('audit_log')`).all() as { name: string }[]).map(
        (c) => c.name,
      ),
    );
    for (const column of ['role', 'correlation_id'])
      if (!columns.has(column)) this.db.exec(`ALTER TABLE audit_log ADD COLUMN ${column} TEXT`);
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
    const actor = run.triggeredBy;
    return this.db
      .transaction((): { run: RunRecord; created: boolean } => {
        if (run.idempotency) {
          const seen = this.db
            .prepare('SELECT request_hash AS hash, run_id AS runId FROM idempotency_keys WHERE key = ?')
            .get(run.idempotency.key) as { hash: string; runId: string } | undefined;
          if (seen) {
            if (seen.hash !== run.idempotency.requestHash) {
              throw new MeridianError(
                'IDEMPOTENCY_KEY_REUSED',
                `The idempotency key '${run.idempotency.key}' was already used with a different input (run ${seen.runId})`,
                {
                  runId: seen.runId,
                  field: 'idempotencyKey',
                },
              );
            }
            if (run.auditRepeats)
              this.audit(seen.runId, actor, 'RUN_REQUEST_REPLAYED', { idempotencyKey: run.idempotency.key });
            return { run: this.runById(seen.runId), created: false };
          }
        }
        let existing: string | undefined;
        if (run.subjectKey) {
          existing = (
            this.db
              .prepare(`SELECT id FROM runs WHERE subject_key = ? AND ${inJson('status')} ORDER BY created_at LIMIT 1`)
              .get(run.subjectKey, JSON.stringify(SUBJECT_TAKEN[run.subjectReuse])) as { id: string } | undefined
          )?.id;
        }
        const now = new Date().toISOString();
        const id = existing ?? `RUN-${randomUUID()}`;
        if (!existing) {
          this.db
            .prepare(
              `INSERT INTO runs (id, flow, status, input, correlation_id, subject_key, account_id, opportunity_id, project_id, sequence,
               next_attempt_at, triggered_by, created_at, updated_at)
             VALUES (?, ?, 'QUEUED', ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)`,
            )
            .run(
              id,
              run.flow,
              JSON.stringify(run.input),
              randomUUID(),
              run.subjectKey,
              run.accountId,
              run.opportunityId,
              run.projectId,
              Date.now(),
              actor.subject,
              now,
              now,
            );
          const step = this.db.prepare(`INSERT INTO steps (run_id, idx, name, status) VALUES (?, ?, ?, 'PENDING')`);
          for (const [i, name] of run.stepNames.entries()) step.run(id, i, name);
          this.audit(id, actor, 'RUN_CREATED', { flow: run.flow, input: run.input });
          this.emit(id, 'SYNC_RUN_UPDATED');
        } else if (run.auditRepeats) {
          this.audit(id, actor, 'RUN_REQUEST_DEDUPLICATED', {
            flow: run.flow,
            input: run.input,
            idempotencyKey: run.idempotency?.key ?? null,
          });
        }
        if (run.idempotency) {
          this.db
            .prepare('INSERT INTO idempotency_keys VALUES (?, ?, ?, ?)')
            .run(run.idempotency.key, run.idempotency.requestHash, id, now);
        }
        return { run: this.runById(id), created: !existing };
      })
      .immediate();
  }

  async getRuns(ids: readonly string[]): Promise<(RunRecord | null)[]> {
    const rows = this.db
      .prepare(`SELECT ${RUN_COLUMNS} FROM runs WHERE ${inJson('id')}`)
      .all(JSON.stringify(ids)) as RunRow[];
    return byKey(ids, this.withSteps(rows), (r) => r.id);
  }

  async listRuns(page: PageRequest, filter: RunFilter = {}): Promise<Page<RunRecord>> {
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
    const result = keysetPage<RunRow>(this.db, { table: 'runs', columns: RUN_COLUMNS, where, params }, page);
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
            `SELECT id, status FROM runs WHERE ${inJson('status')} AND next_attempt_at <= ? AND (lease_expires_at IS NULL OR lease_expires_at < ?)
           ORDER BY next_attempt_at, id LIMIT 1`,
          )
          .get(JSON.stringify(RUNNABLE), now, now) as { id: string; status: RunStatus } | undefined;
        if (!due) return null;
        // Starting (or resuming after a wait) is a change subscribers see; a takeover of a running run is not.
        const starts = due.status === 'QUEUED' || due.status === 'WAITING_RETRY';
        this.db
          .prepare(
            `UPDATE runs SET lease_owner = ?, lease_expires_at = ?, status = ?, sequence = sequence + ?, updated_at = ? WHERE id = ?`,
          )
          .run(
            owner,
            now + leaseMs,
            starts ? 'RUNNING' : due.status,
            starts ? 1 : 0,
            new Date(now).toISOString(),
            due.id,
          );
        if (starts) this.emit(due.id, 'SYNC_RUN_UPDATED');
        return this.runById(due.id);
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
    return this.db.transaction((): RunRecord | null => {
      if (!this.holds(runId, owner)) return null;
      const now = new Date().toISOString();
      this.db
        .prepare(
          `UPDATE steps SET status = 'SUCCEEDED', attempts = attempts + 1, output = ?, error = NULL, finished_at = ? WHERE run_id = ? AND idx = ?`,
        )
        .run(JSON.stringify(output ?? null), now, runId, index);
      const remaining = (
        this.db.prepare(`SELECT count(*) AS n FROM steps WHERE run_id = ? AND status <> 'SUCCEEDED'`).get(runId) as {
          n: number;
        }
      ).n;
      const status: RunStatus = remaining === 0 ? 'SUCCEEDED' : 'RUNNING';
      this.db
        .prepare(
          `UPDATE runs SET status = ?, sequence = sequence + 1, updated_at = ?, account_id = coalesce(?, account_id), project_id = coalesce(?, project_id) WHERE id = ?`,
        )
        .run(status, now, ids.accountId ?? null, ids.projectId ?? null, runId);
      const step = this.stepName(runId, index);
      this.audit(runId, SYSTEM_ACTOR, 'STEP_SUCCEEDED', { step, output });
      if (status === 'SUCCEEDED') this.audit(runId, SYSTEM_ACTOR, 'RUN_SUCCEEDED', null);
      this.emit(runId, 'SYNC_RUN_UPDATED');
      return this.runById(runId);
    })();
  }

  async failStep(
    runId: string,
    owner: string,
    index: number,
    error: StepError,
    retryAt: number | null,
  ): Promise<RunRecord | null> {
    return this.db.transaction((): RunRecord | null => {
      if (!this.holds(runId, owner)) return null;
      const now = new Date().toISOString();
      const step = this.stepName(runId, index);
      this.db
        .prepare(`UPDATE steps SET status = ?, attempts = attempts + 1, error = ? WHERE run_id = ? AND idx = ?`)
        .run(retryAt === null ? 'FAILED' : 'PENDING', JSON.stringify(error), runId, index);
      if (retryAt !== null) {
        this.db
          .prepare(
            `UPDATE runs SET status = 'WAITING_RETRY', next_attempt_at = ?, lease_owner = NULL, lease_expires_at = NULL, sequence = sequence + 1, updated_at = ? WHERE id = ?`,
          )
          .run(retryAt, now, runId);
        this.audit(runId, SYSTEM_ACTOR, 'STEP_RETRY_SCHEDULED', {
          step,
          error,
          retryAt: new Date(retryAt).toISOString(),
        });
        this.emit(runId, 'SYNC_RUN_UPDATED');
      } else {
        this.db
          .prepare(
            `UPDATE runs SET status = 'EXCEPTION', lease_owner = NULL, lease_expires_at = NULL, sequence = sequence + 1, updated_at = ? WHERE id = ?`,
          )
          .run(now, runId);
        this.raiseException(runId, step, error);
      }
      return this.runById(runId);
    })();
  }

  async compensateStep(
    runId: string,
    owner: string,
    index: number,
    error: StepError | null,
  ): Promise<RunRecord | null> {
    return this.db.transaction((): RunRecord | null => {
      if (!this.holds(runId, owner)) return null;
      const now = new Date().toISOString();
      const step = this.stepName(runId, index);
      this.db
        .prepare(
          `UPDATE steps SET status = ?, error = coalesce(?, error), finished_at = ? WHERE run_id = ? AND idx = ?`,
        )
        .run(error ? 'COMPENSATION_FAILED' : 'COMPENSATED', error ? JSON.stringify(error) : null, now, runId, index);
      this.db.prepare(`UPDATE runs SET sequence = sequence + 1, updated_at = ? WHERE id = ?`).run(now, runId);
      this.audit(runId, SYSTEM_ACTOR, error ? 'COMPENSATION_FAILED' : 'STEP_COMPENSATED', { step, error });
      if (error) this.raiseException(runId, step, error);
      else this.emit(runId, 'SYNC_RUN_UPDATED');
      return this.runById(runId);
    })();
  }

  async endCompensation(runId: string, owner: string): Promise<RunRecord | null> {
    return this.db.transaction((): RunRecord | null => {
      if (!this.holds(runId, owner)) return null;
      const failed = (
        this.db
          .prepare(`SELECT count(*) AS n FROM steps WHERE run_id = ? AND status = 'COMPENSATION_FAILED'`)
          .get(runId) as { n: number }
      ).n;
      const status: RunStatus = failed ? 'COMPENSATION_FAILED' : 'ABANDONED';
      this.db
        .prepare(
          `UPDATE runs SET status = ?, lease_owner = NULL, lease_expires_at = NULL, sequence = sequence + 1, updated_at = ? WHERE id = ?`,
        )
        .run(status, new Date().toISOString(), runId);
      this.audit(runId, SYSTEM_ACTOR, status === 'ABANDONED' ? 'RUN_ABANDONED' : 'RUN_COMPENSATION_FAILED', null);
      this.emit(runId, 'SYNC_RUN_UPDATED');
      return this.runById(runId);
    })();
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

  async retryRun(id: string, actor: Actor, patch?: Record<string, unknown>): Promise<RunRecord> {
    return this.db.transaction((): RunRecord => {
      const run = this.findRun(id);
      if (run.status !== 'EXCEPTION') {
        throw new MeridianError(
          'INVALID_STATE',
          `Run ${id} is ${run.status}; only a run stopped on an exception can be retried`,
          { runId: id },
        );
      }
      const input = patch ? { ...run.input, ...patch } : run.input;
      const now = new Date().toISOString();
      this.db.prepare(`UPDATE steps SET status = 'PENDING' WHERE run_id = ? AND status = 'FAILED'`).run(id);
      this.db
        .prepare(
          `UPDATE runs SET status = 'QUEUED', input = ?, next_attempt_at = ?, sequence = sequence + 1, updated_at = ? WHERE id = ?`,
        )
        .run(JSON.stringify(input), Date.now(), now, id);
      this.db
        .prepare(
          `UPDATE exceptions SET status = 'RESOLVED', resolved_at = ?, resolution = ? WHERE run_id = ? AND status = 'OPEN'`,
        )
        .run(now, patch ? `Retried with ${JSON.stringify(patch)}` : 'Retried', id);
      this.audit(id, actor, patch ? 'RUN_RETRIED_WITH_INPUT' : 'RUN_RETRIED', patch ? { patch } : null);
      this.emit(id, 'SYNC_RUN_UPDATED');
      return this.runById(id);
    })();
  }

  async abandonRun(id: string, actor: Actor): Promise<RunRecord> {
    return this.db.transaction((): RunRecord => {
      const run = this.findRun(id);
      if (!['QUEUED', 'WAITING_RETRY', 'EXCEPTION'].includes(run.status)) {
        throw new MeridianError(
          'INVALID_STATE',
          `Run ${id} is ${run.status}; only a queued, waiting or stopped run can be abandoned`,
          { runId: id },
        );
      }
      const now = new Date().toISOString();
      this.db.prepare(`UPDATE steps SET status = 'PENDING' WHERE run_id = ? AND status = 'FAILED'`).run(id);
      this.db
        .prepare(
          `UPDATE runs SET status = 'COMPENSATING', next_attempt_at = ?, sequence = sequence + 1, updated_at = ? WHERE id = ?`,
        )
        .run(Date.now(), now, id);
      this.db
        .prepare(
          `UPDATE exceptions SET status = 'RESOLVED', resolved_at = ?, resolution = 'Abandoned' WHERE run_id = ? AND status = 'OPEN'`,
        )
        .run(now, id);
      this.audit(id, actor, 'RUN_ABANDON_REQUESTED', null);
      this.emit(id, 'SYNC_RUN_UPDATED');
      return this.runById(id);
    })();
  }

  async resolveException(id: string, actor: Actor, note: string): Promise<ExceptionRecord> {
    return this.db.transaction((): ExceptionRecord => {
      const found = this.db.prepare(`SELECT ${EXCEPTION_COLUMNS} FROM exceptions WHERE id = ?`).get(id) as
        | ExceptionRecord
        | undefined;
      if (!found) throw new MeridianError('NOT_FOUND', `No exception '${id}'`, { value: id });
      if (found.status === 'RESOLVED') {
        this.audit(found.runId, actor, 'EXCEPTION_RESOLVE_REPEATED', { exceptionId: id, note });
        return found;
      }
      this.db
        .prepare(`UPDATE exceptions SET status = 'RESOLVED', resolved_at = ?, resolution = ? WHERE id = ?`)
        .run(new Date().toISOString(), note, id);
      this.audit(found.runId, actor, 'EXCEPTION_RESOLVED', { exceptionId: id, note });
      return this.db.prepare(`SELECT ${EXCEPTION_COLUMNS} FROM exceptions WHERE id = ?`).get(id) as ExceptionRecord;
    })();
  }

  async getExceptions(ids: readonly string[]): Promise<(ExceptionRecord | null)[]> {
    const rows = this.db
      .prepare(`SELECT ${EXCEPTION_COLUMNS} FROM exceptions WHERE ${inJson('id')}`)
      .all(JSON.stringify(ids)) as ExceptionRecord[];
    return byKey(ids, rows, (r) => r.id);
  }

  async listExceptions(page: PageRequest, filter: ExceptionFilter = {}): Promise<Page<ExceptionRecord>> {
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
    return keysetPage(this.db, { table: 'exceptions', columns: EXCEPTION_COLUMNS, where, params }, page);
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
        `SELECT id, run_id AS runId, at, actor, role, correlation_id AS correlationId, action, detail FROM audit_log WHERE ${inJson('run_id')} ORDER BY id`,
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

  // ---- internals (called inside transactions)

  private holds(runId: string, owner: string): boolean {
    return this.db.prepare('SELECT 1 FROM runs WHERE id = ? AND lease_owner = ?').get(runId, owner) !== undefined;
  }

  private stepName(runId: string, index: number): string {
    return (
      this.db.prepare('SELECT name FROM steps WHERE run_id = ? AND idx = ?').get(runId, index) as { name: string }
    ).name;
  }

  private raiseException(runId: string, step: string, error: StepError): void {
    const run = this.runById(runId);
    const id = `EXC-${randomUUID()}`;
    this.db
      .prepare(`INSERT INTO exceptions VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'OPEN', ?, NULL, NULL)`)
      .run(
        id,
        runId,
        run.flow,
        step,
        error.class,
        error.system,
        error.message,
        run.accountId,
        new Date().toISOString(),
      );
    this.audit(runId, SYSTEM_ACTOR, 'EXCEPTION_RAISED', { exceptionId: id, step, error });
    this.emit(runId, 'SYNC_RUN_UPDATED');
    this.emit(runId, 'EXCEPTION_RAISED', id);
  }

  private audit(runId: string, actor: Actor, action: string, detail: unknown): void {
    this.db
      .prepare(
        'INSERT INTO audit_log (run_id, at, actor, role, correlation_id, action, detail) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        runId,
        new Date().toISOString(),
        actor.subject,
        actor.role,
        actor.correlationId,
        action,
        detail === null ? null : JSON.stringify(detail),
      );
  }

  /** Writes an outbox event with the run as it is now, so a reader can see the run at exactly that sequence. */
  private emit(runId: string, type: OutboxEvent['type'], exceptionId: string | null = null): void {
    const run = this.runById(runId);
    this.db
      .prepare(
        `INSERT INTO outbox (run_id, type, sequence, status, flow, account_id, exception_id, snapshot, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        runId,
        type,
        run.sequence,
        run.status,
        run.flow,
        run.accountId,
        exceptionId,
        JSON.stringify(run),
        new Date().toISOString(),
      );
  }

  private findRun(id: string): RunRecord {
    const [run] = this.withSteps(this.db.prepare(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = ?`).all(id) as RunRow[]);
    if (!run) throw new MeridianError('NOT_FOUND', `No sync run '${id}'`, { value: id });
    return run;
  }

  private runById(id: string): RunRecord {
    return this.findRun(id);
  }

  private withSteps(rows: RunRow[]): RunRecord[] {
    if (rows.length === 0) return [];
    const steps = this.db
      .prepare(
        `SELECT run_id AS runId, idx AS "index", name, status, attempts, output, error, finished_at AS finishedAt FROM steps WHERE ${inJson('run_id')} ORDER BY run_id, idx`,
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
        output: s.output === null ? null : (JSON.parse(s.output) as unknown),
        error: s.error === null ? null : (JSON.parse(s.error) as StepError),
        finishedAt: s.finishedAt,
      })),
    }));
  }
}
