import { todayUtc } from '../../lib/dates';
import { fromMinor, toMinor, type Money } from '../../lib/money';
import { createWonOpportunity, waitForRun } from '../support/runs';
import { gql, startTestStack } from '../support/stack';

type Stack = Awaited<ReturnType<typeof startTestStack>>;

/** Adds decimal strings of one currency, to the cent. */
function total(amounts: readonly Money[], currency: string): string {
  for (const m of amounts) expect(m.currency).toBe(currency);
  return fromMinor(
    amounts.reduce((sum, m) => sum + toMinor(m.amount, currency), 0n),
    currency,
  );
}

/**
 * Quote to cash end to end, every call through the gateway over HTTP, as an operator and the systems' own users would
 * make them: a won deal becomes a project, time is approved, billed, invoiced and paid, and the CRM and the PSA show
 * it paid, with totals that agree to the cent across the three systems.
 */
describe('quote to cash', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startTestStack({ workerOptions: { idlePollMs: 20 } });
  });
  afterAll(() => stack.stop());

  /** Calls the gateway, failing the test on any GraphQL error. */
  async function call<T = any>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const { body } = await gql<T>(stack.gatewayUrl, query, variables);
    expect(body.errors).toBeUndefined();
    return body.data!;
  }
  /** Starts a flow through its mutation and waits for its run to succeed. */
  async function runFlow(mutation: string, input: Record<string, unknown>) {
    const data = await call(
      `mutation($input: ${mutation[0]!.toUpperCase()}${mutation.slice(1)}Input!) {
      ${mutation}(input: $input) { id } }`,
      { input },
    );
    const run = await waitForRun(stack, data[mutation].id, ['SUCCEEDED', 'EXCEPTION']);
    expect([run.flow, run.status, run.steps.map((s) => s.error?.message ?? null).filter(Boolean)]).toEqual([
      mutation,
      'SUCCEEDED',
      [],
    ]);
    return run;
  }

  it('won deal → project → time approved → billed → invoiced → paid: CRM and PSA show it paid, totals agree to the cent', async () => {
    // CRM: a time-and-materials deal is won.
    const { accountId, opportunityId } = await createWonOpportunity(stack.gatewayUrl, {
      billingModel: 'TIME_AND_MATERIALS',
      servicePackage: 'DATA_PLATFORM',
      deliveryRegion: 'UK',
    });

    // → a PSA project, an ERP customer and the project's dimensions.
    await runFlow('convertOpportunityToProject', { opportunityId });
    const { opportunity } = await call(
      'query($id: ID!) { opportunity(id: $id) { project { id billingModel } account { customer { id currency } } } }',
      { id: opportunityId },
    );
    const projectId: string = opportunity.project.id;
    const currency: string = opportunity.account.customer.currency;
    expect(opportunity.project.billingModel).toBe('TIME_AND_MATERIALS');

    // PSA: a consultant books three days; the PMO approves them.
    const { submitTimeEntries } = await call(
      'mutation($input: SubmitTimeEntriesInput!) { submitTimeEntries(input: $input) { id } }',
      {
        input: {
          idempotencyKey: `q2c-${opportunityId}`,
          entries: ['7.5', '8', '6.25'].map((hours, i) => ({
            projectId,
            resourceId: 'RES-000003',
            date: `2026-10-0${i + 1}`,
            hours,
            billable: true,
            notes: 'Discovery workshops',
          })),
        },
      },
    );
    const entryIds = submitTimeEntries.map((e: { id: string }) => e.id);
    await call('mutation($ids: [ID!]!) { approveTimeEntries(ids: $ids) { id status } }', { ids: entryIds });
    const { billableWork } = await call(
      'query($p: ID!) { billableWork(projectId: $p) { timeEntries { timeEntry { id } amount { amount currency } } } }',
      { p: projectId },
    );
    expect(billableWork.timeEntries.map((t: { timeEntry: { id: string } }) => t.timeEntry.id).sort()).toEqual(
      [...entryIds].sort(),
    );
    const workValue = total(
      billableWork.timeEntries.map((t: { amount: Money }) => t.amount),
      currency,
    );

    // → ERP billing lines at rate-card rates; the PSA marks the time billed.
    await runFlow('billApprovedTime', { projectId });
    // → one ERP invoice for the month's billed work.
    const period = todayUtc().slice(0, 7);
    const invoiced = await runFlow('invoiceBilledWork', { projectId, period });
    const invoiceId = (invoiced.steps[1]!.output as { invoiceId: string }).invoiceId;
    const { invoice } = await call(
      `query($id: ID!) { invoice(id: $id) { status externalId subtotal { amount currency } tax { amount currency }
        total { amount currency } balance { amount currency } } }`,
      { id: invoiceId },
    );
    expect(invoice).toMatchObject({ status: 'POSTED', externalId: `billed-work:${projectId}:${period}` });

    // ERP: the client pays the invoice in full.
    await call('mutation($input: ApplyPaymentInput!) { applyPayment(input: $input) { payment { id } created } }', {
      input: {
        externalId: `q2c-payment-${invoiceId}`,
        invoiceId,
        amount: invoice.total,
        receivedOn: todayUtc(),
      },
    });
    // → the invoice's status goes back to the CRM account and the PSA project.
    await runFlow('syncInvoiceStatus', { invoiceId });

    // One query across the graph: the CRM account, the PSA project and the ERP's view of both.
    const { project, account } = await call(
      `query($p: ID!, $a: ID!) {
        project(id: $p) {
          financials { billed { amount currency } collected { amount currency } }
          timeEntries(first: 10) { nodes { id status billingReference } }
          billingLines { amount { amount currency } invoice { id status } }
          invoices { id status total { amount currency } balance { amount currency } }
          billedToDate { amount currency }
        }
        account(id: $a) {
          finance { invoicedToDate { amount currency } outstanding { amount currency } overdue { amount currency } }
          receivables { amount currency }
        }
      }`,
      { p: projectId, a: accountId },
    );
    const money = (amount: string) => ({ amount, currency });
    const paid = invoice.total.amount;

    // PSA: every entry billed; the project shows it billed and collected in full.
    expect(project.timeEntries.nodes.map((t: { status: string }) => t.status)).toEqual(['BILLED', 'BILLED', 'BILLED']);
    expect(project.financials).toEqual({ billed: money(paid), collected: money(paid) });
    // ERP: the lines are the work's value, all on the one invoice, which is PAID with nothing left to pay.
    expect(project.billingLines).toHaveLength(3);
    expect(project.billingLines.map((l: { invoice: { id: string } }) => l.invoice.id)).toEqual([
      invoiceId,
      invoiceId,
      invoiceId,
    ]);
    expect(
      total(
        project.billingLines.map((l: { amount: Money }) => l.amount),
        currency,
      ),
    ).toBe(workValue);
    expect(invoice.subtotal).toEqual(money(workValue));
    expect(total([invoice.subtotal, invoice.tax], currency)).toBe(paid);
    expect(project.invoices).toEqual([{ id: invoiceId, status: 'PAID', total: money(paid), balance: money('0.00') }]);
    expect(project.billedToDate).toEqual(money(workValue));
    // CRM: the account shows it invoiced and paid: nothing outstanding, nothing overdue.
    expect(account.finance).toEqual({
      invoicedToDate: money(paid),
      outstanding: money('0.00'),
      overdue: money('0.00'),
    });
    expect(account.receivables).toEqual(money('0.00'));
    // The totals agree to the cent: PSA work value = ERP lines = invoice subtotal; invoice total = CRM invoiced = PSA
    // billed = PSA collected = payment.
    expect(Number(toMinor(workValue, currency))).toBeGreaterThan(0);
  });
});
