import { todayUtc } from '../../../lib/dates';
import { money } from '../../../lib/money';
import type { InvoiceRecord } from '../connector/erp-connector';
import type { ErpContext } from '../context';

// POSTED or OVERDUE with a balance left and past its due date; the same rule as the connector's `overdueOn` filter.
// Also true for a POSTED invoice the daily sweep has not marked OVERDUE yet: the figure is the truth as of today.
function isOverdue(invoice: InvoiceRecord, today: string): boolean {
  return (
    (invoice.status === 'POSTED' || invoice.status === 'OVERDUE') && invoice.balanceMinor > 0 && invoice.dueDate < today
  );
}

export const Invoice = {
  __resolveReference: (ref: { id: string }, ctx: ErpContext) => ctx.loaders.invoice.load(ref.id),
  customer: (i: InvoiceRecord, _args: unknown, ctx: ErpContext) => ctx.loaders.customer.load(i.customerId),
  account: async (i: InvoiceRecord, _args: unknown, ctx: ErpContext) => {
    const customer = await ctx.loaders.customer.load(i.customerId);
    return customer ? { id: customer.externalCrmId } : null;
  },
  project: (i: InvoiceRecord) => (i.psaProjectId === null ? null : { id: i.psaProjectId }),
  overdue: (i: InvoiceRecord, _args: unknown, ctx: ErpContext) => isOverdue(i, todayUtc(new Date(ctx.now()))),
  // Lines carry no currency of their own: they are in the invoice's.
  lines: async (i: InvoiceRecord, _args: unknown, ctx: ErpContext) =>
    (await ctx.loaders.linesByInvoice.load(i.id)).map((line) => ({ ...line, currency: i.currency })),
  subtotal: (i: InvoiceRecord) => money(i.subtotalMinor, i.currency),
  tax: (i: InvoiceRecord) => money(i.taxMinor, i.currency),
  total: (i: InvoiceRecord) => money(i.totalMinor, i.currency),
  balance: (i: InvoiceRecord) => money(i.balanceMinor, i.currency),
  payments: (i: InvoiceRecord, _args: unknown, ctx: ErpContext) => ctx.loaders.paymentsByInvoice.load(i.id),
};
