import { money } from '../../../lib/money';
import type { RateCardRecord } from '../connector/psa-connector';

/** Rate card fields: each role rate as Money in the card currency. */
export const RateCard = {
  rates: (card: RateCardRecord) => card.rates.map((r) => ({ role: r.role, rate: money(r.rateMinor, card.currency) })),
};
