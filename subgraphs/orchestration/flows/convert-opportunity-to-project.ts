import type { BillingModel } from '../../../lib/billing-model';
import { isoDate } from '../../../lib/dates';
import { MeridianError } from '../../../lib/errors';
import { projectCode } from '../governance/governance';
import { SystemError } from '../systems/system-error';
import type { OpportunityForConversion } from '../systems/systems';
import type { Flow, StepContext } from './flow';

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

const OVERRIDES = [
  'deliveryRegion',
  'servicePackage',
  'billingModel',
  'expectedStartDate',
  'legalEntity',
  'taxJurisdiction',
] as const;

const deal = (ctx: StepContext<ConvertInput>) => ctx.results.validateOpportunity as Deal;
const customer = (ctx: StepContext<ConvertInput>) =>
  ctx.results.ensureErpCustomer as { customerId: string; created: boolean } | { skipped: true };
const project = (ctx: StepContext<ConvertInput>) =>
  ctx.results.createPsaProject as { projectId: string; code: string } | { skipped: true };

/** Closed-won opportunity → ERP customer → PSA project from template → ERP project dimensions → links back. */
export const convertOpportunityToProject: Flow<ConvertInput> = {
  name: 'convertOpportunityToProject',

  parseInput(raw) {
    if (typeof raw.opportunityId !== 'string' || raw.opportunityId === '') {
      throw new MeridianError('BAD_USER_INPUT', 'opportunityId is required', { field: 'opportunityId' });
    }
    const input: ConvertInput = { opportunityId: raw.opportunityId };
    for (const key of OVERRIDES) {
      const value = raw[key];
      if (value === undefined || value === null) continue;
      if (typeof value !== 'string' || value === '')
        throw new MeridianError('BAD_USER_INPUT', `${key} must be a non-empty string`, { field: key });
      // A date that is no calendar day is refused here, before the run is touched, rather than by a system later.
      input[key] = key === 'expectedStartDate' ? isoDate(value, key) : value;
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

  async precondition(input, systems, correlationId) {
    const found = await systems.crm.getOpportunity(input.opportunityId, correlationId);
    if (found && found.stage !== 'CLOSED_WON')
      throw new MeridianError(
        'INVALID_STATE',
        `Opportunity '${found.id}' (${found.name}) is in stage ${found.stage}; only a closed-won deal is converted. Close it won in the CRM, and the closed-won trigger converts it (or call convertOpportunityToProject again then)`,
        { field: 'opportunityId', value: found.id },
      );
  },

  steps: [
    {
      name: 'validateOpportunity',
      system: 'crm',
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
    },
    {
      name: 'ensureErpCustomer',
      system: 'erp',
      async run(ctx) {
        const d = deal(ctx);
        if (d.alreadyConvertedTo) return { skipped: true };
        // A customer the ERP already has is used as it is: its legal entity, tax jurisdiction, terms and currency are
        // the ERP's to own (governance sourceOfTruth), so a second deal never rewrites them.
        const existing = await ctx.systems.erp.getCustomerByAccount(d.accountId, ctx.correlationId);
        if (existing) return { customerId: existing.id, created: false };
        const region = ctx.governance.deliveryRegions[d.deliveryRegion]!;
        const result = await ctx.systems.erp.upsertCustomer(
          {
            externalCrmId: d.accountId,
            name: d.accountName,
            legalEntityCode: ctx.input.legalEntity ?? region.legalEntity,
            taxJurisdictionCode: ctx.input.taxJurisdiction ?? region.taxJurisdiction,
            paymentTerms: region.paymentTerms,
            currency: region.currency,
          },
          ctx.correlationId,
        );
        return { customerId: result.id, created: result.created };
      },
      async compensate(ctx, output) {
        const o = output as { customerId?: string; created?: boolean };
        // Only a customer this run created is removed; one that existed before stays as it was.
        if (o.customerId && o.created) await ctx.systems.erp.deleteCustomer(o.customerId, ctx.correlationId);
      },
    },
    {
      name: 'createPsaProject',
      system: 'psa',
      async run(ctx) {
        const d = deal(ctx);
        if (d.alreadyConvertedTo) return { skipped: true };
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
      async compensate(ctx, output) {
        const o = output as { projectId?: string };
        if (o.projectId) await ctx.systems.psa.deleteProject(o.projectId, ctx.correlationId);
      },
    },
    {
      name: 'pushProjectDimensions',
      system: 'erp',
      async run(ctx) {
        const d = deal(ctx);
        const c = customer(ctx);
        const p = project(ctx);
        if ('skipped' in c || 'skipped' in p) return { skipped: true };
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
      async compensate(ctx, output) {
        const o = output as { projectId?: string };
        if (o.projectId) await ctx.systems.erp.deleteProjectDimensions(o.projectId, ctx.correlationId);
      },
    },
    {
      name: 'linkBack',
      system: 'crm',
      async run(ctx) {
        const d = deal(ctx);
        const c = customer(ctx);
        const p = project(ctx);
        if ('skipped' in c || 'skipped' in p) return { skipped: true, alreadyConvertedTo: d.alreadyConvertedTo };
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
      async compensate(ctx, output) {
        const o = output as { opportunityId?: string };
        if (o.opportunityId) await ctx.systems.crm.unlinkOpportunity(o.opportunityId, ctx.correlationId);
      },
    },
  ],
};

function pick<T extends object, K extends keyof T>(value: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (value[k] !== undefined) out[k] = value[k];
  return out;
}
