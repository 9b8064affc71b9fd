import { join } from 'node:path';
import { loadTypeDefs, type Subgraph } from '../../lib/subgraph';
import type { PsaConnector } from './connector/psa-connector';
import type { PsaContext } from './context';
import type { ErpInvoices } from './erp-invoices';
import { createLoaders } from './loaders';
import { Account } from './resolvers/Account';
import { BillableTimeEntry } from './resolvers/BillableTimeEntry';
import { BillableWork } from './resolvers/BillableWork';
import { Expense } from './resolvers/Expense';
import { Milestone } from './resolvers/Milestone';
import { Mutation } from './resolvers/Mutation';
import { Opportunity } from './resolvers/Opportunity';
import { Project } from './resolvers/Project';
import { ProjectAmendment, projectAmendmentMutations, projectAmendmentQueries } from './resolvers/project-amendments';
import { ProjectFinancials } from './resolvers/ProjectFinancials';
import { ProjectTemplate } from './resolvers/ProjectTemplate';
import { Query } from './resolvers/Query';
import { RateCard } from './resolvers/RateCard';
import { Resource } from './resolvers/Resource';
import { TimeEntry } from './resolvers/TimeEntry';
import { accountScopeOf } from '../../lib/auth/account-scope';

/** Path of the PSA SDL, read by the server, composition and tests. */
export const PSA_SCHEMA_PATH = join(__dirname, 'schema.graphql');

/** Everything the PSA subgraph needs from outside. */
export interface PsaSubgraphDeps {
  psa: PsaConnector;
  /** Where `markMilestoneInvoiced` checks that the ERP invoice exists and bills the milestone's account. */
  erpInvoices?: ErpInvoices;
  /** Called by `close()`, to release the connector's store. */
  onClose?: () => void | Promise<void>;
}

/**
 * Builds the PSA subgraph (projects, milestones, time, expenses, rate cards) over a {@link PsaConnector}; it does not
 * listen. A portal caller's loaders and lists hold only its own accounts' projects and milestones.
 */
export function createPsaSubgraph(deps: PsaSubgraphDeps): Subgraph<PsaContext> {
  return {
    name: 'psa',
    typeDefs: loadTypeDefs(PSA_SCHEMA_PATH),
    resolvers: {
      Query: { ...Query, ...projectAmendmentQueries },
      Mutation: { ...Mutation, ...projectAmendmentMutations },
      ProjectAmendment,
      Account,
      Opportunity,
      Project,
      ProjectFinancials,
      Milestone,
      TimeEntry,
      Expense,
      RateCard,
      ProjectTemplate,
      Resource,
      BillableWork,
      BillableTimeEntry,
    } as Subgraph<PsaContext>['resolvers'],
    context: async (_req, requestId, identity) => ({
      requestId,
      identity,
      psa: deps.psa,
      erpInvoices: deps.erpInvoices ?? null,
      loaders: createLoaders(deps.psa, accountScopeOf(identity)),
    }),
    close: async () => {
      await deps.onClose?.();
    },
  };
}
