import { createHash } from 'node:crypto';
import { byKey } from '../../../../lib/batch';
import { MeridianError } from '../../../../lib/errors';
import { inJson, type SqliteDatabase } from '../../../../lib/sqlite';
import { noProjectDimensions, PROJECT_CURRENCY_SQL } from './project-dimensions';
import type { AmendProjectContract, ProjectContractCommands, ProjectContractRecord } from '../project-contracts';

/** The ERP's project contracts and the amendments that set them: a migration step of the reference ERP. */
export const PROJECT_CONTRACTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS project_contracts (
  psa_project_id TEXT PRIMARY KEY,
  value_minor INTEGER NOT NULL,
  currency TEXT NOT NULL,
  end_date TEXT,
  schedule TEXT NOT NULL,
  amendment_external_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS project_contract_amendments (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  external_id TEXT NOT NULL UNIQUE,
  psa_project_id TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status TEXT NOT NULL,
  before TEXT
);
CREATE INDEX IF NOT EXISTS project_contract_amendments_project ON project_contract_amendments(psa_project_id, seq);
`;

const COLUMNS = `psa_project_id AS psaProjectId, value_minor AS valueMinor, currency, end_date AS endDate, schedule,
  amendment_external_id AS amendmentExternalId`;

type Row = Omit<ProjectContractRecord, 'schedule'> & { schedule: string };
const toRecord = (row: Row): ProjectContractRecord => ({ ...row, schedule: JSON.parse(row.schedule) });

interface AmendmentRow {
  seq: number;
  psaProjectId: string;
  requestHash: string;
  status: 'APPLIED' | 'REVERTED';
  before: string | null;
}

const hashOf = (input: AmendProjectContract) =>
  createHash('sha256')
    .update(JSON.stringify([input.psaProjectId, input.valueMinor, input.currency, input.endDate, input.schedule]))
    .digest('hex');

/** The reference ERP's project contracts on its SQLite file. */
export class SqliteProjectContracts implements ProjectContractCommands {
  constructor(private readonly db: SqliteDatabase) {}

  async getProjectContracts(psaProjectIds: readonly string[]): Promise<(ProjectContractRecord | null)[]> {
    const rows = this.db
      .prepare(`SELECT ${COLUMNS} FROM project_contracts WHERE ${inJson('psa_project_id')}`)
      .all(JSON.stringify(psaProjectIds)) as Row[];
    return byKey(psaProjectIds, rows.map(toRecord), (r) => r.psaProjectId);
  }

  async amendProjectContract(
    input: AmendProjectContract,
  ): Promise<{ record: ProjectContractRecord; applied: boolean }> {
    const hash = hashOf(input);
    return this.db.transaction((): { record: ProjectContractRecord; applied: boolean } => {
      const existing = this.row(input.externalId);
      if (existing?.status === 'APPLIED') {
        if (existing.requestHash !== hash)
          throw new MeridianError(
            'DUPLICATE_EXTERNAL_ID',
            `External ID '${input.externalId}' already amended the contract of project '${existing.psaProjectId}' with different details; repeat the original request or use a new external ID`,
            { system: 'erp', field: 'externalId', value: input.externalId },
          );
        return { record: this.contract(existing.psaProjectId)!, applied: false };
      }
      const dimensions = this.db.prepare(PROJECT_CURRENCY_SQL).get(input.psaProjectId) as
        | { currency: string }
        | undefined;
      if (!dimensions) throw noProjectDimensions(input.psaProjectId, 'psaProjectId');
      if (dimensions.currency !== input.currency)
        throw new MeridianError(
          'VALIDATION_REJECTED',
          `ERP rejected a contract value in ${input.currency} for project '${input.psaProjectId}': its customer is billed in ${dimensions.currency}`,
          { system: 'erp', field: 'currency', value: input.currency },
        );
      const before = this.contract(input.psaProjectId);
      this.db
        .prepare(
          `INSERT INTO project_contracts VALUES (@psaProjectId, @valueMinor, @currency, @endDate, @schedule, @externalId)
           ON CONFLICT(psa_project_id) DO UPDATE SET value_minor = excluded.value_minor, currency = excluded.currency,
             end_date = excluded.end_date, schedule = excluded.schedule, amendment_external_id = excluded.amendment_external_id`,
        )
        .run({ ...input, schedule: JSON.stringify(input.schedule) });
      // A reverted amendment applied again is a new application: it goes to the end of the project's order.
      this.db.prepare('DELETE FROM project_contract_amendments WHERE external_id = ?').run(input.externalId);
      this.db
        .prepare(
          `INSERT INTO project_contract_amendments (external_id, psa_project_id, request_hash, status, before) VALUES (?, ?, ?, 'APPLIED', ?)`,
        )
        .run(input.externalId, input.psaProjectId, hash, before === null ? null : JSON.stringify(before));
      return { record: this.contract(input.psaProjectId)!, applied: true };
    })();
  }

  async revertProjectContractAmendment(externalId: string): Promise<{ reverted: boolean }> {
    return this.db.transaction((): { reverted: boolean } => {
      const row = this.row(externalId);
      if (row?.status !== 'APPLIED') return { reverted: false };
      const later = this.db
        .prepare(
          `SELECT external_id AS externalId FROM project_contract_amendments WHERE psa_project_id = ? AND seq > ? AND status = 'APPLIED' ORDER BY seq`,
        )
        .all(row.psaProjectId, row.seq) as { externalId: string }[];
      if (later.length)
        throw new MeridianError(
          'INVALID_STATE',
          `The contract amendment '${externalId}' of project '${row.psaProjectId}' cannot be undone: ${later.map((l) => `'${l.externalId}'`).join(', ')} ${later.length > 1 ? 'are' : 'is'} applied on top of it; undo ${later.length > 1 ? 'them' : 'it'} first`,
          { system: 'erp', value: externalId },
        );
      if (row.before === null)
        this.db.prepare('DELETE FROM project_contracts WHERE psa_project_id = ?').run(row.psaProjectId);
      else {
        const before = JSON.parse(row.before) as ProjectContractRecord;
        this.db
          .prepare(
            `UPDATE project_contracts SET value_minor = @valueMinor, currency = @currency, end_date = @endDate, schedule = @schedule,
               amendment_external_id = @amendmentExternalId WHERE psa_project_id = @psaProjectId`,
          )
          .run({ ...before, schedule: JSON.stringify(before.schedule) });
      }
      this.db.prepare(`UPDATE project_contract_amendments SET status = 'REVERTED' WHERE seq = ?`).run(row.seq);
      return { reverted: true };
    })();
  }

  private row(externalId: string): AmendmentRow | undefined {
    return this.db
      .prepare(
        `SELECT seq, psa_project_id AS psaProjectId, request_hash AS requestHash, status, before FROM project_contract_amendments WHERE external_id = ?`,
      )
      .get(externalId) as AmendmentRow | undefined;
  }

  private contract(psaProjectId: string): ProjectContractRecord | null {
    const row = this.db
      .prepare(`SELECT ${COLUMNS} FROM project_contracts WHERE psa_project_id = ?`)
      .get(psaProjectId) as Row | undefined;
    return row ? toRecord(row) : null;
  }
}
