import type { MilestoneRecord, ProjectRecord } from './psa-connector';

/**
 * A contract amendment to apply to a project, idempotent by `externalId` (the CRM amendment's key,
 * `amendment:<id>`). Null fields are left as they are; amounts are minor units of the project's currency.
 */
export interface AmendProject {
  externalId: string;
  projectId: string;
  budgetMinor: number | null;
  /** The currency of every amount given; must be the project's. Null when the amendment names no amount. */
  currency: string | null;
  endDate: string | null;
  addMilestones: { name: string; amountMinor: number; dueDate: string }[];
  removeMilestoneIds: string[];
  changeMilestones: { milestoneId: string; amountMinor: number | null; dueDate: string | null }[];
}

/** What an amendment did to a project. */
export interface ProjectAmended {
  project: ProjectRecord;
  milestones: MilestoneRecord[];
  /** The milestones the amendment added, in the order given. */
  addedMilestoneIds: string[];
  /** False when this external ID had applied the same amendment already: nothing changed. */
  applied: boolean;
}

/** An amendment the PSA has applied (or applied and reverted), by its external ID. */
export interface ProjectAmendmentRecord {
  externalId: string;
  projectId: string;
  status: 'APPLIED' | 'REVERTED';
}

/** The PSA's project amendment commands, part of {@link PsaConnector}. */
export interface ProjectAmendmentCommands {
  /** Batch read by external ID: the keys' length and order, `null` per external ID never applied. */
  getProjectAmendments(externalIds: readonly string[]): Promise<(ProjectAmendmentRecord | null)[]>;
  /**
   * Applies an amendment in one transaction. The same external ID and data again change nothing (`applied: false`);
   * one reverted may be applied again.
   * @throws MeridianError NOT_FOUND (project, or a milestone not of the project); INVOICED_MILESTONE_LOCKED naming each
   * invoiced milestone it would change or remove; VALIDATION_REJECTED for another currency; DUPLICATE_EXTERNAL_ID for
   * the external ID with other data.
   */
  amendProject(input: AmendProject): Promise<ProjectAmended>;
  /**
   * Undoes an applied amendment (the compensation of {@link amendProject}): budget and end date back, added milestones
   * deleted, removed ones restored, changed ones set back. Nothing to undo gives `reverted: false`.
   * @throws MeridianError INVALID_STATE when a later amendment of the project is applied, or a milestone it added has
   * been completed since; INVOICED_MILESTONE_LOCKED when a milestone it changed has been invoiced since.
   */
  revertProjectAmendment(externalId: string): Promise<{ reverted: boolean }>;
}
