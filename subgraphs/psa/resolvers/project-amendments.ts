import { assertUnscoped } from '../../../lib/auth/account-scope';
import { isoDate, optionalIsoDate } from '../../../lib/dates';
import { MeridianError } from '../../../lib/errors';
import { displayName, recordId } from '../../../lib/input';
import { type MoneyInput, parseMoneyInput } from '../../../lib/money-input';
import type { AmendProject, ProjectAmendmentRecord } from '../connector/project-amendments';
import type { PsaContext } from '../context';

interface AmendProjectArgs {
  input: {
    externalId: string;
    projectId: string;
    budget?: MoneyInput | null;
    endDate?: string | null;
    addMilestones?: { name: string; amount: MoneyInput; dueDate: string }[] | null;
    removeMilestoneIds?: string[] | null;
    changeMilestones?: { milestoneId: string; amount?: MoneyInput | null; dueDate?: string | null }[] | null;
  };
}

/**
 * Checks an amendment as the PSA takes it: one currency, a budget of zero or more, milestone amounts above zero, real
 * dates. @throws MeridianError BAD_USER_INPUT naming the field.
 */
function parseAmendProject(input: AmendProjectArgs['input']): AmendProject {
  let currency: string | null = null;
  const minorOf = (value: MoneyInput, field: string, least: bigint): number => {
    const parsed = parseMoneyInput(value, field);
    if (currency !== null && parsed.currency !== currency)
      throw new MeridianError('BAD_USER_INPUT', `${field} must be in ${currency}; got ${parsed.currency}`, {
        field: `${field}.currency`,
        value: parsed.currency,
      });
    currency = parsed.currency;
    if (parsed.minor < least)
      throw new MeridianError(
        'BAD_USER_INPUT',
        `${field} must be ${least === 0n ? 'zero or more' : 'more than zero'}; got ${value.amount}`,
        { field: `${field}.amount`, value: value.amount },
      );
    return Number(parsed.minor);
  };
  const budgetMinor = input.budget ? minorOf(input.budget, 'budget', 0n) : null;
  const addMilestones = (input.addMilestones ?? []).map((m, i) => ({
    name: displayName(m.name, `addMilestones[${i}].name`),
    amountMinor: minorOf(m.amount, `addMilestones[${i}].amount`, 1n),
    dueDate: isoDate(m.dueDate, `addMilestones[${i}].dueDate`),
  }));
  const changeMilestones = (input.changeMilestones ?? []).map((c, i) => ({
    milestoneId: recordId(c.milestoneId, `changeMilestones[${i}].milestoneId`),
    amountMinor: c.amount ? minorOf(c.amount, `changeMilestones[${i}].amount`, 1n) : null,
    dueDate: optionalIsoDate(c.dueDate, `changeMilestones[${i}].dueDate`),
  }));
  return {
    externalId: recordId(input.externalId, 'externalId'),
    projectId: recordId(input.projectId, 'projectId'),
    budgetMinor,
    currency,
    endDate: optionalIsoDate(input.endDate, 'endDate'),
    addMilestones,
    removeMilestoneIds: (input.removeMilestoneIds ?? []).map((id, i) => recordId(id, `removeMilestoneIds[${i}]`)),
    changeMilestones,
  };
}

/** The PSA's contract amendment reads, merged into `Query`. */
export const projectAmendmentQueries = {
  projectAmendment: async (_: unknown, args: { externalId: string }, ctx: PsaContext) => {
    assertUnscoped(ctx.identity, 'projectAmendment');
    return (await ctx.psa.getProjectAmendments([args.externalId]))[0] ?? null;
  },
};

/** `ProjectAmendment.project`, through the project loader. */
export const ProjectAmendment = {
  project: (a: ProjectAmendmentRecord, _args: unknown, ctx: PsaContext) => ctx.loaders.project.load(a.projectId),
};

/** The PSA's contract amendment commands, merged into `Mutation`. */
export const projectAmendmentMutations = {
  amendProject: async (_: unknown, { input }: AmendProjectArgs, ctx: PsaContext) => {
    assertUnscoped(ctx.identity, 'amendProject');
    const amended = await ctx.psa.amendProject(parseAmendProject(input));
    const byId = new Map(amended.milestones.map((m) => [m.id, m]));
    ctx.loaders.project.clear(amended.project.id).prime(amended.project.id, amended.project);
    ctx.loaders.milestonesByProject.clear(amended.project.id).prime(amended.project.id, amended.milestones);
    return {
      project: amended.project,
      addedMilestones: amended.addedMilestoneIds.map((id) => byId.get(id)).filter((m) => m !== undefined),
      applied: amended.applied,
    };
  },
  revertProjectAmendment: async (_: unknown, args: { externalId: string }, ctx: PsaContext) => {
    assertUnscoped(ctx.identity, 'revertProjectAmendment');
    return { externalId: args.externalId, ...(await ctx.psa.revertProjectAmendment(args.externalId)) };
  },
};
