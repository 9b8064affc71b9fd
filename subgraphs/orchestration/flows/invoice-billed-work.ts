import { todayUtc } from '../../../lib/dates';
import { MeridianError } from '../../../lib/errors';
import { fromMinor, toMinor, type Money } from '../../../lib/money';
import { SystemError } from '../systems/system-error';
import type { BillingLineView, Systems } from '../systems/systems';
import type { Flow, StepContext } from './flow';

/** Input of an invoicing run: the project and the billing period (`YYYY-MM`) to invoice. */
export interface InvoiceBilledWorkInput {
  projectId: string;
  period: string;
}

const PERIOD = /^(\d{4})-(0[1-9]|1[0-2])$/;

/**
 * Checks a billing period written `YYYY-MM`, returning it.
 * @throws MeridianError BAD_USER_INPUT naming `period`.
 */
export function billingPeriod(value: unknown): string {
  if (typeof value !== 'string' || !PERIOD.test(value))
    throw new MeridianError('BAD_USER_INPUT', `period must be a month written YYYY-MM; got '${String(value)}'`, {
      field: 'period',
      ...(typeof value === 'string' ? { value } : {}),
    });
  return value;
}

/** The last day of a period, `YYYY-MM-DD`: the cut-off for the billing lines a month's invoice takes. */
export function periodEnd(period: string): string {
  const [, year, month] = PERIOD.exec(period)!;
  return new Date(Date.UTC(Number(year), Number(month), 0)).toISOString().slice(0, 10);
}

/** The month before `period`, `YYYY-MM`. */
export function previousPeriod(period: string): string {
  const [, year, month] = PERIOD.exec(period)!;
  return new Date(Date.UTC(Number(year), Number(month) - 2, 1)).toISOString().slice(0, 7);
}

/** The external ID of a project's invoice for a period: one invoice per project and period, ever, whichever run posts it. */
export const billedWorkInvoiceExternalId = (projectId: string, period: string) => `billed-work:${projectId}:${period}`;

/** The uninvoiced lines of a project posted on or before `cutOff`, oldest first. */
const uninvoicedUpTo = (lines: readonly BillingLineView[], cutOff: string) =>
  lines.filter((l) => l.invoice === null && l.postingDate <= cutOff);

/** Sums lines of one currency as a decimal string. */
function sum(lines: readonly BillingLineView[], currency: string): string {
  return fromMinor(
    lines.reduce((total, l) => total + toMinor(l.amount.amount, currency), 0n),
    currency,
  );
}

/** What `collectBilledWork` found, fixed with the step's output so that every retry of the post sends the same invoice. */
interface BilledWorkToInvoice {
  projectId: string;
  accountId: string;
  customerId: string;
  period: string;
  /** Billing lines posted on or before this day are on the invoice. */
  cutOff: string;
  /** The day the run first collected the work (the worker's clock): the invoice's issue date on every retry. */
  issueDate: string;
  billingLineIds: string[];
  /** What the lines add up to before tax, for the run's reader. */
  subtotal: Money;
}

const collected = (ctx: StepContext<InvoiceBilledWorkInput>) => ctx.results.collectBilledWork as BilledWorkToInvoice;

/** The project's billing model and account, from the PSA. @throws SystemError MISSING_REFERENCE for an unknown project. */
async function readProject(systems: Systems, projectId: string, correlationId: string) {
  const work = await systems.psa.getBillableWork(projectId, 0, null, correlationId);
  return work.project;
}

/**
 * A project's billed, uninvoiced ERP billing lines up to the end of a billing period → one ERP invoice, exactly once:
 * the invoice's external ID is `billed-work:<project>:<period>`, and the ERP marks the lines invoiced on it in the
 * same transaction, so a line is never on two invoices. The invoice then flows back to the CRM and the PSA like any
 * other (the invoice trigger starts `syncInvoiceStatus`).
 */
export const invoiceBilledWork: Flow<InvoiceBilledWorkInput> = {
  name: 'invoiceBilledWork',

  parseInput(raw) {
    if (typeof raw.projectId !== 'string' || raw.projectId === '')
      throw new MeridianError('BAD_USER_INPUT', 'projectId is required', { field: 'projectId' });
    return { projectId: raw.projectId, period: billingPeriod(raw.period) };
  },

  subject: (input) => ({
    subjectKey: `invoice:${input.projectId}:${input.period}`,
    subjectReuse: 'ever',
    accountId: null,
    opportunityId: null,
    projectId: input.projectId,
  }),

  async precondition(input, systems, correlationId) {
    let project: Awaited<ReturnType<typeof readProject>>;
    try {
      project = await readProject(systems, input.projectId, correlationId);
    } catch (error) {
      if (error instanceof SystemError && error.code === 'NOT_FOUND')
        throw new MeridianError('NOT_FOUND', `The PSA has no project '${input.projectId}' to invoice`, {
          field: 'projectId',
          value: input.projectId,
        });
      throw error;
    }
    if (project.billingModel === 'FIXED_FEE' || project.billingModel === 'MILESTONE')
      throw new MeridianError(
        'INVALID_STATE',
        `Project ${project.id} is billed by milestone (${project.billingModel}); its milestones are invoiced by billMilestone, not by period`,
        { field: 'projectId', value: project.id },
      );
    const lines = await systems.erp.getBillingLines(input.projectId, correlationId);
    const externalId = billedWorkInvoiceExternalId(input.projectId, input.period);
    // Invoiced already: the run that did it stands for the period, and the mutation returns it.
    if (lines.some((l) => l.invoice?.externalId === externalId)) return;
    const cutOff = periodEnd(input.period);
    if (uninvoicedUpTo(lines, cutOff).length === 0)
      throw new MeridianError(
        'NOTHING_TO_INVOICE',
        `Project ${input.projectId} has no billed, uninvoiced work posted up to ${cutOff}: there is nothing to invoice for ${input.period}`,
        { field: 'period', value: input.period },
      );
  },

  steps: [
    {
      name: 'collectBilledWork',
      system: 'erp',
      async run(ctx): Promise<BilledWorkToInvoice> {
        const { projectId, period } = ctx.input;
        const project = await readProject(ctx.systems, projectId, ctx.correlationId);
        const label = `Project ${projectId}`;
        if (ctx.governance.billingModels[project.billingModel].billedBy === 'MILESTONE')
          throw new SystemError(
            'BAD_VALUE',
            `${label} is billed by milestone (${project.billingModel}); its milestones are invoiced by billMilestone`,
            'psa',
          );
        if (!project.account)
          throw new SystemError('MISSING_REFERENCE', `${label} cannot be invoiced: it names no CRM account`, 'psa');
        const customer = await ctx.systems.erp.getCustomerByAccount(project.account.id, ctx.correlationId);
        if (!customer)
          throw new SystemError(
            'MISSING_REFERENCE',
            `${label} cannot be invoiced: account ${project.account.id} has no ERP customer; convert its opportunity first`,
            'erp',
          );
        const cutOff = periodEnd(period);
        const lines = uninvoicedUpTo(await ctx.systems.erp.getBillingLines(projectId, ctx.correlationId), cutOff);
        if (lines.length === 0)
          throw new SystemError(
            'BAD_VALUE',
            `${label} has no billed, uninvoiced work posted up to ${cutOff}: there is nothing to invoice for ${period}`,
            'erp',
            'NOTHING_TO_INVOICE',
          );
        return {
          projectId,
          accountId: project.account.id,
          customerId: customer.id,
          period,
          cutOff,
          issueDate: todayUtc(new Date(ctx.now())),
          billingLineIds: lines.map((l) => l.id),
          subtotal: { amount: sum(lines, customer.currency), currency: customer.currency },
        };
      },
    },
    {
      name: 'postInvoice',
      system: 'erp',
      // No compensation: a posted invoice is in the books and is never deleted (a credit note is a finance decision).
      // An abandoned run leaves it, and a new run for the period finds it again by its external ID.
      async run(ctx) {
        const work = collected(ctx);
        const posted = await ctx.systems.erp.postInvoice(
          {
            externalId: billedWorkInvoiceExternalId(work.projectId, work.period),
            customerId: work.customerId,
            projectId: work.projectId,
            issueDate: work.issueDate,
            billingLineIds: work.billingLineIds,
            lines: [],
          },
          ctx.correlationId,
        );
        return {
          invoiceId: posted.id,
          number: posted.number,
          total: posted.total,
          lines: work.billingLineIds.length,
          created: posted.created,
        };
      },
      writes: (output) => {
        const o = output as { number: string; created: boolean };
        return o.created ? `posted ERP invoice ${o.number}` : null;
      },
    },
  ],
};
