import type { LegalEntityRecord, TaxJurisdictionRecord } from '../subgraphs/erp/connector/erp-connector';
import type { ProjectTemplateRecord, RateCardRecord, ResourceRecord } from '../subgraphs/psa/connector/psa-connector';

/** The date the demo data is "as of": fixed, so every seed of the same size is identical. */
export const SEED_AS_OF = '2026-09-30';

/** Delivery regions of the demo firm: where an account sits and which entity bills it. */
export const REGIONS = {
  NA: { country: 'US', currency: 'USD', legalEntity: 'MERIDIAN-US', taxJurisdiction: 'US-NY' },
  UK: { country: 'GB', currency: 'GBP', legalEntity: 'MERIDIAN-UK', taxJurisdiction: 'GB' },
  DACH: { country: 'DE', currency: 'EUR', legalEntity: 'MERIDIAN-DE', taxJurisdiction: 'DE' },
} as const;

export type Region = keyof typeof REGIONS;

export const ROLES = [
  'Engagement Manager',
  'Solution Architect',
  'Senior Consultant',
  'Consultant',
  'Analyst',
] as const;
const USD_RATES = [250_00, 210_00, 175_00, 140_00, 95_00];
const COST_RATES = [120_00, 100_00, 80_00, 62_00, 40_00];

export const LEGAL_ENTITIES: LegalEntityRecord[] = [
  { code: 'MERIDIAN-US', name: 'Meridian Consulting Inc.', country: 'US', currency: 'USD' },
  { code: 'MERIDIAN-UK', name: 'Meridian Consulting Ltd', country: 'GB', currency: 'GBP' },
  { code: 'MERIDIAN-DE', name: 'Meridian Consulting GmbH', country: 'DE', currency: 'EUR' },
];

export const TAX_JURISDICTIONS: TaxJurisdictionRecord[] = [
  { code: 'US-NY', name: 'New York State', country: 'US', rateBasisPoints: 888 },
  { code: 'US-CA', name: 'California', country: 'US', rateBasisPoints: 725 },
  { code: 'GB', name: 'United Kingdom VAT', country: 'GB', rateBasisPoints: 2000 },
  { code: 'DE', name: 'Germany USt', country: 'DE', rateBasisPoints: 1900 },
  { code: 'FR', name: 'France TVA', country: 'FR', rateBasisPoints: 2000 },
  { code: 'NL', name: 'Netherlands BTW', country: 'NL', rateBasisPoints: 2100 },
];

/** One rate card per currency: GBP and EUR rates are the USD ones at a round conversion. */
export const RATE_CARDS: RateCardRecord[] = [
  {
    id: 'RC-000001',
    name: 'Standard USD',
    currency: 'USD',
    rates: ROLES.map((role, i) => ({ role, rateMinor: USD_RATES[i]! })),
  },
  {
    id: 'RC-000002',
    name: 'Standard GBP',
    currency: 'GBP',
    rates: ROLES.map((role, i) => ({ role, rateMinor: Math.round((USD_RATES[i]! * 0.8) / 100) * 100 })),
  },
  {
    id: 'RC-000003',
    name: 'Standard EUR',
    currency: 'EUR',
    rates: ROLES.map((role, i) => ({ role, rateMinor: Math.round((USD_RATES[i]! * 0.92) / 100) * 100 })),
  },
];

export const SERVICE_PACKAGES = [
  'ERP_IMPLEMENTATION',
  'DATA_PLATFORM',
  'CLOUD_MIGRATION',
  'ADVISORY_RETAINER',
] as const;

export const PROJECT_TEMPLATES: ProjectTemplateRecord[] = [
  {
    id: 'TPL-000001',
    name: 'ERP Implementation',
    servicePackage: 'ERP_IMPLEMENTATION',
    rateCardId: 'RC-000001',
    durationDays: 180,
    milestones: [
      { name: 'Discovery and design signed off', sharePercent: 20, offsetDays: 30 },
      { name: 'Build complete', sharePercent: 40, offsetDays: 100 },
      { name: 'User acceptance passed', sharePercent: 25, offsetDays: 150 },
      { name: 'Go-live and hypercare', sharePercent: 15, offsetDays: 180 },
    ],
  },
  {
    id: 'TPL-000002',
    name: 'Data Platform',
    servicePackage: 'DATA_PLATFORM',
    rateCardId: 'RC-000001',
    durationDays: 120,
    milestones: [
      { name: 'Architecture approved', sharePercent: 25, offsetDays: 20 },
      { name: 'Pipelines in production', sharePercent: 50, offsetDays: 90 },
      { name: 'Handover', sharePercent: 25, offsetDays: 120 },
    ],
  },
  {
    id: 'TPL-000003',
    name: 'Cloud Migration',
    servicePackage: 'CLOUD_MIGRATION',
    rateCardId: 'RC-000001',
    durationDays: 90,
    milestones: [
      { name: 'Landing zone ready', sharePercent: 30, offsetDays: 30 },
      { name: 'Workloads migrated', sharePercent: 50, offsetDays: 75 },
      { name: 'Decommission complete', sharePercent: 20, offsetDays: 90 },
    ],
  },
  {
    id: 'TPL-000004',
    name: 'Advisory Retainer',
    servicePackage: 'ADVISORY_RETAINER',
    rateCardId: 'RC-000001',
    durationDays: 365,
    milestones: [],
  },
];

const FIRST = [
  'Ava',
  'Ben',
  'Chloe',
  'Dev',
  'Elena',
  'Farid',
  'Grace',
  'Hugo',
  'Isla',
  'Jonas',
  'Kira',
  'Liam',
  'Maya',
  'Noah',
  'Olga',
  'Priya',
  'Quinn',
  'Rafael',
  'Sofia',
  'Tomas',
];
const LAST = [
  'Adler',
  'Brooks',
  'Chen',
  'Dubois',
  'Eriksen',
  'Fischer',
  'Garcia',
  'Hughes',
  'Ivanova',
  'Jensen',
  'Khan',
  'Larsen',
  'Moreau',
  'Novak',
  'Okafor',
  'Patel',
  'Quist',
  'Rossi',
  'Schmidt',
  'Tanaka',
];

/** 30 delivery staff, six per role. */
export const RESOURCES: ResourceRecord[] = Array.from({ length: 30 }, (_, i) => {
  const role = ROLES[i % ROLES.length]!;
  const first = FIRST[i % FIRST.length]!;
  const last = LAST[(i * 7) % LAST.length]!;
  return {
    id: `RES-${String(i + 1).padStart(6, '0')}`,
    name: `${first} ${last}`,
    role,
    email: `${first}.${last}@meridian.example`.toLowerCase(),
    costRateMinor: COST_RATES[i % ROLES.length]!,
    currency: 'USD',
  };
});

export { FIRST as FIRST_NAMES, LAST as LAST_NAMES };
