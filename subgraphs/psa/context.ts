import type { ErpInvoices } from './erp-invoices';
import type { Identity } from '../../lib/auth/identity';
import type { PsaConnector } from './connector/psa-connector';
import type { PsaLoaders } from './loaders';

/** What every PSA resolver gets. */
export interface PsaContext {
  requestId: string;
  /** The caller, as the gateway (or the orchestration) signed it; null: anonymous. */
  identity: Identity | null;
  psa: PsaConnector;
  /** Where `markMilestoneInvoiced` checks the ERP invoice; null: not checked (a PSA started without an ERP). */
  erpInvoices: ErpInvoices | null;
  /** Scoped to the caller's accounts (see `accountScopeOf`). */
  loaders: PsaLoaders;
}
