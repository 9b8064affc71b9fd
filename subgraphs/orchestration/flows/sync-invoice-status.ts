import { recordId } from '../../../lib/input';
import { fromMinor, toMinor, type Money } from '../../../lib/money';
import { SystemError } from '../systems/system-error';
import type { InvoiceStatusView } from '../systems/systems';
import type { Flow, StepContext } from './flow';

/** Input of an invoice status sync: the ERP invoice whose status or payments changed. */
export interface SyncInvoiceStatusInput {
  invoiceId: string;
}

/** What `readInvoice` found: the invoice's status and whom it bills. */
interface InvoiceFound {
  invoiceId: string;
  number: string;
  status: InvoiceStatusView['status'];
  currency: string;
  accountId: string;
  /** Null when the invoice bills no project; the PSA then has nothing to record. */
  projectId: string | null;
}

const found = (ctx: StepContext<SyncInvoiceStatusInput>) => ctx.results.readInvoice as InvoiceFound;

/** Invoices that count as billed: booked and sent, paid or not (drafts are not yet billed, void ones no longer). */
const BILLED: ReadonlySet<InvoiceStatusView['status']> = new Set(['POSTED', 'PAID']);

/** Sums, in minor units of `currency`, of what `invoices` billed, what is open and overdue, and what was paid. */
function totals(invoices: readonly InvoiceStatusView[], currency: string, owner: string) {
  let billed = 0n;
  let open = 0n;
  let overdue = 0n;
  for (const invoice of invoices) {
    if (!BILLED.has(invoice.status)) continue;
    if (invoice.total.currency !== currency) {
      throw new SystemError(
        'BAD_VALUE',
        `${owner} has invoice ${invoice.number} in ${invoice.total.currency} besides invoices in ${currency}; its totals cannot be added up`,
        'erp',
      );
    }
    billed += toMinor(invoice.total.amount, currency);
    const balance = toMinor(invoice.balance.amount, currency);
    if (invoice.status === 'POSTED') open += balance;
    if (invoice.overdue) overdue += balance;
  }
  const money = (minor: bigint): Money => ({ amount: fromMinor(minor, currency), currency });
  return { billed: money(billed), outstanding: money(open), overdue: money(overdue), collected: money(billed - open) };
}

/**
 * ERP invoice status and payments → the account's finance summary in the CRM (invoiced to date, outstanding, overdue)
 * and the project's financials in the PSA (billed, collected). Each is recomputed in full from the ERP's invoices of
 * the account or project, never adjusted by one invoice's change, and stamped with when the ERP was read; the systems
 * ignore figures older than the ones they hold. So replays, retries and events arriving out of order all converge on
 * the ERP's current figures.
 */
export const syncInvoiceStatus: Flow<SyncInvoiceStatusInput> = {
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

  steps: [
    {
      name: 'readInvoice',
      system: 'erp',
      async run(ctx): Promise<InvoiceFound> {
        const invoice = await ctx.systems.erp.getInvoice(ctx.input.invoiceId, ctx.correlationId);
        if (!invoice)
          throw new SystemError(
            'MISSING_REFERENCE',
            `The ERP has no invoice '${ctx.input.invoiceId}'`,
            'erp',
            'NOT_FOUND',
          );
        return {
          invoiceId: invoice.id,
          number: invoice.number,
          status: invoice.status,
          currency: invoice.total.currency,
          accountId: invoice.customer.externalCrmId,
          projectId: invoice.project?.id ?? null,
        };
      },
    },
    {
      name: 'updateAccountFinance',
      system: 'crm',
      // Reads the ERP and writes the CRM in one step, so that every attempt (a retry, a replay) records fresh figures.
      async run(ctx) {
        const { accountId, currency } = found(ctx);
        const asOf = new Date().toISOString();
        const invoices = await ctx.systems.erp.listInvoices({ accountId }, ctx.correlationId);
        const sum = totals(invoices, currency, `Account ${accountId}`);
        const figures = {
          accountId,
          invoicedToDate: sum.billed,
          outstanding: sum.outstanding,
          overdue: sum.overdue,
          asOf,
        };
        const { changed } = await ctx.systems.crm.recordAccountFinancials(figures, ctx.correlationId);
        return { ...figures, invoices: invoices.length, changed };
      },
    },
    {
      name: 'updateProjectFinancials',
      system: 'psa',
      async run(ctx) {
        const { projectId, currency } = found(ctx);
        if (projectId === null) return { skipped: 'the invoice bills no project' };
        const asOf = new Date().toISOString();
        const invoices = await ctx.systems.erp.listInvoices({ projectId }, ctx.correlationId);
        const sum = totals(invoices, currency, `Project ${projectId}`);
        const figures = { projectId, billed: sum.billed, collected: sum.collected, asOf };
        const { changed } = await ctx.systems.psa.recordProjectFinancials(figures, ctx.correlationId);
        return { ...figures, invoices: invoices.length, changed };
      },
    },
  ],
};
