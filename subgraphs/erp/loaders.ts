import DataLoader from 'dataloader';
import type {
  BillingLineRecord,
  CustomerRecord,
  ErpConnector,
  InvoiceLineRecord,
  InvoiceRecord,
  LegalEntityRecord,
  PaymentRecord,
  ProjectDimensionsRecord,
  TaxJurisdictionRecord,
} from './connector/erp-connector';

/** The ERP's per-request loaders: one connector call per batch, whatever the number of keys. */
export interface ErpLoaders {
  customer: DataLoader<string, CustomerRecord | null>;
  /** Keyed by CRM account ID. */
  customerByCrmAccount: DataLoader<string, CustomerRecord | null>;
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
}

/** Builds a fresh loader set; call once per request so nothing is cached across requests. */
export function createLoaders(erp: ErpConnector): ErpLoaders {
  return {
    customer: new DataLoader((ids) => erp.getCustomers(ids)),
    customerByCrmAccount: new DataLoader((ids) => erp.getCustomersByCrmAccount(ids)),
    legalEntity: new DataLoader((codes) => erp.getLegalEntities(codes)),
    taxJurisdiction: new DataLoader((codes) => erp.getTaxJurisdictions(codes)),
    invoice: new DataLoader((ids) => erp.getInvoices(ids)),
    invoicesByCrmAccount: new DataLoader((ids) => erp.getInvoicesByCrmAccount(ids)),
    invoicesByProject: new DataLoader((ids) => erp.getInvoicesByProject(ids)),
    billingLinesByProject: new DataLoader((ids) => erp.getBillingLinesByProject(ids)),
    linesByInvoice: new DataLoader((ids) => erp.getInvoiceLines(ids)),
    paymentsByInvoice: new DataLoader((ids) => erp.getPaymentsByInvoice(ids)),
    projectDimensions: new DataLoader((ids) => erp.getProjectDimensions(ids)),
  };
}
