import { money } from '../lib/money';
import { generateAccounts } from '../seed/generate';
import { gql, startTestStack } from './support/stack';

const ACCEPTANCE_QUERY = `{ accounts(first: 50) { nodes { name opportunities { amount { amount currency } } projects { code billedToDate { amount } } invoices { total { amount } balance { amount } } receivables { amount } } } }`;

describe('gateway: queries spanning CRM, PSA and ERP', () => {
  const data = generateAccounts(1, 13);
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack({ seedAccounts: 12 });
  });
  afterAll(() => stack.stop());

  it('returns every account with its opportunities, projects, invoices and receivables as each system holds them', async () => {
    const byId = <T extends { id: string }>(a: T, b: T) => a.id.localeCompare(b.id);
    const expected = data.crm.accounts.map((account) => {
      const customer = data.erp.customers.find((c) => c.externalCrmId === account.id);
      const invoices = data.erp.invoices.filter((i) => i.customerId === customer?.id).sort(byId);
      return {
        name: account.name,
        opportunities: data.crm.opportunities
          .filter((o) => o.accountId === account.id)
          .sort((a, b) => (b.closeDate ?? '').localeCompare(a.closeDate ?? '') || a.id.localeCompare(b.id))
          .map((o) => ({ amount: money(o.amountMinor!, o.currency!) })),
        projects: data.psa.projects
          .filter((p) => p.accountId === account.id)
          .sort(byId)
          .map((p) => {
            const billed = data.erp.invoices.filter(
              (i) => i.psaProjectId === p.id && (i.status === 'POSTED' || i.status === 'PAID'),
            );
            return {
              code: p.code,
              billedToDate: {
                amount: money(
                  billed.reduce((s, i) => s + i.subtotalMinor, 0),
                  p.currency,
                ).amount,
              },
            };
          }),
        invoices: invoices.map((i) => ({
          total: { amount: money(i.totalMinor, i.currency).amount },
          balance: { amount: money(i.balanceMinor, i.currency).amount },
        })),
        receivables: customer
          ? {
              amount: money(
                invoices.filter((i) => i.status === 'POSTED').reduce((s, i) => s + i.balanceMinor, 0),
                customer.currency,
              ).amount,
            }
          : null,
      };
    });
    const response = await gql(stack.gatewayUrl, ACCEPTANCE_QUERY);
    expect(response.body).toEqual({ data: { accounts: { nodes: expected } } });
    // The demo data must exercise every part of the query, or the comparison above proves little.
    expect(
      expected.filter((a) => a.projects.length > 0 && a.invoices.length > 0 && a.receivables !== null).length,
    ).toBeGreaterThan(5);
  });

  it('pages through accounts with cursors, each account once, with the total on every page', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const response: {
        body: {
          data?: {
            accounts: {
              totalCount: number;
              pageInfo: { endCursor: string | null; hasNextPage: boolean };
              nodes: { id: string }[];
            };
          } | null;
        };
      } = await gql(
        stack.gatewayUrl,
        'query($after: String) { accounts(first: 5, after: $after) { totalCount pageInfo { endCursor hasNextPage } nodes { id } } }',
        { after },
      );
      const accounts = response.body.data!.accounts;
      expect(accounts.totalCount).toBe(12);
      seen.push(...accounts.nodes.map((n) => n.id));
      if (!accounts.pageInfo.hasNextPage) break;
      after = accounts.pageInfo.endCursor;
    }
    expect(seen).toEqual(data.crm.accounts.map((a) => a.id));
  });

  it('follows a won deal across the systems: opportunity → project → ERP customer, invoices and payments, and the registry', async () => {
    const opportunity = data.crm.opportunities.find((o) => o.psaProjectId !== null)!;
    const project = data.psa.projects.find((p) => p.id === opportunity.psaProjectId)!;
    const response = await gql(
      stack.gatewayUrl,
      `query($id: ID!) { opportunity(id: $id) {
          stage account { id customer { id externalCrmId } }
          project { id code account { id } opportunity { id } dimensions { projectCode } invoices { id payments { amount { currency } } } }
          crossReferences { system externalId }
      } }`,
      { id: opportunity.id },
    );
    const customer = data.erp.customers.find((c) => c.externalCrmId === opportunity.accountId)!;
    const invoices = data.erp.invoices
      .filter((i) => i.psaProjectId === project.id)
      .sort((a, b) => a.id.localeCompare(b.id));
    expect(response.body).toEqual({
      data: {
        opportunity: {
          stage: 'CLOSED_WON',
          account: { id: opportunity.accountId, customer: { id: customer.id, externalCrmId: opportunity.accountId } },
          project: {
            id: project.id,
            code: project.code,
            account: { id: opportunity.accountId },
            opportunity: { id: opportunity.id },
            dimensions: { projectCode: project.code },
            invoices: invoices.map((i) => ({
              id: i.id,
              payments: data.erp.payments
                .filter((p) => p.invoiceId === i.id)
                .map(() => ({ amount: { currency: i.currency } })),
            })),
          },
          crossReferences: [
            { system: 'PSA', externalId: project.id },
            { system: 'ERP', externalId: customer.id },
          ],
        },
      },
    });
  });
});
