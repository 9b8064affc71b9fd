import type { BillingModel } from '../../../lib/billing-model';
import type { ProjectAmendmentCommands } from './project-amendments';
import type { Page, PageRequest } from '../../../lib/pagination';

export type ProjectStatus = 'PLANNED' | 'ACTIVE' | 'ON_HOLD' | 'COMPLETED' | 'CANCELLED';
export type { BillingModel } from '../../../lib/billing-model';
export type MilestoneStatus = 'PLANNED' | 'COMPLETED' | 'INVOICED';
export type TimeEntryStatus = 'SUBMITTED' | 'APPROVED' | 'BILLED';
export type ExpenseStatus = 'SUBMITTED' | 'APPROVED' | 'BILLED';

/** A project. `accountId` and `opportunityId` are CRM IDs held as external IDs. */
export interface ProjectRecord {
  id: string;
  code: string;
  name: string;
  status: ProjectStatus;
  billingModel: BillingModel;
  budgetMinor: number;
  currency: string;
  startDate: string;
  endDate: string | null;
  templateId: string;
  rateCardId: string;
  accountId: string;
  opportunityId: string | null;
  /** The caller's key for the create (e.g. `<runId>:<step>`); unique. */
  externalId: string | null;
}

export interface MilestoneRecord {
  id: string;
  projectId: string;
  name: string;
  sequence: number;
  dueDate: string;
  amountMinor: number;
  currency: string;
  status: MilestoneStatus;
  completedOn: string | null;
  /** The ERP invoice the milestone is billed on, once INVOICED (null for one invoiced before the PSA kept it). */
  invoiceId: string | null;
}

/**
 * What the ERP has billed and collected for a project, as the invoice-status flow last recorded it: invoice totals
 * (tax included) of its posted and paid invoices, and what was paid of them, in `currency` minor units.
 */
export interface ProjectFinancialsRecord {
  projectId: string;
  billedMinor: number;
  collectedMinor: number;
  /** Balances of the project's invoices past their due date: non-zero means collections are overdue. */
  overdueMinor: number;
  currency: string;
  /** When the ERP showed these figures (ISO 8601 timestamp); a record with an earlier `asOf` is ignored. */
  asOf: string;
  /** When the figures last changed (ISO 8601 timestamp). */
  updatedAt: string;
}

/** Figures to record on a project; `at` becomes `updatedAt` when they change. */
export type RecordProjectFinancials = Omit<ProjectFinancialsRecord, 'updatedAt'> & { at: string };

/** A time entry; `hoursHundredths` is hours × 100 (7.5 h → 750). */
export interface TimeEntryRecord {
  id: string;
  projectId: string;
  resourceId: string;
  role: string;
  date: string;
  hoursHundredths: number;
  billable: boolean;
  status: TimeEntryStatus;
  notes: string | null;
  /** ERP billing reference once billed. */
  billingReference: string | null;
}

export interface ExpenseRecord {
  id: string;
  projectId: string;
  resourceId: string;
  date: string;
  category: string;
  description: string | null;
  amountMinor: number;
  currency: string;
  billable: boolean;
  status: ExpenseStatus;
  billingReference: string | null;
}

export interface RateCardRecord {
  id: string;
  name: string;
  currency: string;
  /** Hourly bill rate per role, in minor units. */
  rates: { role: string; rateMinor: number }[];
}

/** A milestone of a template: its share of the budget (percent) and due offset from the start. */
export interface TemplateMilestone {
  name: string;
  sharePercent: number;
  offsetDays: number;
}

export interface ProjectTemplateRecord {
  id: string;
  name: string;
  servicePackage: string;
  rateCardId: string;
  durationDays: number;
  milestones: TemplateMilestone[];
}

export interface ResourceRecord {
  id: string;
  name: string;
  role: string;
  email: string | null;
  costRateMinor: number;
  currency: string;
}

export interface ProjectFilter {
  accountId?: string | null;
  /** Only projects of one of these CRM accounts (none for an empty list): a portal user's tenant scope. */
  accountIds?: readonly string[] | null;
  status?: ProjectStatus | null;
  billingModel?: BillingModel | null;
}

export interface MilestoneFilter {
  status?: MilestoneStatus | null;
  /** Only milestones of projects billed one of these ways (none for an empty list). */
  billingModels?: readonly BillingModel[] | null;
  /** Only milestones of projects of one of these CRM accounts (none for an empty list): a portal user's tenant scope. */
  accountIds?: readonly string[] | null;
}

export interface TimeEntryFilter {
  status?: TimeEntryStatus | null;
  billable?: boolean | null;
  dateFrom?: string | null;
  dateTo?: string | null;
}

export interface CreateProjectFromTemplate {
  /** Idempotency: the same key returns the first project; with other data, DUPLICATE_EXTERNAL_ID. */
  externalId: string;
  templateId: string;
  accountId: string;
  opportunityId: string | null;
  name: string;
  code: string;
  billingModel: BillingModel;
  budgetMinor: number;
  currency: string;
  startDate: string;
}

export interface NewTimeEntry {
  projectId: string;
  resourceId: string;
  /** Defaults to the resource's role. */
  role: string | null;
  date: string;
  hoursHundredths: number;
  billable: boolean;
  notes: string | null;
}

/** What a delete did: `deleted` is false when there was nothing under `id` (a repeat, or an unknown ID). */
export interface DeleteOutcome {
  id: string;
  deleted: boolean;
}

/** How much of a project's billable work to read. */
export interface BillableWorkRequest {
  /** At most this many time entries, and at most this many expenses. */
  first: number;
  /** Only work dated on or before this date (`YYYY-MM-DD`); `null` for all. */
  until: string | null;
}

/**
 * An approved, billable, unbilled time entry priced from its project's rate card: `rateMinor` is the hourly rate of
 * the entry's role in `currency` (the rate card's), `amountMinor` hours × rate rounded half-up. Both are `null` when
 * the card has no rate for the role, so the caller can raise it as a business exception.
 */
export interface PricedTimeEntryRecord {
  entry: TimeEntryRecord;
  rateMinor: number | null;
  amountMinor: number | null;
  currency: string;
}

/** A project's work ready to bill, oldest date first, then ID; `hasMore` when either list was cut at `first`. */
export interface BillableWorkRecord {
  projectId: string;
  timeEntries: PricedTimeEntryRecord[];
  expenses: ExpenseRecord[];
  hasMore: boolean;
}

/**
 * The PSA as Meridian uses it, shaped like Kantata / Certinia: batch reads by ID (keys' length and order,
 * `null` per missing ID), per-parent batch reads (one array per key), keyset pages, idempotent commands.
 * Every command may throw MeridianError RATE_LIMITED / SYSTEM_MAINTENANCE (with `retryAfterMs`).
 */
export interface PsaConnector extends ProjectAmendmentCommands {
  getProjects(ids: readonly string[]): Promise<(ProjectRecord | null)[]>;
  listProjects(page: PageRequest, filter?: ProjectFilter): Promise<Page<ProjectRecord>>;
  getProjectsByAccount(accountIds: readonly string[]): Promise<ProjectRecord[][]>;
  /** The project converted from each opportunity, or null. */
  getProjectsByOpportunity(opportunityIds: readonly string[]): Promise<(ProjectRecord | null)[]>;
  getMilestonesByProject(projectIds: readonly string[]): Promise<MilestoneRecord[][]>;
  getMilestones(ids: readonly string[]): Promise<(MilestoneRecord | null)[]>;
  /**
   * Milestones in ID order, a keyset page at a time; `{ status: 'COMPLETED', billingModels: ['FIXED_FEE', 'MILESTONE'] }`
   * lists those ready to invoice (an invoiced milestone is INVOICED, no longer COMPLETED).
   */
  listMilestones(page: PageRequest, filter?: MilestoneFilter): Promise<Page<MilestoneRecord>>;
  /** The billed and collected figures of each project, null until first recorded. */
  getProjectFinancials(projectIds: readonly string[]): Promise<(ProjectFinancialsRecord | null)[]>;
  listTimeEntries(projectId: string, page: PageRequest, filter?: TimeEntryFilter): Promise<Page<TimeEntryRecord>>;
  listExpenses(projectId: string, page: PageRequest, filter?: TimeEntryFilter): Promise<Page<ExpenseRecord>>;
  getRateCards(ids: readonly string[]): Promise<(RateCardRecord | null)[]>;
  getTemplates(ids: readonly string[]): Promise<(ProjectTemplateRecord | null)[]>;
  listTemplates(): Promise<ProjectTemplateRecord[]>;
  getResources(ids: readonly string[]): Promise<(ResourceRecord | null)[]>;
  /**
   * The project's APPROVED, billable time entries (priced) and expenses, oldest date first, then ID; at most
   * `request.first` of each. @throws MeridianError NOT_FOUND (project)
   */
  getBillableWork(projectId: string, request: BillableWorkRequest): Promise<BillableWorkRecord>;
  /**
   * Projects with at least one APPROVED, billable time entry or expense (dated on or before `until` when given), in ID
   * order; only those of `accountIds` when given (none for an empty list).
   */
  listProjectsWithBillableWork(
    page: PageRequest,
    until?: string | null,
    accountIds?: readonly string[] | null,
  ): Promise<Page<ProjectRecord>>;
  /** @throws MeridianError NOT_FOUND (template), DUPLICATE_EXTERNAL_ID */
  createProjectFromTemplate(input: CreateProjectFromTemplate): Promise<{ record: ProjectRecord; created: boolean }>;
  /** @throws MeridianError NOT_FOUND (project, resource), IDEMPOTENCY_KEY_REUSED */
  submitTimeEntries(idempotencyKey: string, entries: NewTimeEntry[]): Promise<TimeEntryRecord[]>;
  /** SUBMITTED → APPROVED; approved ones are returned unchanged. @throws NOT_FOUND, INVALID_STATE (billed) */
  approveTimeEntries(ids: readonly string[]): Promise<TimeEntryRecord[]>;
  /** PLANNED → COMPLETED; a completed one is returned unchanged. @throws NOT_FOUND */
  completeMilestone(id: string, completedOn: string): Promise<MilestoneRecord>;
  /**
   * COMPLETED → INVOICED on the ERP invoice; one already invoiced on the same invoice is returned unchanged.
   * @throws MeridianError NOT_FOUND, INVALID_STATE (not completed yet, or invoiced on another invoice)
   */
  markMilestoneInvoiced(id: string, invoiceId: string): Promise<MilestoneRecord>;
  /**
   * Records what the ERP billed and collected for a project. The same figures again change nothing (`changed: false`,
   * `updatedAt` kept); figures read before the recorded ones (an earlier `asOf`) are ignored, so late or replayed
   * records never overwrite fresher ones. @throws MeridianError NOT_FOUND (project), VALIDATION_REJECTED (a negative amount)
   */
  recordProjectFinancials(
    input: RecordProjectFinancials,
  ): Promise<{ record: ProjectFinancialsRecord; changed: boolean }>;
  /**
   * APPROVED → BILLED with the ERP billing reference; entries already billed under the same reference are
   * returned unchanged. @throws NOT_FOUND, INVALID_STATE (not approved, or billed under another reference)
   */
  markBilled(input: {
    timeEntryIds: readonly string[];
    expenseIds: readonly string[];
    billingReference: string;
  }): Promise<{ timeEntries: TimeEntryRecord[]; expenses: ExpenseRecord[] }>;
  /**
   * Deletes a project and its milestones, the compensation of {@link PsaConnector.createProjectFromTemplate}; an
   * unknown ID gives `deleted: false`, so a repeat is harmless.
   * @throws MeridianError INVALID_STATE when the project has time entries, expenses, or a milestone past PLANNED
   */
  deleteProject(id: string): Promise<DeleteOutcome>;
}
