import { money } from '../../../lib/money';
import type { AccountFinanceRecord } from '../connector/crm-connector';

/** An account's finance summary as Money. */
export const AccountFinance = {
  invoicedToDate: (f: AccountFinanceRecord) => money(f.invoicedToDateMinor, f.currency),
  outstanding: (f: AccountFinanceRecord) => money(f.outstandingMinor, f.currency),
  overdue: (f: AccountFinanceRecord) => money(f.overdueMinor, f.currency),
};
