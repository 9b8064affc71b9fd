import type { RunRecord } from '../engine/ledger';
import type { OrchestrationContext } from '../context';

const stub = (typename: string, id: string | null) => (id ? { __typename: typename, id } : null);

export const SyncRun = {
  __resolveReference: (ref: { id: string }, ctx: OrchestrationContext) => ctx.loaders.run.load(ref.id),
  input: (run: RunRecord) => JSON.stringify(run.input),
  exception: (run: RunRecord, _args: unknown, ctx: OrchestrationContext) => ctx.loaders.openExceptionByRun.load(run.id),
  audit: async (run: RunRecord, _args: unknown, ctx: OrchestrationContext) =>
    (await ctx.loaders.auditByRun.load(run.id)).map((a) => ({
      ...a,
      detail: a.detail === null ? null : JSON.stringify(a.detail),
    })),
  account: (run: RunRecord) => stub('Account', run.accountId),
  opportunity: (run: RunRecord) => stub('Opportunity', run.opportunityId),
  project: (run: RunRecord) => stub('Project', run.projectId),
};
