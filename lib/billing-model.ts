/**
 * How a project is billed, as the CRM records it on a deal and the PSA on a project; governance maps each to an
 * ERP billing schedule and revenue treatment. The schemas' `BillingModel` enums hold the same values.
 */
export type BillingModel = 'FIXED_FEE' | 'TIME_AND_MATERIALS' | 'MILESTONE' | 'RETAINER';
