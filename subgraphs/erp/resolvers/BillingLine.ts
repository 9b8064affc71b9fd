import { money } from '../../../lib/money';
import type { BillingLineRecord } from '../connector/erp-connector';
import type { ErpContext } from '../context';
import { formatHundredths } from '../../../lib/hundredths';

export const BillingLine = {
  quantity: (l: BillingLineRecord) => formatHundredths(l.quantityHundredths),
  unitPrice: (l: BillingLineRecord) => money(l.unitPriceMinor, l.currency),
  amount: (l: BillingLineRecord) => money(l.amountMinor, l.currency),
  invoice: (l: BillingLineRecord, _args: unknown, ctx: ErpContext) =>
    l.invoiceId === null ? null : ctx.loaders.invoice.load(l.invoiceId),
};
