import type { ChangeFeedRequest } from './change-feed';
import { formatId, type IdPrefix } from './ids';
import type { Page, PageRequest } from './pagination';
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type SqliteDatabase = Database.Database;

/**
 * Opens (creating folder and file on first use) a SQLite database tuned for one writer and many readers:
 * WAL journal, NORMAL sync, foreign keys on. `:memory:` opens a private in-memory database.
 */
export function openSqlite(path: string): SqliteDatabase {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  return db;
}

/** SQL fragment matching `column` against a JSON array parameter: one bound value for any number of IDs. */
export function inJson(column: string): string {
  return `${column} IN (SELECT value FROM json_each(?))`;
}

/**
 * One keyset page of `table` in `id` order: rows after `page.afterKey`, `page.first` of them, whether more follow,
 * and the count across pages. `where` holds SQL conditions whose `?` take `params` in order.
 */
export function keysetPage<T>(
  db: SqliteDatabase,
  query: { table: string; columns: string; where: string[]; params: unknown[] },
  page: PageRequest,
): Page<T> {
  const filter = query.where.length ? `WHERE ${query.where.join(' AND ')}` : '';
  const { n } = db.prepare(`SELECT count(*) AS n FROM ${query.table} ${filter}`).get(...query.params) as { n: number };
  const after = page.afterKey === null ? '' : `${query.where.length ? 'AND' : 'WHERE'} id > ?`;
  const rows = db
    .prepare(`SELECT ${query.columns} FROM ${query.table} ${filter} ${after} ORDER BY id LIMIT ?`)
    .all(...query.params, ...(page.afterKey === null ? [] : [page.afterKey]), page.first + 1) as T[];
  return { nodes: rows.slice(0, page.first), hasNextPage: rows.length > page.first, totalCount: n };
}

/**
 * Like {@link keysetPage}, in insertion order (`rowid`: unique, never reused while the row lives), newest first when
 * `newestFirst`; `page.afterKey` and the returned `endKey` are rowids written as decimal text.
 */
export function insertionOrderPage<T>(
  db: SqliteDatabase,
  query: { table: string; columns: string; where: string[]; params: unknown[] },
  page: PageRequest,
  newestFirst: boolean,
): Page<T> {
  const filter = query.where.length ? `WHERE ${query.where.join(' AND ')}` : '';
  const { n } = db.prepare(`SELECT count(*) AS n FROM ${query.table} ${filter}`).get(...query.params) as { n: number };
  const after =
    page.afterKey === null ? '' : `${query.where.length ? 'AND' : 'WHERE'} rowid ${newestFirst ? '<' : '>'} ?`;
  const rows = db
    .prepare(
      `SELECT ${query.columns}, rowid AS orderKey FROM ${query.table} ${filter} ${after}
       ORDER BY rowid ${newestFirst ? 'DESC' : 'ASC'} LIMIT ?`,
    )
    .all(...query.params, ...(page.afterKey === null ? [] : [Number(page.afterKey)]), page.first + 1) as (T & {
    orderKey: number;
  })[];
  const nodes = rows.slice(0, page.first).map(({ orderKey: _, ...row }) => row as T);
  const last = rows[Math.min(rows.length, page.first) - 1];
  return { nodes, hasNextPage: rows.length > page.first, totalCount: n, endKey: last ? String(last.orderKey) : null };
}

/**
 * The next ID of `table` for IDs shaped `PREFIX-000123` (zero-padded per `ID_WIDTH`, so text order is
 * number order): one above the highest in use, so records created at run time continue after the seeded ones.
 * Reads one index entry. Call inside the transaction that inserts the row.
 */
export function nextId(db: SqliteDatabase, table: string, prefix: IdPrefix): string {
  const last = db
    .prepare(`SELECT id FROM ${table} WHERE id > ? AND id < ? ORDER BY id DESC LIMIT 1`)
    .get(`${prefix}-`, `${prefix}.`) as { id: string } | undefined;
  const n = last ? Number(last.id.slice(prefix.length + 1)) + 1 : 1;
  return formatId(prefix, n);
}

/**
 * One page of `table`'s change feed: rows changed at or after `request.since`, in (`updated_at`, `id`) order, after
 * `request.after`, `request.first` of them, whether more follow, and the count since `since`. Wants an index on
 * (`updated_at`, `id`).
 */
export function changesPage<T>(
  db: SqliteDatabase,
  query: { table: string; columns: string },
  request: ChangeFeedRequest,
): Page<T> {
  const since = request.since === null ? '' : 'WHERE updated_at >= ?';
  const sinceParams = request.since === null ? [] : [request.since];
  const { n } = db.prepare(`SELECT count(*) AS n FROM ${query.table} ${since}`).get(...sinceParams) as { n: number };
  const after = request.after === null ? '' : `${since ? 'AND' : 'WHERE'} (updated_at, id) > (?, ?)`;
  const afterParams = request.after === null ? [] : [request.after.updatedAt, request.after.id];
  const rows = db
    .prepare(`SELECT ${query.columns} FROM ${query.table} ${since} ${after} ORDER BY updated_at, id LIMIT ?`)
    .all(...sinceParams, ...afterParams, request.first + 1) as T[];
  return { nodes: rows.slice(0, request.first), hasNextPage: rows.length > request.first, totalCount: n };
}

/**
 * The `updated_at` to give a row of `table` changed now: the clock's time, or one millisecond after the latest stamp
 * in the table when the clock has not passed it (two changes in one millisecond, or a clock set back). So stamps
 * increase strictly in commit order, and a reader that resumes after the last (`updated_at`, `id`) it saw never
 * misses a later change. Call inside the transaction that writes the row.
 */
export function nextChangeStamp(db: SqliteDatabase, table: string, now = Date.now()): string {
  const { last } = db.prepare(`SELECT max(updated_at) AS last FROM ${table}`).get() as { last: string | null };
  const after = last === null ? Number.NEGATIVE_INFINITY : Date.parse(last) + 1;
  return new Date(Math.max(now, after)).toISOString();
}

/**
 * The next ID of `table`, above every ID it ever issued: a store that deletes records keeps their IDs in a
 * `deleted_ids (id TEXT PRIMARY KEY)` table, so an ID a caller may still hold (a cross-reference of an abandoned run)
 * never names another record, as in the SaaS. Call inside the transaction that inserts the row.
 */
export function issueId(db: SqliteDatabase, table: string, prefix: IdPrefix): string {
  const live = nextId(db, table, prefix);
  const deleted = nextId(db, 'deleted_ids', prefix);
  return live > deleted ? live : deleted;
}

/** One step of a store's schema: SQL to run, or a function for a step SQL alone cannot say. */
export type Migration = string | ((db: SqliteDatabase) => void);

/**
 * Brings `db` to the last of `migrations`. `PRAGMA user_version` counts the steps a file has had; each pending step
 * runs in one transaction with the version it reaches, so a crash leaves the file at a whole version. The list is
 * append-only: never edit a step that has shipped, add one.
 * @throws Error when the file is at a higher version than `migrations` knows (written by a newer release).
 */
export function migrate(db: SqliteDatabase, migrations: readonly Migration[]): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > migrations.length)
    throw new Error(
      `${db.name} is at schema version ${version}, newer than this release knows (${migrations.length}); upgrade Meridian`,
    );
  for (let i = version; i < migrations.length; i++) {
    const step = migrations[i]!;
    db.transaction(() => {
      if (typeof step === 'string') db.exec(step);
      else step(db);
      db.pragma(`user_version = ${i + 1}`);
    })();
  }
}

/** True when `table` has `column`: for the first migration step of files from before a store kept versions. */
export function hasColumn(db: SqliteDatabase, table: string, column: string): boolean {
  return db.prepare(`SELECT 1 FROM pragma_table_info(?) WHERE name = ?`).get(table, column) !== undefined;
}
