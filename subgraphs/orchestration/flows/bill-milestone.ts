import { todayUtc } from '../../../lib/dates';
import { MeridianError } from '../../../lib/errors';
import { recordId } from '../../../lib/input';
import type { Money } from '../../../lib/money';
import { SystemError } from '../systems/system-error';
import {
  type CreditHoldInput,
  checkCreditHold,
  creditHoldOverrideCorrection,
  parseCreditHoldOverride,
} from './credit-hold';
import { type Flow, flow } from './flow';

/** Input of a milestone billing run: the PSA milestone. */
export interface BillMilestoneInput extends CreditHoldInput {
  milestoneId: string;
}

/** Billing models whose projects are invoiced milestone by milestone. */
const MILESTONE_BILLED = new Set(['FIXED_FEE', 'MILESTONE']);

const MODEL_WORDS: Record<string, string> = {
  FIXED_FEE: 'fixed fee',
  MILESTONE: 'by milestone',
  TIME_AND_MATERIALS: 'time and materials',
  RETAINER: 'as a retainer',
};

/** What `checkMilestone` found: the milestone to invoice, its project, and the issue date fixed for every retry. */
interface MilestoneToBill {
  milestoneId: string;
  name: string;
  amount: Money;
  projectId: string;
  projectCode: string;
  accountId: string;
  /** Chosen once, so a retried post (even the next day) repeats the first request exactly and the ERP dedupes it. */
  issueDate: string;
  /** "Milestone MS-… (name) of project PRJ-… (code, name)", for messages. */
  label: string;
}

/** The external ID of a milestone's invoice: one per milestone, ever, whichever run posts it. */
export const milestoneInvoiceExternalId = (milestoneId: string) => `milestone:${milestoneId}`;

/**
 * Completed milestone of a fixed-fee or milestone-billed project → one ERP invoice for its amount → the PSA milestone
 * marked INVOICED on it. Invoiced exactly once ever: the invoice's external ID is the milestone's own, so a retried or
 * repeated post returns the invoice already posted, and one run stands for each milestone.
 */
export const billMilestone: Flow<BillMilestoneInput> = flow<BillMilestoneInput>({
  name: 'billMilestone',

  parseInput(raw) {
    const milestoneId = recordId(raw.milestoneId, 'milestoneId');
    return { milestoneId, ...parseCreditHoldOverride(raw) };
  },

  // The customer's credit hold is checked where the customer is read; a person may override it for the run.
  corrections: { creditHoldOverride: creditHoldOverrideCorrection('findErpCustomer') },

  subject: (input) => ({
    subjectKey: `milestone:${input.milestoneId}`,
    subjectReuse: 'ever',
    accountId: null,
    opportunityId: null,
    projectId: null,
  }),

  async precondition(input, systems, correlationId) {
    const found = await systems.psa.getMilestone(input.milestoneId, correlationId);
    if (found?.status === 'PLANNED')
      throw new MeridianError(
        'INVALID_STATE',
        `Milestone ${found.id} (${found.name}) is not completed yet, so there is nothing to invoice; complete it in the PSA, and the milestone trigger invoices it (or call billMilestone again then)`,
        { field: 'milestoneId', value: found.id },
      );
  },
})
  .step('checkMilestone', {
    system: 'psa',
    reveals: ['accountId', 'projectId'],
    async run(ctx): Promise<MilestoneToBill> {
      const found = await ctx.systems.psa.getMilestone(ctx.input.milestoneId, ctx.correlationId);
      if (!found)
        throw new SystemError(
          'MISSING_REFERENCE',
          `The PSA has no milestone '${ctx.input.milestoneId}'`,
          'psa',
          'NOT_FOUND',
        );
      const { project } = found;
      const label = `Milestone ${found.id} (${found.name}) of project ${project.id} (${project.code}, ${project.name})`;
      if (!MILESTONE_BILLED.has(project.billingModel)) {
        throw new SystemError(
          'BAD_VALUE',
          `${label} cannot be invoiced: the project is billed ${MODEL_WORDS[project.billingModel]}; only fixed-fee and milestone projects are invoiced by milestone`,
          'psa',
        );
      }
      if (found.status === 'PLANNED') {
        throw new SystemError(
          'BAD_VALUE',
          `${label} cannot be invoiced: it is not completed yet; complete it in the PSA first`,
          'psa',
        );
      }
      if (found.status === 'INVOICED') {
        throw new SystemError(
          'BAD_VALUE',
          `${label} is already invoiced${found.invoiceId ? ` on ERP invoice ${found.invoiceId}` : ''}; a milestone is invoiced once`,
          'psa',
        );
      }
      if (!project.account)
        throw new SystemError(
          'MISSING_REFERENCE',
          `${label} cannot be invoiced: the project names no CRM account`,
          'psa',
        );
      return {
        milestoneId: found.id,
        name: found.name,
        amount: found.amount,
        projectId: project.id,
        projectCode: project.code,
        accountId: project.account.id,
        issueDate: todayUtc(),
        label,
      };
    },
  })
  .step('findErpCustomer', {
    system: 'erp',
    async run(ctx) {
      const m = ctx.results.checkMilestone;
      const found = await ctx.systems.erp.getCustomerByAccount(m.accountId, ctx.correlationId);
      if (!found) {
        throw new SystemError(
          'MISSING_REFERENCE',
          `${m.label} cannot be invoiced: account ${m.accountId} has no ERP customer; convert its opportunity (or create the customer) first`,
          'erp',
        );
      }
      const creditHold = checkCreditHold(ctx, found, `${m.label} cannot be invoiced`);
      return {
        customerId: found.id,
        customerNumber: found.customerNumber,
        ...(creditHold.onHold ? { creditHold } : {}),
      };
    },
  })
  .step('postInvoice', {
    system: 'erp',
    // No compensation: a posted invoice is in the books and is never deleted; undoing it (a credit note) is a finance
    // decision. An abandoned run leaves it, and a new run for the milestone finds it again by its external ID.
    async run(ctx) {
      const m = ctx.results.checkMilestone;
      const posted = await ctx.systems.erp.postInvoice(
        {
          externalId: milestoneInvoiceExternalId(m.milestoneId),
          customerId: ctx.results.findErpCustomer.customerId,
          projectId: m.projectId,
          issueDate: m.issueDate,
          lines: [{ description: `Milestone: ${m.name}`, quantity: '1', unitPrice: m.amount }],
        },
        ctx.correlationId,
      );
      return { invoiceId: posted.id, number: posted.number, total: posted.total, created: posted.created };
    },
  })
  .step('markMilestoneInvoiced', {
    system: 'psa',
    async run(ctx) {
      const m = ctx.results.checkMilestone;
      const { invoiceId } = ctx.results.postInvoice;
      const marked = await ctx.systems.psa.markMilestoneInvoiced(m.milestoneId, invoiceId, ctx.correlationId);
      return { milestoneId: m.milestoneId, status: marked.status, invoiceId };
    },
  })
  .build();
