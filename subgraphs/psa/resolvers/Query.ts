import { pageRequest, toConnection } from '../../../lib/pagination';
import type { ProjectFilter } from '../connector/psa-connector';
import type { PsaContext } from '../context';

interface ListArgs<F> {
  first?: number | null;
  after?: string | null;
  filter?: F | null;
}

/** Root reads: projects, templates and staff, through the per-request loaders. */
export const Query = {
  project: (_: unknown, args: { id: string }, ctx: PsaContext) => ctx.loaders.project.load(args.id),
  projects: async (_: unknown, args: ListArgs<ProjectFilter>, ctx: PsaContext) => {
    const page = await ctx.psa.listProjects(pageRequest(args, 'projects'), args.filter ?? {});
    for (const project of page.nodes) ctx.loaders.project.prime(project.id, project);
    return toConnection(page, 'projects', (p) => p.id);
  },
  projectTemplates: async (_: unknown, _args: unknown, ctx: PsaContext) => {
    const templates = await ctx.psa.listTemplates();
    for (const template of templates) ctx.loaders.template.prime(template.id, template);
    return templates;
  },
  resource: (_: unknown, args: { id: string }, ctx: PsaContext) => ctx.loaders.resource.load(args.id),
};
