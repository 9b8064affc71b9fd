/**
 * A closed-won opportunity with every commercial field set, ready to convert: the deal every `bench:*` script seeds.
 * `externalId` keeps each script's deals apart in the CRM.
 */
export function benchDeal(externalId: string, accountId: string, i: number) {
  return {
    externalId,
    accountId,
    name: `Bench deal ${i}`,
    stage: 'CLOSED_WON' as const,
    amountMinor: 12_000_000,
    currency: 'GBP',
    closeDate: '2026-11-01',
    servicePackage: 'CLOUD_MIGRATION',
    billingModel: 'FIXED_FEE' as const,
    deliveryRegion: 'UK',
    expectedStartDate: '2026-12-01',
  };
}
