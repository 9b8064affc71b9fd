import { createHash } from 'node:crypto';
import { byKey, groupByKey } from '../../../../lib/batch';
import { addDays } from '../../../../lib/dates';
import { MeridianError } from '../../../../lib/errors';
import { extendMinor, fromMinor } from '../../../../lib/money';
import type { Page, PageRequest } from '../../../../lib/pagination';
import { FaultInjector, type FaultSettings, type PortMethods, withFaults } from '../../../../lib/reference-faults';
import { count } from '../../../../lib/count';
import {
  hasColumn,
  inJson,
  issueId,
  keysetPage,
  migrate,
  type Migration,
  nextId,
  openSqlite,
  type SqliteDatabase,
} from '../../../../lib/sqlite';
import type {
  BillableWorkRecord,
  BillableWorkRequest,
  CreateProjectFromTemplate,
  DeleteOutcome,
  ExpenseRecord,
  MilestoneFilter,
  MilestoneRecord,
  NewTimeEntry,
  ProjectFilter,
  ProjectFinancialsRecord,
  ProjectRecord,
  ProjectTemplateRecord,
  PsaConnector,
  RateCardRecord,
  RecordProjectFinancials,
  ResourceRecord,
  TimeEntryFilter,
  TimeEntryRecord,
} from '../psa-connector';
import type { ProjectAmendmentCommands } from '../project-amendments';
import { PROJECT_AMENDMENTS_SCHEMA, SqliteProjectAmendments } from './sqlite-project-amendments';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS rate_cards (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  currency TEXT NOT NULL,
  rates TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS project_templates (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  service_package TEXT NOT NULL,
  rate_card_id TEXT NOT NULL REFERENCES rate_cards(id),
  duration_days INTEGER NOT NULL,
  milestones TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS resources (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  email TEXT,
  cost_rate_minor INTEGER NOT NULL,
  currency TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS projects (
  id TEXT PRIMARY KEY,
  code TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  status TEXT NOT NULL,
  billing_model TEXT NOT NULL,
  budget_minor INTEGER NOT NULL,
  currency TEXT NOT NULL,
  start_date TEXT NOT NULL,
  end_date TEXT,
  template_id TEXT NOT NULL REFERENCES project_templates(id),
  rate_card_id TEXT NOT NULL REFERENCES rate_cards(id),
  account_id TEXT NOT NULL,
  opportunity_id TEXT,
  external_id TEXT UNIQUE,
  request_hash TEXT
);
CREATE INDEX IF NOT EXISTS projects_account ON projects(account_id);
CREATE INDEX IF NOT EXISTS projects_opportunity ON projects(opportunity_id);
CREATE TABLE IF NOT EXISTS milestones (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL REFERENCES projects(id),
  name TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  due_date TEXT NOT NULL,
  amount_minor INTEGER NOT NULL,
  currency TEXT NOT NULL,
  status TEXT NOT NULL,
  completed_on TEXT,
  invoice_id TEXT
);
CREATE INDEX IF NOT EXISTS milestones_project ON milestones(project_id, sequence);
CREATE INDEX IF NOT EXISTS milestones_status ON milestones(status, id);
CREATE TABLE IF NOT EXISTS time_entries (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL REFERENCES projects(id),
  resource_id TEXT NOT NULL REFERENCES resources(id),
  role TEXT NOT NULL,
  date TEXT NOT NULL,
  hours_hundredths INTEGER NOT NULL,
  billable INTEGER NOT NULL,
  status TEXT NOT NULL,
  notes TEXT,
  billing_reference TEXT
);
CREATE INDEX IF NOT EXISTS time_entries_project ON time_entries(project_id, id);
CREATE TABLE IF NOT EXISTS expenses (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL REFERENCES projects(id),
  resource_id TEXT NOT NULL REFERENCES resources(id),
  date TEXT NOT NULL,
  category TEXT NOT NULL,
  description TEXT,
  amount_minor INTEGER NOT NULL,
  currency TEXT NOT NULL,
  billable INTEGER NOT NULL,
  status TEXT NOT NULL,
  billing_reference TEXT
);
CREATE INDEX IF NOT EXISTS expenses_project ON expenses(project_id, id);
CREATE INDEX IF NOT EXISTS time_entries_unbilled ON time_entries(project_id, date, id) WHERE status = 'APPROVED' AND billable = 1;
CREATE INDEX IF NOT EXISTS expenses_unbilled ON expenses(project_id, date, id) WHERE status = 'APPROVED' AND billable = 1;
CREATE TABLE IF NOT EXISTS project_financials (
  project_id TEXT PRIMARY KEY REFERENCES projects(id),
  billed_minor INTEGER NOT NULL,
  collected_minor INTEGER NOT NULL,
  currency TEXT NOT NULL,
  as_of TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deleted_ids (
  id TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS idempotency_keys (
  key TEXT PRIMARY KEY,
  operation TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  result_ids TEXT NOT NULL
);
`;

/**
 * The PSA's schema, step by step ({@link migrate}: append, never edit). Files from before the steps were counted are at
 * version 0 whatever they hold, hence `IF NOT EXISTS` and the column check.
 */
const MIGRATIONS: readonly Migration[] = [
  SCHEMA,
  // Files created before milestones kept their invoice get the column; ADD COLUMN appends it last, as SCHEMA has it.
  (db) => {
    if (!hasColumn(db, 'milestones', 'invoice_id')) db.exec('ALTER TABLE milestones ADD COLUMN invoice_id TEXT');
  },
  PROJECT_AMENDMENTS_SCHEMA,
  // Collections: what of the project's invoices is past due (recorded by the invoice-status and overdue flows).
  `ALTER TABLE project_financials ADD COLUMN overdue_minor INTEGER NOT NULL DEFAULT 0`,
];

const PROJECT_COLUMNS = `id, code, name, status, billing_model AS billingModel, budget_minor AS budgetMinor, currency, start_date AS startDate,
  end_date AS endDate, template_id AS templateId, rate_card_id AS rateCardId, account_id AS accountId, opportunity_id AS opportunityId,
  external_id AS externalId`;
const MILESTONE_COLUMNS = `id, project_id AS projectId, name, sequence, due_date AS dueDate, amount_minor AS amountMinor, currency, status,
  completed_on AS completedOn, invoice_id AS invoiceId`;
const FINANCIALS_COLUMNS = `project_id AS projectId, billed_minor AS billedMinor, collected_minor AS collectedMinor,
  overdue_minor AS overdueMinor, currency, as_of AS asOf,
  updated_at AS updatedAt`;
const TIME_ENTRY_COLUMNS = `id, project_id AS projectId, resource_id AS resourceId, role, date, hours_hundredths AS hoursHundredths, billable,
  status, notes, billing_reference AS billingReference`;
const EXPENSE_COLUMNS = `id, project_id AS projectId, resource_id AS resourceId, date, category, description, amount_minor AS amountMinor,
  currency, billable, status, billing_reference AS billingReference`;
const RATE_CARD_COLUMNS = `id, name, currency, rates`;
const TEMPLATE_COLUMNS = `id, name, service_package AS servicePackage, rate_card_id AS rateCardId, duration_days AS durationDays, milestones`;
const RESOURCE_COLUMNS = `id, name, role, email, cost_rate_minor AS costRateMinor, currency`;

// Approved, billable and not yet billed (billing moves an entry to BILLED). Written as literals so SQLite uses the
// partial indexes time_entries_unbilled and expenses_unbilled.
const READY_TO_BILL = `status = 'APPROVED' AND billable = 1`;

/** Hours a single time entry may hold, in hundredths (24 h). */
const MAX_ENTRY_HOURS_HUNDREDTHS = 24_00;

// SQLite has no boolean; rows carry 0/1 and nested lists as JSON text until mapped back here.
type Sqlite<T, K extends keyof T> = Omit<T, K> & { [P in K]: number | string };
type TimeEntryRow = Sqlite<TimeEntryRecord, 'billable'>;
type ExpenseRow = Sqlite<ExpenseRecord, 'billable'>;
type RateCardRow = Sqlite<RateCardRecord, 'rates'>;
type TemplateRow = Sqlite<ProjectTemplateRecord, 'milestones'>;

const toTimeEntry = (row: TimeEntryRow): TimeEntryRecord => ({ ...row, billable: row.billable === 1 });
const toExpense = (row: ExpenseRow): ExpenseRecord => ({ ...row, billable: row.billable === 1 });
const toRateCard = (row: RateCardRow): RateCardRecord => ({
  ...row,
  rates: JSON.parse(String(row.rates)) as RateCardRecord['rates'],
});
const toTemplate = (row: TemplateRow): ProjectTemplateRecord => ({
  ...row,
  milestones: JSON.parse(String(row.milestones)) as ProjectTemplateRecord['milestones'],
});

/** Demo data for the PSA, as `seed()` takes it (`DatasetChunk['psa']`). */
export interface PsaSeed {
  projects: readonly ProjectRecord[];
  milestones: readonly MilestoneRecord[];
  timeEntries: readonly TimeEntryRecord[];
  expenses: readonly ExpenseRecord[];
}

/** The PSA's reference data, as `seedReferenceData()` takes it. */
export interface PsaReferenceData {
  rateCards: readonly RateCardRecord[];
  templates: readonly ProjectTemplateRecord[];
  resources: readonly ResourceRecord[];
}

/** A stable digest of a request, so a repeated idempotent call can be told from a different one. */
function requestHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

/** The fields of a project create that make it "the same request", in a fixed order. */
function createRequestHash(input: CreateProjectFromTemplate): string {
  return requestHash([
    input.externalId,
    input.templateId,
    input.accountId,
    input.opportunityId,
    input.name,
    input.code,
    input.billingModel,
    input.budgetMinor,
    input.currency,
    input.startDate,
  ]);
}

function describeHours(hundredths: number): string {
  return (hundredths / 100).toFixed(2);
}

/** Every PsaConnector method: each call passes the fault switches first ({@link withFaults}). */
const PSA_CONNECTOR_METHODS: PortMethods<PsaConnector> = {
  getProjects: true,
  listProjects: true,
  getProjectsByAccount: true,
  getProjectsByOpportunity: true,
  getMilestonesByProject: true,
  getMilestones: true,
  listMilestones: true,
  getProjectFinancials: true,
  listTimeEntries: true,
  listExpenses: true,
  getRateCards: true,
  getTemplates: true,
  listTemplates: true,
  getResources: true,
  getBillableWork: true,
  listProjectsWithBillableWork: true,
  createProjectFromTemplate: true,
  submitTimeEntries: true,
  approveTimeEntries: true,
  completeMilestone: true,
  markMilestoneInvoiced: true,
  recordProjectFinancials: true,
  markBilled: true,
  deleteProject: true,
  amendProject: true,
  revertProjectAmendment: true,
  getProjectAmendments: true,
};

/**
 * The embedded reference PSA: a {@link PsaConnector} on a SQLite file, behaving like the SaaS it stands for
 * (including the failures switched on through {@link SqlitePsaConnector.faults}).
 */
export class SqlitePsaConnector implements PsaConnector {
  /** Failures to show; all off by default. */
  readonly faults: FaultInjector;
  private readonly db: SqliteDatabase;
  /** Contract amendments applied to projects, kept in their own module. */
  private readonly amendments: SqliteProjectAmendments;

  /** Opens (creating on first use) the PSA database at `path`; `:memory:` for a private one. */
  constructor(path: string, faults: FaultSettings = {}) {
    this.db = openSqlite(path);
    migrate(this.db, MIGRATIONS);
    this.amendments = new SqliteProjectAmendments(this.db);
    this.faults = new FaultInjector('psa', faults);
    // Every `new` hands out the connector behind its fault switches, so no caller can forget them; its own methods
    // run on the connector itself.
    // biome-ignore lint/correctness/noConstructorReturn: the proxy is this instance with the port methods wrapped
    return withFaults<PsaConnector, this>(this, this.faults, PSA_CONNECTOR_METHODS);
  }

  /** True when the PSA holds neither reference data nor projects yet (so a development start seeds it). */
  isEmpty(): boolean {
    return (
      this.db.prepare('SELECT 1 FROM project_templates UNION ALL SELECT 1 FROM projects LIMIT 1').get() === undefined
    );
  }

  /** Inserts rate cards, templates and resources in one transaction; IDs must be new. Seed these before {@link seed}. */
  seedReferenceData(data: PsaReferenceData): void {
    const rateCard = this.db.prepare(`INSERT INTO rate_cards VALUES (@id, @name, @currency, @rates)`);
    const template = this.db.prepare(
      `INSERT INTO project_templates VALUES (@id, @name, @servicePackage, @rateCardId, @durationDays, @milestones)`,
    );
    const resource = this.db.prepare(
      `INSERT INTO resources VALUES (@id, @name, @role, @email, @costRateMinor, @currency)`,
    );
    this.db.transaction(() => {
      for (const row of data.rateCards) rateCard.run({ ...row, rates: JSON.stringify(row.rates) });
      for (const row of data.templates) template.run({ ...row, milestones: JSON.stringify(row.milestones) });
      for (const row of data.resources) resource.run(row);
    })();
  }

  /**
   * Replaces a rate card's rates, as a PMO edits a card in the PSA: work priced from now on takes the new rates (work
   * billed before keeps its price). Reference-system administration, not a port command.
   */
  setRateCardRates(id: string, rates: readonly { role: string; rateMinor: number }[]): void {
    const changed = this.db.prepare('UPDATE rate_cards SET rates = ? WHERE id = ?').run(JSON.stringify(rates), id);
    if (changed.changes !== 1)
      throw new MeridianError('NOT_FOUND', `PSA has no rate card '${id}'`, { system: 'psa', field: 'id', value: id });
  }

  /** Inserts demo data in one transaction; IDs must be new and the reference data they name must exist. */
  seed(data: PsaSeed): void {
    const project =
      this.db.prepare(`INSERT INTO projects VALUES (@id, @code, @name, @status, @billingModel, @budgetMinor, @currency, @startDate,
      @endDate, @templateId, @rateCardId, @accountId, @opportunityId, @externalId, @requestHash)`);
    const milestone = this.db.prepare(
      `INSERT INTO milestones VALUES (@id, @projectId, @name, @sequence, @dueDate, @amountMinor, @currency, @status, @completedOn, @invoiceId)`,
    );
    const timeEntry =
      this.db.prepare(`INSERT INTO time_entries VALUES (@id, @projectId, @resourceId, @role, @date, @hoursHundredths, @billable, @status,
      @notes, @billingReference)`);
    const expense =
      this.db.prepare(`INSERT INTO expenses VALUES (@id, @projectId, @resourceId, @date, @category, @description, @amountMinor, @currency,
      @billable, @status, @billingReference)`);
    this.db.transaction(() => {
      for (const row of data.projects) {
        // A seeded project stands for an earlier create, so repeating that create must find it.
        const requestHash = row.externalId === null ? null : createRequestHash({ ...row, externalId: row.externalId });
        project.run({ ...row, requestHash });
      }
      for (const row of data.milestones) milestone.run(row);
      for (const row of data.timeEntries) timeEntry.run({ ...row, billable: row.billable ? 1 : 0 });
      for (const row of data.expenses) expense.run({ ...row, billable: row.billable ? 1 : 0 });
    })();
  }

  close(): void {
    this.db.close();
  }

  async getProjects(ids: readonly string[]): Promise<(ProjectRecord | null)[]> {
    const rows = this.db
      .prepare(`SELECT ${PROJECT_COLUMNS} FROM projects WHERE ${inJson('id')}`)
      .all(JSON.stringify(ids)) as ProjectRecord[];
    return byKey(ids, rows, (r) => r.id);
  }

  async listProjects(page: PageRequest, filter: ProjectFilter = {}): Promise<Page<ProjectRecord>> {
    const where: string[] = [];
    const params: unknown[] = [];
    const eq: [keyof ProjectFilter, string][] = [
      ['accountId', 'account_id'],
      ['status', 'status'],
      ['billingModel', 'billing_model'],
    ];
    for (const [key, column] of eq) {
      if (filter[key]) {
        where.push(`${column} = ?`);
        params.push(filter[key]);
      }
    }
    if (filter.accountIds) {
      where.push(inJson('account_id'));
      params.push(JSON.stringify(filter.accountIds));
    }
    return keysetPage(this.db, { table: 'projects', columns: PROJECT_COLUMNS, where, params }, page);
  }

  async getProjectsByAccount(accountIds: readonly string[]): Promise<ProjectRecord[][]> {
    const rows = this.db
      .prepare(`SELECT ${PROJECT_COLUMNS} FROM projects WHERE ${inJson('account_id')} ORDER BY id`)
      .all(JSON.stringify(accountIds)) as ProjectRecord[];
    return groupByKey(accountIds, rows, (r) => r.accountId);
  }

  async getProjectsByOpportunity(opportunityIds: readonly string[]): Promise<(ProjectRecord | null)[]> {
    // Should two projects name one opportunity, the first created is the one it was converted into.
    const rows = this.db
      .prepare(
        `SELECT ${PROJECT_COLUMNS} FROM projects WHERE id IN (SELECT min(id) FROM projects WHERE ${inJson('opportunity_id')} GROUP BY opportunity_id)`,
      )
      .all(JSON.stringify(opportunityIds)) as ProjectRecord[];
    return byKey(opportunityIds, rows, (r) => r.opportunityId ?? '');
  }

  async getMilestonesByProject(projectIds: readonly string[]): Promise<MilestoneRecord[][]> {
    const rows = this.db
      .prepare(
        `SELECT ${MILESTONE_COLUMNS} FROM milestones WHERE ${inJson('project_id')} ORDER BY project_id, sequence`,
      )
      .all(JSON.stringify(projectIds)) as MilestoneRecord[];
    return groupByKey(projectIds, rows, (r) => r.projectId);
  }

  async getMilestones(ids: readonly string[]): Promise<(MilestoneRecord | null)[]> {
    const rows = this.db
      .prepare(`SELECT ${MILESTONE_COLUMNS} FROM milestones WHERE ${inJson('id')}`)
      .all(JSON.stringify(ids)) as MilestoneRecord[];
    return byKey(ids, rows, (r) => r.id);
  }

  async listMilestones(page: PageRequest, filter: MilestoneFilter = {}): Promise<Page<MilestoneRecord>> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.status) {
      where.push('status = ?');
      params.push(filter.status);
    }
    if (filter.billingModels) {
      where.push(`project_id IN (SELECT id FROM projects WHERE ${inJson('billing_model')})`);
      params.push(JSON.stringify(filter.billingModels));
    }
    if (filter.accountIds) {
      where.push(`project_id IN (SELECT id FROM projects WHERE ${inJson('account_id')})`);
      params.push(JSON.stringify(filter.accountIds));
    }
    return keysetPage<MilestoneRecord>(
      this.db,
      { table: 'milestones', columns: MILESTONE_COLUMNS, where, params },
      page,
    );
  }

  async getProjectFinancials(projectIds: readonly string[]): Promise<(ProjectFinancialsRecord | null)[]> {
    const rows = this.db
      .prepare(`SELECT ${FINANCIALS_COLUMNS} FROM project_financials WHERE ${inJson('project_id')}`)
      .all(JSON.stringify(projectIds)) as ProjectFinancialsRecord[];
    return byKey(projectIds, rows, (r) => r.projectId);
  }

  async listTimeEntries(
    projectId: string,
    page: PageRequest,
    filter: TimeEntryFilter = {},
  ): Promise<Page<TimeEntryRecord>> {
    const result = keysetPage<TimeEntryRow>(
      this.db,
      { table: 'time_entries', columns: TIME_ENTRY_COLUMNS, ...this.entryFilter(projectId, filter) },
      page,
    );
    return { ...result, nodes: result.nodes.map(toTimeEntry) };
  }

  async listExpenses(projectId: string, page: PageRequest, filter: TimeEntryFilter = {}): Promise<Page<ExpenseRecord>> {
    const result = keysetPage<ExpenseRow>(
      this.db,
      { table: 'expenses', columns: EXPENSE_COLUMNS, ...this.entryFilter(projectId, filter) },
      page,
    );
    return { ...result, nodes: result.nodes.map(toExpense) };
  }

  async getRateCards(ids: readonly string[]): Promise<(RateCardRecord | null)[]> {
    const rows = this.db
      .prepare(`SELECT ${RATE_CARD_COLUMNS} FROM rate_cards WHERE ${inJson('id')}`)
      .all(JSON.stringify(ids)) as RateCardRow[];
    return byKey(ids, rows.map(toRateCard), (r) => r.id);
  }

  async getTemplates(ids: readonly string[]): Promise<(ProjectTemplateRecord | null)[]> {
    const rows = this.db
      .prepare(`SELECT ${TEMPLATE_COLUMNS} FROM project_templates WHERE ${inJson('id')}`)
      .all(JSON.stringify(ids)) as TemplateRow[];
    return byKey(ids, rows.map(toTemplate), (r) => r.id);
  }

  async listTemplates(): Promise<ProjectTemplateRecord[]> {
    const rows = this.db
      .prepare(`SELECT ${TEMPLATE_COLUMNS} FROM project_templates ORDER BY id`)
      .all() as TemplateRow[];
    return rows.map(toTemplate);
  }

  async getResources(ids: readonly string[]): Promise<(ResourceRecord | null)[]> {
    const rows = this.db
      .prepare(`SELECT ${RESOURCE_COLUMNS} FROM resources WHERE ${inJson('id')}`)
      .all(JSON.stringify(ids)) as ResourceRecord[];
    return byKey(ids, rows, (r) => r.id);
  }

  async getBillableWork(projectId: string, request: BillableWorkRequest): Promise<BillableWorkRecord> {
    const project = this.db.prepare('SELECT rate_card_id AS rateCardId FROM projects WHERE id = ?').get(projectId) as
      | { rateCardId: string }
      | undefined;
    if (!project)
      throw new MeridianError('NOT_FOUND', `PSA has no project '${projectId}' to bill`, {
        system: 'psa',
        field: 'projectId',
        value: projectId,
      });
    const card = toRateCard(
      this.db
        .prepare(`SELECT ${RATE_CARD_COLUMNS} FROM rate_cards WHERE id = ?`)
        .get(project.rateCardId) as RateCardRow,
    );
    const rates = new Map(card.rates.map((r) => [r.role, r.rateMinor]));
    const until = request.until === null ? '' : 'AND date <= ?';
    const params = [projectId, ...(request.until === null ? [] : [request.until]), request.first + 1];
    const entries = (
      this.db
        .prepare(
          `SELECT ${TIME_ENTRY_COLUMNS} FROM time_entries WHERE project_id = ? AND ${READY_TO_BILL} ${until} ORDER BY date, id LIMIT ?`,
        )
        .all(...params) as TimeEntryRow[]
    ).map(toTimeEntry);
    const expenses = (
      this.db
        .prepare(
          `SELECT ${EXPENSE_COLUMNS} FROM expenses WHERE project_id = ? AND ${READY_TO_BILL} ${until} ORDER BY date, id LIMIT ?`,
        )
        .all(...params) as ExpenseRow[]
    ).map(toExpense);
    return {
      projectId,
      timeEntries: entries.slice(0, request.first).map((entry) => {
        const rateMinor = rates.get(entry.role) ?? null;
        const amountMinor = rateMinor === null ? null : Number(extendMinor(entry.hoursHundredths, rateMinor));
        return { entry, rateMinor, amountMinor, currency: card.currency };
      }),
      expenses: expenses.slice(0, request.first),
      hasMore: entries.length > request.first || expenses.length > request.first,
    };
  }

  async listProjectsWithBillableWork(
    page: PageRequest,
    until: string | null = null,
    accountIds: readonly string[] | null = null,
  ): Promise<Page<ProjectRecord>> {
    // Unqualified columns inside EXISTS name the inner table's (SQL resolves the innermost scope first).
    const dated = until === null ? '' : 'AND date <= ?';
    const readyIn = (table: string) =>
      `EXISTS (SELECT 1 FROM ${table} WHERE ${table}.project_id = projects.id AND ${READY_TO_BILL} ${dated})`;
    const where = [`(${readyIn('time_entries')} OR ${readyIn('expenses')})`];
    const params: unknown[] = until === null ? [] : [until, until];
    if (accountIds) {
      where.push(inJson('account_id'));
      params.push(JSON.stringify(accountIds));
    }
    return keysetPage<ProjectRecord>(this.db, { table: 'projects', columns: PROJECT_COLUMNS, where, params }, page);
  }

  async createProjectFromTemplate(
    input: CreateProjectFromTemplate,
  ): Promise<{ record: ProjectRecord; created: boolean }> {
    const hash = createRequestHash(input);
    return this.db.transaction((): { record: ProjectRecord; created: boolean } => {
      const existing = this.db
        .prepare('SELECT id, code, request_hash AS requestHash FROM projects WHERE external_id = ?')
        .get(input.externalId) as { id: string; code: string; requestHash: string | null } | undefined;
      if (existing) {
        if (existing.requestHash === hash) return { record: this.projectById(existing.id), created: false };
        throw new MeridianError(
          'DUPLICATE_EXTERNAL_ID',
          `External ID '${input.externalId}' already created project ${existing.id} (${existing.code}) with different details; repeat the original request or use a new external ID`,
          { system: 'psa', field: 'externalId', value: input.externalId },
        );
      }
      const template = this.db
        .prepare(`SELECT ${TEMPLATE_COLUMNS} FROM project_templates WHERE id = ?`)
        .get(input.templateId) as TemplateRow | undefined;
      if (!template) {
        throw new MeridianError(
          'NOT_FOUND',
          `PSA has no project template '${input.templateId}'; project '${input.name}' cannot be created`,
          {
            system: 'psa',
            field: 'templateId',
            value: input.templateId,
          },
        );
      }
      const clash = this.db.prepare('SELECT id FROM projects WHERE code = ?').get(input.code) as
        | { id: string }
        | undefined;
      if (clash) {
        throw new MeridianError(
          'VALIDATION_REJECTED',
          `Project code '${input.code}' is already used by project ${clash.id}; project codes must be unique`,
          {
            system: 'psa',
            field: 'code',
            value: input.code,
          },
        );
      }
      const { milestones, durationDays, rateCardId: templateRateCardId } = toTemplate(template);
      const currencyCard = this.db
        .prepare('SELECT id FROM rate_cards WHERE currency = ? ORDER BY id LIMIT 1')
        .get(input.currency) as { id: string } | undefined;
      const id = issueId(this.db, 'projects', 'PRJ');
      this.db
        .prepare(
          `INSERT INTO projects VALUES (@id, @code, @name, 'PLANNED', @billingModel, @budgetMinor, @currency, @startDate, @endDate, @templateId,
             @rateCardId, @accountId, @opportunityId, @externalId, @requestHash)`,
        )
        .run({
          ...input,
          id,
          endDate: addDays(input.startDate, durationDays),
          rateCardId: currencyCard?.id ?? templateRateCardId,
          requestHash: hash,
        });
      if (input.billingModel === 'FIXED_FEE' || input.billingModel === 'MILESTONE') {
        const insert = this.db.prepare(
          `INSERT INTO milestones VALUES (@id, @projectId, @name, @sequence, @dueDate, @amountMinor, @currency, 'PLANNED', NULL, NULL)`,
        );
        let allocated = 0;
        milestones.forEach((m, i) => {
          // The last milestone takes the rounding remainder, so the milestones add up to the budget exactly.
          const amountMinor =
            i === milestones.length - 1
              ? input.budgetMinor - allocated
              : Math.round((input.budgetMinor * m.sharePercent) / 100);
          allocated += amountMinor;
          insert.run({
            id: issueId(this.db, 'milestones', 'MS'),
            projectId: id,
            name: m.name,
            sequence: i + 1,
            dueDate: addDays(input.startDate, m.offsetDays),
            amountMinor,
            currency: input.currency,
          });
        });
      }
      return { record: this.projectById(id), created: true };
    })();
  }

  async submitTimeEntries(idempotencyKey: string, entries: NewTimeEntry[]): Promise<TimeEntryRecord[]> {
    const hash = requestHash(
      entries.map((e) => [e.projectId, e.resourceId, e.role, e.date, e.hoursHundredths, e.billable, e.notes]),
    );
    return this.db.transaction((): TimeEntryRecord[] => {
      const replay = this.idempotentResult(idempotencyKey, 'submitTimeEntries', hash);
      if (replay) return this.timeEntriesById(replay);
      const projects = new Set(
        (
          this.db
            .prepare(`SELECT id FROM projects WHERE ${inJson('id')}`)
            .all(JSON.stringify(entries.map((e) => e.projectId))) as { id: string }[]
        ).map((r) => r.id),
      );
      const resources = new Map(
        (
          this.db
            .prepare(`SELECT id, role FROM resources WHERE ${inJson('id')}`)
            .all(JSON.stringify(entries.map((e) => e.resourceId))) as { id: string; role: string }[]
        ).map((r) => [r.id, r.role]),
      );
      const insert =
        this.db.prepare(`INSERT INTO time_entries VALUES (@id, @projectId, @resourceId, @role, @date, @hoursHundredths, @billable, 'SUBMITTED',
        @notes, NULL)`);
      const ids = entries.map((entry, i) => {
        if (!projects.has(entry.projectId)) {
          throw new MeridianError(
            'NOT_FOUND',
            `PSA has no project '${entry.projectId}' to book time to (entry ${i + 1})`,
            {
              system: 'psa',
              field: `entries[${i}].projectId`,
              value: entry.projectId,
            },
          );
        }
        const defaultRole = resources.get(entry.resourceId);
        if (defaultRole === undefined) {
          throw new MeridianError(
            'NOT_FOUND',
            `PSA has no resource '${entry.resourceId}' to book time for (entry ${i + 1})`,
            {
              system: 'psa',
              field: `entries[${i}].resourceId`,
              value: entry.resourceId,
            },
          );
        }
        if (
          !Number.isInteger(entry.hoursHundredths) ||
          entry.hoursHundredths <= 0 ||
          entry.hoursHundredths > MAX_ENTRY_HOURS_HUNDREDTHS
        ) {
          throw new MeridianError(
            'BAD_USER_INPUT',
            `Time entry ${i + 1} for ${entry.resourceId} on ${entry.date} has ${describeHours(entry.hoursHundredths)} hours; an entry must have more than 0 and at most 24`,
            {
              system: 'psa',
              field: `entries[${i}].hours`,
              value: describeHours(entry.hoursHundredths),
            },
          );
        }
        const id = nextId(this.db, 'time_entries', 'TE');
        insert.run({ ...entry, id, role: entry.role ?? defaultRole, billable: entry.billable ? 1 : 0 });
        return id;
      });
      this.db
        .prepare('INSERT INTO idempotency_keys VALUES (?, ?, ?, ?)')
        .run(idempotencyKey, 'submitTimeEntries', hash, JSON.stringify(ids));
      return this.timeEntriesById(ids);
    })();
  }

  async approveTimeEntries(ids: readonly string[]): Promise<TimeEntryRecord[]> {
    return this.db.transaction((): TimeEntryRecord[] => {
      for (const entry of this.timeEntriesById(ids)) {
        if (entry.status === 'BILLED') {
          throw new MeridianError(
            'INVALID_STATE',
            `Time entry ${entry.id} is already billed (${entry.billingReference}); it cannot be approved again`,
            { system: 'psa', value: entry.id },
          );
        }
      }
      this.db
        .prepare(`UPDATE time_entries SET status = 'APPROVED' WHERE status = 'SUBMITTED' AND ${inJson('id')}`)
        .run(JSON.stringify(ids));
      return this.timeEntriesById(ids);
    })();
  }

  async completeMilestone(id: string, completedOn: string): Promise<MilestoneRecord> {
    return this.db.transaction((): MilestoneRecord => {
      const current = this.milestoneById(id);
      if (!current) throw new MeridianError('NOT_FOUND', `PSA has no milestone '${id}'`, { system: 'psa', value: id });
      if (current.status !== 'PLANNED') return current;
      this.db.prepare(`UPDATE milestones SET status = 'COMPLETED', completed_on = ? WHERE id = ?`).run(completedOn, id);
      return this.milestoneById(id)!;
    })();
  }

  async markMilestoneInvoiced(id: string, invoiceId: string): Promise<MilestoneRecord> {
    return this.db.transaction((): MilestoneRecord => {
      const current = this.milestoneById(id);
      if (!current) throw new MeridianError('NOT_FOUND', `PSA has no milestone '${id}'`, { system: 'psa', value: id });
      const named = `Milestone ${current.id} (${current.name}) of project ${current.projectId}`;
      if (current.status === 'PLANNED') {
        throw new MeridianError(
          'INVALID_STATE',
          `${named} is not completed yet; only a completed milestone can be invoiced`,
          { system: 'psa', value: id },
        );
      }
      if (current.status === 'INVOICED') {
        if (current.invoiceId === invoiceId) return current;
        throw new MeridianError(
          'INVALID_STATE',
          `${named} is already invoiced${current.invoiceId === null ? '' : ` on ${current.invoiceId}`}; it cannot be invoiced again on ${invoiceId}`,
          { system: 'psa', value: id },
        );
      }
      this.db.prepare(`UPDATE milestones SET status = 'INVOICED', invoice_id = ? WHERE id = ?`).run(invoiceId, id);
      return this.milestoneById(id)!;
    })();
  }

  async recordProjectFinancials(
    input: RecordProjectFinancials,
  ): Promise<{ record: ProjectFinancialsRecord; changed: boolean }> {
    return this.db.transaction((): { record: ProjectFinancialsRecord; changed: boolean } => {
      if (!this.db.prepare('SELECT 1 FROM projects WHERE id = ?').get(input.projectId)) {
        throw new MeridianError('NOT_FOUND', `PSA has no project '${input.projectId}' to record financials on`, {
          system: 'psa',
          field: 'projectId',
          value: input.projectId,
        });
      }
      for (const [field, minor] of [
        ['billed', input.billedMinor],
        ['collected', input.collectedMinor],
        ['overdue', input.overdueMinor],
      ] as const) {
        if (minor < 0) {
          const shown = `${fromMinor(minor, input.currency)} ${input.currency}`;
          throw new MeridianError(
            'VALIDATION_REJECTED',
            `PSA rejected ${field} ${shown} for project '${input.projectId}': it must not be negative`,
            { system: 'psa', field, value: shown },
          );
        }
      }
      const read = () =>
        this.db
          .prepare(`SELECT ${FINANCIALS_COLUMNS} FROM project_financials WHERE project_id = ?`)
          .get(input.projectId) as ProjectFinancialsRecord | undefined;
      const current = read();
      if (current) {
        const same =
          current.billedMinor === input.billedMinor &&
          current.collectedMinor === input.collectedMinor &&
          current.overdueMinor === input.overdueMinor &&
          current.currency === input.currency;
        // Figures read from the ERP before the ones held are stale: a late or replayed record must not win.
        if (same || input.asOf < current.asOf) return { record: current, changed: false };
      }
      this.db
        .prepare(
          `INSERT INTO project_financials VALUES (@projectId, @billedMinor, @collectedMinor, @currency, @asOf, @at, @overdueMinor)
           ON CONFLICT(project_id) DO UPDATE SET billed_minor = excluded.billed_minor, collected_minor = excluded.collected_minor,
             overdue_minor = excluded.overdue_minor,
             currency = excluded.currency, as_of = excluded.as_of, updated_at = excluded.updated_at`,
        )
        .run(input);
      return { record: read()!, changed: true };
    })();
  }

  async markBilled(input: {
    timeEntryIds: readonly string[];
    expenseIds: readonly string[];
    billingReference: string;
  }): Promise<{ timeEntries: TimeEntryRecord[]; expenses: ExpenseRecord[] }> {
    const { billingReference } = input;
    return this.db.transaction(() => {
      const timeEntries = this.timeEntriesById(input.timeEntryIds);
      const expenses = this.expensesById(input.expenseIds);
      for (const [kind, record] of [
        ...timeEntries.map((r) => ['Time entry', r] as const),
        ...expenses.map((r) => ['Expense', r] as const),
      ]) {
        if (record.status === 'SUBMITTED') {
          throw new MeridianError(
            'INVALID_STATE',
            `${kind} ${record.id} is not approved yet; only approved ${kind === 'Expense' ? 'expenses' : 'time'} can be billed`,
            {
              system: 'psa',
              value: record.id,
            },
          );
        }
        if (record.status === 'BILLED' && record.billingReference !== billingReference) {
          throw new MeridianError(
            'INVALID_STATE',
            `${kind} ${record.id} is already billed under ${record.billingReference}; it cannot be billed again under ${billingReference}`,
            {
              system: 'psa',
              value: record.id,
            },
          );
        }
      }
      for (const table of ['time_entries', 'expenses']) {
        const ids = table === 'time_entries' ? input.timeEntryIds : input.expenseIds;
        this.db
          .prepare(
            `UPDATE ${table} SET status = 'BILLED', billing_reference = ? WHERE status = 'APPROVED' AND ${inJson('id')}`,
          )
          .run(billingReference, JSON.stringify(ids));
      }
      return { timeEntries: this.timeEntriesById(input.timeEntryIds), expenses: this.expensesById(input.expenseIds) };
    })();
  }

  async deleteProject(id: string): Promise<DeleteOutcome> {
    return this.db.transaction((): DeleteOutcome => {
      const project = this.db.prepare('SELECT id, code, name FROM projects WHERE id = ?').get(id) as
        | { id: string; code: string; name: string }
        | undefined;
      if (!project) return { id, deleted: false };
      const booked = this.db
        .prepare(
          `SELECT (SELECT count(*) FROM time_entries WHERE project_id = @id) AS timeEntries, (SELECT count(*) FROM expenses WHERE project_id = @id) AS expenses,
             (SELECT count(*) FROM milestones WHERE project_id = @id AND status <> 'PLANNED') AS milestones`,
        )
        .get({ id }) as { timeEntries: number; expenses: number; milestones: number };
      const named = `Project ${project.id} (${project.code}, ${project.name})`;
      const work = [
        count(booked.timeEntries, 'time entry', 'time entries'),
        count(booked.expenses, 'expense', 'expenses'),
      ].filter((p) => p !== null);
      if (work.length > 0) {
        throw new MeridianError(
          'INVALID_STATE',
          `${named} has ${work.join(' and ')}; only a project with no booked time or expenses can be deleted`,
          { system: 'psa', value: id },
        );
      }
      if (booked.milestones > 0) {
        throw new MeridianError(
          'INVALID_STATE',
          `${named} has ${count(booked.milestones, 'milestone', 'milestones')} completed or invoiced; it cannot be deleted`,
          { system: 'psa', value: id },
        );
      }
      const milestones = this.db.prepare('SELECT id FROM milestones WHERE project_id = ?').all(id) as { id: string }[];
      const tombstone = this.db.prepare('INSERT OR IGNORE INTO deleted_ids VALUES (?)');
      for (const deleted of [...milestones.map((m) => m.id), id]) tombstone.run(deleted);
      this.db.prepare('DELETE FROM milestones WHERE project_id = ?').run(id);
      // Financials are a copy of the ERP's figures, not the PSA's own record: they go with the project.
      this.db.prepare('DELETE FROM project_financials WHERE project_id = ?').run(id);
      this.db.prepare('DELETE FROM projects WHERE id = ?').run(id);
      return { id, deleted: true };
    })();
  }

  private entryFilter(projectId: string, filter: TimeEntryFilter): { where: string[]; params: unknown[] } {
    const where = ['project_id = ?'];
    const params: unknown[] = [projectId];
    if (filter.status) {
      where.push('status = ?');
      params.push(filter.status);
    }
    if (filter.billable !== null && filter.billable !== undefined) {
      where.push('billable = ?');
      params.push(filter.billable ? 1 : 0);
    }
    if (filter.dateFrom) {
      where.push('date >= ?');
      params.push(filter.dateFrom);
    }
    if (filter.dateTo) {
      where.push('date <= ?');
      params.push(filter.dateTo);
    }
    return { where, params };
  }

  /** The IDs an earlier call under `key` produced, or null for a new key. @throws IDEMPOTENCY_KEY_REUSED for other input. */
  private idempotentResult(key: string, operation: string, hash: string): string[] | null {
    const row = this.db
      .prepare(
        'SELECT operation, request_hash AS requestHash, result_ids AS resultIds FROM idempotency_keys WHERE key = ?',
      )
      .get(key) as { operation: string; requestHash: string; resultIds: string } | undefined;
    if (!row) return null;
    if (row.operation !== operation || row.requestHash !== hash) {
      throw new MeridianError(
        'IDEMPOTENCY_KEY_REUSED',
        `Idempotency key '${key}' was already used for a different ${row.operation} request; use a new key for new time`,
        {
          system: 'psa',
          field: 'idempotencyKey',
          value: key,
        },
      );
    }
    return JSON.parse(row.resultIds) as string[];
  }

  /** Time entries in the order of `ids`. @throws NOT_FOUND naming the first unknown ID. */
  private timeEntriesById(ids: readonly string[]): TimeEntryRecord[] {
    const rows = (
      this.db
        .prepare(`SELECT ${TIME_ENTRY_COLUMNS} FROM time_entries WHERE ${inJson('id')}`)
        .all(JSON.stringify(ids)) as TimeEntryRow[]
    ).map(toTimeEntry);
    return byKey(ids, rows, (r) => r.id).map((row, i) => {
      if (!row)
        throw new MeridianError('NOT_FOUND', `PSA has no time entry '${ids[i]}'`, { system: 'psa', value: ids[i]! });
      return row;
    });
  }

  /** Expenses in the order of `ids`. @throws NOT_FOUND naming the first unknown ID. */
  private expensesById(ids: readonly string[]): ExpenseRecord[] {
    const rows = (
      this.db
        .prepare(`SELECT ${EXPENSE_COLUMNS} FROM expenses WHERE ${inJson('id')}`)
        .all(JSON.stringify(ids)) as ExpenseRow[]
    ).map(toExpense);
    return byKey(ids, rows, (r) => r.id).map((row, i) => {
      if (!row)
        throw new MeridianError('NOT_FOUND', `PSA has no expense '${ids[i]}'`, { system: 'psa', value: ids[i]! });
      return row;
    });
  }

  amendProject: ProjectAmendmentCommands['amendProject'] = (input) => this.amendments.amendProject(input);
  getProjectAmendments: ProjectAmendmentCommands['getProjectAmendments'] = (ids) =>
    this.amendments.getProjectAmendments(ids);
  revertProjectAmendment: ProjectAmendmentCommands['revertProjectAmendment'] = (externalId) =>
    this.amendments.revertProjectAmendment(externalId);

  private milestoneById(id: string): MilestoneRecord | undefined {
    return this.db.prepare(`SELECT ${MILESTONE_COLUMNS} FROM milestones WHERE id = ?`).get(id) as
      | MilestoneRecord
      | undefined;
  }

  private projectById(id: string): ProjectRecord {
    return this.db.prepare(`SELECT ${PROJECT_COLUMNS} FROM projects WHERE id = ?`).get(id) as ProjectRecord;
  }
}
