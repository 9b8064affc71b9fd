import type { BillingModel } from '../../../lib/billing-model';
import type { Money } from '../../../lib/money';
import type { CrmAmendmentApi, ErpAmendmentApi, PsaAmendmentApi } from './amendment-apis';

/** An opportunity as the conversion reads it from the CRM. */
export interface OpportunityForConversion {
  id: string;
  name: string;
  stage: string;
  amount: Money | null;
  closeDate: string | null;
  servicePackage: string | null;
  billingModel: BillingModel | null;
  deliveryRegion: string | null;
  expectedStartDate: string | null;
  psaProjectId: string | null;
  erpCustomerId: string | null;
  account: { id: string; name: string };
}

/** A CRM account as the customer sync reads it: the fields the CRM may own on the ERP customer. */
export interface AccountForSync {
  id: string;
  name: string;
  legalName: string | null;
  billingCountry: string | null;
  billingAddress: string | null;
  billingContact: { firstName: string; lastName: string; email: string | null } | null;
  parentAccount: { id: string } | null;
  paymentTerms: string | null;
}

/** What the ERP has invoiced an account, to record on it; all amounts in one currency. */
export interface AccountFinancials {
  accountId: string;
  invoicedToDate: Money;
  outstanding: Money;
  overdue: Money;
  /** Due date of the oldest invoice past due with a balance (ISO 8601 date); null when nothing is overdue. */
  oldestOverdueDueDate: string | null;
  /** When the ERP showed these figures (ISO 8601 timestamp). */
  asOf: string;
}

/** The CRM commands the flows use. Every method may throw SystemError. */
export interface CrmApi extends CrmAmendmentApi {
  getOpportunity(id: string, correlationId: string): Promise<OpportunityForConversion | null>;
  getAccount(id: string, correlationId: string): Promise<AccountForSync | null>;
  /** Idempotent: the same figures again report `changed: false`; figures older than the recorded ones are ignored. */
  recordAccountFinancials(input: AccountFinancials, correlationId: string): Promise<{ changed: boolean }>;
  linkOpportunity(
    id: string,
    links: { psaProjectId: string; erpCustomerId: string },
    correlationId: string,
  ): Promise<void>;
  unlinkOpportunity(id: string, correlationId: string): Promise<void>;
}

/** A PSA milestone with the project it bills, as milestone billing reads it. */
export interface MilestoneForBilling {
  id: string;
  name: string;
  status: 'PLANNED' | 'COMPLETED' | 'INVOICED';
  amount: Money;
  invoiceId: string | null;
  project: {
    id: string;
    code: string;
    name: string;
    billingModel: BillingModel;
    account: { id: string } | null;
  };
}

/** What the ERP has billed and collected for a project, to record on it; both amounts in one currency. */
export interface ProjectFinancials {
  projectId: string;
  billed: Money;
  collected: Money;
  /** Balances of the project's invoices past their due date (collections status OVERDUE when not zero). */
  overdue: Money;
  /** When the ERP showed these figures (ISO 8601 timestamp). */
  asOf: string;
}

/** The PSA commands the flows use. Every method may throw SystemError. */
export interface PsaApi extends PsaAmendmentApi {
  createProjectFromTemplate(
    input: {
      externalId: string;
      templateId: string;
      accountId: string;
      opportunityId: string;
      name: string;
      code: string;
      billingModel: string;
      budget: Money;
      startDate: string;
    },
    correlationId: string,
  ): Promise<{ id: string; code: string; created: boolean }>;
  deleteProject(id: string, correlationId: string): Promise<void>;
  /** Approved, billable, unbilled work of a project, priced; at most `first` time entries and `first` expenses. */
  getBillableWork(projectId: string, first: number, until: string | null, correlationId: string): Promise<BillableWork>;
  markTimeEntriesBilled(
    input: { timeEntryIds: string[]; expenseIds: string[]; billingReference: string },
    correlationId: string,
  ): Promise<void>;
  getMilestone(id: string, correlationId: string): Promise<MilestoneForBilling | null>;
  /** COMPLETED → INVOICED; the same invoice again leaves it unchanged. */
  markMilestoneInvoiced(
    id: string,
    invoiceId: string,
    correlationId: string,
  ): Promise<{ status: string; invoiceId: string | null }>;
  /** Idempotent: the same figures again report `changed: false`; figures older than the recorded ones are ignored. */
  recordProjectFinancials(input: ProjectFinancials, correlationId: string): Promise<{ changed: boolean }>;
}

/** A project's work ready to bill. */
export interface BillableWork {
  project: {
    id: string;
    billingModel: BillingModel;
    account: { id: string } | null;
    /** The project's rate card as it stands now (it may change between two reads). */
    rateCard: { rates: { role: string; rate: Money }[] };
  };
  timeEntries: {
    timeEntry: { id: string; date: string; hours: string; role: string; resource: { name: string } };
    rate: Money | null;
    amount: Money | null;
  }[];
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

/** Customer fields the CRM holds a value for, so that governance may make the CRM their owner. */
export type CustomerSyncField =
  | 'name'
  | 'legalName'
  | 'billingCountry'
  | 'billingAddress'
  | 'parentAccount'
  | 'billingContact'
  | 'paymentTerms';

/** The ERP customer's fields `updateCustomerFields` changes (`parentAccount` is the ERP's `parentCustomerId`). */
export type ErpCustomerField = Exclude<CustomerSyncField, 'parentAccount'> | 'parentCustomerId';

/** An ERP customer as the flows read it. */
export interface CustomerForSync {
  id: string;
  customerNumber: string;
  name: string;
  currency: string;
  externalCrmId: string;
  /** The legal entity that bills the customer (ERP-owned). */
  legalEntity: { code: string };
  /** Its tax jurisdiction (ERP-owned). */
  taxJurisdiction: { code: string };
  /** Its credit hold (ERP-owned); null when it is not on hold. */
  creditHold: { reason: string; since: string } | null;
  paymentTerms: string;
  legalName: string | null;
  billingCountry: string | null;
  billingAddress: string | null;
  /** A mailbox: `Ada Lovelace <ada@example.com>`. */
  billingContact: string | null;
  /** The group's parent customer, with its CRM account. */
  parentCustomer: { id: string; externalCrmId: string } | null;
}

/** An ERP invoice as the invoice-status flow reads it. */
export interface InvoiceStatusView {
  id: string;
  number: string;
  status: 'DRAFT' | 'POSTED' | 'OVERDUE' | 'PAID' | 'VOID';
  /** POSTED or OVERDUE with a balance past its due date (as of the ERP's today, UTC). */
  overdue: boolean;
  dueDate: string;
  total: Money;
  balance: Money;
  customer: { id: string; externalCrmId: string };
  project: { id: string } | null;
}

/** An invoice to post from typed-in lines, idempotent by its external ID. */
export interface NewInvoice {
  externalId: string;
  customerId: string;
  projectId: string | null;
  issueDate: string;
  /** Uninvoiced billing lines of the project to put on the invoice (the ERP marks them invoiced on it). */
  billingLineIds?: string[];
  /** Uninvoiced billing lines drawn down against a retainer fee on the invoice: marked invoiced on it, not charged. */
  coveredBillingLineIds?: string[];
  lines: { description: string; quantity: string; unitPrice: Money }[];
}

/** An ERP billing line as invoicing reads it: what it bills, when it was posted, and the invoice it is on. */
export interface BillingLineView {
  id: string;
  postingDate: string;
  amount: Money;
  /** Null while the line is not invoiced; `externalId` is the key the invoice was posted under. */
  invoice: { id: string; externalId: string | null } | null;
}

/** The ERP's reference data a conversion's pre-flight checks against: codes it knows, and periods' status. */
export interface ErpReferenceData {
  legalEntities: { code: string }[];
  taxJurisdictions: { code: string }[];
  accountingPeriods: { period: string; status: 'OPEN' | 'CLOSED' }[];
}

/** The ERP commands the flows use. Every method may throw SystemError. */
export interface ErpApi extends ErpAmendmentApi {
  /** Every legal entity and tax jurisdiction, and the status of the accounting periods `periods` (`YYYY-MM`). */
  getReferenceData(periods: readonly string[], correlationId: string): Promise<ErpReferenceData>;
  upsertCustomer(
    input: {
      externalCrmId: string;
      name: string;
      legalEntityCode: string;
      taxJurisdictionCode: string;
      paymentTerms: string;
      currency: string;
      legalName?: string | null;
      billingCountry?: string | null;
      billingAddress?: string | null;
      billingContact?: string | null;
      parentCustomerId?: string | null;
    },
    correlationId: string,
  ): Promise<{ id: string; created: boolean }>;
  deleteCustomer(id: string, correlationId: string): Promise<void>;
  /** The customer of a CRM account, or null when the account has none. */
  getCustomerByAccount(accountId: string, correlationId: string): Promise<CustomerForSync | null>;
  /**
   * Changes the given customer fields and no other; fails (CONFLICT) when a field to change no longer holds its
   * `expected` value. Setting the values held reports `changed: false`.
   */
  updateCustomerFields(
    input: {
      id: string;
      set: Partial<Record<ErpCustomerField, string | null>>;
      expected: Partial<Record<ErpCustomerField, string | null>>;
    },
    correlationId: string,
  ): Promise<{ changed: boolean }>;
  /** Posts an invoice; the same external ID and data return the first invoice (`created: false`). */
  postInvoice(
    input: NewInvoice,
    correlationId: string,
  ): Promise<{ id: string; number: string; total: Money; created: boolean }>;
  getInvoice(id: string, correlationId: string): Promise<InvoiceStatusView | null>;
  /** Marks a POSTED invoice past its due date OVERDUE; already OVERDUE or PAID: `changed: false`. */
  markInvoiceOverdue(id: string, correlationId: string): Promise<{ invoice: InvoiceStatusView; changed: boolean }>;
  /** Every invoice of a CRM account's customer, or of a PSA project, in ID order (read a page at a time). */
  listInvoices(
    filter: { accountId: string } | { projectId: string },
    correlationId: string,
  ): Promise<InvoiceStatusView[]>;
  upsertProjectDimensions(
    input: {
      projectId: string;
      customerId: string;
      projectCode: string;
      billingSchedule: string;
      revenueTreatment: string;
    },
    correlationId: string,
  ): Promise<{ created: boolean }>;
  deleteProjectDimensions(projectId: string, correlationId: string): Promise<void>;
  /** Every billing line of a PSA project, invoiced or not, oldest posting first (none when the ERP has no project). */
  getBillingLines(projectId: string, correlationId: string): Promise<BillingLineView[]>;
  /** A retainer project's monthly fee, or null when the ERP holds none for the project. */
  getRetainerFee(projectId: string, correlationId: string): Promise<Money | null>;
  /** Posts lines, each idempotent by its external ID; returns their ERP IDs in order. */
  postBillingLines(
    lines: readonly NewBillingLine[],
    correlationId: string,
  ): Promise<{ id: string; externalId: string; amount: Money }[]>;
}

/** The three systems as the flows see them: handed in from outside, never imported by a flow. */
export interface Systems {
  crm: CrmApi;
  psa: PsaApi;
  erp: ErpApi;
}
