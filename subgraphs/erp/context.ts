import type { Identity } from '../../lib/auth/identity';
import type { ErpConnector } from './connector/erp-connector';
import type { ErpLoaders } from './loaders';

/** What every ERP resolver gets. */
export interface ErpContext {
  requestId: string;
  /** The caller, as the gateway (or the orchestration) signed it; null: anonymous. */
  identity: Identity | null;
  erp: ErpConnector;
  loaders: ErpLoaders;
}
