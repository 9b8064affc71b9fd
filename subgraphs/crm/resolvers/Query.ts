import { changeFeedRequest, toChangeConnection } from '../../../lib/change-feed';
import { pageRequest, toConnection } from '../../../lib/pagination';
import type { AccountFilter, OpportunityFilter } from '../connector/crm-connector';
import type { CrmContext } from '../context';

interface ListArgs<F> {
  first?: number | null;
  after?: string | null;
  filter?: F | null;
}

export const Query = {
  account: (_: unknown, args: { id: string }, ctx: CrmContext) => ctx.loaders.account.load(args.id),
  accounts: async (_: unknown, args: ListArgs<AccountFilter>, ctx: CrmContext) => {
    const page = await ctx.crm.listAccounts(pageRequest(args, 'accounts'), args.filter ?? {});
    for (const account of page.nodes) ctx.loaders.account.prime(account.id, account);
    return toConnection(page, 'accounts', (a) => a.id);
  },
  accountsChangedSince: async (_: unknown, args: { since?: string | null; first?: number | null; after?: string | null }, ctx: CrmContext) => {
    const page = await ctx.crm.listAccountsChangedSince(changeFeedRequest(args, 'accountsChangedSince'));
    for (const account of page.nodes) ctx.loaders.account.prime(account.id, account);
    return toChangeConnection(page, 'accountsChangedSince');
  },
  opportunity: (_: unknown, args: { id: string }, ctx: CrmContext) => ctx.loaders.opportunity.load(args.id),
  opportunities: async (_: unknown, args: ListArgs<OpportunityFilter>, ctx: CrmContext) => {
    const page = await ctx.crm.listOpportunities(pageRequest(args, 'opportunities'), args.filter ?? {});
    for (const o of page.nodes) ctx.loaders.opportunity.prime(o.id, o);
    return toConnection(page, 'opportunities', (o) => o.id);
  },
};
