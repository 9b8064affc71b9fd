import { money } from '../../../lib/money';
import type { OpportunityRecord } from '../connector/crm-connector';
import type { CrmContext } from '../context';

export const Opportunity = {
  __resolveReference: (ref: { id: string }, ctx: CrmContext) => ctx.loaders.opportunity.load(ref.id),
  amount: (o: OpportunityRecord) =>
    o.amountMinor === null || o.currency === null ? null : money(o.amountMinor, o.currency),
  account: (o: OpportunityRecord, _args: unknown, ctx: CrmContext) => ctx.loaders.account.load(o.accountId),
};
