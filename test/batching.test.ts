import { createCallLog, recordCalls } from './support/record-calls';
import { gql, startTestStack } from './support/stack';

const QUERY = `query Batch($n: Int) {
  accounts(first: $n) {
    nodes {
      name
      contacts { email }
      opportunities { amount { amount currency } project { code } }
      projects { code milestones { name } billedToDate { amount } invoices { number } }
      invoices { total { amount } balance { amount } payments { amount { amount } } }
      receivables { amount }
      customer { customerNumber legalEntity { name } }
      crossReferences { system }
    }
  }
}`;

describe('batching', () => {
  const calls = createCallLog();
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    // No worker: its polling of the ledger would count as calls of the query.
    stack = await startTestStack({
      seedAccounts: 1000,
      worker: false,
      wrapConnector: (system, connector) => recordCalls(connector, calls, system),
    });
  }, 120_000);
  afterAll(() => stack.stop());

  it('costs one connector call per entity type per subgraph fetch, whether the query spans 1, 10 or 1000 accounts', async () => {
    const perSize: Record<number, Record<string, number>> = {};
    for (const n of [1, 10, 1000]) {
      calls.reset();
      const response = await gql(stack.gatewayUrl, QUERY, { n });
      expect(response.body.errors).toBeUndefined();
      expect(response.body.data?.accounts).toMatchObject({ nodes: expect.any(Array) });
      expect((response.body.data as { accounts: { nodes: unknown[] } }).accounts.nodes).toHaveLength(n);
      perSize[n] = calls.snapshot();
    }
    const expected = {
      'crm.getContactsByAccount': 1,
      'crm.getOpportunitiesByAccount': 1,
      'crm.listAccounts': 1,
      // Project.billedToDate reads the project's dimensions and customer for its currency when nothing is invoiced yet.
      'erp.getCustomers': 1,
      'erp.getCustomersByCrmAccount': 1,
      'erp.getInvoicesByCrmAccount': 1,
      'erp.getInvoicesByProject': 1,
      'erp.getLegalEntities': 1,
      'erp.getPaymentsByInvoice': 1,
      'erp.getProjectDimensions': 1,
      'orchestration.getCrossReferencesByEntity': 1,
      'psa.getMilestonesByProject': 1,
      'psa.getProjectsByAccount': 1,
      'psa.getProjectsByOpportunity': 1,
    };
    expect(perSize).toEqual({ 1: expected, 10: expected, 1000: expected });
  });
});
