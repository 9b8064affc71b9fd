import type { CrossReferenceEntity } from '../engine/ledger';
import type { OrchestrationContext } from '../context';

export const Query = {
  health: async (_: unknown, _args: unknown, ctx: OrchestrationContext) => {
    const status = await ctx.ledger.ping().then(
      () => 'OK' as const,
      () => 'DOWN' as const,
    );
    return { status, ledger: ctx.ledger.kind, uptimeSeconds: Math.floor((Date.now() - ctx.startedAt) / 1000) };
  },
  crossReferences: (_: unknown, args: { entityType: CrossReferenceEntity; id: string }, ctx: OrchestrationContext) =>
    ctx.loaders.crossReferencesByEntity.load({ entityType: args.entityType, canonicalId: args.id }),
  crossReference: (_: unknown, args: { id: string }, ctx: OrchestrationContext) => ctx.loaders.crossReference.load(args.id),
};
