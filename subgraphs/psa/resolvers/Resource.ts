import { money } from '../../../lib/money';
import type { ResourceRecord } from '../connector/psa-connector';

/** Resource fields: cost rate as Money. */
export const Resource = {
  costRate: (r: ResourceRecord) => money(r.costRateMinor, r.currency),
};
