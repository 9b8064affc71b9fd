import type { TaxJurisdictionRecord } from '../connector/erp-connector';
import { formatHundredths } from '../../../lib/hundredths';

export const TaxJurisdiction = {
  // Basis points are hundredths of a percent, so 2000 reads "20.00".
  rate: (t: TaxJurisdictionRecord) => formatHundredths(t.rateBasisPoints),
};
