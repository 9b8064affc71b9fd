import { assertUnscoped } from '../../../lib/auth/account-scope';
import { isoDate, optionalIsoDate } from '../../../lib/dates';
import { MeridianError } from '../../../lib/errors';
import { displayName, optionalDisplayName, recordId } from '../../../lib/input';
import { money } from '../../../lib/money';
import { type MoneyInput, parseMoneyInput } from '../../../lib/money-input';
import { pageRequest, toConnection } from '../../../lib/pagination';
import type {
  ContractAmendmentFilter,
  ContractAmendmentRecord,
  UpsertContractAmendment,
} from '../connector/contract-amendments';
import type { CrmContext } from '../context';

interface UpsertContractAmendmentArgs {
  input: {
    externalId: string;
    opportunityId: string;
    reason?: string | null;
    newAmount?: MoneyInput | null;
    newEndDate?: string | null;
    addMilestones?: { name: string; amount: MoneyInput; dueDate: string }[] | null;
    removeMilestoneIds?: string[] | null;
    changeMilestones?: { milestoneId: string; amount?: MoneyInput | null; dueDate?: string | null }[] | null;
  };
}

const amountOf = (minor: number | null, currency: string | null) =>
  minor === null || currency === null ? null : money(minor, currency);

/**
 * Checks an amendment as the CRM takes it: every amount in one currency, the contract value zero or more, milestone
 * amounts more than zero, real dates, and something to change.
 * @throws MeridianError BAD_USER_INPUT naming the field; nothing is written then.
 */
export function parseAmendmentInput(input: UpsertContractAmendmentArgs['input'], at: string): UpsertContractAmendment {
  let currency: string | null = null;
  const minorOf = (value: MoneyInput, field: string, least: 0n | 1n): number => {
    const parsed = parseMoneyInput(value, field);
    if (currency !== null && parsed.currency !== currency)
      throw new MeridianError(
        'BAD_USER_INPUT',
        `${field} must be in the amendment's currency (${currency}); got ${parsed.currency}`,
        { field: `${field}.currency`, value: parsed.currency },
      );
    currency = parsed.currency;
    if (parsed.minor < least)
      throw new MeridianError(
        'BAD_USER_INPUT',
        `${field} must be ${least === 0n ? 'zero or more' : 'more than zero'}; got ${value.amount} ${parsed.currency}`,
        { field: `${field}.amount`, value: value.amount },
      );
    return Number(parsed.minor);
  };
  const newAmountMinor = input.newAmount ? minorOf(input.newAmount, 'newAmount', 0n) : null;
  const addMilestones = (input.addMilestones ?? []).map((m, i) => {
    return {
      name: displayName(m.name, `addMilestones[${i}].name`).trim(),
      amountMinor: minorOf(m.amount, `addMilestones[${i}].amount`, 1n),
      dueDate: isoDate(m.dueDate, `addMilestones[${i}].dueDate`),
    };
  });
  const changeMilestones = (input.changeMilestones ?? []).map((c, i) => {
    if (!c.amount && !c.dueDate)
      throw new MeridianError('BAD_USER_INPUT', `changeMilestones[${i}] must change the amount or the due date`, {
        field: `changeMilestones[${i}]`,
      });
    return {
      milestoneId: recordId(c.milestoneId, `changeMilestones[${i}].milestoneId`),
      amountMinor: c.amount ? minorOf(c.amount, `changeMilestones[${i}].amount`, 1n) : null,
      dueDate: optionalIsoDate(c.dueDate, `changeMilestones[${i}].dueDate`),
    };
  });
  const removeMilestoneIds = [
    ...new Set((input.removeMilestoneIds ?? []).map((id, i) => recordId(id, `removeMilestoneIds[${i}]`))),
  ];
  const touched = [...removeMilestoneIds, ...changeMilestones.map((c) => c.milestoneId)];
  const twice = touched.find((id, i) => touched.indexOf(id) !== i);
  if (twice)
    throw new MeridianError('BAD_USER_INPUT', `Milestone ${twice} is changed or removed twice in one amendment`, {
      field: 'changeMilestones',
      value: twice,
    });
  const newEndDate = optionalIsoDate(input.newEndDate, 'newEndDate');
  if (
    newAmountMinor === null &&
    newEndDate === null &&
    addMilestones.length + removeMilestoneIds.length + changeMilestones.length === 0
  )
    throw new MeridianError(
      'BAD_USER_INPUT',
      'An amendment must change something: a new amount, a new end date, or milestones added, removed or changed',
      { field: 'input' },
    );
  return {
    externalId: recordId(input.externalId, 'externalId'),
    opportunityId: recordId(input.opportunityId, 'opportunityId'),
    reason: optionalDisplayName(input.reason, 'reason')?.trim() || null,
    newAmountMinor,
    currency,
    newEndDate,
    addMilestones,
    removeMilestoneIds,
    changeMilestones,
    at,
  };
}

/** A contract amendment as the graph shows it. */
export const ContractAmendment = {
  opportunity: (a: ContractAmendmentRecord, _args: unknown, ctx: CrmContext) =>
    ctx.loaders.opportunity.load(a.opportunityId),
  newAmount: (a: ContractAmendmentRecord) => amountOf(a.newAmountMinor, a.currency),
  addMilestones: (a: ContractAmendmentRecord) =>
    a.addMilestones.map((m) => ({ name: m.name, amount: money(m.amountMinor, a.currency!), dueDate: m.dueDate })),
  changeMilestones: (a: ContractAmendmentRecord) =>
    a.changeMilestones.map((c) => ({
      milestoneId: c.milestoneId,
      amount: amountOf(c.amountMinor, a.currency),
      dueDate: c.dueDate,
    })),
};

/** `Opportunity.amendments`, oldest first. */
export const opportunityAmendments = (o: { id: string }, _args: unknown, ctx: CrmContext) =>
  ctx.loaders.amendmentsByOpportunity.load(o.id);

/** The CRM's contract amendment reads, merged into `Query`. */
export const contractAmendmentQueries = {
  contractAmendment: async (_: unknown, args: { id: string }, ctx: CrmContext) => {
    assertUnscoped(ctx.identity, 'contractAmendment');
    return (await ctx.crm.getContractAmendments([args.id]))[0] ?? null;
  },
  contractAmendments: async (
    _: unknown,
    args: { first?: number | null; after?: string | null; filter?: ContractAmendmentFilter | null },
    ctx: CrmContext,
  ) => {
    assertUnscoped(ctx.identity, 'contractAmendments');
    const page = await ctx.crm.listContractAmendments(pageRequest(args, 'contractAmendments'), args.filter ?? {});
    return toConnection(page, 'contractAmendments', (a) => a.id);
  },
};

/** The CRM's contract amendment commands, merged into `Mutation`; none is open to a caller scoped to client accounts. */
export const contractAmendmentMutations = {
  upsertContractAmendment: async (_: unknown, { input }: UpsertContractAmendmentArgs, ctx: CrmContext) => {
    assertUnscoped(ctx.identity, 'upsertContractAmendment');
    const { record, created } = await ctx.crm.upsertContractAmendment(
      parseAmendmentInput(input, new Date().toISOString()),
    );
    return { amendment: record, created };
  },
  approveContractAmendment: (_: unknown, args: { id: string }, ctx: CrmContext) => {
    assertUnscoped(ctx.identity, 'approveContractAmendment');
    return ctx.crm.approveContractAmendment(args.id, new Date().toISOString());
  },
  markContractAmendmentApplied: (_: unknown, args: { id: string; psaProjectId: string }, ctx: CrmContext) => {
    assertUnscoped(ctx.identity, 'markContractAmendmentApplied');
    return ctx.crm.markContractAmendmentApplied(args.id, args.psaProjectId, new Date().toISOString());
  },
  unmarkContractAmendmentApplied: (_: unknown, args: { id: string }, ctx: CrmContext) => {
    assertUnscoped(ctx.identity, 'unmarkContractAmendmentApplied');
    return ctx.crm.unmarkContractAmendmentApplied(args.id);
  },
};
