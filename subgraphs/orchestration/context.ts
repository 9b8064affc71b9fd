import type { Ledger } from './engine/ledger';
import type { Flow } from './flows/flow';
import type { OrchestrationLoaders } from './loaders';

/** What every orchestration resolver gets. */
export interface OrchestrationContext {
  requestId: string;
  ledger: Ledger;
  loaders: OrchestrationLoaders;
  /** The flows runs may be started for, by name. */
  flows: ReadonlyMap<string, Flow<unknown>>;
  /** Tells this process's worker that a run is ready (workers elsewhere find it on their next look). */
  runQueued(): void;
  /** When this process started (epoch ms), for `health.uptimeSeconds`. */
  startedAt: number;
}
