import type { ExceptionRecord } from '../engine/ledger';
import type { OrchestrationContext } from '../context';

export const SyncException = {
  __resolveReference: (ref: { id: string }, ctx: OrchestrationContext) => ctx.loaders.exception.load(ref.id),
  run: (exception: ExceptionRecord, _args: unknown, ctx: OrchestrationContext) => ctx.loaders.run.load(exception.runId),
  account: (exception: ExceptionRecord) =>
    exception.accountId ? { __typename: 'Account', id: exception.accountId } : null,
};
