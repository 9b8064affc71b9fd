import { join } from 'node:path';
import { loadTypeDefs, type Subgraph } from '../../lib/subgraph';
import type { CrmConnector } from './connector/crm-connector';
import type { CrmContext } from './context';
import { createLoaders } from './loaders';
import { Account } from './resolvers/Account';
import { AccountFinance } from './resolvers/AccountFinance';
import { Contact } from './resolvers/Contact';
import {
  ContractAmendment,
  contractAmendmentMutations,
  contractAmendmentQueries,
  opportunityAmendments,
} from './resolvers/ContractAmendment';
import { Mutation } from './resolvers/Mutation';
import { Opportunity } from './resolvers/Opportunity';
import { Query } from './resolvers/Query';

/** Path of the CRM SDL, read by the server, composition and tests. */
export const CRM_SCHEMA_PATH = join(__dirname, 'schema.graphql');

/** Everything the CRM subgraph needs from outside. */
export interface CrmSubgraphDeps {
  crm: CrmConnector;
  /** The CRM's clock (epoch ms), whose date counts overdue days; tests hand in one they move. @default Date.now */
  now?: () => number;
  /** Called by `close()`, to release the connector's store. */
  onClose?: () => void | Promise<void>;
}

/** Builds the CRM subgraph (accounts, contacts, opportunities) over a {@link CrmConnector}; it does not listen. */
export function createCrmSubgraph(deps: CrmSubgraphDeps): Subgraph<CrmContext> {
  return {
    name: 'crm',
    typeDefs: loadTypeDefs(CRM_SCHEMA_PATH),
    resolvers: {
      Query: { ...Query, ...contractAmendmentQueries },
      Mutation: { ...Mutation, ...contractAmendmentMutations },
      Account,
      AccountFinance,
      Contact,
      Opportunity: { ...Opportunity, amendments: opportunityAmendments },
      ContractAmendment,
    } as Subgraph<CrmContext>['resolvers'],
    context: async (_req, requestId, identity) => ({
      requestId,
      identity,
      crm: deps.crm,
      loaders: createLoaders(deps.crm, identity),
      now: deps.now ?? Date.now,
    }),
    close: async () => {
      await deps.onClose?.();
    },
  };
}
