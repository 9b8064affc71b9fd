/** One billing the contract schedules: a milestone's amount on its due date. */
export interface ScheduledBillingRecord {
  milestoneId: string;
  description: string;
  dueDate: string;
  amountMinor: number;
}

/**
 * What the ERP holds as a project's contract once it has been amended: its value, planned end and the milestone
 * billings it schedules, in `currency` minor units. A project never amended has none (its value is the deal's, as sold).
 */
export interface ProjectContractRecord {
  psaProjectId: string;
  valueMinor: number;
  currency: string;
  endDate: string | null;
  schedule: ScheduledBillingRecord[];
  /** External ID of the amendment that set this state (`amendment:<id>`). */
  amendmentExternalId: string;
}

/** A contract state to set for an amendment, idempotent by `externalId`. */
export type AmendProjectContract = Omit<ProjectContractRecord, 'amendmentExternalId'> & { externalId: string };

/** The ERP's project contract commands, part of {@link ErpConnector}. */
export interface ProjectContractCommands {
  /** Batch read by PSA project ID: the keys' length and order, `null` per project never amended. */
  getProjectContracts(psaProjectIds: readonly string[]): Promise<(ProjectContractRecord | null)[]>;
  /**
   * Sets a project's contract value, end date and billing schedule for an amendment. The same external ID and data again
   * change nothing (`applied: false`); one reverted may be applied again.
   * @throws MeridianError NOT_FOUND when the ERP has no dimensions for the project; VALIDATION_REJECTED for a currency
   * other than its customer's; DUPLICATE_EXTERNAL_ID for the external ID with other data.
   */
  amendProjectContract(input: AmendProjectContract): Promise<{ record: ProjectContractRecord; applied: boolean }>;
  /**
   * Puts back the contract as it was before the amendment (none, for the first): the compensation of
   * {@link amendProjectContract}. Nothing to undo gives `reverted: false`.
   * @throws MeridianError INVALID_STATE when a later amendment of the project is applied on top.
   */
  revertProjectContractAmendment(externalId: string): Promise<{ reverted: boolean }>;
}
