import { applyContractAmendment } from './apply-contract-amendment';
import { billApprovedTime } from './bill-approved-time';
import { billMilestone } from './bill-milestone';
import { convertOpportunityToProject } from './convert-opportunity-to-project';
import { flagOverdueInvoice } from './flag-overdue-invoice';
import type { Flow } from './flow';
import { invoiceBilledWork } from './invoice-billed-work';
import { syncCustomer } from './sync-customer';
import { syncInvoiceStatus } from './sync-invoice-status';

/** Every flow the orchestration runs. */
export const FLOWS: readonly Flow<any>[] = [
  convertOpportunityToProject,
  billApprovedTime,
  billMilestone,
  syncInvoiceStatus,
  syncCustomer,
  invoiceBilledWork,
  applyContractAmendment,
  flagOverdueInvoice,
];
