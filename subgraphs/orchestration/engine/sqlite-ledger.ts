import { groupByKey, byKey } from '../../../lib/batch';
import { formatId } from '../../../lib/ids';
import { inJson, nextId, openSqlite, type SqliteDatabase } from '../../../lib/sqlite';
import type { CrossReferenceEntity, CrossReferenceRecord, Ledger, NewCrossReference } from './ledger';

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
`;

// Qualified, so the same list serves the plain reads and the join over a JSON key table.
const COLUMNS = `c.id, c.entity_type AS entityType, c.canonical_id AS canonicalId, c.system, c.external_id AS externalId, c.created_at AS createdAt`;

/** The ledger on a SQLite file: the default, with no server to run. */
export class SqliteLedger implements Ledger {
  readonly kind = 'sqlite';
  private readonly db: SqliteDatabase;

  /** Opens (creating on first use) the ledger at `path`; `:memory:` for a private one. */
  constructor(path: string) {
    this.db = openSqlite(path);
    this.db.exec(SCHEMA);
  }

  /** True when no link is recorded yet (so start-up seeds the demo links). */
  isEmpty(): boolean {
    return this.db.prepare('SELECT 1 FROM cross_references LIMIT 1').get() === undefined;
  }

  /** Inserts demo links with fresh IDs in one transaction. */
  seedCrossReferences(links: readonly NewCrossReference[], createdAt: string): void {
    const insert = this.db.prepare(`INSERT INTO cross_references VALUES (?, ?, ?, ?, ?, ?)`);
    this.db.transaction(() => {
      let n = Number(nextId(this.db, 'cross_references', 'XREF').slice('XREF-'.length));
      for (const l of links) insert.run(formatId('XREF', n++), l.entityType, l.canonicalId, l.system, l.externalId, createdAt);
    })();
  }

  close(): void {
    this.db.close();
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async getCrossReferences(ids: readonly string[]): Promise<(CrossReferenceRecord | null)[]> {
    const rows = this.db.prepare(`SELECT ${COLUMNS} FROM cross_references AS c WHERE ${inJson('c.id')}`).all(JSON.stringify(ids)) as CrossReferenceRecord[];
    return byKey(ids, rows, (r) => r.id);
  }

  async getCrossReferencesByEntity(keys: readonly { entityType: CrossReferenceEntity; canonicalId: string }[]): Promise<CrossReferenceRecord[][]> {
    // Joining the keys as a JSON table lets SQLite use the (entity_type, canonical_id, system) index.
    const rows = this.db
      .prepare(
        `SELECT ${COLUMNS} FROM json_each(?) AS k
         JOIN cross_references AS c ON c.entity_type = json_extract(k.value, '$.entityType') AND c.canonical_id = json_extract(k.value, '$.canonicalId')
         ORDER BY c.created_at, c.id`,
      )
      .all(JSON.stringify(keys)) as CrossReferenceRecord[];
    return groupByKey(keys.map((k) => `${k.entityType}:${k.canonicalId}`), rows, (r) => `${r.entityType}:${r.canonicalId}`);
  }

  async recordCrossReferences(links: readonly NewCrossReference[]): Promise<CrossReferenceRecord[]> {
    const find = this.db.prepare(`SELECT ${COLUMNS} FROM cross_references AS c WHERE entity_type = ? AND canonical_id = ? AND system = ?`);
    const insert = this.db.prepare(`INSERT INTO cross_references VALUES (?, ?, ?, ?, ?, ?)`);
    return this.db.transaction(() =>
      links.map((l) => {
        const existing = find.get(l.entityType, l.canonicalId, l.system) as CrossReferenceRecord | undefined;
        if (existing) return existing;
        insert.run(nextId(this.db, 'cross_references', 'XREF'), l.entityType, l.canonicalId, l.system, l.externalId, new Date().toISOString());
        return find.get(l.entityType, l.canonicalId, l.system) as CrossReferenceRecord;
      }),
    )();
  }
}
