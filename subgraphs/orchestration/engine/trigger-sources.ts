/*
 * The port the trigger poller reads the systems through: what work each trigger finds, a page at a time. Its GraphQL
 * adapter is `systems/graphql-trigger-sources.ts`; tests hand in their own.
 */

/** A page of the subjects a trigger found, and where the page ends. */
export interface TriggerPage {
  ids: string[];
  /** Pass as `after` for the next page; for a change feed, also the position to read on from at a later look. Null for an empty page. */
  endCursor: string | null;
  hasNextPage: boolean;
}

/** Where the trigger poller looks for work in the systems. */
export interface TriggerSources {
  /** Closed-won opportunities not linked to a project yet, a page at a time. */
  unconvertedWonOpportunities(after: string | null): Promise<TriggerPage>;
  /**
   * Projects with approved, billable, unbilled work, a page at a time; only those with one of `billingModels` when
   * given (`endCursor` ends the whole page read, kept or not).
   */
  projectsWithBillableWork(after: string | null, billingModels?: readonly string[]): Promise<TriggerPage>;
  /** Completed milestones (so not yet invoiced) of fixed-fee and milestone-billed projects, a page at a time. */
  milestonesReadyToInvoice(after: string | null): Promise<TriggerPage>;
  /** ERP invoices changed (posted, paid) after the change-feed position `after` (from the start when null), oldest change first. */
  invoicesChanged(after: string | null): Promise<TriggerPage>;
  /**
   * CRM accounts changed after the change-feed position `after`, oldest change first, keeping only those with an ERP
   * customer (the others have nothing to sync); `endCursor` ends the whole page read, kept or not.
   */
  accountsChanged(after: string | null): Promise<TriggerPage>;
  /**
   * Billing periods due for invoicing on `today`, as `<projectId>|<period>`, a page of projects at a time: for a
   * project of an `inArrears` model, last month once the ERP holds uninvoiced billing lines of the project posted up to
   * its end; for a project of an `inAdvance` model, neither completed nor cancelled, that has a retainer fee in the
   * ERP, this month.
   */
  billingPeriodsDue(
    after: string | null,
    due: { today: string; inArrears: readonly string[]; inAdvance: readonly string[] },
  ): Promise<TriggerPage>;
  /** CRM contract amendments approved and not yet applied, a page at a time. */
  approvedContractAmendments(after: string | null): Promise<TriggerPage>;
  /** ERP invoices POSTED (not yet marked OVERDUE) with a balance past their due date on the ERP's today, a page at a time. */
  invoicesPastDue(after: string | null): Promise<TriggerPage>;
}
