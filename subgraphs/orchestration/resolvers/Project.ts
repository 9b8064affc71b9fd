import type { OrchestrationContext } from '../context';

export const Project = {
  // The project is owned elsewhere; this subgraph only adds its links and runs, so the reference is all it needs.
  __resolveReference: (ref: { id: string }) => ref,
  crossReferences: (ref: { id: string }, _args: unknown, ctx: OrchestrationContext) =>
    ctx.loaders.crossReferencesByEntity.load({ entityType: 'PROJECT', canonicalId: ref.id }),
  syncRuns: (ref: { id: string }, _args: unknown, ctx: OrchestrationContext) => ctx.loaders.runsByProject.load(ref.id),
};
