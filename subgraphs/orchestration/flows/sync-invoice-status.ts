import { recordId } from '../../../lib/input';
import { SystemError } from '../systems/system-error';
import { type Flow, flow } from './flow';
import {
  type InvoiceSubject,
  invoiceSubject,
  updateAccountFinanceStep,
  updateProjectFinancialsStep,
} from './receivables';

/** Input of an invoice status sync: the ERP invoice whose status or payments changed. */
export interface SyncInvoiceStatusInput {
  invoiceId: string;
}

/**
 * ERP invoice status and payments → the account's finance summary in the CRM (invoiced to date, outstanding, overdue)
 * and the project's financials in the PSA (billed, collected). Each is recomputed in full from the ERP's invoices of
 * the account or project, never adjusted by one invoice's change, and stamped with when the ERP was read; the systems
 * ignore figures older than the ones they hold. So replays, retries and events arriving out of order all converge on
 * the ERP's current figures.
 */
export const syncInvoiceStatus: Flow<SyncInvoiceStatusInput> = flow<SyncInvoiceStatusInput>({
  name: 'syncInvoiceStatus',

  parseInput(raw) {
    const invoiceId = recordId(raw.invoiceId, 'invoiceId');
    return { invoiceId };
  },

  subject: (input) => ({
    subjectKey: `invoice:${input.invoiceId}`,
    subjectReuse: 'active',
    accountId: null,
    opportunityId: null,
    projectId: null,
  }),
})
  .step('readInvoice', {
    system: 'erp',
    reveals: ['accountId', 'projectId'],
    async run(ctx): Promise<InvoiceSubject> {
      const invoice = await ctx.systems.erp.getInvoice(ctx.input.invoiceId, ctx.correlationId);
      if (!invoice)
        throw new SystemError(
          'MISSING_REFERENCE',
          `The ERP has no invoice '${ctx.input.invoiceId}'`,
          'erp',
          'NOT_FOUND',
        );
      return invoiceSubject(invoice);
    },
  })
  .step('updateAccountFinance', updateAccountFinanceStep('readInvoice'))
  .step('updateProjectFinancials', updateProjectFinancialsStep('readInvoice'))
  .build();
