import DataLoader from 'dataloader';
import { assertUnscoped } from '../../../lib/auth/account-scope';
import { isoDate, optionalIsoDate } from '../../../lib/dates';
import { MeridianError } from '../../../lib/errors';
import { displayName, recordId } from '../../../lib/input';
import { money } from '../../../lib/money';
import { type MoneyInput, parseMoneyInput } from '../../../lib/money-input';
import type { ProjectContractRecord } from '../connector/project-contracts';
import type { ErpContext } from '../context';

interface AmendProjectContractArgs {
  input: {
    externalId: string;
    projectId: string;
    value: MoneyInput;
    endDate?: string | null;
    billingSchedule: { milestoneId: string; description: string; dueDate: string; amount: MoneyInput }[];
  };
}

// One loader per request context, made on first use (the contract is read by business callers only, so it needs no
// tenant scope): a list of projects reads every contract in one connector call.
const loaders = new WeakMap<ErpContext, DataLoader<string, ProjectContractRecord | null>>();
const contractLoader = (ctx: ErpContext) => {
  let loader = loaders.get(ctx);
  if (!loader) {
    loader = new DataLoader((ids) => ctx.erp.getProjectContracts(ids));
    loaders.set(ctx, loader);
  }
  return loader;
};

/** `Project.contract`: null for a project never amended. */
export const projectContract = (project: { id: string }, _args: unknown, ctx: ErpContext) =>
  contractLoader(ctx).load(project.id);

/** A project contract as the graph shows it. */
export const ProjectContract = {
  value: (c: ProjectContractRecord) => money(c.valueMinor, c.currency),
  billingSchedule: (c: ProjectContractRecord) =>
    c.schedule.map((s) => ({ ...s, amount: money(s.amountMinor, c.currency) })),
};

/** The ERP's project contract commands, merged into `Mutation`. */
export const projectContractMutations = {
  amendProjectContract: async (_: unknown, { input }: AmendProjectContractArgs, ctx: ErpContext) => {
    assertUnscoped(ctx.identity, 'amendProjectContract');
    const value = parseMoneyInput(input.value, 'value');
    if (value.minor < 0n)
      throw new MeridianError('BAD_USER_INPUT', `value must not be negative; got ${input.value.amount}`, {
        field: 'value.amount',
        value: input.value.amount,
      });
    const schedule = input.billingSchedule.map((s, i) => {
      const amount = parseMoneyInput(s.amount, `billingSchedule[${i}].amount`);
      if (amount.currency !== value.currency || amount.minor <= 0n)
        throw new MeridianError(
          'BAD_USER_INPUT',
          `billingSchedule[${i}].amount must be more than zero, in ${value.currency}; got ${s.amount.amount} ${amount.currency}`,
          { field: `billingSchedule[${i}].amount`, value: s.amount.amount },
        );
      return {
        milestoneId: recordId(s.milestoneId, `billingSchedule[${i}].milestoneId`),
        description: displayName(s.description, `billingSchedule[${i}].description`),
        dueDate: isoDate(s.dueDate, `billingSchedule[${i}].dueDate`),
        amountMinor: Number(amount.minor),
      };
    });
    const { record, applied } = await ctx.erp.amendProjectContract({
      externalId: recordId(input.externalId, 'externalId'),
      psaProjectId: recordId(input.projectId, 'projectId'),
      valueMinor: Number(value.minor),
      currency: value.currency,
      endDate: optionalIsoDate(input.endDate, 'endDate'),
      schedule,
    });
    contractLoader(ctx).clear(record.psaProjectId).prime(record.psaProjectId, record);
    return { contract: record, applied };
  },
  revertProjectContractAmendment: async (_: unknown, args: { externalId: string }, ctx: ErpContext) => {
    assertUnscoped(ctx.identity, 'revertProjectContractAmendment');
    return { externalId: args.externalId, ...(await ctx.erp.revertProjectContractAmendment(args.externalId)) };
  },
};
