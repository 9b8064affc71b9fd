import { money } from '../../../lib/money';
import type { ExpenseRecord } from '../connector/psa-connector';
import type { PsaContext } from '../context';

/** Expense fields: amount as Money, project and resource through loaders. */
export const Expense = {
  project: (e: ExpenseRecord, _args: unknown, ctx: PsaContext) => ctx.loaders.project.load(e.projectId),
  resource: (e: ExpenseRecord, _args: unknown, ctx: PsaContext) => ctx.loaders.resource.load(e.resourceId),
  amount: (e: ExpenseRecord) => money(e.amountMinor, e.currency),
};
