import type { Identity } from '../../lib/auth/identity';
import type { Ledger } from './engine/ledger';
import type { Flow } from './flows/flow';
import type { OrchestrationLoaders } from './loaders';

/** What every orchestration resolver gets. */
export interface OrchestrationContext {
  requestId: string;
  /** The caller, as the gateway (or the orchestration) signed it; null: anonymous. */
  identity: Identity | null;
  ledger: Ledger;
  loaders: OrchestrationLoaders;
  /** The flows runs may be started for, by name. */
  flows: ReadonlyMap<string, Flow<unknown>>;
  /** Tells this process's worker that a run is ready (workers elsewhere find it on their next look). */
  runQueued(): void;
  /** When this process started (epoch ms), for `health.uptimeSeconds`. */
  startedAt: number;
}
