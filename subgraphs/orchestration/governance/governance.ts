import Ajv from 'ajv';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { BillingModel } from '../../../lib/billing-model';
import schema from './governance.schema.json';

export type SystemKey = 'crm' | 'psa' | 'erp';
export type Owner = 'CRM' | 'ERP';
/** How a billing model's time and expenses are billed: at rate-card rates, in the milestone price, against a retainer. */
export type BilledBy = 'RATE_CARD' | 'MILESTONE' | 'RETAINER';

/** Retry policy of one system. */
export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** The governance config: how deals map onto delivery and finance, field ownership, retries, triggers. */
export interface Governance {
  servicePackages: Record<string, { template: string; code: string }>;
  billingModels: Record<
    BillingModel,
    {
      billingSchedule: string;
      revenueTreatment: string;
      /** How the model's time and expenses are billed (see governance.yaml). */
      billedBy: BilledBy;
      /** What a retainer does with draw-down beyond its fee. @default RATE_CARD */
      retainerOverage?: 'RATE_CARD' | 'NOT_BILLED';
    }
  >;
  deliveryRegions: Record<
    string,
    {
      legalEntity: string;
      taxJurisdiction: string;
      currency: string;
      paymentTerms: 'NET_15' | 'NET_30' | 'NET_45' | 'NET_60';
    }
  >;
  projectCode: { format: string };
  /**
   * Which system owns each customer field. The customer master fields the CRM holds besides the name (issue 11) may be
   * left out of older files: a field left out is the ERP's, and is never synced.
   */
  sourceOfTruth: {
    customer: Record<'name' | 'legalEntity' | 'taxJurisdiction' | 'paymentTerms' | 'currency', Owner> &
      Partial<Record<'legalName' | 'billingCountry' | 'billingAddress' | 'parentAccount' | 'billingContact', Owner>>;
  };
  retry: Record<SystemKey, RetryPolicy>;
  /** Which flows a trigger poller may start by itself; an absent switch counts as on. */
  triggers: {
    convertOpportunityToProject?: boolean;
    billApprovedTime?: boolean;
    billMilestone?: boolean;
    syncInvoiceStatus?: boolean;
    syncCustomer?: boolean;
    invoiceBilledWork?: boolean;
    applyContractAmendment?: boolean;
    /** The daily overdue sweep. */
    flagOverdueInvoice?: boolean;
  };
}

/** The checked-in governance file. */
export const GOVERNANCE_PATH = join(__dirname, 'governance.yaml');

const validate = new Ajv({ allErrors: true }).compile<Governance>(schema);

/**
 * Parses and validates governance YAML against governance.schema.json.
 * @throws Error listing every problem with its path, e.g. `governance.yaml: /retry/erp/maxAttempts must be integer`.
 */
export function parseGovernance(yamlText: string, source = 'governance.yaml'): Governance {
  let value: unknown;
  try {
    value = parseYaml(yamlText);
  } catch (error) {
    throw new Error(`${source}: not valid YAML: ${(error as Error).message}`);
  }
  if (!validate(value)) {
    const problems = (validate.errors ?? []).map(
      (e) =>
        `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params && 'additionalProperty' in e.params ? ` ('${String(e.params.additionalProperty)}')` : ''}`,
    );
    throw new Error(`${source} is invalid:\n  - ${problems.join('\n  - ')}`);
  }
  return value;
}

/** Reads and validates a governance file (the checked-in one by default). */
export function loadGovernance(path = GOVERNANCE_PATH): Governance {
  return parseGovernance(readFileSync(path, 'utf8'), path);
}

/** The project code for an opportunity under `format` (`{package}`, `{number}` = the opportunity ID's digits). */
export function projectCode(governance: Governance, servicePackage: string, opportunityId: string): string {
  const pkg = governance.servicePackages[servicePackage];
  const number = opportunityId.replace(/^\D+/, '');
  return governance.projectCode.format.replace('{package}', pkg?.code ?? 'PRJ').replace('{number}', number);
}
