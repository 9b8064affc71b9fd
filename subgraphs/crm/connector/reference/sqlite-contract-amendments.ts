import { byKey, groupByKey } from '../../../../lib/batch';
import { MeridianError } from '../../../../lib/errors';
import type { Page, PageRequest } from '../../../../lib/pagination';
import { inJson, keysetPage, nextId, type SqliteDatabase } from '../../../../lib/sqlite';
import type {
  ContractAmendmentCommands,
  ContractAmendmentFilter,
  ContractAmendmentRecord,
  UpsertContractAmendment,
} from '../contract-amendments';
import type { Upserted } from '../crm-connector';

/** The CRM's contract amendments table: a migration step of the reference CRM. */
export const CONTRACT_AMENDMENTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS contract_amendments (
  id TEXT PRIMARY KEY,
  opportunity_id TEXT NOT NULL REFERENCES opportunities(id),
  external_id TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL,
  reason TEXT,
  new_amount_minor INTEGER,
  currency TEXT,
  new_end_date TEXT,
  add_milestones TEXT NOT NULL,
  remove_milestone_ids TEXT NOT NULL,
  change_milestones TEXT NOT NULL,
  created_at TEXT NOT NULL,
  approved_at TEXT,
  applied_at TEXT,
  psa_project_id TEXT
);
CREATE INDEX IF NOT EXISTS contract_amendments_opportunity ON contract_amendments(opportunity_id, id);
CREATE INDEX IF NOT EXISTS contract_amendments_status ON contract_amendments(status, id);
`;

const COLUMNS = `id, opportunity_id AS opportunityId, external_id AS externalId, status, reason, new_amount_minor AS newAmountMinor,
  currency, new_end_date AS newEndDate, add_milestones AS addMilestones, remove_milestone_ids AS removeMilestoneIds,
  change_milestones AS changeMilestones, created_at AS createdAt, approved_at AS approvedAt, applied_at AS appliedAt,
  psa_project_id AS psaProjectId`;

/** The lists are JSON text in the row until mapped back here. */
type Row = Omit<ContractAmendmentRecord, 'addMilestones' | 'removeMilestoneIds' | 'changeMilestones'> & {
  addMilestones: string;
  removeMilestoneIds: string;
  changeMilestones: string;
};

const toRecord = (row: Row): ContractAmendmentRecord => ({
  ...row,
  addMilestones: JSON.parse(row.addMilestones) as ContractAmendmentRecord['addMilestones'],
  removeMilestoneIds: JSON.parse(row.removeMilestoneIds) as string[],
  changeMilestones: JSON.parse(row.changeMilestones) as ContractAmendmentRecord['changeMilestones'],
});

/** The fields of an amendment that say what it changes: equal ones make an upsert a repeat. */
const content = (a: Omit<UpsertContractAmendment, 'at' | 'externalId'>) =>
  JSON.stringify([
    a.opportunityId,
    a.reason,
    a.newAmountMinor,
    a.currency,
    a.newEndDate,
    a.addMilestones,
    a.removeMilestoneIds,
    a.changeMilestones,
  ]);

/**
 * The reference CRM's contract amendments on its SQLite file. Stage rules live here as the CRM keeps them: an
 * amendment is made on, and approved for, a closed-won deal only; once approved its content no longer changes.
 */
export class SqliteContractAmendments implements ContractAmendmentCommands {
  constructor(private readonly db: SqliteDatabase) {}

  async getContractAmendments(ids: readonly string[]): Promise<(ContractAmendmentRecord | null)[]> {
    const rows = this.db
      .prepare(`SELECT ${COLUMNS} FROM contract_amendments WHERE ${inJson('id')}`)
      .all(JSON.stringify(ids)) as Row[];
    return byKey(ids, rows.map(toRecord), (r) => r.id);
  }

  async getContractAmendmentsByOpportunity(opportunityIds: readonly string[]): Promise<ContractAmendmentRecord[][]> {
    const rows = this.db
      .prepare(`SELECT ${COLUMNS} FROM contract_amendments WHERE ${inJson('opportunity_id')} ORDER BY id`)
      .all(JSON.stringify(opportunityIds)) as Row[];
    return groupByKey(opportunityIds, rows.map(toRecord), (r) => r.opportunityId);
  }

  async listContractAmendments(
    page: PageRequest,
    filter: ContractAmendmentFilter = {},
  ): Promise<Page<ContractAmendmentRecord>> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.opportunityId) {
      where.push('opportunity_id = ?');
      params.push(filter.opportunityId);
    }
    if (filter.status) {
      where.push('status = ?');
      params.push(filter.status);
    }
    const found = keysetPage<Row>(this.db, { table: 'contract_amendments', columns: COLUMNS, where, params }, page);
    return { ...found, nodes: found.nodes.map(toRecord) };
  }

  async upsertContractAmendment(input: UpsertContractAmendment): Promise<Upserted<ContractAmendmentRecord>> {
    return this.db.transaction((): Upserted<ContractAmendmentRecord> => {
      this.assertWon(input.opportunityId, 'amended');
      const existing = this.db
        .prepare(`SELECT ${COLUMNS} FROM contract_amendments WHERE external_id = ?`)
        .get(input.externalId) as Row | undefined;
      if (existing) {
        const record = toRecord(existing);
        if (content(record) === content(input)) return { record, created: false };
        if (record.status !== 'DRAFT')
          throw new MeridianError(
            'INVALID_STATE',
            `Contract amendment ${record.id} is ${record.status}; an approved amendment is not changed: make a new amendment for a further change`,
            { system: 'crm', field: 'externalId', value: input.externalId },
          );
      }
      const id = existing?.id ?? nextId(this.db, 'contract_amendments', 'CAM');
      const row = {
        ...input,
        id,
        addMilestones: JSON.stringify(input.addMilestones),
        removeMilestoneIds: JSON.stringify(input.removeMilestoneIds),
        changeMilestones: JSON.stringify(input.changeMilestones),
      };
      this.db
        .prepare(
          `INSERT INTO contract_amendments (id, opportunity_id, external_id, status, reason, new_amount_minor, currency, new_end_date,
             add_milestones, remove_milestone_ids, change_milestones, created_at)
           VALUES (@id, @opportunityId, @externalId, 'DRAFT', @reason, @newAmountMinor, @currency, @newEndDate, @addMilestones,
             @removeMilestoneIds, @changeMilestones, @at)
           ON CONFLICT(id) DO UPDATE SET opportunity_id = excluded.opportunity_id, reason = excluded.reason,
             new_amount_minor = excluded.new_amount_minor, currency = excluded.currency, new_end_date = excluded.new_end_date,
             add_milestones = excluded.add_milestones, remove_milestone_ids = excluded.remove_milestone_ids,
             change_milestones = excluded.change_milestones`,
        )
        .run(row);
      return { record: this.byId(id)!, created: existing === undefined };
    })();
  }

  async approveContractAmendment(id: string, at: string): Promise<ContractAmendmentRecord> {
    return this.db.transaction((): ContractAmendmentRecord => {
      const current = this.find(id);
      if (current.status !== 'DRAFT') return current;
      this.assertWon(current.opportunityId, 'approved');
      this.db.prepare(`UPDATE contract_amendments SET status = 'APPROVED', approved_at = ? WHERE id = ?`).run(at, id);
      return this.byId(id)!;
    })();
  }

  async markContractAmendmentApplied(id: string, psaProjectId: string, at: string): Promise<ContractAmendmentRecord> {
    return this.db.transaction((): ContractAmendmentRecord => {
      const current = this.find(id);
      if (current.status === 'APPLIED' && current.psaProjectId === psaProjectId) return current;
      if (current.status !== 'APPROVED')
        throw new MeridianError(
          'INVALID_STATE',
          `Contract amendment ${id} is ${current.status}${current.psaProjectId ? ` (to project ${current.psaProjectId})` : ''}; only an approved amendment is marked applied`,
          { system: 'crm', value: id },
        );
      this.db
        .prepare(`UPDATE contract_amendments SET status = 'APPLIED', applied_at = ?, psa_project_id = ? WHERE id = ?`)
        .run(at, psaProjectId, id);
      return this.byId(id)!;
    })();
  }

  async unmarkContractAmendmentApplied(id: string): Promise<ContractAmendmentRecord> {
    return this.db.transaction((): ContractAmendmentRecord => {
      const current = this.find(id);
      if (current.status !== 'APPLIED') return current;
      this.db
        .prepare(
          `UPDATE contract_amendments SET status = 'APPROVED', applied_at = NULL, psa_project_id = NULL WHERE id = ?`,
        )
        .run(id);
      return this.byId(id)!;
    })();
  }

  /** @throws MeridianError NOT_FOUND for an unknown opportunity, INVALID_STATE for one not closed-won. */
  private assertWon(opportunityId: string, what: 'amended' | 'approved'): void {
    const deal = this.db.prepare('SELECT name, stage FROM opportunities WHERE id = ?').get(opportunityId) as
      | { name: string; stage: string }
      | undefined;
    if (!deal)
      throw new MeridianError('NOT_FOUND', `CRM has no opportunity '${opportunityId}'`, {
        system: 'crm',
        field: 'opportunityId',
        value: opportunityId,
      });
    if (deal.stage !== 'CLOSED_WON')
      throw new MeridianError(
        'INVALID_STATE',
        `Opportunity '${opportunityId}' (${deal.name}) is ${deal.stage}; only a closed-won deal's contract is ${what}`,
        { system: 'crm', field: 'opportunityId', value: opportunityId },
      );
  }

  private find(id: string): ContractAmendmentRecord {
    const found = this.byId(id);
    if (!found)
      throw new MeridianError('NOT_FOUND', `CRM has no contract amendment '${id}'`, { system: 'crm', value: id });
    return found;
  }

  private byId(id: string): ContractAmendmentRecord | null {
    const row = this.db.prepare(`SELECT ${COLUMNS} FROM contract_amendments WHERE id = ?`).get(id) as Row | undefined;
    return row ? toRecord(row) : null;
  }
}
