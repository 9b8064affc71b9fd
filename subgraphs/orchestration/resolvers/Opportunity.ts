import type { OrchestrationContext } from '../context';

export const Opportunity = {
  // The Opportunity is owned elsewhere; this subgraph only adds its links, so the reference is all it needs.
  __resolveReference: (ref: { id: string }) => ref,
  crossReferences: (ref: { id: string }, _args: unknown, ctx: OrchestrationContext) =>
    ctx.loaders.crossReferencesByEntity.load({ entityType: 'OPPORTUNITY', canonicalId: ref.id }),
};
