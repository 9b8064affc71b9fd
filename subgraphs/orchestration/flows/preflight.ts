import { todayUtc } from '../../../lib/dates';
import type { Money } from '../../../lib/money';
import { SystemError } from '../systems/system-error';
import type { CustomerForSync } from '../systems/systems';
import type { ConvertInput } from './convert-opportunity-to-project';
import type { StepContext } from './flow';

/** The step error code of a conversion stopped by its pre-flight checks (class BAD_VALUE: a person fixes the data). */
export const PREFLIGHT_FAILED = 'PREFLIGHT_FAILED';

/** What the pre-flight needs of the deal `validateOpportunity` read. */
export interface PreflightDeal {
  opportunityId: string;
  name: string;
  amount: Money;
  deliveryRegion: string;
}

/** What the pre-flight checked, for the step's record: the values the conversion is about to write. */
export interface PreflightChecked {
  postingDate: string;
  period: string;
  currency: string;
  /** Null when the account's ERP customer exists already (its legal entity and tax jurisdiction are the ERP's). */
  legalEntity: string | null;
  taxJurisdiction: string | null;
}

/**
 * Checks, against the ERP's own reference data, everything the ERP would reject of this conversion, before it writes
 * anything: that the ERP has the legal entity the delivery region maps to and the tax jurisdiction the customer gets
 * (for a customer it is about to create), that the accounting period of the posting date (today, by the worker's clock)
 * is open, and that the deal is in the currency the customer is invoiced in (an existing customer's, or the region's
 * for a new one: the ERP refuses invoice lines in any other). Every problem is collected, so a person fixes them all
 * at once, and the conversion stops with ONE exception naming each in business terms, before the PSA project exists.
 * @throws SystemError BAD_VALUE, code PREFLIGHT_FAILED, listing every problem
 */
export async function preflightConversion(
  ctx: StepContext<ConvertInput>,
  deal: PreflightDeal,
  existing: CustomerForSync | null,
): Promise<PreflightChecked> {
  const region = ctx.governance.deliveryRegions[deal.deliveryRegion]!;
  const postingDate = todayUtc(new Date(ctx.now()));
  const period = postingDate.slice(0, 7);
  const reference = await ctx.systems.erp.getReferenceData([period], ctx.correlationId);
  const problems: string[] = [];

  let legalEntity: string | null = null;
  let taxJurisdiction: string | null = null;
  let currency: string;
  if (existing) {
    currency = existing.currency;
    if (deal.amount.currency !== currency)
      problems.push(
        `the deal is in ${deal.amount.currency} but ERP customer ${existing.customerNumber} is invoiced in ${currency}`,
      );
  } else {
    legalEntity = ctx.input.legalEntity ?? region.legalEntity;
    taxJurisdiction = ctx.input.taxJurisdiction ?? region.taxJurisdiction;
    currency = region.currency;
    if (!reference.legalEntities.some((e) => e.code === legalEntity))
      problems.push(`ERP has no legal entity '${legalEntity}' for delivery region '${deal.deliveryRegion}'`);
    if (!reference.taxJurisdictions.some((t) => t.code === taxJurisdiction))
      problems.push(`ERP has no tax jurisdiction '${taxJurisdiction}' for legal entity '${legalEntity}'`);
    if (deal.amount.currency !== currency)
      problems.push(
        `the deal is in ${deal.amount.currency} but delivery region '${deal.deliveryRegion}' invoices in ${currency} (governance: deliveryRegions)`,
      );
  }
  if (reference.accountingPeriods.find((p) => p.period === period)?.status === 'CLOSED')
    problems.push(`period ${period} is closed (posting date ${postingDate})`);

  if (problems.length)
    throw new SystemError(
      'BAD_VALUE',
      `Opportunity '${deal.opportunityId}' (${deal.name}) was not converted, nothing was written: ${problems.join('; ')}. ` +
        'Fix the data in the ERP, the CRM or governance (or correct the run with retryRunWithInput), then retry',
      'erp',
      PREFLIGHT_FAILED,
    );
  return { postingDate, period, currency, legalEntity, taxJurisdiction };
}
