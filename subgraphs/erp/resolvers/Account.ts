import { money } from '../../../lib/money';
import type { ErpContext } from '../context';
import { seesAccount } from '../../../lib/auth/account-scope';
import { creditHoldOf } from './Customer';

export const Account = {
  // The CRM owns accounts; the ERP only knows their IDs, so the representation is the whole stub. An account outside
  // the caller's tenant scope resolves to null, as the portal sees no such account.
  __resolveReference: (ref: { id: string }, ctx: ErpContext) =>
    seesAccount(ctx.scope, ref.id) ? { id: ref.id } : null,
  customer: (account: { id: string }, _args: unknown, ctx: ErpContext) =>
    ctx.loaders.customerByCrmAccount.load(account.id),
  invoices: (account: { id: string }, _args: unknown, ctx: ErpContext) =>
    seesAccount(ctx.scope, account.id) ? ctx.loaders.invoicesByCrmAccount.load(account.id) : null,
  receivables: async (account: { id: string }, _args: unknown, ctx: ErpContext) => {
    const [customer, invoices] = await Promise.all([
      ctx.loaders.customerByCrmAccount.load(account.id),
      ctx.loaders.invoicesByCrmAccount.load(account.id),
    ]);
    if (!customer) return null;
    const open = invoices.filter((i) => i.status === 'POSTED' || i.status === 'OVERDUE');
    return money(
      open.reduce((sum, i) => sum + BigInt(i.balanceMinor), 0n),
      customer.currency,
    );
  },
  creditHold: async (account: { id: string }, _args: unknown, ctx: ErpContext) =>
    creditHoldOf(await ctx.loaders.customerByCrmAccount.load(account.id), ctx),
};
