import DataLoader from 'dataloader';
import type {
  BillingLineRecord,
  CreditHoldRecord,
  CustomerRecord,
  ErpConnector,
  InvoiceLineRecord,
  InvoiceRecord,
  LegalEntityRecord,
  PaymentRecord,
  ProjectDimensionsRecord,
  RetainerTermsRecord,
  TaxJurisdictionRecord,
} from './connector/erp-connector';
import type { AccountScope } from '../../lib/auth/account-scope';

/** The ERP's per-request loaders: one connector call per batch, whatever the number of keys. */
export interface ErpLoaders {
  customer: DataLoader<string, CustomerRecord | null>;
  /** Keyed by CRM account ID. */
  customerByCrmAccount: DataLoader<string, CustomerRecord | null>;
  /** By ERP customer ID; reached only through a customer the caller may see. */
  creditHold: DataLoader<string, CreditHoldRecord | null>;
  legalEntity: DataLoader<string, LegalEntityRecord | null>;
  taxJurisdiction: DataLoader<string, TaxJurisdictionRecord | null>;
  invoice: DataLoader<string, InvoiceRecord | null>;
  /** Keyed by CRM account ID; both `Account.invoices` and `Account.receivables` read it. */
  invoicesByCrmAccount: DataLoader<string, InvoiceRecord[]>;
  /** Keyed by PSA project ID; both `Project.invoices` and `Project.billedToDate` read it. */
  invoicesByProject: DataLoader<string, InvoiceRecord[]>;
  /** Keyed by PSA project ID. */
  billingLinesByProject: DataLoader<string, BillingLineRecord[]>;
  linesByInvoice: DataLoader<string, InvoiceLineRecord[]>;
  paymentsByInvoice: DataLoader<string, PaymentRecord[]>;
  /** Keyed by PSA project ID. */
  projectDimensions: DataLoader<string, ProjectDimensionsRecord | null>;
  /** Keyed by PSA project ID. */
  retainerTerms: DataLoader<string, RetainerTermsRecord | null>;
}

/**
 * Builds a fresh loader set; call once per request so nothing is cached across requests. Under a tenant scope (a portal
 * user's accounts) every loader answers as if the records of other accounts did not exist: `null` for a single record,
 * an empty list for a group; with no scope (`null`) the loaders read straight through.
 */
export function createLoaders(erp: ErpConnector, scope: AccountScope): ErpLoaders {
  if (scope !== null) return createScopedLoaders(erp, scope);
  return {
    customer: new DataLoader((ids) => erp.getCustomers(ids)),
    customerByCrmAccount: new DataLoader((ids) => erp.getCustomersByCrmAccount(ids)),
    creditHold: new DataLoader((ids) => erp.getCreditHolds(ids)),
    legalEntity: new DataLoader((codes) => erp.getLegalEntities(codes)),
    taxJurisdiction: new DataLoader((codes) => erp.getTaxJurisdictions(codes)),
    invoice: new DataLoader((ids) => erp.getInvoices(ids)),
    invoicesByCrmAccount: new DataLoader((ids) => erp.getInvoicesByCrmAccount(ids)),
    invoicesByProject: new DataLoader((ids) => erp.getInvoicesByProject(ids)),
    billingLinesByProject: new DataLoader((ids) => erp.getBillingLinesByProject(ids)),
    linesByInvoice: new DataLoader((ids) => erp.getInvoiceLines(ids)),
    paymentsByInvoice: new DataLoader((ids) => erp.getPaymentsByInvoice(ids)),
    projectDimensions: new DataLoader((ids) => erp.getProjectDimensions(ids)),
    retainerTerms: new DataLoader((ids) => erp.getRetainerTerms(ids)),
  };
}

/**
 * The loaders of a tenant-scoped request. Visibility is decided here, under every resolver and `__resolveReference`,
 * so no path through the schema can reach another account's record: a customer is visible when its `externalCrmId` is
 * in scope; an invoice and a project's dimensions when their customer is; invoice lines and payments when their
 * invoice is; billing lines when their project's dimensions are.
 */
function createScopedLoaders(erp: ErpConnector, scope: ReadonlySet<string>): ErpLoaders {
  const sees = (customer: CustomerRecord | null) => customer !== null && scope.has(customer.externalCrmId);
  // The IDs of the caller's own customers, read once per request (an empty scope needs no read).
  let own: Promise<ReadonlySet<string>> | undefined;
  const ownCustomerIds = () =>
    (own ??=
      scope.size === 0
        ? Promise.resolve(new Set<string>())
        : erp.getCustomersByCrmAccount([...scope]).then((cs) => new Set(cs.filter(sees).map((c) => c!.id))));
  const invoice = new DataLoader(async (ids: readonly string[]) => {
    const [rows, mine] = await Promise.all([erp.getInvoices(ids), ownCustomerIds()]);
    return rows.map((r) => (r !== null && mine.has(r.customerId) ? r : null));
  });
  const projectDimensions = new DataLoader(async (ids: readonly string[]) => {
    const [rows, mine] = await Promise.all([erp.getProjectDimensions(ids), ownCustomerIds()]);
    return rows.map((r) => (r !== null && mine.has(r.customerId) ? r : null));
  });
  // Per invoice: its group when the invoice is visible, empty otherwise (a failed read stays that key's error).
  const ofVisibleInvoices = async <T>(ids: readonly string[], groups: Promise<T[][]>): Promise<(T[] | Error)[]> => {
    const [visible, rows] = await Promise.all([invoice.loadMany(ids), groups]);
    return rows.map((group, i) => {
      const v = visible[i];
      return v instanceof Error ? v : v ? group : [];
    });
  };
  return {
    customer: new DataLoader(async (ids) => (await erp.getCustomers(ids)).map((c) => (sees(c) ? c : null))),
    customerByCrmAccount: new DataLoader(async (ids) =>
      (await erp.getCustomersByCrmAccount(ids)).map((c) => (sees(c) ? c : null)),
    ),
    // Every path to a hold goes through a customer the scoped loaders above let the caller see.
    creditHold: new DataLoader((ids) => erp.getCreditHolds(ids)),
    legalEntity: new DataLoader((codes) => erp.getLegalEntities(codes)),
    taxJurisdiction: new DataLoader((codes) => erp.getTaxJurisdictions(codes)),
    invoice,
    invoicesByCrmAccount: new DataLoader(async (ids) =>
      (await erp.getInvoicesByCrmAccount(ids)).map((group, i) => (scope.has(ids[i]!) ? group : [])),
    ),
    invoicesByProject: new DataLoader(async (ids) => {
      const [groups, mine] = await Promise.all([erp.getInvoicesByProject(ids), ownCustomerIds()]);
      return groups.map((group) => group.filter((i) => mine.has(i.customerId)));
    }),
    billingLinesByProject: new DataLoader(async (ids) => {
      const [groups, dimensions] = await Promise.all([
        erp.getBillingLinesByProject(ids),
        projectDimensions.loadMany(ids),
      ]);
      return groups.map((group, i) => {
        const d = dimensions[i];
        return d instanceof Error ? d : d ? group : [];
      });
    }),
    linesByInvoice: new DataLoader((ids) => ofVisibleInvoices(ids, erp.getInvoiceLines(ids))),
    paymentsByInvoice: new DataLoader((ids) => ofVisibleInvoices(ids, erp.getPaymentsByInvoice(ids))),
    projectDimensions,
    // A project's retainer only when its dimensions (so its customer) are the caller's.
    retainerTerms: new DataLoader(async (ids) => {
      const [rows, dimensions] = await Promise.all([erp.getRetainerTerms(ids), projectDimensions.loadMany(ids)]);
      return rows.map((r, i) => {
        const d = dimensions[i];
        return d instanceof Error ? d : d ? r : null;
      });
    }),
  };
}
