import type { Identity } from '../../lib/auth/identity';
import type { CrmConnector } from './connector/crm-connector';
import type { CrmLoaders } from './loaders';

/** What every CRM resolver gets. */
export interface CrmContext {
  requestId: string;
  /** The caller, as the gateway (or the orchestration) signed it; null: anonymous. */
  identity: Identity | null;
  crm: CrmConnector;
  loaders: CrmLoaders;
  /** The CRM's clock (epoch ms): its today counts how many days an invoice is overdue. */
  now: () => number;
}
