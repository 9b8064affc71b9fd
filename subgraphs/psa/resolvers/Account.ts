import type { PsaContext } from '../context';
import { accountScopeOf, seesAccount } from '../../../lib/auth/account-scope';

/** The CRM's Account, extended with its PSA projects; another account than a portal user's own resolves to null. */
export const Account = {
  // The CRM owns accounts; the PSA only knows their IDs, so the representation is the whole stub.
  __resolveReference: (ref: { id: string }, ctx: PsaContext) =>
    seesAccount(accountScopeOf(ctx.identity), ref.id) ? { id: ref.id } : null,
  projects: (account: { id: string }, _args: unknown, ctx: PsaContext) =>
    seesAccount(accountScopeOf(ctx.identity), account.id) ? ctx.loaders.projectsByAccount.load(account.id) : null,
};
