import type { PsaContext } from '../context';

/** The CRM's Account, extended with its PSA projects. */
export const Account = {
  // The CRM owns accounts; the PSA only knows their IDs, so the representation is the whole stub.
  __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
  projects: (account: { id: string }, _args: unknown, ctx: PsaContext) => ctx.loaders.projectsByAccount.load(account.id),
};
