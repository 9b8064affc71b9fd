import { join } from 'node:path';
import { CALLER_REQUEST_ID_HEADER, callerRequestIdOf } from '../../lib/graphql-http';
import { observeOperations } from '../../lib/metrics/operations-gauges';
import { loadTypeDefs, type Subgraph } from '../../lib/subgraph';
import type { OrchestrationContext } from './context';
import type { EventBus } from '../../lib/event-bus/event-bus';
import type { Ledger } from './engine/ledger';
import type { Flow } from './flows/flow';
import type { Governance } from './governance/governance';
import { RUNNABLE } from './engine/run-transitions';
import { createLoaders } from './loaders';
import { Account } from './resolvers/Account';
import { CrossReference } from './resolvers/CrossReference';
import { Mutation } from './resolvers/Mutation';
import { Opportunity } from './resolvers/Opportunity';
import { Project } from './resolvers/Project';
import { Query } from './resolvers/Query';
import { SyncException } from './resolvers/SyncException';
import { SyncRun } from './resolvers/SyncRun';
import { Trace } from './resolvers/Trace';
import type { Systems } from './systems/systems';

/** Path of the orchestration SDL. */
export const ORCHESTRATION_SCHEMA_PATH = join(__dirname, 'schema.graphql');

/** Everything the orchestration subgraph needs from outside. */
export interface OrchestrationSubgraphDeps {
  ledger: Ledger;
  /** The flows runs may be started for. */
  flows: readonly Flow<any>[];
  /** The systems the flows' preconditions read before a call starts a run. @default none: the first step checks */
  systems?: Systems;
  /** The governance corrections are validated against (known regions, packages). @default none: shape only */
  governance?: Governance;
  /** Called after a run is queued, so this process's worker starts it at once. */
  onRunQueued?: () => void;
  onClose?: () => void | Promise<void>;
  /** Where the outbox relay publishes run events: with it, this subgraph serves its own subscriptions too. @default none */
  bus?: EventBus;
}

/** Builds the orchestration subgraph (runs, exceptions, cross-references, health); it does not listen. */
export function createOrchestrationSubgraph(deps: OrchestrationSubgraphDeps): Subgraph<OrchestrationContext> {
  const startedAt = Date.now();
  const flows = new Map(deps.flows.map((f) => [f.name, f as Flow<unknown>]));
  // This process's /metrics reports the ledger's queue, outbox and exceptions, read at each scrape.
  const unobserve = observeOperations({
    read: (now) => deps.ledger.readOperationsFigures('default', now),
    queueStatuses: [...RUNNABLE, 'EXCEPTION'],
  });
  return {
    name: 'orchestration',
    typeDefs: loadTypeDefs(ORCHESTRATION_SCHEMA_PATH),
    resolvers: {
      Query,
      Mutation,
      CrossReference,
      SyncRun,
      SyncException,
      Trace,
      Account,
      Opportunity,
      Project,
    } as Subgraph<OrchestrationContext>['resolvers'],
    context: async (req, requestId, identity) => ({
      requestId,
      callerRequestId: callerRequestIdOf(req, CALLER_REQUEST_ID_HEADER),
      identity,
      ledger: deps.ledger,
      loaders: createLoaders(deps.ledger),
      flows,
      systems: deps.systems ?? null,
      governance: deps.governance ?? null,
      runQueued: () => deps.onRunQueued?.(),
      startedAt,
    }),
    ...(deps.bus ? { live: deps.bus } : {}),
    close: async () => {
      unobserve();
      await deps.onClose?.();
    },
  };
}
