import type { ErpConnector } from './connector/erp-connector';
import type { ErpLoaders } from './loaders';

/** What every ERP resolver gets. */
export interface ErpContext {
  requestId: string;
  erp: ErpConnector;
  loaders: ErpLoaders;
}
