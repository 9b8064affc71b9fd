import type { Identity } from '../../lib/auth/identity';
import type { Ledger } from './engine/ledger';
import type { Flow } from './flows/flow';
import type { Governance } from './governance/governance';
import type { OrchestrationLoaders } from './loaders';
import type { Systems } from './systems/systems';

/** What every orchestration resolver gets. */
export interface OrchestrationContext {
  requestId: string;
  /** The request ID the gateway's caller sent (`x-caller-request-id`), for the audit log; null when none. */
  callerRequestId: string | null;
  /** The caller, as the gateway (or the orchestration) signed it; null: anonymous. */
  identity: Identity | null;
  ledger: Ledger;
  loaders: OrchestrationLoaders;
  /** The flows runs may be started for, by name. */
  flows: ReadonlyMap<string, Flow<unknown>>;
  /** The systems, for the flows' preconditions (null: not checked here; the first step checks them). */
  systems: Systems | null;
  /** The governance, for validating corrections (null: only their shape is checked). */
  governance: Governance | null;
  /** Tells this process's worker that a run is ready (workers elsewhere find it on their next look). */
  runQueued(): void;
  /** When this process started (epoch ms), for `health.uptimeSeconds`. */
  startedAt: number;
}
