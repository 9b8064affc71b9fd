import type { PaymentTerms } from '../connector/crm-connector';
import { isoTimestamp, optionalIsoDate, todayUtc } from '../../../lib/dates';
import { MeridianError } from '../../../lib/errors';
import { displayName, optionalDisplayName, optionalRecordId, recordId } from '../../../lib/input';
import { parseMoneyInput, type MoneyInput } from '../../../lib/money-input';
import type { BillingModel, OpportunityStage } from '../connector/crm-connector';
import type { CrmContext } from '../context';
import { assertUnscoped } from '../../../lib/auth/account-scope';

interface UpsertAccountArgs {
  input: {
    externalId: string;
    name: string;
    industry?: string | null;
    billingCountry?: string | null;
    parentAccountId?: string | null;
    owner?: string | null;
    legalName?: string | null;
    billingAddress?: string | null;
    billingContactId?: string | null;
    paymentTerms?: PaymentTerms | null;
  };
}

interface UpsertOpportunityArgs {
  input: {
    externalId: string;
    accountId: string;
    name: string;
    stage: OpportunityStage;
    amount?: MoneyInput | null;
    closeDate?: string | null;
    servicePackage?: string | null;
    billingModel?: BillingModel | null;
    deliveryRegion?: string | null;
    expectedStartDate?: string | null;
  };
}

interface RecordAccountFinancialsArgs {
  input: {
    accountId: string;
    invoicedToDate: MoneyInput;
    outstanding: MoneyInput;
    overdue: MoneyInput;
    oldestOverdueDueDate?: string | null;
    asOf: string;
  };
}

/**
 * System-level CRM commands (and the compensation `unlinkOpportunity`); each validates its input, then calls one connector
 * command. None is tenant-scoped, so each refuses a caller scoped to a client's accounts (the schema's scopes do first).
 */
export const Mutation = {
  upsertAccount: async (_: unknown, { input }: UpsertAccountArgs, ctx: CrmContext) => {
    assertUnscoped(ctx.identity, 'upsertAccount');
    const { record, created } = await ctx.crm.upsertAccount({
      externalId: input.externalId,
      name: displayName(input.name, 'name'),
      industry: optionalDisplayName(input.industry, 'industry'),
      billingCountry: optionalCountry(input.billingCountry),
      parentAccountId: optionalRecordId(input.parentAccountId, 'parentAccountId'),
      owner: optionalDisplayName(input.owner, 'owner'),
      legalName: optionalDisplayName(input.legalName, 'legalName'),
      // An address has lines: newlines are its own, so it is not a display name.
      billingAddress: input.billingAddress ?? null,
      billingContactId: optionalRecordId(input.billingContactId, 'billingContactId'),
      paymentTerms: input.paymentTerms ?? null,
    });
    return { account: record, created };
  },
  recordAccountFinancials: async (_: unknown, { input }: RecordAccountFinancialsArgs, ctx: CrmContext) => {
    assertUnscoped(ctx.identity, 'recordAccountFinancials');
    const invoiced = parseMoneyInput(input.invoicedToDate, 'invoicedToDate');
    const outstanding = parseMoneyInput(input.outstanding, 'outstanding');
    const overdue = parseMoneyInput(input.overdue, 'overdue');
    for (const [field, amount] of [
      ['outstanding', outstanding],
      ['overdue', overdue],
    ] as const) {
      if (amount.currency !== invoiced.currency) {
        throw new MeridianError(
          'BAD_USER_INPUT',
          `${field} must be in the currency of invoicedToDate (${invoiced.currency}); got ${amount.currency}`,
          { field: `${field}.currency`, value: amount.currency },
        );
      }
    }
    const { record, changed } = await ctx.crm.recordAccountFinancials({
      accountId: input.accountId,
      invoicedToDateMinor: Number(invoiced.minor),
      outstandingMinor: Number(outstanding.minor),
      overdueMinor: Number(overdue.minor),
      oldestOverdueDueDate: optionalIsoDate(input.oldestOverdueDueDate, 'oldestOverdueDueDate'),
      currency: invoiced.currency,
      asOf: isoTimestamp(input.asOf, 'asOf'),
      at: new Date().toISOString(),
    });
    ctx.loaders.finance.clear(input.accountId).prime(input.accountId, record);
    return { account: await ctx.loaders.account.load(input.accountId), changed };
  },
  upsertOpportunity: async (_: unknown, { input }: UpsertOpportunityArgs, ctx: CrmContext) => {
    assertUnscoped(ctx.identity, 'upsertOpportunity');
    const amount = input.amount ? parseMoneyInput(input.amount, 'amount') : null;
    const { record, created } = await ctx.crm.upsertOpportunity({
      externalId: input.externalId,
      accountId: recordId(input.accountId, 'accountId'),
      name: displayName(input.name, 'name'),
      stage: input.stage,
      amountMinor: amount === null ? null : Number(amount.minor),
      currency: amount?.currency ?? null,
      closeDate: optionalIsoDate(input.closeDate, 'closeDate'),
      servicePackage: input.servicePackage ?? null,
      billingModel: input.billingModel ?? null,
      deliveryRegion: input.deliveryRegion ?? null,
      expectedStartDate: optionalIsoDate(input.expectedStartDate, 'expectedStartDate'),
    });
    return { opportunity: record, created };
  },
  closeOpportunity: async (_: unknown, args: { id: string; outcome: 'WON' | 'LOST' }, ctx: CrmContext) => {
    assertUnscoped(ctx.identity, 'closeOpportunity');
    return ctx.crm.closeOpportunity(args.id, args.outcome, todayUtc());
  },
  linkOpportunity: async (
    _: unknown,
    { input }: { input: { opportunityId: string; psaProjectId?: string | null; erpCustomerId?: string | null } },
    ctx: CrmContext,
  ) => {
    assertUnscoped(ctx.identity, 'linkOpportunity');
    return ctx.crm.linkOpportunity(input.opportunityId, {
      psaProjectId: input.psaProjectId ?? null,
      erpCustomerId: input.erpCustomerId ?? null,
    });
  },
  unlinkOpportunity: async (_: unknown, args: { id: string }, ctx: CrmContext) => {
    assertUnscoped(ctx.identity, 'unlinkOpportunity');
    return ctx.crm.unlinkOpportunity(args.id);
  },
};

/**
 * An ISO 3166-1 alpha-2 country, in capitals (` gb` → `GB`), as the ERP holds it: the customer sync compares the two.
 * @throws MeridianError BAD_USER_INPUT for anything else
 */
function optionalCountry(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const country = value.trim().toUpperCase();
  if (!/^[A-Z]{2}$/.test(country))
    throw new MeridianError(
      'BAD_USER_INPUT',
      `billingCountry must be an ISO 3166-1 alpha-2 code such as GB; got '${value.slice(0, 16)}'`,
      { field: 'billingCountry', value: value.slice(0, 16) },
    );
  return country;
}
