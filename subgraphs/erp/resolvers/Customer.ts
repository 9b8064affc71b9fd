import type { CustomerRecord } from '../connector/erp-connector';
import type { ErpContext } from '../context';

export const Customer = {
  legalEntity: (c: CustomerRecord, _args: unknown, ctx: ErpContext) => ctx.loaders.legalEntity.load(c.legalEntityCode),
  taxJurisdiction: (c: CustomerRecord, _args: unknown, ctx: ErpContext) =>
    ctx.loaders.taxJurisdiction.load(c.taxJurisdictionCode),
  account: (c: CustomerRecord) => ({ id: c.externalCrmId }),
  // A customer's invoices are its CRM account's invoices: externalCrmId is unique, and the loader is shared with Account.
  invoices: (c: CustomerRecord, _args: unknown, ctx: ErpContext) =>
    ctx.loaders.invoicesByCrmAccount.load(c.externalCrmId),
};
