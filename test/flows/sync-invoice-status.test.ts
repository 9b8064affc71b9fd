import { todayUtc } from '../../lib/dates';
import type { RunRecord } from '../../subgraphs/orchestration/engine/ledger';
import { convert, createWonOpportunity, waitForRun } from '../support/runs';
import { gql, startTestStack } from '../support/stack';

const STEPS = ['readInvoice', 'updateAccountFinance', 'updateProjectFinancials'];
const TIMESTAMP = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
const gbp = (amount: string) => ({ amount, currency: 'GBP' });

describe('flow syncInvoiceStatus', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack({ workerOptions: { idlePollMs: 20 } });
  });
  afterAll(() => stack.stop());

  const sync = async (invoiceId: string, idempotencyKey?: string) =>
    (
      await gql(
        stack.gatewayUrl,
        'mutation($input: SyncInvoiceStatusInput!) { syncInvoiceStatus(input: $input) { id flow status } }',
        { input: { invoiceId, ...(idempotencyKey ? { idempotencyKey } : {}) } },
      )
    ).body;
  const syncDone = async (invoiceId: string): Promise<RunRecord> =>
    waitForRun(stack, (await sync(invoiceId)).data!.syncInvoiceStatus.id, ['SUCCEEDED', 'EXCEPTION']);
  const pay = async (invoiceId: string, externalId: string, amount: string) => {
    const { body } = await gql(
      stack.gatewayUrl,
      'mutation($input: ApplyPaymentInput!) { applyPayment(input: $input) { created } }',
      {
        input: { externalId, invoiceId, amount: gbp(amount), receivedOn: todayUtc() },
      },
    );
    expect(body).toEqual({ data: { applyPayment: { created: true } } });
  };
  const postTyped = async (
    externalId: string,
    customerId: string,
    projectId: string | null,
    issueDate: string,
    amount: string,
  ): Promise<string> => {
    const { body } = await gql(
      stack.gatewayUrl,
      'mutation($input: PostInvoiceInput!) { postInvoice(input: $input) { invoice { id } } }',
      {
        input: {
          externalId,
          customerId,
          projectId,
          issueDate,
          lines: [{ description: 'Change request', quantity: '1', unitPrice: gbp(amount) }],
        },
      },
    );
    return body.data!.postInvoice.invoice.id;
  };
  /** The CRM account's finance summary and the PSA project's financials, through the gateway. */
  const figures = async (accountId: string, projectId: string) =>
    (
      await gql(
        stack.gatewayUrl,
        `query($account: ID!, $project: ID!) {
          account(id: $account) { finance { invoicedToDate { amount currency } outstanding { amount currency } overdue { amount currency } asOf updatedAt } }
          project(id: $project) { financials { billed { amount currency } collected { amount currency } asOf updatedAt } }
        }`,
        { account: accountId, project: projectId },
      )
    ).body.data!;

  /** A converted milestone deal whose first milestone (60,000.00 + 20% VAT) is invoiced through billMilestone. */
  async function invoicedProject() {
    const { accountId, opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    await waitForRun(stack, (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id, [
      'SUCCEEDED',
    ]);
    const [project] = await stack.stores.psa.getProjectsByOpportunity([opportunityId]);
    const [milestones] = await stack.stores.psa.getMilestonesByProject([project!.id]);
    const [customer] = await stack.stores.erp.getCustomersByCrmAccount([accountId]);
    const billMilestone = async (id: string) => {
      await gql(stack.gatewayUrl, 'mutation($id: ID!) { completeMilestone(id: $id) { id } }', { id });
      const started = await gql(
        stack.gatewayUrl,
        'mutation($id: ID!) { billMilestone(input: { milestoneId: $id }) { id } }',
        { id },
      );
      const run = await waitForRun(stack, started.body.data!.billMilestone.id, ['SUCCEEDED', 'EXCEPTION']);
      return (run.steps[2]!.output as { invoiceId: string }).invoiceId;
    };
    return {
      accountId,
      projectId: project!.id,
      customerId: customer!.id,
      milestones: milestones!,
      invoiceId: await billMilestone(milestones![0]!.id),
      billMilestone,
    };
  }

  it('records invoiced, outstanding and overdue on the CRM account and billed and collected on the PSA project', async () => {
    const { accountId, projectId, invoiceId } = await invoicedProject();
    const started = await sync(invoiceId, `sync-${invoiceId}-1`);
    expect(started).toEqual({
      data: { syncInvoiceStatus: { id: expect.stringMatching(/^RUN-/), flow: 'syncInvoiceStatus', status: 'QUEUED' } },
    });
    const runId = started.data!.syncInvoiceStatus.id;
    const run = await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION']);
    expect(run.steps.map((s) => [s.name, s.status, s.attempts, s.error])).toEqual(
      STEPS.map((name) => [name, 'SUCCEEDED', 1, null]),
    );
    const [invoice] = await stack.stores.erp.getInvoices([invoiceId]);
    expect(run.steps.map((s) => s.output)).toEqual([
      { invoiceId, number: invoice!.number, status: 'POSTED', currency: 'GBP', accountId, projectId },
      {
        accountId,
        invoicedToDate: gbp('72000.00'),
        outstanding: gbp('72000.00'),
        overdue: gbp('0.00'),
        oldestOverdueDueDate: null,
        asOf: TIMESTAMP,
        invoices: 1,
        changed: true,
      },
      {
        projectId,
        billed: gbp('72000.00'),
        collected: gbp('0.00'),
        overdue: gbp('0.00'),
        asOf: TIMESTAMP,
        invoices: 1,
        changed: true,
      },
    ]);
    expect(run).toMatchObject({ accountId, projectId, triggeredBy: 'test-service' });
    const events = (await stack.stores.ledger.eventsAfter(0, 100_000)).filter((e) => e.runId === runId);
    expect(events.map((e) => [e.sequence, e.status])).toEqual([
      [1, 'QUEUED'],
      [2, 'RUNNING'],
      [3, 'RUNNING'],
      [4, 'RUNNING'],
      [5, 'SUCCEEDED'],
    ]);
    const accountAsOf = (run.steps[1]!.output as { asOf: string }).asOf;
    const projectAsOf = (run.steps[2]!.output as { asOf: string }).asOf;
    const recorded = await figures(accountId, projectId);
    expect(recorded).toEqual({
      account: {
        finance: {
          invoicedToDate: gbp('72000.00'),
          outstanding: gbp('72000.00'),
          overdue: gbp('0.00'),
          asOf: accountAsOf,
          updatedAt: TIMESTAMP,
        },
      },
      project: {
        financials: { billed: gbp('72000.00'), collected: gbp('0.00'), asOf: projectAsOf, updatedAt: TIMESTAMP },
      },
    });

    // The same key returns the same run; the same event again (a replay, new run) changes nothing.
    expect(await sync(invoiceId, `sync-${invoiceId}-1`)).toEqual({
      data: { syncInvoiceStatus: { id: runId, flow: 'syncInvoiceStatus', status: 'SUCCEEDED' } },
    });
    const replay = await syncDone(invoiceId);
    expect(replay.id).not.toBe(runId);
    expect(replay.steps.map((s) => (s.output as { changed?: boolean }).changed)).toEqual([undefined, false, false]);
    expect(await figures(accountId, projectId)).toEqual(recorded);
  });

  it('recomputes from all the invoices of the account and the project, so events in any order converge on the ERP figures', async () => {
    const { accountId, projectId, customerId, milestones, invoiceId: first, billMilestone } = await invoicedProject();
    await syncDone(first);
    // Three changes in the ERP: a part payment on the first invoice, a second milestone invoiced, and an old invoice overdue.
    await pay(first, `pay-${first}-1`, '30000.00');
    const second = await billMilestone(milestones[1]!.id);
    const overdue = await postTyped(`overdue-${projectId}`, customerId, projectId, '2025-06-02', '1000.00');

    // The oldest event arrives last-but-one, the newest first: both runs see every invoice.
    const expected = {
      account: {
        finance: {
          invoicedToDate: gbp('217200.00'),
          outstanding: gbp('187200.00'),
          overdue: gbp('1200.00'),
          asOf: TIMESTAMP,
          updatedAt: TIMESTAMP,
        },
      },
      project: {
        financials: { billed: gbp('217200.00'), collected: gbp('30000.00'), asOf: TIMESTAMP, updatedAt: TIMESTAMP },
      },
    };
    const newest = await syncDone(overdue);
    expect(newest.steps.map((s) => [s.status, (s.output as { changed?: boolean }).changed])).toEqual([
      ['SUCCEEDED', undefined],
      ['SUCCEEDED', true],
      ['SUCCEEDED', true],
    ]);
    const afterNewest = await figures(accountId, projectId);
    expect(afterNewest).toEqual(expected);
    for (const late of [first, second]) {
      const run = await syncDone(late);
      expect(run.steps.map((s) => [s.status, (s.output as { changed?: boolean }).changed])).toEqual([
        ['SUCCEEDED', undefined],
        ['SUCCEEDED', false],
        ['SUCCEEDED', false],
      ]);
    }
    expect(await figures(accountId, projectId)).toEqual(afterNewest);

    // Paid in full: the first invoice is PAID, and the figures follow.
    await pay(first, `pay-${first}-2`, '42000.00');
    const paid = await syncDone(first);
    expect(paid.steps[0]!.output).toMatchObject({ invoiceId: first, status: 'PAID' });
    expect(await figures(accountId, projectId)).toEqual({
      account: {
        finance: {
          invoicedToDate: gbp('217200.00'),
          outstanding: gbp('145200.00'),
          overdue: gbp('1200.00'),
          asOf: TIMESTAMP,
          updatedAt: TIMESTAMP,
        },
      },
      project: {
        financials: { billed: gbp('217200.00'), collected: gbp('72000.00'), asOf: TIMESTAMP, updatedAt: TIMESTAMP },
      },
    });
    // The ERP agrees: its receivables are the CRM's outstanding.
    const erp = await gql(
      stack.gatewayUrl,
      'query($id: ID!) { account(id: $id) { receivables { amount currency } } }',
      { id: accountId },
    );
    expect(erp.body).toEqual({ data: { account: { receivables: gbp('145200.00') } } });
  });

  it('updates only the CRM account for an invoice that bills no project', async () => {
    const { accountId, projectId, customerId, invoiceId } = await invoicedProject();
    await syncDone(invoiceId);
    const before = await figures(accountId, projectId);
    const unprojected = await postTyped(`no-project-${accountId}`, customerId, null, todayUtc(), '500.00');
    const run = await syncDone(unprojected);
    expect(run.steps.map((s) => [s.name, s.status])).toEqual(STEPS.map((name) => [name, 'SUCCEEDED']));
    expect(run.steps[2]!.output).toEqual({ skipped: 'the invoice bills no project' });
    expect(run.projectId).toBeNull();
    expect(await figures(accountId, projectId)).toEqual({
      account: {
        finance: {
          invoicedToDate: gbp('72600.00'),
          outstanding: gbp('72600.00'),
          overdue: gbp('0.00'),
          asOf: TIMESTAMP,
          updatedAt: TIMESTAMP,
        },
      },
      project: before.project,
    });
  });

  it('stops with MISSING_REFERENCE for an unknown invoice', async () => {
    const run = await syncDone('INV-999999999');
    expect(run.status).toBe('EXCEPTION');
    expect(
      run.steps.map((s) => [
        s.name,
        s.status,
        s.error && { class: s.error.class, code: s.error.code, system: s.error.system, message: s.error.message },
      ]),
    ).toEqual([
      [
        'readInvoice',
        'FAILED',
        {
          class: 'MISSING_REFERENCE',
          code: 'NOT_FOUND',
          system: 'erp',
          message: "The ERP has no invoice 'INV-999999999'",
        },
      ],
      ['updateAccountFinance', 'PENDING', null],
      ['updateProjectFinancials', 'PENDING', null],
    ]);
    const exceptions = await gql(
      stack.gatewayUrl,
      'query { exceptions(filter: { flow: "syncInvoiceStatus" }) { nodes { run { id } step class system message } } }',
    );
    expect(exceptions.body).toEqual({
      data: {
        exceptions: {
          nodes: [
            {
              run: { id: run.id },
              step: 'readInvoice',
              class: 'MISSING_REFERENCE',
              system: 'erp',
              message: "The ERP has no invoice 'INV-999999999'",
            },
          ],
        },
      },
    });
  });
});
