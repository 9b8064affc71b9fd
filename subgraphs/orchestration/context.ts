import type { Ledger } from './engine/ledger';
import type { OrchestrationLoaders } from './loaders';

/** What every orchestration resolver gets. */
export interface OrchestrationContext {
  requestId: string;
  ledger: Ledger;
  loaders: OrchestrationLoaders;
  /** When this process started (epoch ms), for `health.uptimeSeconds`. */
  startedAt: number;
}
