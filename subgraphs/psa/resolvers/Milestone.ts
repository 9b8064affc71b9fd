import { money } from '../../../lib/money';
import type { MilestoneRecord } from '../connector/psa-connector';
import type { PsaContext } from '../context';

/** Milestone fields: amount as Money, the invoice as an ERP reference, the project through its loader. */
export const Milestone = {
  amount: (m: MilestoneRecord) => money(m.amountMinor, m.currency),
  invoice: (m: MilestoneRecord) => (m.invoiceId === null ? null : { id: m.invoiceId }),
  project: (m: MilestoneRecord, _args: unknown, ctx: PsaContext) => ctx.loaders.project.load(m.projectId),
};
