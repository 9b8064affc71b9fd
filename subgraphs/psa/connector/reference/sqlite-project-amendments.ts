import { createHash } from 'node:crypto';
import { byKey } from '../../../../lib/batch';
import { MeridianError } from '../../../../lib/errors';
import { fromMinor } from '../../../../lib/money';
import { inJson, issueId, type SqliteDatabase } from '../../../../lib/sqlite';
import type {
  AmendProject,
  ProjectAmended,
  ProjectAmendmentCommands,
  ProjectAmendmentRecord,
} from '../project-amendments';
import type { MilestoneRecord, ProjectRecord } from '../psa-connector';

/** The PSA's record of each amendment applied to a project: a migration step of the reference PSA. */
export const PROJECT_AMENDMENTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS project_amendments (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  external_id TEXT NOT NULL UNIQUE,
  project_id TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status TEXT NOT NULL,
  before TEXT NOT NULL,
  added_ids TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS project_amendments_project ON project_amendments(project_id, seq);
`;

const PROJECT_COLUMNS = `id, code, name, status, billing_model AS billingModel, budget_minor AS budgetMinor, currency, start_date AS startDate,
  end_date AS endDate, template_id AS templateId, rate_card_id AS rateCardId, account_id AS accountId, opportunity_id AS opportunityId,
  external_id AS externalId`;
const MILESTONE_COLUMNS = `id, project_id AS projectId, name, sequence, due_date AS dueDate, amount_minor AS amountMinor, currency, status,
  completed_on AS completedOn, invoice_id AS invoiceId`;

/** What an applied amendment replaced, so that revert can put it back. */
interface Before {
  budgetMinor: number;
  endDate: string | null;
  removed: MilestoneRecord[];
  changed: { id: string; amountMinor: number; dueDate: string }[];
}

interface AmendmentRow {
  seq: number;
  externalId: string;
  projectId: string;
  requestHash: string;
  status: 'APPLIED' | 'REVERTED';
  before: string;
  addedIds: string;
}

const hashOf = (input: AmendProject) =>
  createHash('sha256')
    .update(
      JSON.stringify([
        input.projectId,
        input.budgetMinor,
        input.currency,
        input.endDate,
        input.addMilestones,
        input.removeMilestoneIds,
        input.changeMilestones,
      ]),
    )
    .digest('hex');

const label = (m: MilestoneRecord) => `${m.id} (${m.name})`;

/**
 * The reference PSA's project amendments on its SQLite file. It keeps the PSA's own rule whatever the caller checked:
 * an invoiced milestone never changes, by an amendment or by its undo.
 */
export class SqliteProjectAmendments implements ProjectAmendmentCommands {
  constructor(private readonly db: SqliteDatabase) {}

  async getProjectAmendments(externalIds: readonly string[]): Promise<(ProjectAmendmentRecord | null)[]> {
    const rows = this.db
      .prepare(
        `SELECT external_id AS externalId, project_id AS projectId, status FROM project_amendments WHERE ${inJson('external_id')}`,
      )
      .all(JSON.stringify(externalIds)) as ProjectAmendmentRecord[];
    return byKey(externalIds, rows, (r) => r.externalId);
  }

  async amendProject(input: AmendProject): Promise<ProjectAmended> {
    const hash = hashOf(input);
    return this.db.transaction((): ProjectAmended => {
      const existing = this.row(input.externalId);
      if (existing?.status === 'APPLIED') {
        if (existing.requestHash !== hash)
          throw new MeridianError(
            'DUPLICATE_EXTERNAL_ID',
            `External ID '${input.externalId}' already amended project ${existing.projectId} with different details; repeat the original request or use a new external ID`,
            { system: 'psa', field: 'externalId', value: input.externalId },
          );
        return { ...this.state(existing.projectId), addedMilestoneIds: JSON.parse(existing.addedIds), applied: false };
      }
      const project = this.db.prepare(`SELECT ${PROJECT_COLUMNS} FROM projects WHERE id = ?`).get(input.projectId) as
        | ProjectRecord
        | undefined;
      if (!project)
        throw new MeridianError('NOT_FOUND', `PSA has no project '${input.projectId}' to amend`, {
          system: 'psa',
          field: 'projectId',
          value: input.projectId,
        });
      if (input.currency !== null && input.currency !== project.currency)
        throw new MeridianError(
          'VALIDATION_REJECTED',
          `PSA rejected an amendment in ${input.currency} for project ${project.id} (${project.code}), which is in ${project.currency}`,
          { system: 'psa', field: 'currency', value: input.currency },
        );
      const milestones = new Map(this.milestonesOf(project.id).map((m) => [m.id, m]));
      const touched = [...input.removeMilestoneIds, ...input.changeMilestones.map((c) => c.milestoneId)];
      const unknown = touched.filter((id) => !milestones.has(id));
      if (unknown.length)
        throw new MeridianError(
          'NOT_FOUND',
          `Project ${project.id} (${project.code}) has no milestone ${unknown.join(', ')}`,
          { system: 'psa', field: 'milestoneId', value: unknown.join(',') },
        );
      const invoiced = touched.map((id) => milestones.get(id)!).filter((m) => m.status === 'INVOICED');
      if (invoiced.length)
        throw new MeridianError(
          'INVOICED_MILESTONE_LOCKED',
          `PSA refused to change invoiced milestone${invoiced.length > 1 ? 's' : ''} ${invoiced.map(label).join(', ')} of project ${project.id}: an invoiced milestone never changes`,
          { system: 'psa', field: 'milestoneId', value: invoiced.map((m) => m.id).join(',') },
        );

      const before: Before = {
        budgetMinor: project.budgetMinor,
        endDate: project.endDate,
        removed: input.removeMilestoneIds.map((id) => milestones.get(id)!),
        changed: input.changeMilestones.map((c) => {
          const m = milestones.get(c.milestoneId)!;
          return { id: m.id, amountMinor: m.amountMinor, dueDate: m.dueDate };
        }),
      };
      this.db
        .prepare('UPDATE projects SET budget_minor = ?, end_date = ? WHERE id = ?')
        .run(input.budgetMinor ?? project.budgetMinor, input.endDate ?? project.endDate, project.id);
      // A removed milestone's ID is never issued again (revert restores it under the same ID).
      const remove = this.db.prepare('DELETE FROM milestones WHERE id = ?');
      const tombstone = this.db.prepare('INSERT OR IGNORE INTO deleted_ids VALUES (?)');
      for (const id of input.removeMilestoneIds) {
        remove.run(id);
        tombstone.run(id);
      }
      const change = this.db.prepare(
        'UPDATE milestones SET amount_minor = coalesce(?, amount_minor), due_date = coalesce(?, due_date) WHERE id = ?',
      );
      for (const c of input.changeMilestones) change.run(c.amountMinor, c.dueDate, c.milestoneId);
      const { last } = this.db
        .prepare('SELECT coalesce(max(sequence), 0) AS last FROM milestones WHERE project_id = ?')
        .get(project.id) as { last: number };
      const insert = this.db.prepare(
        `INSERT INTO milestones VALUES (@id, @projectId, @name, @sequence, @dueDate, @amountMinor, @currency, 'PLANNED', NULL, NULL)`,
      );
      const addedIds = input.addMilestones.map((m, i) => {
        const id = issueId(this.db, 'milestones', 'MS');
        insert.run({ ...m, id, projectId: project.id, sequence: last + i + 1, currency: project.currency });
        return id;
      });
      // A reverted amendment applied again is a new application: it goes to the end of the project's order.
      this.db.prepare('DELETE FROM project_amendments WHERE external_id = ?').run(input.externalId);
      this.db
        .prepare(
          `INSERT INTO project_amendments (external_id, project_id, request_hash, status, before, added_ids) VALUES (?, ?, ?, 'APPLIED', ?, ?)`,
        )
        .run(input.externalId, project.id, hash, JSON.stringify(before), JSON.stringify(addedIds));
      return { ...this.state(project.id), addedMilestoneIds: addedIds, applied: true };
    })();
  }

  async revertProjectAmendment(externalId: string): Promise<{ reverted: boolean }> {
    return this.db.transaction((): { reverted: boolean } => {
      const row = this.row(externalId);
      if (row?.status !== 'APPLIED') return { reverted: false };
      const later = this.db
        .prepare(
          `SELECT external_id AS externalId FROM project_amendments WHERE project_id = ? AND seq > ? AND status = 'APPLIED' ORDER BY seq`,
        )
        .all(row.projectId, row.seq) as { externalId: string }[];
      if (later.length)
        throw new MeridianError(
          'INVALID_STATE',
          `Amendment '${externalId}' of project ${row.projectId} cannot be undone: later amendment${later.length > 1 ? 's' : ''} ${later.map((l) => `'${l.externalId}'`).join(', ')} ${later.length > 1 ? 'are' : 'is'} applied on top of it; undo ${later.length > 1 ? 'them' : 'it'} first`,
          { system: 'psa', value: externalId },
        );
      const before = JSON.parse(row.before) as Before;
      const added = (JSON.parse(row.addedIds) as string[])
        .map((id) => this.milestone(id))
        .filter((m): m is MilestoneRecord => m !== undefined);
      const progressed = added.filter((m) => m.status !== 'PLANNED');
      if (progressed.length)
        throw new MeridianError(
          'INVALID_STATE',
          `Amendment '${externalId}' cannot be undone: milestone${progressed.length > 1 ? 's' : ''} ${progressed.map((m) => `${label(m)} (${m.status.toLowerCase()})`).join(', ')} it added ${progressed.length > 1 ? 'have' : 'has'} progressed since`,
          { system: 'psa', value: externalId },
        );
      const invoiced = before.changed
        .map((c) => this.milestone(c.id))
        .filter((m): m is MilestoneRecord => m?.status === 'INVOICED');
      if (invoiced.length)
        throw new MeridianError(
          'INVOICED_MILESTONE_LOCKED',
          `Amendment '${externalId}' cannot be undone: milestone${invoiced.length > 1 ? 's' : ''} ${invoiced.map((m) => `${label(m)} was invoiced at ${fromMinor(m.amountMinor, m.currency)} ${m.currency}`).join(', ')} since, and an invoiced milestone never changes`,
          { system: 'psa', value: externalId },
        );
      this.db
        .prepare('UPDATE projects SET budget_minor = ?, end_date = ? WHERE id = ?')
        .run(before.budgetMinor, before.endDate, row.projectId);
      const remove = this.db.prepare('DELETE FROM milestones WHERE id = ?');
      const tombstone = this.db.prepare('INSERT OR IGNORE INTO deleted_ids VALUES (?)');
      for (const m of added) {
        remove.run(m.id);
        tombstone.run(m.id);
      }
      const restore = this.db.prepare(
        `INSERT INTO milestones VALUES (@id, @projectId, @name, @sequence, @dueDate, @amountMinor, @currency, @status, @completedOn, @invoiceId)`,
      );
      for (const m of before.removed) restore.run(m);
      const change = this.db.prepare('UPDATE milestones SET amount_minor = ?, due_date = ? WHERE id = ?');
      for (const c of before.changed) change.run(c.amountMinor, c.dueDate, c.id);
      this.db.prepare(`UPDATE project_amendments SET status = 'REVERTED' WHERE seq = ?`).run(row.seq);
      return { reverted: true };
    })();
  }

  private row(externalId: string): AmendmentRow | undefined {
    return this.db
      .prepare(
        `SELECT seq, external_id AS externalId, project_id AS projectId, request_hash AS requestHash, status, before, added_ids AS addedIds
         FROM project_amendments WHERE external_id = ?`,
      )
      .get(externalId) as AmendmentRow | undefined;
  }

  private milestone(id: string): MilestoneRecord | undefined {
    return this.db.prepare(`SELECT ${MILESTONE_COLUMNS} FROM milestones WHERE id = ?`).get(id) as
      | MilestoneRecord
      | undefined;
  }

  private milestonesOf(projectId: string): MilestoneRecord[] {
    return this.db
      .prepare(`SELECT ${MILESTONE_COLUMNS} FROM milestones WHERE project_id = ? ORDER BY sequence`)
      .all(projectId) as MilestoneRecord[];
  }

  private state(projectId: string): { project: ProjectRecord; milestones: MilestoneRecord[] } {
    const project = this.db
      .prepare(`SELECT ${PROJECT_COLUMNS} FROM projects WHERE id = ?`)
      .get(projectId) as ProjectRecord;
    return { project, milestones: this.milestonesOf(projectId) };
  }
}
