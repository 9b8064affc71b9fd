import type { AccountRecord, OpportunityStage } from '../connector/crm-connector';
import type { CrmContext } from '../context';

export const Account = {
  __resolveReference: (ref: { id: string }, ctx: CrmContext) => ctx.loaders.account.load(ref.id),
  parentAccount: (account: AccountRecord, _args: unknown, ctx: CrmContext) =>
    account.parentAccountId ? ctx.loaders.account.load(account.parentAccountId) : null,
  billingContact: async (account: AccountRecord, _args: unknown, ctx: CrmContext) =>
    account.billingContactId
      ? ((await ctx.loaders.contactsByAccount.load(account.id)).find((c) => c.id === account.billingContactId) ?? null)
      : null,
  finance: (account: AccountRecord, _args: unknown, ctx: CrmContext) => ctx.loaders.finance.load(account.id),
  contacts: (account: AccountRecord, _args: unknown, ctx: CrmContext) => ctx.loaders.contactsByAccount.load(account.id),
  opportunities: async (account: AccountRecord, args: { stage?: OpportunityStage | null }, ctx: CrmContext) => {
    const all = await ctx.loaders.opportunitiesByAccount.load(account.id);
    return args.stage ? all.filter((o) => o.stage === args.stage) : all;
  },
};
