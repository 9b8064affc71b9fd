import type { CustomerRecord } from '../connector/erp-connector';
import type { ErpContext } from '../context';

/** The credit hold of `customer` (none when there is no customer), through the request's loader. */
export const creditHoldOf = async (customer: CustomerRecord | null, ctx: ErpContext) =>
  customer ? ctx.loaders.creditHold.load(customer.id) : null;

export const Customer = {
  legalEntity: (c: CustomerRecord, _args: unknown, ctx: ErpContext) => ctx.loaders.legalEntity.load(c.legalEntityCode),
  taxJurisdiction: (c: CustomerRecord, _args: unknown, ctx: ErpContext) =>
    ctx.loaders.taxJurisdiction.load(c.taxJurisdictionCode),
  account: (c: CustomerRecord) => ({ id: c.externalCrmId }),
  parentCustomer: (c: CustomerRecord, _args: unknown, ctx: ErpContext) =>
    c.parentCustomerId === null ? null : ctx.loaders.customer.load(c.parentCustomerId),
  // A customer's invoices are its CRM account's invoices: externalCrmId is unique, and the loader is shared with Account.
  invoices: (c: CustomerRecord, _args: unknown, ctx: ErpContext) =>
    ctx.loaders.invoicesByCrmAccount.load(c.externalCrmId),
  creditHold: (c: CustomerRecord, _args: unknown, ctx: ErpContext) => creditHoldOf(c, ctx),
};
