import { addDays } from '../../lib/dates';
import type { RunRecord } from '../../subgraphs/orchestration/engine/ledger';
import { type Governance, loadGovernance } from '../../subgraphs/orchestration/governance/governance';
import { createTestClock, type TestClock } from '../support/clock';
import { convertedDeal, waitForRun } from '../support/runs';
import { gql, startTestStack } from '../support/stack';

/*
 * Overdue receivables (issue 11, item 4): a daily sweep on a clock the test moves marks invoices past due and unpaid
 * OVERDUE in the ERP, and records the account's overdue total and oldest overdue age in the CRM and the project's
 * collections status in the PSA; payments afterwards bring the figures down and, paid in full, clear them. No sleeps:
 * the test moves the clock and asks the poller to look.
 */
describe('overdue receivables', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  let clock: TestClock;
  let governance: Governance;
  beforeAll(async () => {
    // An hour ahead of the machine's time, so that a run queued (on the machine's time) is due at once on it; the
    // test moves it days ahead to pass due dates.
    clock = createTestClock(Date.now() + 3_600_000);
    governance = loadGovernance();
    governance.triggers = {
      convertOpportunityToProject: false,
      billApprovedTime: false,
      billMilestone: false,
      syncCustomer: false,
      flagOverdueInvoice: true,
      syncInvoiceStatus: true,
    };
    stack = await startTestStack({
      seedAccounts: 2,
      clock: clock.now,
      governance,
      triggers: { intervalMs: 3_600_000 },
      workerOptions: { idlePollMs: 20 },
    });
    // The seeded invoices: the first look syncs them all and flags the ones already past due; let those runs end.
    await stack.triggers!.pollOnce();
    await settle();
  });
  afterAll(() => stack.stop());

  const allRuns = async () => (await stack.stores.ledger.listRuns({ first: 1000, afterKey: null })).nodes;
  async function settle(): Promise<RunRecord[]> {
    const runs = await allRuns();
    return Promise.all(runs.map((r) => waitForRun(stack, r.id, ['SUCCEEDED', 'EXCEPTION', 'ABANDONED'])));
  }
  /**
   * Looks once, and returns the runs that look started (settled) for `invoiceId`: the tests share a stack and a clock,
   * so a look may also start runs for another test's invoice.
   */
  async function look(invoiceId: string): Promise<RunRecord[]> {
    const before = new Set((await allRuns()).map((r) => r.id));
    await stack.triggers!.pollOnce();
    return (await settle()).filter((r) => !before.has(r.id) && r.input.invoiceId === invoiceId);
  }
  const gbp = (amount: string) => ({ amount, currency: 'GBP' });
  const pay = async (invoiceId: string, externalId: string, amount: string) => {
    const { body } = await gql(
      stack.gatewayUrl,
      'mutation($input: ApplyPaymentInput!) { applyPayment(input: $input) { created payment { invoice { status } } } }',
      {
        input: {
          externalId,
          invoiceId,
          amount: gbp(amount),
          receivedOn: new Date(clock.now()).toISOString().slice(0, 10),
        },
      },
    );
    return body;
  };
  /** The invoice in the ERP, the account's receivables in the CRM, the project's collections in the PSA: one query. */
  const state = async (invoiceId: string, accountId: string, projectId: string) =>
    (
      await gql(
        stack.gatewayUrl,
        `query($i: ID!, $a: ID!, $p: ID!) {
          invoice(id: $i) { status overdue dueDate balance { amount currency } }
          account(id: $a) { finance { overdue { amount currency } outstanding { amount currency } oldestOverdueDueDate oldestOverdueDays } }
          project(id: $p) { financials { overdue { amount currency } collected { amount currency } collectionsStatus } }
        }`,
        { i: invoiceId, a: accountId, p: projectId },
      )
    ).body;
  const dayAfter = (date: string, days: number) => Date.parse(`${addDays(date, days)}T09:00:00.000Z`);

  /** A converted milestone deal whose first milestone (60,000.00 + 20% VAT) is invoiced today. */
  async function invoicedProject() {
    const { accountId, project, milestones } = await convertedDeal(stack);
    await gql(stack.gatewayUrl, 'mutation($id: ID!) { completeMilestone(id: $id) { id } }', { id: milestones[0]!.id });
    const started = await gql(
      stack.gatewayUrl,
      'mutation($id: ID!) { billMilestone(input: { milestoneId: $id }) { id } }',
      {
        id: milestones[0]!.id,
      },
    );
    const billed = await waitForRun(stack, started.body.data!.billMilestone.id, ['SUCCEEDED', 'EXCEPTION']);
    const invoiceId = (billed.steps[2]!.output as { invoiceId: string }).invoiceId;
    const [invoice] = await stack.stores.erp.getInvoices([invoiceId]);
    return { accountId, projectId: project.id, invoiceId, dueDate: invoice!.dueDate };
  }

  // First, while the clock is still before every due date the tests post.
  it('refuses to mark an invoice that is not past due, or does not exist, with a coded error, changing nothing', async () => {
    const { invoiceId } = await invoicedProject();
    const [before] = await stack.stores.erp.getInvoices([invoiceId]);
    const early = await gql(stack.gatewayUrl, 'mutation($id: ID!) { markInvoiceOverdue(invoiceId: $id) { changed } }', {
      id: invoiceId,
    });
    expect(early.body.errors?.map((e) => [e.extensions?.code, e.extensions?.field, e.message])).toEqual([
      [
        'INVALID_STATE',
        'invoiceId',
        `Invoice '${before!.number}' is POSTED, due ${before!.dueDate}: it is not past due on ${new Date(clock.now()).toISOString().slice(0, 10)}`,
      ],
    ]);
    const unknown = await gql(
      stack.gatewayUrl,
      'mutation { markInvoiceOverdue(invoiceId: "INV-999999999") { changed } }',
    );
    expect(unknown.body.errors?.map((e) => e.extensions?.code)).toEqual(['NOT_FOUND']);
    expect((await stack.stores.erp.getInvoices([invoiceId]))[0]).toEqual(before);
  });

  it('marks an invoice OVERDUE once it passes its due date, records it in the CRM and the PSA, and payments clear it', async () => {
    const { accountId, projectId, invoiceId, dueDate } = await invoicedProject();
    // Today's sweep has run (at start): an invoice posted today starts nothing, and its sync shows nothing overdue.
    const posted = await look(invoiceId);
    expect(posted.map((r) => [r.flow, r.input, r.status])).toEqual([['syncInvoiceStatus', { invoiceId }, 'SUCCEEDED']]);
    expect(await state(invoiceId, accountId, projectId)).toEqual({
      data: {
        invoice: { status: 'POSTED', overdue: false, dueDate, balance: gbp('72000.00') },
        account: {
          finance: {
            overdue: gbp('0.00'),
            outstanding: gbp('72000.00'),
            oldestOverdueDueDate: null,
            oldestOverdueDays: null,
          },
        },
        project: { financials: { overdue: gbp('0.00'), collected: gbp('0.00'), collectionsStatus: 'CURRENT' } },
      },
    });

    // On the due date it is not overdue yet: that day's sweep starts nothing.
    clock.advanceTo(dayAfter(dueDate, 0));
    expect(await look(invoiceId)).toEqual([]);
    expect((await stack.stores.erp.getInvoices([invoiceId]))[0]!.status).toBe('POSTED');

    // The day after: the sweep flags it, once, with the run's steps writing each system in turn.
    clock.advanceTo(dayAfter(dueDate, 1));
    const flagged = await look(invoiceId);
    expect(flagged.map((r) => [r.flow, r.input, r.triggeredBy, r.status])).toEqual([
      ['flagOverdueInvoice', { invoiceId }, 'event:invoice.overdue', 'SUCCEEDED'],
    ]);
    expect(flagged[0]!.steps.map((s) => [s.name, s.status, s.attempts])).toEqual([
      ['markOverdue', 'SUCCEEDED', 1],
      ['updateAccountFinance', 'SUCCEEDED', 1],
      ['updateProjectFinancials', 'SUCCEEDED', 1],
    ]);
    expect(flagged[0]!.steps[0]!.output).toMatchObject({ invoiceId, status: 'OVERDUE', changed: true, dueDate });
    expect(await state(invoiceId, accountId, projectId)).toEqual({
      data: {
        invoice: { status: 'OVERDUE', overdue: true, dueDate, balance: gbp('72000.00') },
        account: {
          finance: {
            overdue: gbp('72000.00'),
            outstanding: gbp('72000.00'),
            oldestOverdueDueDate: dueDate,
            oldestOverdueDays: 1,
          },
        },
        project: { financials: { overdue: gbp('72000.00'), collected: gbp('0.00'), collectionsStatus: 'OVERDUE' } },
      },
    });

    // Marking it OVERDUE was an invoice change: the next look syncs it (same figures, nothing changed); the same day's
    // sweep does not run again, and neither does the next day's for an invoice already marked.
    const resynced = await look(invoiceId);
    expect(resynced.map((r) => [r.flow, r.status, (r.steps[1]!.output as { changed: boolean }).changed])).toEqual([
      ['syncInvoiceStatus', 'SUCCEEDED', false],
    ]);
    expect(await look(invoiceId)).toEqual([]);
    clock.advanceTo(dayAfter(dueDate, 5));
    expect(await look(invoiceId)).toEqual([]);
    const aged = await state(invoiceId, accountId, projectId);
    expect(aged.data.account.finance.oldestOverdueDays).toBe(5);
    const flags = (await allRuns()).filter((r) => r.flow === 'flagOverdueInvoice' && r.input.invoiceId === invoiceId);
    expect(flags).toHaveLength(1);

    // A part payment: what is left is still past due, so the invoice stays OVERDUE and the figures come down.
    expect(await pay(invoiceId, `overdue-pay-1-${invoiceId}`, '30000.00')).toEqual({
      data: { applyPayment: { created: true, payment: { invoice: { status: 'OVERDUE' } } } },
    });
    expect((await look(invoiceId)).map((r) => [r.flow, r.input, r.status])).toEqual([
      ['syncInvoiceStatus', { invoiceId }, 'SUCCEEDED'],
    ]);
    expect(await state(invoiceId, accountId, projectId)).toEqual({
      data: {
        invoice: { status: 'OVERDUE', overdue: true, dueDate, balance: gbp('42000.00') },
        account: {
          finance: {
            overdue: gbp('42000.00'),
            outstanding: gbp('42000.00'),
            oldestOverdueDueDate: dueDate,
            oldestOverdueDays: 5,
          },
        },
        project: { financials: { overdue: gbp('42000.00'), collected: gbp('30000.00'), collectionsStatus: 'OVERDUE' } },
      },
    });

    // Paid in full: PAID in the ERP, nothing overdue in the CRM, collections CURRENT in the PSA.
    expect(await pay(invoiceId, `overdue-pay-2-${invoiceId}`, '42000.00')).toEqual({
      data: { applyPayment: { created: true, payment: { invoice: { status: 'PAID' } } } },
    });
    await look(invoiceId);
    expect(await state(invoiceId, accountId, projectId)).toEqual({
      data: {
        invoice: { status: 'PAID', overdue: false, dueDate, balance: gbp('0.00') },
        account: {
          finance: {
            overdue: gbp('0.00'),
            outstanding: gbp('0.00'),
            oldestOverdueDueDate: null,
            oldestOverdueDays: null,
          },
        },
        project: { financials: { overdue: gbp('0.00'), collected: gbp('72000.00'), collectionsStatus: 'CURRENT' } },
      },
    });
    // A later sweep leaves a paid invoice alone.
    clock.advanceTo(dayAfter(dueDate, 6));
    expect(await look(invoiceId)).toEqual([]);
  });

  it('is switched by governance: off, a day passes without a sweep; on again, the next look sweeps that day', async () => {
    const { accountId, projectId, invoiceId, dueDate } = await invoicedProject();
    await look(invoiceId);
    governance.triggers.flagOverdueInvoice = false;
    // A day not swept yet, with the invoice past due (the clock may be past its due date already: it never goes back).
    const today = () => new Date(clock.now()).toISOString().slice(0, 10);
    clock.advanceTo(Math.max(dayAfter(dueDate, 2), dayAfter(today(), 1)));
    const days = (Date.parse(today()) - Date.parse(dueDate)) / 86_400_000;
    expect(days).toBeGreaterThanOrEqual(2);
    expect(await look(invoiceId)).toEqual([]);
    expect((await stack.stores.erp.getInvoices([invoiceId]))[0]!.status).toBe('POSTED');

    governance.triggers.flagOverdueInvoice = true;
    const flagged = await look(invoiceId);
    expect(flagged.map((r) => [r.flow, r.input, r.status])).toEqual([
      ['flagOverdueInvoice', { invoiceId }, 'SUCCEEDED'],
    ]);
    const now = await state(invoiceId, accountId, projectId);
    expect([
      now.data.invoice.status,
      now.data.account.finance.oldestOverdueDays,
      now.data.project.financials.collectionsStatus,
    ]).toEqual(['OVERDUE', days, 'OVERDUE']);
  });
});
