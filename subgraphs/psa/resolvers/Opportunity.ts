import type { PsaContext } from '../context';

/** The CRM's Opportunity, extended with the project converted from it. */
export const Opportunity = {
  // The CRM owns opportunities; the PSA only knows their IDs, so the representation is the whole stub.
  __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
  project: (opportunity: { id: string }, _args: unknown, ctx: PsaContext) =>
    ctx.loaders.projectByOpportunity.load(opportunity.id),
};
