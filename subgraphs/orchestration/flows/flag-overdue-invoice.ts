import { recordId } from '../../../lib/input';
import { SystemError } from '../systems/system-error';
import { type Flow, flow } from './flow';
import { invoiceSubject, updateAccountFinanceStep, updateProjectFinancialsStep } from './receivables';

/** Input of an overdue run: an ERP invoice the daily sweep found past its due date, unpaid. */
export interface FlagOverdueInvoiceInput {
  invoiceId: string;
}

/**
 * An invoice past its due date with a balance → marked OVERDUE in the ERP → the account's receivables in the CRM
 * (overdue total, oldest overdue due date, so its age in days) and the project's collections status in the PSA,
 * recomputed in full like `syncInvoiceStatus`. Started by the daily overdue sweep (trigger `flagOverdueInvoice`), one
 * run per invoice ever: a marked invoice is no longer listed, so a day on which nothing fell due starts no run. A
 * payment afterwards is an ordinary invoice change: `syncInvoiceStatus` records the figures again (a payment in full
 * makes the invoice PAID and clears it).
 */
export const flagOverdueInvoice: Flow<FlagOverdueInvoiceInput> = flow<FlagOverdueInvoiceInput>({
  name: 'flagOverdueInvoice',

  parseInput(raw) {
    return { invoiceId: recordId(raw.invoiceId, 'invoiceId') };
  },

  subject: (input) => ({
    subjectKey: `overdue:${input.invoiceId}`,
    subjectReuse: 'ever',
    accountId: null,
    opportunityId: null,
    projectId: null,
  }),
})
  .step('markOverdue', {
    system: 'erp',
    reveals: ['accountId', 'projectId'],
    // The ERP judges "past due" on its own date and leaves an invoice already OVERDUE (or paid meanwhile) as it is,
    // so a retried or repeated step changes nothing more.
    async run(ctx) {
      const { invoice, changed } = await ctx.systems.erp.markInvoiceOverdue(ctx.input.invoiceId, ctx.correlationId);
      if (!invoice)
        throw new SystemError('MISSING_REFERENCE', `The ERP has no invoice '${ctx.input.invoiceId}'`, 'erp');
      return { ...invoiceSubject(invoice), dueDate: invoice.dueDate, balance: invoice.balance, changed };
    },
    writes: (output) => (output.changed ? `marked ERP invoice ${output.number} OVERDUE` : null),
  })
  .step('updateAccountFinance', updateAccountFinanceStep('markOverdue'))
  .step('updateProjectFinancials', updateProjectFinancialsStep('markOverdue'))
  .build();
