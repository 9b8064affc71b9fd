import { todayUtc } from '../../lib/dates';
import { fromMinor } from '../../lib/money';
import { loadGovernance } from '../../subgraphs/orchestration/governance/governance';
import { createTestClock } from '../support/clock';
import { convert, createWonOpportunity, waitForRun } from '../support/runs';
import { gql, startTestStack } from '../support/stack';

type Stack = Awaited<ReturnType<typeof startTestStack>>;

const INVOICE = `mutation($input: InvoiceBilledWorkInput!) { invoiceBilledWork(input: $input) { id status flow } }`;

/** A converted project of `billingModel` with `hours` (hundredths) approved and billed to the ERP by billApprovedTime. */
async function billedProject(
  stack: Stack,
  billingModel: string,
  hours: readonly number[],
  tag: string,
  /** Called after each run is queued (a stack on a test clock moves it up to the system time, when runs are queued). */
  queued: () => void = () => undefined,
) {
  const { opportunityId } = await createWonOpportunity(stack.gatewayUrl, { billingModel });
  const conversionId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
  queued();
  const conversion = await waitForRun(stack, conversionId, ['SUCCEEDED', 'EXCEPTION']);
  expect(conversion.status).toBe('SUCCEEDED');
  const projectId = conversion.projectId!;
  if (hours.length > 0) {
    const entries = await stack.stores.psa.submitTimeEntries(
      tag,
      hours.map((h, i) => ({
        projectId,
        resourceId: 'RES-000003',
        role: null,
        date: `2026-10-${String(i + 1).padStart(2, '0')}`,
        hoursHundredths: h,
        billable: true,
        notes: null,
      })),
    );
    await stack.stores.psa.approveTimeEntries(entries.map((e) => e.id));
    const billed = (
      await gql(stack.gatewayUrl, 'mutation($p: ID!) { billApprovedTime(input: { projectId: $p }) { id } }', {
        p: projectId,
      })
    ).body.data!.billApprovedTime.id;
    queued();
    expect((await waitForRun(stack, billed, ['SUCCEEDED', 'EXCEPTION'])).status).toBe('SUCCEEDED');
  }
  return { projectId, opportunityId };
}

const invoiceRuns = async (stack: Stack) =>
  (await stack.stores.ledger.listRuns({ first: 1000, afterKey: null }, { flow: 'invoiceBilledWork' })).nodes;

describe('flow invoiceBilledWork', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startTestStack({ workerOptions: { idlePollMs: 20 } });
  });
  afterAll(() => stack.stop());

  it("puts a T&M project's uninvoiced billing lines of a period on one ERP invoice, once, and marks them invoiced", async () => {
    const { projectId } = await billedProject(stack, 'TIME_AND_MATERIALS', [750, 425, 800], 'invoice-tm-1');
    const [linesBefore] = await stack.stores.erp.getBillingLinesByProject([projectId]);
    expect(linesBefore).toHaveLength(3);
    expect(linesBefore!.every((l) => l.invoiceId === null)).toBe(true);
    // billApprovedTime posted the lines today: this month's invoice takes them.
    const period = todayUtc().slice(0, 7);

    const started = await gql(stack.gatewayUrl, INVOICE, { input: { projectId, period, idempotencyKey: 'inv-1' } });
    expect(started.body.errors).toBeUndefined();
    const runId = started.body.data!.invoiceBilledWork.id;
    const run = await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION']);
    expect([run.status, run.projectId, run.steps.map((s) => s.error)]).toEqual(['SUCCEEDED', projectId, [null, null]]);

    // ERP: one invoice under the period's external ID, holding every line, each now invoiced on it.
    const [invoices] = await stack.stores.erp.getInvoicesByProject([projectId]);
    expect(invoices).toHaveLength(1);
    const invoice = invoices![0]!;
    const subtotal = linesBefore!.reduce((s, l) => s + l.amountMinor, 0);
    expect(invoice).toMatchObject({
      externalId: `billed-work:${projectId}:${period}`,
      status: 'POSTED',
      issueDate: todayUtc(),
      subtotalMinor: subtotal,
      totalMinor: invoice.subtotalMinor + invoice.taxMinor,
    });
    const [invoiceLines] = await stack.stores.erp.getInvoiceLines([invoice.id]);
    expect(invoiceLines!.map((l) => l.amountMinor)).toEqual(linesBefore!.map((l) => l.amountMinor));
    const [linesAfter] = await stack.stores.erp.getBillingLinesByProject([projectId]);
    expect(linesAfter!.map((l) => l.invoiceId)).toEqual([invoice.id, invoice.id, invoice.id]);
    expect(run.steps[1]!.output).toMatchObject({
      invoiceId: invoice.id,
      lines: 3,
      created: true,
      total: { amount: fromMinor(invoice.totalMinor, invoice.currency), currency: invoice.currency },
    });
    expect(run.steps[0]!.output).toMatchObject({
      subtotal: { amount: fromMinor(subtotal, invoice.currency), currency: invoice.currency },
    });

    // Through the graph, the invoice shows its key, and the project's lines show it.
    const viewed = await gql(
      stack.gatewayUrl,
      'query($id: ID!) { invoice(id: $id) { externalId project { id } total { amount currency } } }',
      { id: invoice.id },
    );
    expect(viewed.body.data!.invoice).toEqual({
      externalId: `billed-work:${projectId}:${period}`,
      project: { id: projectId },
      total: { amount: fromMinor(invoice.totalMinor, invoice.currency), currency: invoice.currency },
    });

    // Exactly once: the same key, no key, or another key all return the run that invoiced the period.
    for (const again of [{ idempotencyKey: 'inv-1' }, {}, { idempotencyKey: 'inv-2' }]) {
      const repeat = await gql(stack.gatewayUrl, INVOICE, { input: { projectId, period, ...again } });
      expect(repeat.body.data!.invoiceBilledWork).toEqual({
        id: runId,
        status: 'SUCCEEDED',
        flow: 'invoiceBilledWork',
      });
    }
    expect((await stack.stores.erp.getInvoicesByProject([projectId]))[0]).toHaveLength(1);
  });

  it('stops at a customer on credit hold with CREDIT_HOLD, invoicing nothing, and invoices once a person overrides it for this run', async () => {
    const { projectId } = await billedProject(stack, 'TIME_AND_MATERIALS', [300], 'invoice-hold-1');
    const [dimensions] = await stack.stores.erp.getProjectDimensions([projectId]);
    const customerId = dimensions!.customerId;
    const held = await gql(
      stack.gatewayUrl,
      'mutation($input: PlaceCreditHoldInput!) { placeCustomerOnCreditHold(input: $input) { changed } }',
      { input: { customerId, reason: 'Two invoices 90 days overdue' } },
    );
    expect(held.body.data).toEqual({ placeCustomerOnCreditHold: { changed: true } });
    const period = todayUtc().slice(0, 7);
    const runId = (await gql(stack.gatewayUrl, INVOICE, { input: { projectId, period } })).body.data!.invoiceBilledWork
      .id;
    const stopped = await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION']);
    expect([stopped.status, stopped.steps[0]!.error?.class]).toEqual(['EXCEPTION', 'CREDIT_HOLD']);
    expect(stopped.steps[0]!.error?.message).toContain('Two invoices 90 days overdue');
    expect((await stack.stores.erp.getInvoicesByProject([projectId]))[0]).toEqual([]);

    const corrected = await gql(
      stack.gatewayUrl,
      'mutation($id: ID!, $patch: RunInputPatch!) { retryRunWithInput(id: $id, patch: $patch) { status } }',
      { id: runId, patch: { creditHoldOverride: 'CFO approved: the client paid by wire today' } },
    );
    expect(corrected.body.errors).toBeUndefined();
    const done = await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION']);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.steps[0]!.output).toMatchObject({
      creditHold: {
        onHold: true,
        reason: 'Two invoices 90 days overdue',
        overriddenWith: 'CFO approved: the client paid by wire today',
      },
    });
    expect((await stack.stores.erp.getInvoicesByProject([projectId]))[0]).toHaveLength(1);
  });

  it('refuses a period with no uninvoiced work (NOTHING_TO_INVOICE), an unknown project (NOT_FOUND), a malformed period and a milestone-billed project, writing nothing', async () => {
    const { projectId } = await billedProject(stack, 'TIME_AND_MATERIALS', [300], 'invoice-bad-1');
    const { projectId: milestoneProject } = await billedProject(stack, 'MILESTONE', [], 'invoice-bad-2');
    const runsBefore = (await invoiceRuns(stack)).length;
    const refused = async (input: Record<string, unknown>) =>
      (await gql(stack.gatewayUrl, INVOICE, { input })).body.errors?.map((e) => ({
        code: e.extensions?.code,
        field: e.extensions?.field,
        message: e.message,
      }));

    // The line was posted today: a period that ended before it has nothing to invoice.
    expect(await refused({ projectId, period: '2020-01' })).toEqual([
      {
        code: 'NOTHING_TO_INVOICE',
        field: 'period',
        message: `Project ${projectId} has no billed, uninvoiced work posted up to 2020-01-31: there is nothing to invoice for 2020-01`,
      },
    ]);
    expect(await refused({ projectId: 'PRJ-9999999', period: '2026-11' })).toEqual([
      {
        code: 'NOT_FOUND',
        field: 'projectId',
        message: "The PSA has no project 'PRJ-9999999' to invoice",
      },
    ]);
    expect(await refused({ projectId, period: '2026-13' })).toEqual([
      { code: 'BAD_USER_INPUT', field: 'period', message: "period must be a month written YYYY-MM; got '2026-13'" },
    ]);
    expect((await refused({ projectId: milestoneProject, period: '2026-11' }))![0]).toMatchObject({
      code: 'INVALID_STATE',
      field: 'projectId',
    });

    // Nothing written: no run, no invoice, the line still uninvoiced.
    expect(await invoiceRuns(stack)).toHaveLength(runsBefore);
    expect((await stack.stores.erp.getInvoicesByProject([projectId]))[0]).toEqual([]);
    const [lines] = await stack.stores.erp.getBillingLinesByProject([projectId]);
    expect(lines!.map((l) => l.invoiceId)).toEqual([null]);
  });

  it('invoices a retainer in advance: the period’s fee, plus the month before’s time above the fee at rate-card rates; its drawn-down lines settled on the invoice', async () => {
    const { projectId } = await billedProject(stack, 'RETAINER', [750, 800], 'invoice-retainer-1');
    const [drawn] = await stack.stores.erp.getBillingLinesByProject([projectId]);
    const currency = drawn![0]!.currency;
    const drawnMinor = drawn!.reduce((s, l) => s + l.amountMinor, 0);
    const feeMinor = 500_00;
    expect(drawnMinor).toBeGreaterThan(feeMinor);
    // The lines were posted this month, so next month's invoice (in advance) measures them as the month before's.
    const [year, month] = todayUtc().split('-').map(Number);
    const next = (n: number) => new Date(Date.UTC(year!, month! - 1 + n, 1)).toISOString().slice(0, 7);

    // Without a fee in the ERP there is nothing to charge: refused, nothing written.
    const noFee = await gql(stack.gatewayUrl, INVOICE, { input: { projectId, period: next(1) } });
    expect(noFee.body.errors?.map((e) => e.extensions?.code)).toEqual(['INVALID_STATE']);
    expect((await stack.stores.erp.getInvoicesByProject([projectId]))[0]).toEqual([]);

    const set = await gql(
      stack.gatewayUrl,
      'mutation($input: UpsertRetainerTermsInput!) { upsertRetainerTerms(input: $input) { fee { amount currency } created } }',
      { input: { projectId, fee: { amount: fromMinor(feeMinor, currency), currency } } },
    );
    expect(set.body.data!.upsertRetainerTerms).toEqual({
      fee: { amount: fromMinor(feeMinor, currency), currency },
      created: true,
    });

    const invoiceFor = async (period: string) => {
      const runId = (await gql(stack.gatewayUrl, INVOICE, { input: { projectId, period } })).body.data!
        .invoiceBilledWork.id;
      const run = await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION']);
      expect([run.status, run.steps.map((s) => s.error)]).toEqual(['SUCCEEDED', [null, null]]);
      const invoiceId = (run.steps[1]!.output as { invoiceId: string }).invoiceId;
      const [invoice] = await stack.stores.erp.getInvoices([invoiceId]);
      const [lines] = await stack.stores.erp.getInvoiceLines([invoiceId]);
      return { run, invoice: invoice!, lines: lines!.map((l) => [l.description, l.amountMinor]) };
    };

    const first = await invoiceFor(next(1));
    const drawnShown = fromMinor(drawnMinor, currency);
    expect(first.lines).toEqual([
      [`Retainer fee, ${next(1)}`, feeMinor],
      [
        `Time above the retainer, ${next(0)}: ${drawnShown} drawn down against a fee of ${fromMinor(feeMinor, currency)} ${currency}`,
        drawnMinor - feeMinor,
      ],
    ]);
    expect(first.invoice).toMatchObject({
      externalId: `billed-work:${projectId}:${next(1)}`,
      subtotalMinor: drawnMinor,
      issueDate: todayUtc(),
    });
    expect(first.run.steps[0]!.output).toMatchObject({
      retainer: {
        fee: { amount: fromMinor(feeMinor, currency), currency },
        drawnDown: { amount: drawnShown, currency },
        overage: { amount: fromMinor(drawnMinor - feeMinor, currency), currency },
      },
    });
    // The draw-down is settled on the invoice (not charged line by line).
    const [settled] = await stack.stores.erp.getBillingLinesByProject([projectId]);
    expect(settled!.map((l) => l.invoiceId)).toEqual(drawn!.map(() => first.invoice.id));

    // The month after: no draw-down left, so the fee alone.
    const second = await invoiceFor(next(2));
    expect(second.lines).toEqual([[`Retainer fee, ${next(2)}`, feeMinor]]);
    expect(second.invoice.subtotalMinor).toBe(feeMinor);
  });
});

describe('invoiceBilledWork trigger', () => {
  it('starts a run per project and billing period when governance says it is due: a T&M month once it ended, a retainer month from its first day', async () => {
    const clock = createTestClock();
    const governance = loadGovernance();
    governance.triggers = Object.fromEntries(
      Object.keys(governance.triggers).map((flow) => [flow, flow === 'invoiceBilledWork']),
    );
    const stack = await startTestStack({
      clock: clock.now,
      governance,
      triggers: { intervalMs: 3_600_000 },
      workerOptions: { idlePollMs: 20 },
    });
    const catchUp = () => clock.advanceTo(Date.now());
    try {
      const { projectId } = await billedProject(stack, 'TIME_AND_MATERIALS', [600], 'invoice-trigger-1', catchUp);
      const retainer = await billedProject(stack, 'RETAINER', [200], 'invoice-trigger-2', catchUp);
      const thisMonth = todayUtc(new Date(clock.now())).slice(0, 7);
      await stack.triggers!.pollOnce();
      // This month has not ended: the T&M work waits; the retainer has no fee in the ERP yet, so nothing is due.
      expect(await invoiceRuns(stack)).toEqual([]);

      await gql(
        stack.gatewayUrl,
        'mutation($input: UpsertRetainerTermsInput!) { upsertRetainerTerms(input: $input) { created } }',
        {
          input: { projectId: retainer.projectId, fee: { amount: '100.00', currency: 'GBP' } },
        },
      );
      // The first day of next month.
      const [year, month] = thisMonth.split('-').map(Number);
      clock.advanceTo(Date.UTC(year!, month!, 1, 0, 30));
      const nextMonth = todayUtc(new Date(clock.now())).slice(0, 7);
      expect(await stack.triggers!.pollOnce()).toBe(2);
      const runs = await invoiceRuns(stack);
      const started = runs.map((r): Record<string, unknown> => ({ ...r.input, triggeredBy: r.triggeredBy }));
      expect(started.sort((a, b) => String(a.period).localeCompare(String(b.period)))).toEqual([
        { projectId, period: thisMonth, triggeredBy: 'event:billing_period.due' },
        { projectId: retainer.projectId, period: nextMonth, triggeredBy: 'event:billing_period.due' },
      ]);
      for (const run of runs)
        expect((await waitForRun(stack, run.id, ['SUCCEEDED', 'EXCEPTION'])).status).toBe('SUCCEEDED');
      // Each period once: the next look starts nothing.
      expect(await stack.triggers!.pollOnce()).toBe(0);
      const [tm, ret] = await stack.stores.erp.getInvoicesByProject([projectId, retainer.projectId]);
      expect(tm!.map((i) => [i.externalId, i.issueDate])).toEqual([
        [`billed-work:${projectId}:${thisMonth}`, `${nextMonth}-01`],
      ]);
      expect(ret!.map((i) => i.externalId)).toEqual([`billed-work:${retainer.projectId}:${nextMonth}`]);
    } finally {
      await stack.stop();
    }
  });
});
