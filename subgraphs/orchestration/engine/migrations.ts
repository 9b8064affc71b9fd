import type { SqliteDatabase } from '../../../lib/sqlite';

/**
 * The ledger's one migration history, for both stores: each version's change in each dialect. A ledger applies, at
 * start, the versions its `schema_migrations` table does not list yet, in order, each in its own transaction (the
 * PostgreSQL adapter under an advisory lock, so processes starting together apply each one once). Append only:
 * never edit a version that has shipped.
 */
export interface Migration {
  version: number;
  name: string;
  /** SQL, or a function for a change that depends on what a ledger older than this history holds. */
  sqlite: string | ((db: SqliteDatabase) => void);
  postgres: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'runs, steps, idempotency keys, cross-references, outbox, audit log, exceptions',
    // IF NOT EXISTS: a SQLite ledger made before this history has the tables already.
    sqlite: `
CREATE TABLE IF NOT EXISTS cross_references (
  id TEXT PRIMARY KEY, entity_type TEXT NOT NULL, canonical_id TEXT NOT NULL, system TEXT NOT NULL,
  external_id TEXT NOT NULL, created_at TEXT NOT NULL, UNIQUE (entity_type, canonical_id, system)
);
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, flow TEXT NOT NULL, status TEXT NOT NULL, input TEXT NOT NULL, correlation_id TEXT NOT NULL,
  subject_key TEXT, account_id TEXT, opportunity_id TEXT, project_id TEXT, sequence INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL, lease_owner TEXT, lease_expires_at INTEGER, triggered_by TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_due ON runs(status, next_attempt_at);
CREATE INDEX IF NOT EXISTS runs_subject ON runs(subject_key);
CREATE INDEX IF NOT EXISTS runs_account ON runs(account_id);
CREATE INDEX IF NOT EXISTS runs_opportunity ON runs(opportunity_id);
CREATE INDEX IF NOT EXISTS runs_project ON runs(project_id);
CREATE INDEX IF NOT EXISTS runs_correlation ON runs(correlation_id);
CREATE TABLE IF NOT EXISTS steps (
  run_id TEXT NOT NULL REFERENCES runs(id), idx INTEGER NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, output TEXT, error TEXT, finished_at TEXT, PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS idempotency_keys (
  key TEXT PRIMARY KEY, request_hash TEXT NOT NULL, run_id TEXT NOT NULL REFERENCES runs(id), created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, type TEXT NOT NULL, sequence INTEGER NOT NULL,
  status TEXT NOT NULL, flow TEXT NOT NULL, account_id TEXT, exception_id TEXT, snapshot TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_run ON outbox(run_id, sequence);
CREATE TABLE IF NOT EXISTS relay_cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS trigger_watermarks (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL,
  action TEXT NOT NULL, detail TEXT
);
CREATE INDEX IF NOT EXISTS audit_run ON audit_log(run_id, id);
CREATE TABLE IF NOT EXISTS exceptions (
  id TEXT PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(id), flow TEXT NOT NULL, step TEXT NOT NULL,
  class TEXT NOT NULL, system TEXT, message TEXT NOT NULL, account_id TEXT, status TEXT NOT NULL,
  created_at TEXT NOT NULL, resolved_at TEXT, resolution TEXT
);
CREATE INDEX IF NOT EXISTS exceptions_run ON exceptions(run_id, status);`,
    postgres: `
CREATE SEQUENCE cross_reference_ids;
CREATE TABLE cross_references (
  id TEXT PRIMARY KEY, entity_type TEXT NOT NULL, canonical_id TEXT NOT NULL, system TEXT NOT NULL,
  external_id TEXT NOT NULL, created_at TEXT NOT NULL, UNIQUE (entity_type, canonical_id, system)
);
CREATE TABLE runs (
  id TEXT PRIMARY KEY, flow TEXT NOT NULL, status TEXT NOT NULL, input JSONB NOT NULL, correlation_id TEXT NOT NULL,
  subject_key TEXT, account_id TEXT, opportunity_id TEXT, project_id TEXT, sequence INTEGER NOT NULL,
  next_attempt_at BIGINT NOT NULL, lease_owner TEXT, lease_expires_at BIGINT, triggered_by TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX runs_due ON runs(status, next_attempt_at);
CREATE INDEX runs_subject ON runs(subject_key);
CREATE INDEX runs_account ON runs(account_id);
CREATE INDEX runs_opportunity ON runs(opportunity_id);
CREATE INDEX runs_project ON runs(project_id);
CREATE INDEX runs_correlation ON runs(correlation_id);
CREATE TABLE steps (
  run_id TEXT NOT NULL REFERENCES runs(id), idx INTEGER NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, output JSONB, error JSONB, finished_at TEXT, PRIMARY KEY (run_id, idx)
);
CREATE TABLE idempotency_keys (
  key TEXT PRIMARY KEY, request_hash TEXT NOT NULL, run_id TEXT NOT NULL REFERENCES runs(id), created_at TEXT NOT NULL
);
CREATE TABLE outbox (
  seq BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, type TEXT NOT NULL, sequence INTEGER NOT NULL,
  status TEXT NOT NULL, flow TEXT NOT NULL, account_id TEXT, exception_id TEXT, snapshot JSONB NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX outbox_run ON outbox(run_id, sequence);
CREATE TABLE relay_cursors (name TEXT PRIMARY KEY, seq BIGINT NOT NULL);
CREATE TABLE trigger_watermarks (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE audit_log (
  id BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
  detail JSONB
);
CREATE INDEX audit_run ON audit_log(run_id, id);
CREATE TABLE exceptions (
  id TEXT PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(id), flow TEXT NOT NULL, step TEXT NOT NULL,
  class TEXT NOT NULL, system TEXT, message TEXT NOT NULL, account_id TEXT, status TEXT NOT NULL,
  created_at TEXT NOT NULL, resolved_at TEXT, resolution TEXT
);
CREATE INDEX exceptions_run ON exceptions(run_id, status);`,
  },
  {
    version: 2,
    name: "the audit log keeps the caller's role and request ID",
    // A SQLite ledger made before this history may have the columns already.
    sqlite: (db) => {
      const columns = new Set(
        (db.prepare(`SELECT name FROM pragma_table_info('audit_log')`).all() as { name: string }[]).map((c) => c.name),
      );
      for (const column of ['role', 'correlation_id'])
        if (!columns.has(column)) db.exec(`ALTER TABLE audit_log ADD COLUMN ${column} TEXT`);
    },
    postgres: `ALTER TABLE audit_log ADD COLUMN role TEXT; ALTER TABLE audit_log ADD COLUMN correlation_id TEXT;`,
  },
  {
    version: 3,
    name: 'durable compensation retries, singleton leadership, outbox retention',
    sqlite: `
ALTER TABLE steps ADD COLUMN compensation_attempts INTEGER NOT NULL DEFAULT 0;
CREATE TABLE leaders (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL);
CREATE INDEX outbox_created ON outbox(created_at);`,
    postgres: `
ALTER TABLE steps ADD COLUMN compensation_attempts INTEGER NOT NULL DEFAULT 0;
CREATE TABLE leaders (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at BIGINT NOT NULL);
CREATE INDEX outbox_created ON outbox(created_at);
CREATE INDEX runs_runnable ON runs(next_attempt_at) WHERE status IN ('QUEUED', 'RUNNING', 'WAITING_RETRY', 'COMPENSATING');`,
  },
  {
    version: 4,
    name: 'idempotency keys scoped per caller (token subject); a key recorded before keeps its run creator as scope',
    sqlite: `
CREATE TABLE idempotency_keys_scoped (
  scope TEXT NOT NULL, key TEXT NOT NULL, request_hash TEXT NOT NULL, run_id TEXT NOT NULL REFERENCES runs(id),
  created_at TEXT NOT NULL, PRIMARY KEY (scope, key)
);
INSERT INTO idempotency_keys_scoped (scope, key, request_hash, run_id, created_at)
  SELECT coalesce(r.triggered_by, ''), i.key, i.request_hash, i.run_id, i.created_at
  FROM idempotency_keys AS i LEFT JOIN runs AS r ON r.id = i.run_id;
DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_scoped RENAME TO idempotency_keys;`,
    postgres: `
ALTER TABLE idempotency_keys ADD COLUMN scope TEXT NOT NULL DEFAULT '';
UPDATE idempotency_keys AS i SET scope = r.triggered_by FROM runs AS r WHERE r.id = i.run_id;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (scope, key);
ALTER TABLE idempotency_keys ALTER COLUMN scope DROP DEFAULT;`,
  },
  {
    version: 5,
    name: 'a run keeps the trace context of the call that queued it',
    sqlite: 'ALTER TABLE runs ADD COLUMN trace_context TEXT;',
    postgres: 'ALTER TABLE runs ADD COLUMN trace_context TEXT;',
  },
  {
    version: 6,
    name: "runs in insertion order, to find a subject's latest run",
    // SQLite has it already: rowid.
    sqlite: 'SELECT 1',
    postgres: `
ALTER TABLE runs ADD COLUMN created_order BIGSERIAL;
CREATE INDEX runs_subject_latest ON runs(subject_key, created_order DESC);`,
  },
  {
    version: 7,
    name: "the audit log keeps the caller's own request ID beside Meridian's",
    sqlite: 'ALTER TABLE audit_log ADD COLUMN caller_request_id TEXT;',
    postgres: 'ALTER TABLE audit_log ADD COLUMN caller_request_id TEXT;',
  },
  {
    version: 8,
    name: 'exceptions in insertion order, for lists newest first',
    // SQLite has it already: rowid.
    sqlite: 'SELECT 1',
    postgres: `
ALTER TABLE exceptions ADD COLUMN created_order BIGSERIAL;
CREATE INDEX exceptions_created_order ON exceptions(created_order);
CREATE INDEX runs_created_order ON runs(created_order);`,
  },
  {
    version: 9,
    name: "a step's first-attempt facts (posting date, rates), so every retry writes what the first attempt wrote",
    sqlite: `CREATE TABLE step_facts (run_id TEXT NOT NULL REFERENCES runs(id), idx INTEGER NOT NULL, facts TEXT NOT NULL,
  PRIMARY KEY (run_id, idx));`,
    postgres: `CREATE TABLE step_facts (run_id TEXT NOT NULL REFERENCES runs(id), idx INTEGER NOT NULL, facts JSONB NOT NULL,
  PRIMARY KEY (run_id, idx));`,
  },
];

/** Applies the migrations a SQLite ledger lacks, each in its own transaction. */
export function migrateSqlite(db: SqliteDatabase): void {
  db.exec(
    `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`,
  );
  db.transaction(() => {
    const applied = new Set(
      (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
    );
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue;
      if (typeof m.sqlite === 'string') db.exec(m.sqlite);
      else m.sqlite(db);
      db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
    }
  }).immediate();
}
