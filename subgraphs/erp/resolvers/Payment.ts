import { money } from '../../../lib/money';
import type { PaymentRecord } from '../connector/erp-connector';
import type { ErpContext } from '../context';

export const Payment = {
  invoice: (p: PaymentRecord, _args: unknown, ctx: ErpContext) => ctx.loaders.invoice.load(p.invoiceId),
  amount: (p: PaymentRecord) => money(p.amountMinor, p.currency),
};
