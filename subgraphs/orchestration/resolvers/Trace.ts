import type { CrossReferenceRecord, RunRecord } from '../engine/ledger';
import type { OrchestrationContext } from '../context';

/** The parent of Trace's fields: the run found for the correlation ID. */
export interface TraceSource {
  run: RunRecord;
}

export const Trace = {
  account: ({ run }: TraceSource) => (run.accountId ? { __typename: 'Account', id: run.accountId } : null),
  opportunity: ({ run }: TraceSource) =>
    run.opportunityId ? { __typename: 'Opportunity', id: run.opportunityId } : null,
  project: ({ run }: TraceSource) => (run.projectId ? { __typename: 'Project', id: run.projectId } : null),
  links: async ({ run }: TraceSource, _args: unknown, ctx: OrchestrationContext) => {
    const keys = [
      ...(run.opportunityId ? [{ entityType: 'OPPORTUNITY' as const, canonicalId: run.opportunityId }] : []),
      ...(run.projectId ? [{ entityType: 'PROJECT' as const, canonicalId: run.projectId }] : []),
    ];
    const lists = await Promise.all(keys.map((k) => ctx.loaders.crossReferencesByEntity.load(k)));
    return lists.flat() satisfies CrossReferenceRecord[];
  },
};
