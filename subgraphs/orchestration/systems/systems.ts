import type { Money } from '../../../lib/money';

/** An opportunity as the conversion reads it from the CRM. */
export interface OpportunityForConversion {
  id: string;
  name: string;
  stage: string;
  amount: Money | null;
  closeDate: string | null;
  servicePackage: string | null;
  billingModel: 'FIXED_FEE' | 'TIME_AND_MATERIALS' | 'MILESTONE' | 'RETAINER' | null;
  deliveryRegion: string | null;
  expectedStartDate: string | null;
  psaProjectId: string | null;
  erpCustomerId: string | null;
  account: { id: string; name: string };
}

/** The CRM commands the flows use. Every method may throw SystemError. */
export interface CrmApi {
  getOpportunity(id: string, correlationId: string): Promise<OpportunityForConversion | null>;
  linkOpportunity(id: string, links: { psaProjectId: string; erpCustomerId: string }, correlationId: string): Promise<void>;
  unlinkOpportunity(id: string, correlationId: string): Promise<void>;
}

/** The PSA commands the flows use. Every method may throw SystemError. */
export interface PsaApi {
  createProjectFromTemplate(
    input: { externalId: string; templateId: string; accountId: string; opportunityId: string; name: string; code: string; billingModel: string; budget: Money; startDate: string },
    correlationId: string,
  ): Promise<{ id: string; code: string; created: boolean }>;
  deleteProject(id: string, correlationId: string): Promise<void>;
  /** Approved, billable, unbilled work of a project, priced; at most `first` time entries and `first` expenses. */
  getBillableWork(projectId: string, first: number, until: string | null, correlationId: string): Promise<BillableWork>;
  markTimeEntriesBilled(input: { timeEntryIds: string[]; expenseIds: string[]; billingReference: string }, correlationId: string): Promise<void>;
  /** Projects with work ready to bill, in ID order, a page at a time. */
  listProjectsWithBillableWork(first: number, after: string | null, until: string | null, correlationId: string): Promise<{ ids: string[]; endCursor: string | null; hasNextPage: boolean }>;
}

/** A project's work ready to bill. */
export interface BillableWork {
  project: { id: string; account: { id: string } | null };
  timeEntries: { timeEntry: { id: string; date: string; hours: string; role: string; resource: { name: string } }; rate: Money | null; amount: Money | null }[];
  expenses: { id: string; date: string; category: string; amount: Money }[];
  hasMore: boolean;
}

/** A billing line to post to the ERP. */
export interface NewBillingLine {
  externalId: string;
  projectId: string;
  sourceType: 'TIME' | 'EXPENSE';
  sourceId: string;
  description: string;
  quantity: string;
  unitPrice: Money;
  postingDate: string;
}

/** The ERP commands the flows use. Every method may throw SystemError. */
export interface ErpApi {
  upsertCustomer(
    input: { externalCrmId: string; name: string; legalEntityCode: string; taxJurisdictionCode: string; paymentTerms: string; currency: string },
    correlationId: string,
  ): Promise<{ id: string; created: boolean }>;
  deleteCustomer(id: string, correlationId: string): Promise<void>;
  upsertProjectDimensions(
    input: { projectId: string; customerId: string; projectCode: string; billingSchedule: string; revenueTreatment: string },
    correlationId: string,
  ): Promise<{ created: boolean }>;
  deleteProjectDimensions(projectId: string, correlationId: string): Promise<void>;
  /** Posts lines, each idempotent by its external ID; returns their ERP IDs in order. */
  postBillingLines(lines: readonly NewBillingLine[], correlationId: string): Promise<{ id: string; externalId: string; amount: Money }[]>;
}

/** The three systems as the flows see them: handed in from outside, never imported by a flow. */
export interface Systems {
  crm: CrmApi;
  psa: PsaApi;
  erp: ErpApi;
}
