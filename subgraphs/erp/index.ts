import { join } from 'node:path';
import { loadTypeDefs, type Subgraph } from '../../lib/subgraph';
import type { ErpConnector } from './connector/erp-connector';
import type { ErpContext } from './context';
import { createLoaders } from './loaders';
import { Account } from './resolvers/Account';
import { BillingLine } from './resolvers/BillingLine';
import { Customer } from './resolvers/Customer';
import { Invoice } from './resolvers/Invoice';
import { InvoiceLine } from './resolvers/InvoiceLine';
import { Mutation } from './resolvers/Mutation';
import { Payment } from './resolvers/Payment';
import { Project } from './resolvers/Project';
import { ProjectDimensions } from './resolvers/ProjectDimensions';
import { ProjectContract, projectContract, projectContractMutations } from './resolvers/ProjectContract';
import { Query } from './resolvers/Query';
import { TaxJurisdiction } from './resolvers/TaxJurisdiction';
import { accountScopeOf } from '../../lib/auth/account-scope';

/** Path of the ERP SDL, read by the server, composition and tests. */
export const ERP_SCHEMA_PATH = join(__dirname, 'schema.graphql');

/** Everything the ERP subgraph needs from outside. */
export interface ErpSubgraphDeps {
  erp: ErpConnector;
  /** The ERP's clock (epoch ms), whose date decides what is past due; tests hand in one they move. @default Date.now */
  now?: () => number;
  /** Called by `close()`, to release the connector's store. */
  onClose?: () => void | Promise<void>;
}

/** Builds the ERP subgraph (customers, invoices, payments, billing) over an {@link ErpConnector}; it does not listen. */
export function createErpSubgraph(deps: ErpSubgraphDeps): Subgraph<ErpContext> {
  return {
    name: 'erp',
    typeDefs: loadTypeDefs(ERP_SCHEMA_PATH),
    resolvers: {
      Query,
      Mutation: { ...Mutation, ...projectContractMutations },
      Account,
      Project: { ...Project, contract: projectContract },
      ProjectContract,
      Customer,
      Invoice,
      InvoiceLine,
      Payment,
      TaxJurisdiction,
      ProjectDimensions,
      BillingLine,
    } as Subgraph<ErpContext>['resolvers'],
    context: async (_req, requestId, identity) => {
      const scope = accountScopeOf(identity);
      return {
        requestId,
        identity,
        scope,
        erp: deps.erp,
        loaders: createLoaders(deps.erp, scope),
        now: deps.now ?? Date.now,
      };
    },
    close: async () => {
      await deps.onClose?.();
    },
  };
}
