import { MeridianError } from '../../../lib/errors';
import { pageRequest, toConnection, type PageRequest } from '../../../lib/pagination';
import type { CreationOrder, CrossReferenceEntity, ErrorClass, RunFilter } from '../engine/ledger';
import type { OrchestrationContext } from '../context';
import { asSnapshot, visibleRun } from './SyncRun';

interface ExceptionFilterArgs {
  flow?: string | null;
  class?: ErrorClass | null;
  system?: string | null;
  accountId?: string | null;
  status?: 'OPEN' | 'RESOLVED' | null;
  olderThanMinutes?: number | null;
}

/**
 * {@link pageRequest} for a list in insertion order, whose cursor keys are sequence numbers.
 * @throws MeridianError INVALID_CURSOR for a cursor of another list or order, or one that was tampered with.
 */
function insertionPageRequest(args: { first?: number | null; after?: string | null }, list: string): PageRequest {
  const page = pageRequest(args, list);
  if (page.afterKey !== null && !/^\d{1,18}$/.test(page.afterKey)) {
    throw new MeridianError(
      'INVALID_CURSOR',
      `The cursor '${args.after}' does not belong to ${list}; start again without 'after'.`,
      {
        field: 'after',
        value: args.after ?? '',
      },
    );
  }
  return page;
}

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
  crossReference: (_: unknown, args: { id: string }, ctx: OrchestrationContext) =>
    ctx.loaders.crossReference.load(args.id),
  syncRun: async (_: unknown, args: { id: string }, ctx: OrchestrationContext) =>
    visibleRun(await ctx.loaders.run.load(args.id), ctx),
  syncRuns: async (
    _: unknown,
    args: { filter?: RunFilter | null; first?: number | null; after?: string | null; orderBy?: CreationOrder | null },
    ctx: OrchestrationContext,
  ) => {
    const order = args.orderBy ?? 'NEWEST_FIRST';
    const list = `syncRuns.${order}`;
    const page = await ctx.ledger.listRuns(insertionPageRequest(args, list), args.filter ?? {}, order);
    for (const run of page.nodes) ctx.loaders.run.prime(run.id, run);
    return toConnection(page, list, (r) => r.id);
  },
  exceptions: async (
    _: unknown,
    args: {
      filter?: ExceptionFilterArgs | null;
      first?: number | null;
      after?: string | null;
      orderBy?: CreationOrder | null;
    },
    ctx: OrchestrationContext,
  ) => {
    const { olderThanMinutes, status, ...rest } = args.filter ?? {};
    if (olderThanMinutes !== undefined && olderThanMinutes !== null && olderThanMinutes < 0) {
      throw new MeridianError('BAD_USER_INPUT', `olderThanMinutes must not be negative; got ${olderThanMinutes}`, {
        field: 'olderThanMinutes',
        value: String(olderThanMinutes),
      });
    }
    const order = args.orderBy ?? 'NEWEST_FIRST';
    const list = `exceptions.${order}`;
    const page = await ctx.ledger.listExceptions(
      insertionPageRequest(args, list),
      { ...rest, status: status ?? 'OPEN', olderThanMs: olderThanMinutes ? olderThanMinutes * 60_000 : null },
      order,
    );
    return toConnection(page, list, (e) => e.id);
  },
  syncRunAt: async (_: unknown, args: { id: string; sequence: number }, ctx: OrchestrationContext) => {
    // A portal user's scope is decided by the run's account now: its early states (before the run knew it) are its too.
    if (!visibleRun(await ctx.loaders.run.load(args.id), ctx)) return null;
    const run = await ctx.ledger.getRunAt(args.id, args.sequence);
    return run && asSnapshot(run);
  },
  syncException: (_: unknown, args: { id: string }, ctx: OrchestrationContext) => ctx.loaders.exception.load(args.id),
  trace: async (_: unknown, args: { correlationId: string }, ctx: OrchestrationContext) => {
    const run =
      (await ctx.loaders.run.load(args.correlationId)) ??
      (await ctx.ledger.listRuns({ first: 1, afterKey: null }, { correlationId: args.correlationId })).nodes[0];
    return run ? { run } : null;
  },
};
