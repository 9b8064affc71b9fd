import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasColumn, migrate, openSqlite, type Migration, type SqliteDatabase } from '../lib/sqlite';
import { SqliteCrmConnector } from '../subgraphs/crm/connector/reference/sqlite-crm-connector';
import { SqliteErpConnector } from '../subgraphs/erp/connector/reference/sqlite-erp-connector';
import { SqlitePsaConnector } from '../subgraphs/psa/connector/reference/sqlite-psa-connector';

const version = (db: SqliteDatabase) => db.pragma('user_version', { simple: true }) as number;

describe('migrate', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'meridian-migrate-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs each pending step once, in order, and records the version in user_version', () => {
    const ran: string[] = [];
    const steps: Migration[] = [
      'CREATE TABLE t (id TEXT PRIMARY KEY)',
      (db) => {
        ran.push('add name');
        db.exec('ALTER TABLE t ADD COLUMN name TEXT');
      },
    ];
    const db = openSqlite(join(dir, 'a.db'));
    migrate(db, steps);
    migrate(db, steps);
    expect([version(db), hasColumn(db, 't', 'name'), ran]).toEqual([2, true, ['add name']]);

    migrate(db, [...steps, 'CREATE INDEX t_name ON t(name)']);
    expect(version(db)).toBe(3);
    db.close();
  });

  it('leaves a file at its last whole version when a step fails', () => {
    const db = openSqlite(join(dir, 'b.db'));
    const steps: Migration[] = ['CREATE TABLE t (id TEXT)', 'CREATE TABLE u (id TEXT)', 'CREATE TABLE t (id TEXT)'];
    expect(() => migrate(db, steps)).toThrow(/already exists/);
    expect(version(db)).toBe(2);
    expect(db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).pluck().all()).toEqual([
      't',
      'u',
    ]);
    db.close();
  });

  it('refuses a file written by a newer release', () => {
    const db = openSqlite(join(dir, 'c.db'));
    db.pragma('user_version = 5');
    expect(() => migrate(db, ['CREATE TABLE t (id TEXT)'])).toThrow(
      /is at schema version 5, newer than this release knows \(1\)/,
    );
    db.close();
  });

  it('brings every reference system to its latest version, and opens it again unchanged', () => {
    const versions = () =>
      ['crm', 'psa', 'erp'].map((name) => {
        const db = new Database(join(dir, `${name}.db`), { readonly: true });
        const v = version(db);
        db.close();
        return v;
      });
    const open = () => [
      new SqliteCrmConnector(join(dir, 'crm.db')),
      new SqlitePsaConnector(join(dir, 'psa.db')),
      new SqliteErpConnector(join(dir, 'erp.db')),
    ];
    for (const c of open()) c.close();
    const first = versions();
    expect(first).toEqual([6, 4, 7]);
    for (const c of open()) c.close();
    expect(versions()).toEqual(first);
  });
});
