import { isoDate, isoTimestamp, todayUtc } from '../../../lib/dates';
import { MeridianError } from '../../../lib/errors';
import { displayName, recordId } from '../../../lib/input';
import { parseMoneyInput, type MoneyInput } from '../../../lib/money-input';
import type { BillingModel } from '../connector/psa-connector';
import type { PsaContext } from '../context';
import type { ErpInvoices } from '../erp-invoices';
import { parseHundredths } from '../../../lib/hundredths';

interface CreateProjectFromTemplateArgs {
  input: {
    externalId: string;
    templateId: string;
    accountId: string;
    opportunityId?: string | null;
    name: string;
    code: string;
    billingModel: BillingModel;
    budget: MoneyInput;
    startDate: string;
  };
}

interface SubmitTimeEntriesArgs {
  input: {
    idempotencyKey: string;
    entries: {
      projectId: string;
      resourceId: string;
      role?: string | null;
      date: string;
      hours: string;
      billable: boolean;
      notes?: string | null;
    }[];
  };
}

interface RecordProjectFinancialsArgs {
  input: { projectId: string; billed: MoneyInput; collected: MoneyInput; overdue?: MoneyInput | null; asOf: string };
}

interface MarkTimeEntriesBilledArgs {
  input: { timeEntryIds: string[]; expenseIds?: string[] | null; billingReference: string };
}

/** @throws MeridianError BAD_USER_INPUT when `value` is empty or blank. */
function required(value: string, field: string): string {
  if (value.trim() === '') throw new MeridianError('BAD_USER_INPUT', `${field} must not be blank`, { field, value });
  return value;
}

/**
 * The ERP invoice a milestone is marked invoiced on must exist and bill the milestone's own account: a milestone is
 * never closed on somebody else's invoice, or on none. An unknown milestone is left to the connector (NOT_FOUND).
 * @throws MeridianError NOT_FOUND for an invoice the ERP does not have; INVALID_STATE for another account's invoice.
 */
async function checkInvoiceOfMilestone(ctx: PsaContext, milestoneId: string, invoiceId: string, erp: ErpInvoices) {
  const [milestone] = await ctx.psa.getMilestones([milestoneId]);
  if (!milestone) return;
  const [project] = await ctx.psa.getProjects([milestone.projectId]);
  const invoice = await erp.accountOf(invoiceId, ctx.requestId);
  if (!invoice)
    throw new MeridianError('NOT_FOUND', `The ERP has no invoice '${invoiceId}'`, {
      field: 'invoiceId',
      value: invoiceId,
    });
  if (project && invoice.accountId !== project.accountId)
    throw new MeridianError(
      'INVALID_STATE',
      `Invoice ${invoiceId} bills account ${invoice.accountId ?? '(none)'}, not ${project.accountId}, the account of milestone ${milestoneId}'s project ${project.id}`,
      { field: 'invoiceId', value: invoiceId },
    );
}

/** System-level PSA commands (and the compensation `deleteProject`); each validates its input, then calls one idempotent connector command. */
export const Mutation = {
  createProjectFromTemplate: async (_: unknown, { input }: CreateProjectFromTemplateArgs, ctx: PsaContext) => {
    const budget = parseMoneyInput(input.budget, 'budget');
    if (budget.minor < 0n) {
      throw new MeridianError(
        'BAD_USER_INPUT',
        `budget must not be negative; got ${input.budget.amount} ${budget.currency}`,
        { field: 'budget.amount', value: input.budget.amount },
      );
    }
    const { record, created } = await ctx.psa.createProjectFromTemplate({
      externalId: required(input.externalId, 'externalId'),
      templateId: input.templateId,
      accountId: required(input.accountId, 'accountId'),
      opportunityId: input.opportunityId ?? null,
      name: displayName(input.name, 'name'),
      code: required(input.code, 'code'),
      billingModel: input.billingModel,
      budgetMinor: Number(budget.minor),
      currency: budget.currency,
      startDate: isoDate(input.startDate, 'startDate'),
    });
    return { project: record, created };
  },
  submitTimeEntries: (_: unknown, { input }: SubmitTimeEntriesArgs, ctx: PsaContext) =>
    ctx.psa.submitTimeEntries(
      required(input.idempotencyKey, 'idempotencyKey'),
      input.entries.map((e, i) => ({
        projectId: e.projectId,
        resourceId: e.resourceId,
        role: e.role ?? null,
        date: isoDate(e.date, `entries[${i}].date`),
        hoursHundredths: parseHundredths(e.hours, `entries[${i}].hours`),
        billable: e.billable,
        notes: e.notes ?? null,
      })),
    ),
  approveTimeEntries: (_: unknown, args: { ids: string[] }, ctx: PsaContext) => ctx.psa.approveTimeEntries(args.ids),
  completeMilestone: (_: unknown, args: { id: string }, ctx: PsaContext) =>
    ctx.psa.completeMilestone(args.id, todayUtc()),
  markMilestoneInvoiced: async (_: unknown, args: { id: string; invoiceId: string }, ctx: PsaContext) => {
    const invoiceId = recordId(args.invoiceId, 'invoiceId');
    if (ctx.erpInvoices) await checkInvoiceOfMilestone(ctx, args.id, invoiceId, ctx.erpInvoices);
    return ctx.psa.markMilestoneInvoiced(args.id, invoiceId);
  },
  recordProjectFinancials: async (_: unknown, { input }: RecordProjectFinancialsArgs, ctx: PsaContext) => {
    const billed = parseMoneyInput(input.billed, 'billed');
    const collected = parseMoneyInput(input.collected, 'collected');
    const overdue = parseMoneyInput(input.overdue ?? { amount: '0', currency: billed.currency }, 'overdue');
    for (const [field, amount] of [
      ['collected', collected],
      ['overdue', overdue],
    ] as const) {
      if (amount.currency !== billed.currency) {
        throw new MeridianError(
          'BAD_USER_INPUT',
          `${field} must be in the currency of billed (${billed.currency}); got ${amount.currency}`,
          { field: `${field}.currency`, value: amount.currency },
        );
      }
    }
    const { record, changed } = await ctx.psa.recordProjectFinancials({
      projectId: input.projectId,
      billedMinor: Number(billed.minor),
      collectedMinor: Number(collected.minor),
      overdueMinor: Number(overdue.minor),
      currency: billed.currency,
      asOf: isoTimestamp(input.asOf, 'asOf'),
      at: new Date().toISOString(),
    });
    ctx.loaders.financials.clear(input.projectId).prime(input.projectId, record);
    return { project: await ctx.loaders.project.load(input.projectId), changed };
  },
  markTimeEntriesBilled: (_: unknown, { input }: MarkTimeEntriesBilledArgs, ctx: PsaContext) =>
    ctx.psa.markBilled({
      timeEntryIds: input.timeEntryIds,
      expenseIds: input.expenseIds ?? [],
      billingReference: required(input.billingReference, 'billingReference'),
    }),
  deleteProject: (_: unknown, args: { id: string }, ctx: PsaContext) => ctx.psa.deleteProject(args.id),
};
