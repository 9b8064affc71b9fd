import { optionalIsoDate } from '../../../lib/dates';
import { MeridianError } from '../../../lib/errors';
import { pageRequest, toConnection } from '../../../lib/pagination';
import type { MilestoneFilter, ProjectFilter } from '../connector/psa-connector';
import type { PsaContext } from '../context';
import { accountScopeOf, scopedAccountIds } from '../../../lib/auth/account-scope';

interface ListArgs<F> {
  first?: number | null;
  after?: string | null;
  filter?: F | null;
}

/** Time entries, and expenses, `billableWork` returns when `first` is omitted. */
export const DEFAULT_BILLABLE_WORK = 500;

/**
 * Root reads: projects, templates and staff, through the per-request loaders. A portal caller's reads and lists hold only
 * its own accounts' projects and milestones; another account's ID answers as an unknown one.
 */
export const Query = {
  project: (_: unknown, args: { id: string }, ctx: PsaContext) => ctx.loaders.project.load(args.id),
  projects: async (_: unknown, args: ListArgs<ProjectFilter>, ctx: PsaContext) => {
    const scope = accountScopeOf(ctx.identity);
    const page = await ctx.psa.listProjects(
      pageRequest(args, 'projects'),
      scope === null ? (args.filter ?? {}) : { ...args.filter, accountIds: scopedAccountIds(scope) },
    );
    for (const project of page.nodes) ctx.loaders.project.prime(project.id, project);
    return toConnection(page, 'projects', (p) => p.id);
  },
  projectsWithBillableWork: async (
    _: unknown,
    args: { first?: number | null; after?: string | null; until?: string | null },
    ctx: PsaContext,
  ) => {
    const page = await ctx.psa.listProjectsWithBillableWork(
      pageRequest(args, 'projectsWithBillableWork'),
      optionalIsoDate(args.until, 'until'),
      scopedAccountIds(accountScopeOf(ctx.identity)),
    );
    for (const project of page.nodes) ctx.loaders.project.prime(project.id, project);
    return toConnection(page, 'projectsWithBillableWork', (p) => p.id);
  },
  billableWork: async (
    _: unknown,
    args: { projectId: string; first?: number | null; until?: string | null },
    ctx: PsaContext,
  ) => {
    // The same bounds and message as a page size, with a default sized for a billing batch.
    const { first } = pageRequest({ first: args.first ?? DEFAULT_BILLABLE_WORK }, 'billableWork');
    const until = optionalIsoDate(args.until, 'until');
    if (accountScopeOf(ctx.identity) !== null && (await ctx.loaders.project.load(args.projectId)) === null) {
      // The adapter's own error for an unknown project, so another account's project is indistinguishable from none.
      throw new MeridianError('NOT_FOUND', `PSA has no project '${args.projectId}' to bill`, {
        system: 'psa',
        field: 'projectId',
        value: args.projectId,
      });
    }
    return ctx.psa.getBillableWork(args.projectId, { first, until });
  },
  milestone: (_: unknown, args: { id: string }, ctx: PsaContext) => ctx.loaders.milestone.load(args.id),
  milestones: async (_: unknown, args: ListArgs<MilestoneFilter>, ctx: PsaContext) => {
    const scope = accountScopeOf(ctx.identity);
    const page = await ctx.psa.listMilestones(
      pageRequest(args, 'milestones'),
      scope === null ? (args.filter ?? {}) : { ...args.filter, accountIds: scopedAccountIds(scope) },
    );
    for (const milestone of page.nodes) ctx.loaders.milestone.prime(milestone.id, milestone);
    return toConnection(page, 'milestones', (m) => m.id);
  },
  projectTemplates: async (_: unknown, _args: unknown, ctx: PsaContext) => {
    const templates = await ctx.psa.listTemplates();
    for (const template of templates) ctx.loaders.template.prime(template.id, template);
    return templates;
  },
  resource: (_: unknown, args: { id: string }, ctx: PsaContext) => ctx.loaders.resource.load(args.id),
};
