import { join } from 'node:path';
import { loadTypeDefs, type Subgraph } from '../../lib/subgraph';
import type { OrchestrationContext } from './context';
import type { Ledger } from './engine/ledger';
import { createLoaders } from './loaders';
import { Account } from './resolvers/Account';
import { CrossReference } from './resolvers/CrossReference';
import { Opportunity } from './resolvers/Opportunity';
import { Project } from './resolvers/Project';
import { Query } from './resolvers/Query';

/** Path of the orchestration SDL. */
export const ORCHESTRATION_SCHEMA_PATH = join(__dirname, 'schema.graphql');

/** Everything the orchestration subgraph needs from outside. */
export interface OrchestrationSubgraphDeps {
  ledger: Ledger;
  onClose?: () => void | Promise<void>;
}

/** Builds the orchestration subgraph (health, cross-reference registry); it does not listen. */
export function createOrchestrationSubgraph(deps: OrchestrationSubgraphDeps): Subgraph<OrchestrationContext> {
  const startedAt = Date.now();
  return {
    name: 'orchestration',
    typeDefs: loadTypeDefs(ORCHESTRATION_SCHEMA_PATH),
    resolvers: { Query, CrossReference, Account, Opportunity, Project } as Subgraph<OrchestrationContext>['resolvers'],
    context: async (_req, requestId) => ({ requestId, ledger: deps.ledger, loaders: createLoaders(deps.ledger), startedAt }),
    close: async () => {
      await deps.onClose?.();
    },
  };
}
