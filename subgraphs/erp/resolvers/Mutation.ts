import { MeridianError } from '../../../lib/errors';
import { displayName, optionalDisplayName, optionalRecordId } from '../../../lib/input';
import { isoDate, todayUtc } from '../../../lib/dates';
import { money } from '../../../lib/money';
import { parseMoneyInput, type MoneyInput } from '../../../lib/money-input';
import {
  type BillingSourceType,
  CUSTOMER_MASTER_FIELDS,
  type CustomerMasterField,
  type PaymentTerms,
} from '../connector/erp-connector';
import type { ErpContext } from '../context';
import { parseHundredths } from '../../../lib/hundredths';

interface UpsertCustomerArgs {
  input: {
    externalCrmId: string;
    name: string;
    legalEntityCode: string;
    taxJurisdictionCode: string;
    paymentTerms: PaymentTerms;
    currency: string;
    legalName?: string | null;
    billingCountry?: string | null;
    billingAddress?: string | null;
    billingContact?: string | null;
    parentCustomerId?: string | null;
  };
}

type MasterFields = Partial<Record<CustomerMasterField, string | null>>;

interface UpdateCustomerFieldsArgs {
  input: { id: string; expected?: MasterFields | null } & MasterFields;
}

interface UpsertProjectDimensionsArgs {
  input: {
    projectId: string;
    customerId: string;
    projectCode: string;
    billingSchedule: string;
    revenueTreatment: string;
  };
}

interface PostBillingLinesArgs {
  input: {
    lines: {
      externalId: string;
      projectId: string;
      sourceType: BillingSourceType;
      sourceId: string;
      description: string;
      quantity: string;
      unitPrice: MoneyInput;
      postingDate: string;
    }[];
  };
}

interface PostInvoiceArgs {
  input: {
    externalId: string;
    customerId: string;
    projectId?: string | null;
    issueDate: string;
    billingLineIds?: string[] | null;
    coveredBillingLineIds?: string[] | null;
    lines?: { description: string; quantity: string; unitPrice: MoneyInput }[] | null;
  };
}

interface UpsertRetainerTermsArgs {
  input: { projectId: string; fee: MoneyInput };
}

interface ApplyPaymentArgs {
  input: { externalId: string; invoiceId: string; amount: MoneyInput; receivedOn: string };
}

/** System-level ERP commands (and the compensations `deleteCustomer`, `deleteProjectDimensions`); each validates its input, then calls one connector command. */
export const Mutation = {
  upsertCustomer: async (_: unknown, { input }: UpsertCustomerArgs, ctx: ErpContext) => {
    const { record, created } = await ctx.erp.upsertCustomer({
      ...input,
      name: displayName(input.name, 'name'),
      currency: input.currency.trim().toUpperCase(),
      billingCountry: input.billingCountry?.trim().toUpperCase() ?? null,
      legalName: optionalDisplayName(input.legalName, 'legalName'),
      billingContact: optionalDisplayName(input.billingContact, 'billingContact'),
      parentCustomerId: optionalRecordId(input.parentCustomerId, 'parentCustomerId'),
    });
    return { customer: record, created };
  },
  updateCustomerFields: async (_: unknown, { input }: UpdateCustomerFieldsArgs, ctx: ErpContext) => {
    // A field given (null included: it clears the field) is set; one omitted stays as it is.
    const given = (from: MasterFields | null | undefined): MasterFields =>
      Object.fromEntries(CUSTOMER_MASTER_FIELDS.filter((f) => from && f in from).map((f) => [f, from![f] ?? null]));
    const set = given(input);
    if (set.name === null)
      throw new MeridianError('BAD_USER_INPUT', 'name cannot be cleared; omit it to leave it as it is', {
        field: 'name',
      });
    if (set.name) set.name = displayName(set.name, 'name');
    if (set.legalName) set.legalName = displayName(set.legalName, 'legalName');
    if (set.billingContact) set.billingContact = displayName(set.billingContact, 'billingContact');
    if (set.parentCustomerId) set.parentCustomerId = optionalRecordId(set.parentCustomerId, 'parentCustomerId');
    if (set.billingCountry) set.billingCountry = set.billingCountry.trim().toUpperCase();
    const { record, changed } = await ctx.erp.updateCustomerFields({
      id: input.id,
      set,
      expected: given(input.expected),
    });
    return { customer: record, changed };
  },
  upsertProjectDimensions: async (_: unknown, { input }: UpsertProjectDimensionsArgs, ctx: ErpContext) => {
    const { record, created } = await ctx.erp.upsertProjectDimensions({
      psaProjectId: input.projectId,
      customerId: input.customerId,
      projectCode: input.projectCode,
      billingSchedule: input.billingSchedule,
      revenueTreatment: input.revenueTreatment,
    });
    return { dimensions: record, created };
  },
  postBillingLines: (_: unknown, { input }: PostBillingLinesArgs, ctx: ErpContext) =>
    ctx.erp.postBillingLines(
      input.lines.map((line, i) => {
        const unitPrice = parseMoneyInput(line.unitPrice, `lines[${i}].unitPrice`);
        return {
          externalId: line.externalId,
          psaProjectId: line.projectId,
          sourceType: line.sourceType,
          sourceId: line.sourceId,
          description: line.description,
          quantityHundredths: parseHundredths(line.quantity, `lines[${i}].quantity`),
          unitPriceMinor: Number(unitPrice.minor),
          currency: unitPrice.currency,
          postingDate: isoDate(line.postingDate, `lines[${i}].postingDate`),
        };
      }),
    ),
  postInvoice: async (_: unknown, { input }: PostInvoiceArgs, ctx: ErpContext) => {
    const { record, created } = await ctx.erp.postInvoice({
      externalId: input.externalId,
      customerId: input.customerId,
      psaProjectId: input.projectId ?? null,
      issueDate: isoDate(input.issueDate, 'issueDate'),
      billingLineIds: input.billingLineIds ?? [],
      coveredBillingLineIds: input.coveredBillingLineIds ?? [],
      lines: (input.lines ?? []).map((line, i) => {
        const unitPrice = parseMoneyInput(line.unitPrice, `lines[${i}].unitPrice`);
        return {
          description: line.description,
          quantityHundredths: parseHundredths(line.quantity, `lines[${i}].quantity`),
          unitPriceMinor: Number(unitPrice.minor),
          currency: unitPrice.currency,
        };
      }),
    });
    return { invoice: record, created };
  },
  upsertRetainerTerms: async (_: unknown, { input }: UpsertRetainerTermsArgs, ctx: ErpContext) => {
    const fee = parseMoneyInput(input.fee, 'fee');
    const { record, created } = await ctx.erp.upsertRetainerTerms({
      psaProjectId: input.projectId,
      feeMinor: Number(fee.minor),
      currency: fee.currency,
    });
    return { projectId: record.psaProjectId, fee: money(record.feeMinor, record.currency), created };
  },
  applyPayment: async (_: unknown, { input }: ApplyPaymentArgs, ctx: ErpContext) => {
    const amount = parseMoneyInput(input.amount, 'amount');
    const { record, created } = await ctx.erp.applyPayment({
      externalId: input.externalId,
      invoiceId: input.invoiceId,
      amountMinor: Number(amount.minor),
      currency: amount.currency,
      receivedOn: isoDate(input.receivedOn, 'receivedOn'),
    });
    return { payment: record, created };
  },
  // Judged on the ERP's own date, not the caller's: the ERP decides what is past due.
  markInvoiceOverdue: async (_: unknown, args: { invoiceId: string }, ctx: ErpContext) => {
    const { record, changed } = await ctx.erp.markInvoiceOverdue({
      invoiceId: args.invoiceId,
      asOf: todayUtc(new Date(ctx.now())),
    });
    return { invoice: record, changed };
  },
  placeCustomerOnCreditHold: async (
    _: unknown,
    { input }: { input: { customerId: string; reason: string } },
    ctx: ErpContext,
  ) => {
    const { record, changed } = await ctx.erp.setCreditHold({
      customerId: input.customerId,
      reason: input.reason,
      at: new Date(ctx.now()).toISOString(),
    });
    ctx.loaders.creditHold.clear(input.customerId).prime(input.customerId, record);
    return { customer: await ctx.loaders.customer.load(input.customerId), changed };
  },
  releaseCustomerCreditHold: async (_: unknown, args: { customerId: string }, ctx: ErpContext) => {
    const { record, changed } = await ctx.erp.setCreditHold({
      customerId: args.customerId,
      reason: null,
      at: new Date(ctx.now()).toISOString(),
    });
    ctx.loaders.creditHold.clear(args.customerId).prime(args.customerId, record);
    return { customer: await ctx.loaders.customer.load(args.customerId), changed };
  },
  deleteCustomer: (_: unknown, args: { id: string }, ctx: ErpContext) => ctx.erp.deleteCustomer(args.id),
  deleteProjectDimensions: (_: unknown, args: { projectId: string }, ctx: ErpContext) =>
    ctx.erp.deleteProjectDimensions(args.projectId),
};
