import type { OrchestrationContext } from '../context';

export const Opportunity = {
  // The opportunity is owned by the CRM; this subgraph only adds its links and conversion.
  __resolveReference: (ref: { id: string }) => ref,
  crossReferences: (ref: { id: string }, _args: unknown, ctx: OrchestrationContext) =>
    ctx.loaders.crossReferencesByEntity.load({ entityType: 'OPPORTUNITY', canonicalId: ref.id }),
  conversion: async (ref: { id: string }, _args: unknown, ctx: OrchestrationContext) => {
    const runs = await ctx.loaders.runsByOpportunity.load(ref.id);
    return runs.find((r) => r.flow === 'convertOpportunityToProject') ?? null;
  },
};
