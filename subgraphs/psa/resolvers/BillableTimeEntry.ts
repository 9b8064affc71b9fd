import { money } from '../../../lib/money';
import type { PricedTimeEntryRecord } from '../connector/psa-connector';

/** A priced time entry: the entry itself, and rate and amount as Money (null when its role has no rate). */
export const BillableTimeEntry = {
  timeEntry: (p: PricedTimeEntryRecord) => p.entry,
  rate: (p: PricedTimeEntryRecord) => (p.rateMinor === null ? null : money(p.rateMinor, p.currency)),
  amount: (p: PricedTimeEntryRecord) => (p.amountMinor === null ? null : money(p.amountMinor, p.currency)),
};
