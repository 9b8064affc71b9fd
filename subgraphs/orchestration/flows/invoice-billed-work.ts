import { todayUtc } from '../../../lib/dates';
import { MeridianError } from '../../../lib/errors';
import { preview, recordId } from '../../../lib/input';
import { fromMinor, toMinor, type Money } from '../../../lib/money';
import { SystemError } from '../systems/system-error';
import type { BillingLineView, Systems } from '../systems/systems';
import {
  checkCreditHold,
  creditHoldOverrideCorrection,
  parseCreditHoldOverride,
  type CreditHoldInput,
  type CreditHoldOutcome,
} from './credit-hold';
import { type Flow, flow } from './flow';

/** Input of an invoicing run: the project and the billing period (`YYYY-MM`) to invoice. */
export interface InvoiceBilledWorkInput extends CreditHoldInput {
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
    throw new MeridianError(
      'BAD_USER_INPUT',
      `period must be a month written YYYY-MM; got '${typeof value === 'string' ? preview(value) : String(value)}'`,
      { field: 'period', ...(typeof value === 'string' ? { value: preview(value) } : {}) },
    );
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
  /** The credit hold a person let this run past (with their note), when the customer was on hold. */
  creditHold?: Extract<CreditHoldOutcome, { onHold: true }>;
  projectId: string;
  accountId: string;
  customerId: string;
  period: string;
  billedBy: 'RATE_CARD' | 'RETAINER';
  /** Billing lines posted on or before this day are on the invoice. */
  cutOff: string;
  /** The day the run first collected the work (the worker's clock): the invoice's issue date on every retry. */
  issueDate: string;
  /** Lines charged on the invoice (rate-card billing). */
  billingLineIds: string[];
  /** Lines drawn down against a retainer's fee: marked invoiced on the invoice, not charged. */
  coveredBillingLineIds: string[];
  /** Lines typed in: a retainer's fee for the period, and the month before's overage. */
  lines: { description: string; quantity: string; unitPrice: Money }[];
  /** What the lines charge before tax, for the run's reader. */
  subtotal: Money;
  /** A retainer's draw-down of the month before (its time at rate-card rates), and what of it exceeds the fee. */
  retainer?: { fee: Money; drawnDown: Money; overage: Money };
}

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
export const invoiceBilledWork: Flow<InvoiceBilledWorkInput> = flow<InvoiceBilledWorkInput>({
  name: 'invoiceBilledWork',

  parseInput(raw) {
    return {
      projectId: recordId(raw.projectId, 'projectId'),
      period: billingPeriod(raw.period),
      ...parseCreditHoldOverride(raw),
    };
  },

  // A customer on credit hold stops the run before the invoice; a person may let this one run past it with a note.
  corrections: { creditHoldOverride: creditHoldOverrideCorrection('collectBilledWork') },

  subject: (input) => ({
    subjectKey: `invoice:${input.projectId}:${input.period}`,
    subjectReuse: 'ever',
    accountId: null,
    opportunityId: null,
    projectId: input.projectId,
  }),

  async precondition(input, systems, correlationId, governance) {
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
    const billedBy = governance?.billingModels[project.billingModel].billedBy;
    if (billedBy === 'MILESTONE')
      throw new MeridianError(
        'INVALID_STATE',
        `Project ${project.id} is billed by milestone (${project.billingModel}); its milestones are invoiced by billMilestone, not by period`,
        { field: 'projectId', value: project.id },
      );
    const lines = await systems.erp.getBillingLines(input.projectId, correlationId);
    const externalId = billedWorkInvoiceExternalId(input.projectId, input.period);
    // Invoiced already: the run that did it stands for the period, and the mutation returns it.
    if (lines.some((l) => l.invoice?.externalId === externalId)) return;
    if (billedBy === 'RETAINER') {
      // A retainer's fee is due every period, work or not; it must be known.
      if (!(await systems.erp.getRetainerFee(input.projectId, correlationId)))
        throw new MeridianError(
          'INVALID_STATE',
          `Project ${project.id} is billed as a retainer but the ERP holds no retainer fee for it; set it (upsertRetainerTerms) first`,
          { field: 'projectId', value: project.id },
        );
      return;
    }
    const cutOff = periodEnd(input.period);
    if (uninvoicedUpTo(lines, cutOff).length === 0)
      throw new MeridianError(
        'NOTHING_TO_INVOICE',
        `Project ${input.projectId} has no billed, uninvoiced work posted up to ${cutOff}: there is nothing to invoice for ${input.period}`,
        { field: 'period', value: input.period },
      );
  },
})
  .step('collectBilledWork', {
    system: 'erp',
    reveals: ['accountId', 'projectId'],
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
      const creditHold = checkCreditHold(ctx, customer, `${label} cannot be invoiced for ${period}`);
      const billedBy = ctx.governance.billingModels[project.billingModel].billedBy;
      const base = {
        ...(creditHold.onHold ? { creditHold } : {}),
        projectId,
        accountId: project.account.id,
        customerId: customer.id,
        period,
        issueDate: todayUtc(new Date(ctx.now())),
      };
      const all = await ctx.systems.erp.getBillingLines(projectId, ctx.correlationId);
      if (billedBy === 'RETAINER') {
        // In advance: the period's fee, with the month before's draw-down (and any earlier one not yet settled)
        // measured against one fee; what exceeds it is billed per governance.
        const fee = await ctx.systems.erp.getRetainerFee(projectId, ctx.correlationId);
        if (!fee)
          throw new SystemError(
            'MISSING_REFERENCE',
            `${label} is billed as a retainer but the ERP holds no retainer fee for it; set it (upsertRetainerTerms), then retry`,
            'erp',
          );
        const before = previousPeriod(period);
        const cutOff = periodEnd(before);
        const drawn = uninvoicedUpTo(all, cutOff);
        const { currency } = fee;
        const drawnMinor = toMinor(sum(drawn, currency), currency);
        const feeMinor = toMinor(fee.amount, currency);
        const overageMinor =
          (ctx.governance.billingModels[project.billingModel].retainerOverage ?? 'RATE_CARD') === 'RATE_CARD' &&
          drawnMinor > feeMinor
            ? drawnMinor - feeMinor
            : 0n;
        const amount = (minor: bigint): Money => ({ amount: fromMinor(minor, currency), currency });
        const lines = [{ description: `Retainer fee, ${period}`, quantity: '1', unitPrice: fee }];
        if (overageMinor > 0n)
          lines.push({
            description: `Time above the retainer, ${before}: ${amount(drawnMinor).amount} drawn down against a fee of ${fee.amount} ${currency}`,
            quantity: '1',
            unitPrice: amount(overageMinor),
          });
        return {
          ...base,
          billedBy,
          cutOff,
          billingLineIds: [],
          coveredBillingLineIds: drawn.map((l) => l.id),
          lines,
          subtotal: amount(feeMinor + overageMinor),
          retainer: { fee, drawnDown: amount(drawnMinor), overage: amount(overageMinor) },
        };
      }
      const cutOff = periodEnd(period);
      const lines = uninvoicedUpTo(all, cutOff);
      if (lines.length === 0)
        throw new SystemError(
          'BAD_VALUE',
          `${label} has no billed, uninvoiced work posted up to ${cutOff}: there is nothing to invoice for ${period}`,
          'erp',
          'NOTHING_TO_INVOICE',
        );
      return {
        ...base,
        billedBy: 'RATE_CARD',
        cutOff,
        billingLineIds: lines.map((l) => l.id),
        coveredBillingLineIds: [],
        lines: [],
        subtotal: { amount: sum(lines, customer.currency), currency: customer.currency },
      };
    },
  })
  .step('postInvoice', {
    system: 'erp',
    // No compensation: a posted invoice is in the books and is never deleted (a credit note is a finance decision).
    // An abandoned run leaves it, and a new run for the period finds it again by its external ID.
    async run(ctx) {
      const work = ctx.results.collectBilledWork;
      const posted = await ctx.systems.erp.postInvoice(
        {
          externalId: billedWorkInvoiceExternalId(work.projectId, work.period),
          customerId: work.customerId,
          projectId: work.projectId,
          issueDate: work.issueDate,
          billingLineIds: work.billingLineIds,
          ...(work.coveredBillingLineIds.length > 0 ? { coveredBillingLineIds: work.coveredBillingLineIds } : {}),
          lines: work.lines,
        },
        ctx.correlationId,
      );
      return {
        invoiceId: posted.id,
        number: posted.number,
        total: posted.total,
        lines: work.billingLineIds.length + work.lines.length,
        created: posted.created,
      };
    },
    writes: (output) => (output.created ? `posted ERP invoice ${output.number}` : null),
  })
  .build();
