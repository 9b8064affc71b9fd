import type { OrchestrationContext } from '../context';

export const CrossReference = {
  __resolveReference: (ref: { id: string }, ctx: OrchestrationContext) => ctx.loaders.crossReference.load(ref.id),
};
