import type { CrmConnector } from './connector/crm-connector';
import type { CrmLoaders } from './loaders';

/** What every CRM resolver gets. */
export interface CrmContext {
  requestId: string;
  crm: CrmConnector;
  loaders: CrmLoaders;
}
