import { money } from '../../../lib/money';
import { todayUtc } from '../../../lib/dates';
import type { AccountFinanceRecord } from '../connector/crm-connector';
import type { CrmContext } from '../context';

const DAY_MS = 86_400_000;

/** An account's finance summary as Money. */
export const AccountFinance = {
  invoicedToDate: (f: AccountFinanceRecord) => money(f.invoicedToDateMinor, f.currency),
  outstanding: (f: AccountFinanceRecord) => money(f.outstandingMinor, f.currency),
  overdue: (f: AccountFinanceRecord) => money(f.overdueMinor, f.currency),
  // Counted on the CRM's today, not when the figures were recorded: the age of an unpaid invoice grows by itself.
  oldestOverdueDays: (f: AccountFinanceRecord, _args: unknown, ctx: CrmContext) =>
    f.oldestOverdueDueDate === null
      ? null
      : Math.max(
          0,
          Math.round(
            (Date.parse(`${todayUtc(new Date(ctx.now()))}T00:00:00Z`) -
              Date.parse(`${f.oldestOverdueDueDate}T00:00:00Z`)) /
              DAY_MS,
          ),
        ),
};
