import { changeFeedRequest, toChangeConnection } from '../../../lib/change-feed';
import { pageRequest, toConnection } from '../../../lib/pagination';
import type { AccountFilter, OpportunityFilter } from '../connector/crm-connector';
import type { CrmContext } from '../context';
import { accountScopeOf, assertUnscoped, scopeIds } from '../../../lib/auth/account-scope';

interface ListArgs<F> {
  first?: number | null;
  after?: string | null;
  filter?: F | null;
}

/**
 * CRM reads. A portal user's reads are narrowed to its own accounts: single reads through the scoped loaders (a
 * foreign ID answers `null`, as an unknown one does), lists by intersecting the filter with its accounts in the
 * store's query, so `totalCount` counts only what it may see.
 */
export const Query = {
  account: (_: unknown, args: { id: string }, ctx: CrmContext) => ctx.loaders.account.load(args.id),
  accounts: async (_: unknown, args: ListArgs<AccountFilter>, ctx: CrmContext) => {
    const filter = args.filter ?? {};
    const scope = accountScopeOf(ctx.identity);
    const scoped: AccountFilter = scope === null ? filter : { ...filter, ids: scopeIds(filter.ids, scope) };
    const page = await ctx.crm.listAccounts(pageRequest(args, 'accounts'), scoped);
    for (const account of page.nodes) ctx.loaders.account.prime(account.id, account);
    return toConnection(page, 'accounts', (a) => a.id);
  },
  accountsChangedSince: async (
    _: unknown,
    args: { since?: string | null; first?: number | null; after?: string | null },
    ctx: CrmContext,
  ) => {
    assertUnscoped(ctx.identity, 'accountsChangedSince');
    const page = await ctx.crm.listAccountsChangedSince(changeFeedRequest(args, 'accountsChangedSince'));
    for (const account of page.nodes) ctx.loaders.account.prime(account.id, account);
    return toChangeConnection(page, 'accountsChangedSince');
  },
  opportunity: (_: unknown, args: { id: string }, ctx: CrmContext) => ctx.loaders.opportunity.load(args.id),
  opportunities: async (_: unknown, args: ListArgs<OpportunityFilter>, ctx: CrmContext) => {
    const filter = args.filter ?? {};
    const scope = accountScopeOf(ctx.identity);
    const scoped: OpportunityFilter = scope === null ? filter : { ...filter, accountIds: scopeIds(null, scope) };
    const page = await ctx.crm.listOpportunities(pageRequest(args, 'opportunities'), scoped);
    for (const o of page.nodes) ctx.loaders.opportunity.prime(o.id, o);
    return toConnection(page, 'opportunities', (o) => o.id);
  },
};
