import type { BillingModel } from '../../../lib/billing-model';
import { isoDate } from '../../../lib/dates';
import { MeridianError } from '../../../lib/errors';
import { recordId } from '../../../lib/input';
import type { CorrectionField } from '../engine/corrections';
import type { Governance } from '../governance/governance';
import { projectCode } from '../governance/governance';
import { SystemError } from '../systems/system-error';
import type { CustomerSyncField, OpportunityForConversion } from '../systems/systems';
import { type CreditHoldOutcome, checkCreditHold, creditHoldOverrideCorrection } from './credit-hold';
import { type Flow, flow, type StepContext } from './flow';
import { crmOwnedFields, crmValues, ensureParentCustomer, type MasterValue, newCustomer } from './customer-master';
import { preflightConversion } from './preflight';

/**
 * Input of a conversion: the opportunity, and optional corrections a person supplies on `retryRunWithInput`
 * (they win over the CRM's values and the governance mapping).
 */
export interface ConvertInput {
  opportunityId: string;
  deliveryRegion?: string;
  servicePackage?: string;
  billingModel?: string;
  expectedStartDate?: string;
  legalEntity?: string;
  taxJurisdiction?: string;
  /** A person's note overriding the ERP customer's credit hold for this run (see flows/credit-hold.ts). */
  creditHoldOverride?: string;
}

/** What `validateOpportunity` found: the deal's commercial fields after corrections. */
interface Deal {
  opportunityId: string;
  name: string;
  accountId: string;
  accountName: string;
  amount: { amount: string; currency: string };
  billingModel: BillingModel;
  servicePackage: string;
  deliveryRegion: string;
  expectedStartDate: string;
  /** Set when the CRM shows the deal converted already (outside Meridian's runs): later steps do nothing. */
  alreadyConvertedTo: { psaProjectId: string; erpCustomerId: string | null } | null;
}

/** What `ensureErpCustomer` found or created for the deal's account. */
interface EnsuredCustomer {
  customerId: string;
  created: boolean;
  /** The credit hold of an existing customer that a person let this run past (with their note). */
  creditHold?: Extract<CreditHoldOutcome, { onHold: true }>;
  /** Parent customers created first for the account's hierarchy, top first. */
  parentsCreated?: string[];
  /** What a new customer was given, so that a later sync tells an ERP-side edit from a CRM change (sync-customer.ts). */
  synced?: Partial<Record<CustomerSyncField, MasterValue>>;
}

const BILLING_MODELS: readonly BillingModel[] = ['FIXED_FEE', 'TIME_AND_MATERIALS', 'MILESTONE', 'RETAINER'];
/** An ERP code: capitals, digits and dashes (MERIDIAN-UK, US-NY). */
const CODE = /^[A-Z0-9][A-Z0-9-]{0,31}$/;

const bad = (field: string, message: string, value: string) =>
  new MeridianError('BAD_USER_INPUT', `${field} ${message}; got '${value.slice(0, 64)}'`, { field });

/** A value one of `known` (governance's keys, when the caller has governance). */
const oneOf =
  (pick: (g: Governance) => Record<string, unknown>, what: string) =>
  (value: string, field: string, governance: Governance | null): string => {
    if (!CODE.test(value) && !/^[A-Z][A-Z0-9_]{0,63}$/.test(value)) throw bad(field, `must be a ${what} code`, value);
    if (governance && !Object.hasOwn(pick(governance), value))
      throw bad(field, `must be one of ${Object.keys(pick(governance)).join(', ')} (governance)`, value);
    return value;
  };

/**
 * The corrections `retryRunWithInput` may make to a conversion, each checked, and the steps that depend on it: the
 * deal's fields are merged in `validateOpportunity`, and later steps read them from its output (the region picks the
 * ERP customer's legal entity; package, model and start date shape the project; the model its ERP dimensions); the
 * ERP codes are read by `ensureErpCustomer` alone.
 */
const CORRECTIONS: Readonly<Record<string, CorrectionField>> = {
  deliveryRegion: {
    readBy: ['validateOpportunity', 'ensureErpCustomer'],
    check: oneOf((g) => g.deliveryRegions, 'delivery region'),
  },
  servicePackage: {
    readBy: ['validateOpportunity', 'createPsaProject'],
    check: oneOf((g) => g.servicePackages, 'service package'),
  },
  billingModel: {
    readBy: ['validateOpportunity', 'createPsaProject', 'pushProjectDimensions'],
    check: (value, field) => {
      if (!(BILLING_MODELS as readonly string[]).includes(value))
        throw bad(field, `must be one of ${BILLING_MODELS.join(', ')}`, value);
      return value;
    },
  },
  expectedStartDate: {
    readBy: ['validateOpportunity', 'createPsaProject'],
    check: (value, field) => isoDate(value, field),
  },
  legalEntity: {
    readBy: ['ensureErpCustomer'],
    check: (value, field) => {
      if (!CODE.test(value)) throw bad(field, 'must be an ERP legal entity code (capitals, digits, dashes)', value);
      return value;
    },
  },
  taxJurisdiction: {
    readBy: ['ensureErpCustomer'],
    check: (value, field) => {
      if (!CODE.test(value)) throw bad(field, 'must be an ERP tax jurisdiction code (capitals, digits, dashes)', value);
      return value;
    },
  },
  // An existing ERP customer's credit hold is checked where the customer is read, before the first write.
  creditHoldOverride: creditHoldOverrideCorrection('ensureErpCustomer'),
};
const OVERRIDES = Object.keys(CORRECTIONS) as (keyof typeof CORRECTIONS & keyof ConvertInput)[];

/**
 * Re-reads the deal before a step writes: one that left closed-won (or was deleted) since the run started stops the
 * run with PRECONDITION_LOST, and the run undoes what it created. A deal is checked before every write, not only in
 * `validateOpportunity`, because a step may wait minutes on a slow or throttled system.
 */
async function assertStillWon(ctx: StepContext<ConvertInput>, d: Deal): Promise<void> {
  const now = await ctx.systems.crm.getOpportunity(d.opportunityId, ctx.correlationId);
  if (now?.stage === 'CLOSED_WON') return;
  throw new SystemError(
    'PRECONDITION_LOST',
    `Opportunity '${d.opportunityId}' (${d.name}) ${now ? `left closed-won (it is ${now.stage} now)` : 'was deleted from the CRM'} while it was being converted; the run undoes what it created, newest first`,
    'crm',
  );
}

/** Closed-won opportunity → ERP customer → PSA project from template → ERP project dimensions → links back. */
export const convertOpportunityToProject: Flow<ConvertInput> = flow<ConvertInput>({
  name: 'convertOpportunityToProject',

  parseInput(raw) {
    const opportunityId = recordId(raw.opportunityId, 'opportunityId');
    const input: ConvertInput = { opportunityId };
    for (const key of OVERRIDES) {
      const value = raw[key];
      if (value === undefined || value === null) continue;
      if (typeof value !== 'string' || value === '')
        throw new MeridianError('BAD_USER_INPUT', `${key} must be a non-empty string`, { field: key });
      (input as unknown as Record<string, string>)[key] = CORRECTIONS[key]!.check(value, key, null);
    }
    return input;
  },

  subject: (input) => ({
    subjectKey: `opportunity:${input.opportunityId}`,
    subjectReuse: 'ever',
    accountId: null,
    opportunityId: input.opportunityId,
    projectId: null,
  }),

  corrections: CORRECTIONS,

  async precondition(input, systems, correlationId) {
    const found = await systems.crm.getOpportunity(input.opportunityId, correlationId);
    if (found && found.stage !== 'CLOSED_WON')
      throw new MeridianError(
        'INVALID_STATE',
        `Opportunity '${found.id}' (${found.name}) is in stage ${found.stage}; only a closed-won deal is converted. Close it won in the CRM, and the closed-won trigger converts it (or call convertOpportunityToProject again then)`,
        { field: 'opportunityId', value: found.id },
      );
  },
})
  .step('validateOpportunity', {
    system: 'crm',
    reveals: ['accountId'],
    async run(ctx): Promise<Deal> {
      const { input } = ctx;
      const opportunity = await ctx.systems.crm.getOpportunity(input.opportunityId, ctx.correlationId);
      if (!opportunity)
        throw new SystemError(
          'MISSING_REFERENCE',
          `The CRM has no opportunity '${input.opportunityId}'`,
          'crm',
          'NOT_FOUND',
        );
      const label = `Opportunity '${opportunity.id}' (${opportunity.name})`;
      if (opportunity.stage !== 'CLOSED_WON') {
        throw new SystemError(
          'BAD_VALUE',
          `${label} is in stage ${opportunity.stage}; only closed-won deals are converted`,
          'crm',
        );
      }
      const merged: OpportunityForConversion = {
        ...opportunity,
        ...pick(input, ['deliveryRegion', 'servicePackage', 'expectedStartDate']),
        ...(input.billingModel ? { billingModel: input.billingModel as Deal['billingModel'] } : {}),
      };
      const missing = [
        ['amount', merged.amount],
        ['billing model', merged.billingModel],
        ['service package', merged.servicePackage],
        ['delivery region', merged.deliveryRegion],
        ['expected start date', merged.expectedStartDate],
      ]
        .filter(([, value]) => value === null || value === undefined || value === '')
        .map(([field]) => field);
      if (missing.length)
        throw new SystemError(
          'BAD_VALUE',
          `${label} cannot be converted: ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing in the CRM`,
          'crm',
        );
      if (!ctx.governance.servicePackages[merged.servicePackage!]) {
        throw new SystemError(
          'BAD_VALUE',
          `${label} sold service package '${merged.servicePackage}', which no project template is mapped to (governance: servicePackages)`,
          'crm',
        );
      }
      if (!ctx.governance.deliveryRegions[merged.deliveryRegion!]) {
        throw new SystemError(
          'BAD_VALUE',
          `${label} is delivered from region '${merged.deliveryRegion}', which no legal entity is mapped to (governance: deliveryRegions)`,
          'crm',
        );
      }
      return {
        opportunityId: opportunity.id,
        name: opportunity.name,
        accountId: opportunity.account.id,
        accountName: opportunity.account.name,
        amount: merged.amount!,
        billingModel: merged.billingModel!,
        servicePackage: merged.servicePackage!,
        deliveryRegion: merged.deliveryRegion!,
        expectedStartDate: merged.expectedStartDate!,
        alreadyConvertedTo: opportunity.psaProjectId
          ? { psaProjectId: opportunity.psaProjectId, erpCustomerId: opportunity.erpCustomerId }
          : null,
      };
    },
  })
  .step('ensureErpCustomer', {
    system: 'erp',
    async run(ctx): Promise<EnsuredCustomer | { skipped: true }> {
      const d = ctx.results.validateOpportunity;
      if (d.alreadyConvertedTo) return { skipped: true };
      await assertStillWon(ctx, d);
      // A customer the ERP already has is used as it is: its legal entity, tax jurisdiction, terms and currency are
      // the ERP's to own (governance sourceOfTruth), so a second deal never rewrites them.
      const existing = await ctx.systems.erp.getCustomerByAccount(d.accountId, ctx.correlationId);
      if (existing) {
        const creditHold = checkCreditHold(
          ctx,
          existing,
          `Opportunity '${d.opportunityId}' (${d.name}) cannot be converted`,
        );
        // A correction of what the ERP owns cannot take effect on a customer that exists: say so, never ignore it.
        const differs = (
          [
            ['legalEntity', ctx.input.legalEntity, existing.legalEntity.code],
            ['taxJurisdiction', ctx.input.taxJurisdiction, existing.taxJurisdiction.code],
          ] as const
        ).filter(([, wanted, held]) => wanted !== undefined && wanted !== held);
        if (differs.length)
          throw new SystemError(
            'CONFLICT',
            `Account ${d.accountId} already has ERP customer ${existing.id} (${existing.customerNumber}) with ${differs.map(([f, w, h]) => `${f} '${h}', not the corrected '${w}'`).join(' and ')}. The ERP owns these fields (governance: sourceOfTruth.customer), so the conversion cannot apply the correction: change the customer in the ERP and retry, or abandon the run`,
            'erp',
          );
        // Checked before the conversion's first write, as for a new customer below (preflight.ts).
        await preflightConversion(ctx, d, existing);
        return { customerId: existing.id, created: false, ...(creditHold.onHold ? { creditHold } : {}) };
      }
      // This is the conversion's first write: everything the ERP would reject is checked before it (preflight.ts).
      await preflightConversion(ctx, d, null);
      const region = ctx.governance.deliveryRegions[d.deliveryRegion]!;
      // A new customer starts with the CRM's customer master (customer-master.ts), and a billed account's parent
      // account gets its ERP customer first, so the customer is created under it.
      const account = await ctx.systems.crm.getAccount(d.accountId, ctx.correlationId);
      if (!account)
        throw new SystemError('MISSING_REFERENCE', `The CRM has no account '${d.accountId}'`, 'crm', 'NOT_FOUND');
      const fields = crmOwnedFields(ctx.governance);
      const basis = {
        legalEntityCode: ctx.input.legalEntity ?? region.legalEntity,
        taxJurisdictionCode: ctx.input.taxJurisdiction ?? region.taxJurisdiction,
        paymentTerms: region.paymentTerms,
        currency: region.currency,
      };
      const parent = fields.includes('parentAccount')
        ? await ensureParentCustomer(ctx, account, fields, basis)
        : { parentCustomerId: null, created: [] };
      const result = await ctx.systems.erp.upsertCustomer(
        { ...newCustomer(account, fields, basis), name: d.accountName, parentCustomerId: parent.parentCustomerId },
        ctx.correlationId,
      );
      return {
        customerId: result.id,
        created: result.created,
        ...(parent.created.length ? { parentsCreated: parent.created.map((c) => c.customerId) } : {}),
        // What Meridian wrote, so that a later sync tells an ERP-side edit from a CRM change (sync-customer.ts).
        ...(result.created ? { synced: { ...crmValues(account, fields), name: d.accountName } } : {}),
      };
    },
    writes: (output) => {
      if ('skipped' in output || !output.created) return null;
      const parents = output.parentsCreated?.length ? ` (and parent customer ${output.parentsCreated.join(', ')})` : '';
      return `created ERP customer ${output.customerId}${parents}`;
    },
    async compensate(ctx, output) {
      if ('skipped' in output) return;
      // Only customers this run created are removed, the child before its parents; ones that existed stay as they
      // were. A parent another customer joined meanwhile is refused by the ERP (INVALID_STATE), a recorded failure.
      if (output.created) await ctx.systems.erp.deleteCustomer(output.customerId, ctx.correlationId);
      for (const id of [...(output.parentsCreated ?? [])].reverse())
        await ctx.systems.erp.deleteCustomer(id, ctx.correlationId);
    },
  })
  .step('createPsaProject', {
    system: 'psa',
    reveals: ['projectId'],
    async run(ctx) {
      const d = ctx.results.validateOpportunity;
      if (d.alreadyConvertedTo) return { skipped: true };
      await assertStillWon(ctx, d);
      const code = projectCode(ctx.governance, d.servicePackage, d.opportunityId);
      const created = await ctx.systems.psa.createProjectFromTemplate(
        {
          externalId: ctx.key,
          templateId: ctx.governance.servicePackages[d.servicePackage]!.template,
          accountId: d.accountId,
          opportunityId: d.opportunityId,
          name: `${d.accountName} — ${d.name}`,
          code,
          billingModel: d.billingModel,
          budget: d.amount,
          startDate: d.expectedStartDate,
        },
        ctx.correlationId,
      );
      return { projectId: created.id, code: created.code };
    },
    writes: (output) => ('skipped' in output ? null : `created PSA project ${output.projectId}`),
    async compensate(ctx, output) {
      if (!('skipped' in output)) await ctx.systems.psa.deleteProject(output.projectId, ctx.correlationId);
    },
  })
  .step('pushProjectDimensions', {
    system: 'erp',
    reveals: ['projectId'],
    async run(ctx) {
      const d = ctx.results.validateOpportunity;
      const c = ctx.results.ensureErpCustomer;
      const p = ctx.results.createPsaProject;
      if ('skipped' in c || 'skipped' in p) return { skipped: true };
      await assertStillWon(ctx, d);
      const model = ctx.governance.billingModels[d.billingModel];
      await ctx.systems.erp.upsertProjectDimensions(
        {
          projectId: p.projectId,
          customerId: c.customerId,
          projectCode: p.code,
          billingSchedule: model.billingSchedule,
          revenueTreatment: model.revenueTreatment,
        },
        ctx.correlationId,
      );
      return {
        projectId: p.projectId,
        projectCode: p.code,
        billingSchedule: model.billingSchedule,
        revenueTreatment: model.revenueTreatment,
      };
    },
    writes: (output) => ('skipped' in output ? null : `pushed the ERP dimensions of project ${output.projectId}`),
    async compensate(ctx, output) {
      if (!('skipped' in output)) await ctx.systems.erp.deleteProjectDimensions(output.projectId, ctx.correlationId);
    },
  })
  .step('linkBack', {
    system: 'crm',
    async run(ctx) {
      const d = ctx.results.validateOpportunity;
      const c = ctx.results.ensureErpCustomer;
      const p = ctx.results.createPsaProject;
      if ('skipped' in c || 'skipped' in p) return { skipped: true, alreadyConvertedTo: d.alreadyConvertedTo };
      await assertStillWon(ctx, d);
      await ctx.systems.crm.linkOpportunity(
        d.opportunityId,
        { psaProjectId: p.projectId, erpCustomerId: c.customerId },
        ctx.correlationId,
      );
      await ctx.recordCrossReferences([
        { entityType: 'OPPORTUNITY', canonicalId: d.opportunityId, system: 'PSA', externalId: p.projectId },
        { entityType: 'OPPORTUNITY', canonicalId: d.opportunityId, system: 'ERP', externalId: c.customerId },
        { entityType: 'ACCOUNT', canonicalId: d.accountId, system: 'ERP', externalId: c.customerId },
        { entityType: 'PROJECT', canonicalId: p.projectId, system: 'ERP', externalId: p.code },
      ]);
      return { opportunityId: d.opportunityId, psaProjectId: p.projectId, erpCustomerId: c.customerId };
    },
    writes: (output) =>
      'skipped' in output ? null : `linked opportunity ${output.opportunityId} to project ${output.psaProjectId}`,
    async compensate(ctx, output) {
      if (!('skipped' in output)) await ctx.systems.crm.unlinkOpportunity(output.opportunityId, ctx.correlationId);
    },
  })
  .build();

function pick<T extends object, K extends keyof T>(value: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (value[k] !== undefined) out[k] = value[k];
  return out;
}
