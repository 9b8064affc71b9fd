import type { TimeEntryRecord } from '../connector/psa-connector';
import type { PsaContext } from '../context';
import { formatHundredths } from '../../../lib/hundredths';

/** Time entry fields: hours as a two-decimal string, project and resource through loaders. */
export const TimeEntry = {
  project: (e: TimeEntryRecord, _args: unknown, ctx: PsaContext) => ctx.loaders.project.load(e.projectId),
  resource: (e: TimeEntryRecord, _args: unknown, ctx: PsaContext) => ctx.loaders.resource.load(e.resourceId),
  hours: (e: TimeEntryRecord) => formatHundredths(e.hoursHundredths),
};
