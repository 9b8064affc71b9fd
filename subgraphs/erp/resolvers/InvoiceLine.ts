import { money } from '../../../lib/money';
import type { InvoiceLineRecord } from '../connector/erp-connector';
import { formatHundredths } from '../../../lib/hundredths';

type PricedLine = InvoiceLineRecord & { currency: string };

export const InvoiceLine = {
  quantity: (l: PricedLine) => formatHundredths(l.quantityHundredths),
  unitPrice: (l: PricedLine) => money(l.unitPriceMinor, l.currency),
  amount: (l: PricedLine) => money(l.amountMinor, l.currency),
};
