import type { PsaConnector } from './connector/psa-connector';
import type { PsaLoaders } from './loaders';

/** What every PSA resolver gets. */
export interface PsaContext {
  requestId: string;
  psa: PsaConnector;
  loaders: PsaLoaders;
}
