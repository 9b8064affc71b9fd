import type { Identity } from '../../lib/auth/identity';
import type { ErpConnector } from './connector/erp-connector';
import type { ErpLoaders } from './loaders';
import type { AccountScope } from '../../lib/auth/account-scope';

/** What every ERP resolver gets. */
export interface ErpContext {
  requestId: string;
  /** The caller, as the gateway (or the orchestration) signed it; null: anonymous. */
  identity: Identity | null;
  /** The CRM accounts whose records the caller may see (a portal user's); null: every account. */
  scope: AccountScope;
  erp: ErpConnector;
  loaders: ErpLoaders;
  /** The ERP's clock (epoch ms): its today decides what is past due. */
  now: () => number;
}
