import { optionalIsoDate } from '../../../lib/dates';
import { money } from '../../../lib/money';
import { pageRequest, toConnection } from '../../../lib/pagination';
import type { ProjectRecord, TimeEntryFilter } from '../connector/psa-connector';
import type { PsaContext } from '../context';

interface EntryListArgs {
  first?: number | null;
  after?: string | null;
  filter?: TimeEntryFilter | null;
}

/** The connector filter, with its dates checked. @throws MeridianError BAD_USER_INPUT for a malformed date. */
function entryFilter(filter: TimeEntryFilter | null | undefined): TimeEntryFilter {
  if (!filter) return {};
  return {
    ...filter,
    dateFrom: optionalIsoDate(filter.dateFrom, 'filter.dateFrom'),
    dateTo: optionalIsoDate(filter.dateTo, 'filter.dateTo'),
  };
}

/** Project fields; nested records come through loaders, time and expenses a page at a time. */
export const Project = {
  __resolveReference: (ref: { id: string }, ctx: PsaContext) => ctx.loaders.project.load(ref.id),
  budget: (p: ProjectRecord) => money(p.budgetMinor, p.currency),
  template: (p: ProjectRecord, _args: unknown, ctx: PsaContext) => ctx.loaders.template.load(p.templateId),
  rateCard: (p: ProjectRecord, _args: unknown, ctx: PsaContext) => ctx.loaders.rateCard.load(p.rateCardId),
  account: (p: ProjectRecord) => ({ id: p.accountId }),
  opportunity: (p: ProjectRecord) => (p.opportunityId === null ? null : { id: p.opportunityId }),
  milestones: (p: ProjectRecord, _args: unknown, ctx: PsaContext) => ctx.loaders.milestonesByProject.load(p.id),
  financials: (p: ProjectRecord, _args: unknown, ctx: PsaContext) => ctx.loaders.financials.load(p.id),
  timeEntries: async (p: ProjectRecord, args: EntryListArgs, ctx: PsaContext) => {
    // Cursors are bound to the project, so one project's cursor is refused on another's list.
    const list = `${p.id}.timeEntries`;
    const page = await ctx.psa.listTimeEntries(p.id, pageRequest(args, list), entryFilter(args.filter));
    return toConnection(page, list, (e) => e.id);
  },
  expenses: async (p: ProjectRecord, args: EntryListArgs, ctx: PsaContext) => {
    const list = `${p.id}.expenses`;
    const page = await ctx.psa.listExpenses(p.id, pageRequest(args, list), entryFilter(args.filter));
    return toConnection(page, list, (e) => e.id);
  },
};
