import type { BillableWorkRecord } from '../connector/psa-connector';
import type { PsaContext } from '../context';

/** Billable work fields: the project through its loader. */
export const BillableWork = {
  project: (w: BillableWorkRecord, _args: unknown, ctx: PsaContext) => ctx.loaders.project.load(w.projectId),
};
