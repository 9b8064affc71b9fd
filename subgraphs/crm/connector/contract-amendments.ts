import type { Page, PageRequest } from '../../../lib/pagination';
import type { Upserted } from './crm-connector';

/**
 * Where a contract amendment (change order) stands: DRAFT while sales edits it, APPROVED once it may reach delivery and
 * finance (the trigger applies approved ones), APPLIED once the PSA project and the ERP contract carry it.
 */
export type ContractAmendmentStatus = 'DRAFT' | 'APPROVED' | 'APPLIED';

/** A milestone an amendment adds; `amountMinor` in minor units of the amendment's currency. */
export interface AddedMilestone {
  name: string;
  amountMinor: number;
  dueDate: string;
}

/** A change an amendment makes to an existing PSA milestone; null leaves that field as it is. */
export interface MilestoneChange {
  milestoneId: string;
  amountMinor: number | null;
  dueDate: string | null;
}

/**
 * A change order on a won opportunity, owned by the CRM: a new contract value, milestones added, removed or changed,
 * a new end date. Every amount is in `currency` minor units (null when the amendment names no amount at all).
 */
export interface ContractAmendmentRecord {
  id: string;
  opportunityId: string;
  externalId: string;
  status: ContractAmendmentStatus;
  reason: string | null;
  newAmountMinor: number | null;
  currency: string | null;
  newEndDate: string | null;
  addMilestones: AddedMilestone[];
  removeMilestoneIds: string[];
  changeMilestones: MilestoneChange[];
  createdAt: string;
  approvedAt: string | null;
  appliedAt: string | null;
  /** The PSA project the amendment was applied to; null until APPLIED. */
  psaProjectId: string | null;
}

/** An amendment to create or update (while DRAFT), matched by its external ID; `at` stamps a new one. */
export type UpsertContractAmendment = Omit<
  ContractAmendmentRecord,
  'id' | 'status' | 'createdAt' | 'approvedAt' | 'appliedAt' | 'psaProjectId'
> & { at: string };

/** Which amendments to list; every condition given must hold. */
export interface ContractAmendmentFilter {
  opportunityId?: string | null;
  status?: ContractAmendmentStatus | null;
}

/** The CRM's contract amendment commands, part of {@link CrmConnector}. */
export interface ContractAmendmentCommands {
  /** Batch read by ID: the keys' length and order, `null` per unknown ID. */
  getContractAmendments(ids: readonly string[]): Promise<(ContractAmendmentRecord | null)[]>;
  /** Amendments per opportunity, oldest first, one array per opportunity ID. */
  getContractAmendmentsByOpportunity(opportunityIds: readonly string[]): Promise<ContractAmendmentRecord[][]>;
  listContractAmendments(page: PageRequest, filter?: ContractAmendmentFilter): Promise<Page<ContractAmendmentRecord>>;
  /**
   * Creates a DRAFT amendment, or updates the DRAFT with this external ID; the same data again changes nothing.
   * @throws MeridianError NOT_FOUND (opportunity); INVALID_STATE for an opportunity that is not closed-won, or to
   * change an amendment approved already.
   */
  upsertContractAmendment(input: UpsertContractAmendment): Promise<Upserted<ContractAmendmentRecord>>;
  /** DRAFT → APPROVED; an approved or applied amendment is returned as it is. @throws MeridianError NOT_FOUND, INVALID_STATE (deal no longer won) */
  approveContractAmendment(id: string, at: string): Promise<ContractAmendmentRecord>;
  /** APPROVED → APPLIED to the project; idempotent. @throws MeridianError NOT_FOUND, INVALID_STATE (a DRAFT, or applied to another project) */
  markContractAmendmentApplied(id: string, psaProjectId: string, at: string): Promise<ContractAmendmentRecord>;
  /** APPLIED → APPROVED, the compensation of {@link markContractAmendmentApplied}; idempotent. @throws MeridianError NOT_FOUND */
  unmarkContractAmendmentApplied(id: string): Promise<ContractAmendmentRecord>;
}
