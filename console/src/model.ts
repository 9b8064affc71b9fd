/** The GraphQL selections the console uses, and their result types (hand-written, kept beside each other). */

export const ERROR_CLASSES = [
  'BAD_VALUE',
  'MISSING_REFERENCE',
  'CONNECTION',
  'INTERMITTENT',
  'RATE_LIMITED',
  'MAINTENANCE',
  'DUPLICATE',
  'CONFLICT',
  'ACCESS_DENIED',
  'PRECONDITION_LOST',
  'CREDIT_HOLD',
  'UNKNOWN',
] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

export const FLOWS = [
  'convertOpportunityToProject',
  'billApprovedTime',
  'billMilestone',
  'syncInvoiceStatus',
  'syncCustomer',
  'invoiceBilledWork',
  'applyContractAmendment',
  'flagOverdueInvoice',
] as const;

export const RUN_STATUSES = [
  'QUEUED',
  'RUNNING',
  'WAITING_RETRY',
  'SUCCEEDED',
  'EXCEPTION',
  'RESOLVED',
  'COMPENSATING',
  'ABANDONED',
  'COMPENSATION_FAILED',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const SYSTEMS = ['crm', 'psa', 'erp'] as const;

export const BILLING_MODELS = ['FIXED_FEE', 'TIME_AND_MATERIALS', 'MILESTONE', 'RETAINER'] as const;

export interface StepError {
  class: ErrorClass;
  code: string | null;
  message: string;
  system: string | null;
  at: string;
}

export interface Step {
  name: string;
  status: 'PENDING' | 'SUCCEEDED' | 'FAILED' | 'COMPENSATED' | 'COMPENSATION_FAILED';
  attempts: number;
  error: StepError | null;
  finishedAt: string | null;
}

/** A run as the lists and the live feeds carry it. */
export interface RunSummary {
  id: string;
  flow: string;
  status: RunStatus;
  sequence: number;
  correlationId: string;
  triggeredBy: string;
  createdAt: string;
  updatedAt: string;
  steps: Step[];
}

export const RUN_SUMMARY_FIELDS = `id flow status sequence correlationId triggeredBy createdAt updatedAt
  steps { name status attempts finishedAt error { class code message system at } }`;

export interface AuditEntry {
  at: string;
  actor: string;
  role: string | null;
  correlationId: string | null;
  action: string;
  detail: string | null;
}

/** A run with what its detail page shows. */
export interface RunDetail extends RunSummary {
  input: string;
  exception: { id: string; message: string; class: ErrorClass; step: string } | null;
  audit: AuditEntry[];
}

export const RUN_DETAIL_FIELDS = `${RUN_SUMMARY_FIELDS} input
  exception { id message class step }
  audit { at actor role correlationId action detail }`;

/** An open exception as the inbox shows it. */
export interface InboxException {
  id: string;
  flow: string;
  step: string;
  class: ErrorClass;
  system: string | null;
  message: string;
  createdAt: string;
  account: { id: string; name: string } | null;
  run: RunSummary & {
    input: string;
    opportunity: {
      id: string;
      deliveryRegion: string | null;
      servicePackage: string | null;
      billingModel: string | null;
      expectedStartDate: string | null;
    } | null;
  };
}

export const INBOX_EXCEPTION_FIELDS = `id flow step class system message createdAt account { id name }
  run { ${RUN_SUMMARY_FIELDS} input opportunity { id deliveryRegion servicePackage billingModel expectedStartDate } }`;

/** The fields `retryRunWithInput` can correct (`RunInputPatch`), in the order the form shows them. */
export const PATCH_FIELDS = [
  { name: 'deliveryRegion', label: 'Delivery region', kind: 'code', hint: 'selects legal entity and tax jurisdiction' },
  { name: 'servicePackage', label: 'Service package', kind: 'code', hint: 'selects the project template' },
  { name: 'billingModel', label: 'Billing model', kind: 'billingModel', hint: '' },
  { name: 'expectedStartDate', label: 'Expected start', kind: 'date', hint: 'YYYY-MM-DD' },
  { name: 'legalEntity', label: 'ERP legal entity', kind: 'code', hint: 'e.g. MERIDIAN-UK' },
  { name: 'taxJurisdiction', label: 'ERP tax jurisdiction', kind: 'code', hint: 'e.g. GB' },
] as const;
export type PatchField = (typeof PATCH_FIELDS)[number]['name'];

/** Flows whose input `retryRunWithInput` can correct. */
export const PATCHABLE_FLOWS = new Set(['convertOpportunityToProject']);

/** What abandoning undoes, per step that has a compensation; other steps leave their work as it is. */
export const UNDO: Record<string, string> = {
  ensureErpCustomer: 'the ERP customer this run created is deleted (a customer that existed before is kept)',
  createPsaProject: 'the PSA project this run created is deleted',
  pushProjectDimensions: "the project's financial dimensions are removed from the ERP",
  linkBack: 'the project and customer are unlinked from the CRM opportunity and the registry',
};

/** Runs in these states no longer change. */
export const FINAL_STATUSES: ReadonlySet<string> = new Set([
  'SUCCEEDED',
  'RESOLVED',
  'ABANDONED',
  'COMPENSATION_FAILED',
]);
