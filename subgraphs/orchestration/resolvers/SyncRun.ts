import type { RunRecord, StepRecord } from '../engine/ledger';
import { accountScopeOf, seesAccount } from '../../../lib/auth/account-scope';
import type { OrchestrationContext } from '../context';

const stub = (typename: string, id: string | null) => (id ? { __typename: typename, id } : null);

/** Marks a run record read at a past sequence (`syncRunAt`): its fields answer as the run was then. */
const SNAPSHOT = Symbol('snapshot');
type Snapshot = RunRecord & { [SNAPSHOT]?: true };

/** The run as stored for one sequence, answering `exception` as it was at that sequence, not as it is now. */
export function asSnapshot(run: RunRecord): RunRecord {
  return Object.assign(run, { [SNAPSHOT]: true as const });
}

/**
 * The exception a run had open at a stored sequence: the one raised for the failure its snapshot shows (the step that
 * failed, or whose compensation failed, with that very error), whatever became of it since.
 */
async function exceptionAt(run: RunRecord, ctx: OrchestrationContext) {
  const failed: StepRecord | undefined = [...run.steps]
    .reverse()
    .find(
      (s) =>
        s.error !== null &&
        ((run.status === 'EXCEPTION' && s.status === 'FAILED') ||
          ((run.status === 'COMPENSATING' || run.status === 'COMPENSATION_FAILED') &&
            s.status === 'COMPENSATION_FAILED')),
    );
  if (!failed) return null;
  const raised = [...(await ctx.loaders.auditByRun.load(run.id))].reverse().find((a) => {
    const detail = a.detail as { exceptionId?: string; step?: string; error?: { at?: string } } | null;
    return a.action === 'EXCEPTION_RAISED' && detail?.step === failed.name && detail.error?.at === failed.error!.at;
  });
  const id = (raised?.detail as { exceptionId?: string } | undefined)?.exceptionId;
  return id ? ctx.loaders.exception.load(id) : null;
}

/**
 * The run when the caller may see it: every run for an unscoped role; for a portal user only a run whose account is
 * one of its own. Another account's run (or one whose account is not known yet) answers as an unknown one: null.
 */
export function visibleRun<R extends Pick<RunRecord, 'accountId'>>(
  run: R | null | undefined,
  ctx: OrchestrationContext,
) {
  if (!run) return null;
  const scope = accountScopeOf(ctx.identity);
  return scope === null || (run.accountId !== null && seesAccount(scope, run.accountId)) ? run : null;
}

export const SyncRun = {
  __resolveReference: async (ref: { id: string }, ctx: OrchestrationContext) =>
    visibleRun(await ctx.loaders.run.load(ref.id), ctx),
  input: (run: RunRecord) => JSON.stringify(run.input),
  exception: (run: Snapshot, _args: unknown, ctx: OrchestrationContext) =>
    run[SNAPSHOT] ? exceptionAt(run, ctx) : ctx.loaders.openExceptionByRun.load(run.id),
  audit: async (run: RunRecord, _args: unknown, ctx: OrchestrationContext) =>
    (await ctx.loaders.auditByRun.load(run.id)).map((a) => ({
      ...a,
      detail: a.detail === null ? null : JSON.stringify(a.detail),
    })),
  account: (run: RunRecord) => stub('Account', run.accountId),
  opportunity: (run: RunRecord) => stub('Opportunity', run.opportunityId),
  project: (run: RunRecord) => stub('Project', run.projectId),
};
