import { addDays, todayUtc } from '../../lib/dates';
import type { RunRecord } from '../../subgraphs/orchestration/engine/ledger';
import { convertedDeal, waitForRun } from '../support/runs';
import { gql, startTestStack } from '../support/stack';

const STEPS = ['checkMilestone', 'findErpCustomer', 'postInvoice', 'markMilestoneInvoiced'];

describe('flow billMilestone', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack({ workerOptions: { idlePollMs: 20 } });
  });
  afterAll(() => stack.stop());

  const bill = async (milestoneId: string, idempotencyKey?: string) =>
    (
      await gql(
        stack.gatewayUrl,
        'mutation($input: BillMilestoneInput!) { billMilestone(input: $input) { id flow status } }',
        { input: { milestoneId, ...(idempotencyKey ? { idempotencyKey } : {}) } },
      )
    ).body;
  const complete = async (id: string) =>
    (await gql(stack.gatewayUrl, 'mutation($id: ID!) { completeMilestone(id: $id) { id status completedOn } }', { id }))
      .body;
  const exceptionOf = async (runId: string) =>
    (
      await gql(
        stack.gatewayUrl,
        'query($id: ID!) { syncRun(id: $id) { status exception { flow step class system message account { id } } } }',
        { id: runId },
      )
    ).body;
  const stepSummary = (run: RunRecord) =>
    run.steps.map((s) => ({
      name: s.name,
      status: s.status,
      attempts: s.attempts,
      error: s.error && { class: s.error.class, code: s.error.code, system: s.error.system, message: s.error.message },
    }));

  /** A converted milestone-billed deal: the CRM account, the PSA project with its milestones, the ERP customer. */
  const convertedProject = () => convertedDeal(stack);

  it('invoices a completed milestone once in the ERP, marks it invoiced in the PSA, and returns the same run for every later trigger', async () => {
    const today = todayUtc();
    const { accountId, conversionId, project, milestones, customer } = await convertedProject();
    const milestone = milestones[0]!;
    expect(await complete(milestone.id)).toEqual({
      data: { completeMilestone: { id: milestone.id, status: 'COMPLETED', completedOn: today } },
    });

    const key = `bill-${milestone.id}`;
    const started = await bill(milestone.id, key);
    expect(started).toEqual({
      data: { billMilestone: { id: expect.stringMatching(/^RUN-/), flow: 'billMilestone', status: 'QUEUED' } },
    });
    const runId = started.data!.billMilestone.id;
    const run = await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION']);
    expect(stepSummary(run)).toEqual(STEPS.map((name) => ({ name, status: 'SUCCEEDED', attempts: 1, error: null })));
    const invoiceId = (run.steps[2]!.output as { invoiceId: string }).invoiceId;
    const number = `UK-${today.slice(0, 4)}-${invoiceId.slice(4)}`;
    expect(run.steps.map((s) => s.output)).toEqual([
      {
        milestoneId: milestone.id,
        name: 'Architecture approved',
        amount: { amount: '60000.00', currency: 'GBP' },
        projectId: project.id,
        projectCode: project.code,
        accountId,
        issueDate: today,
        label: `Milestone ${milestone.id} (Architecture approved) of project ${project.id} (${project.code}, ${project.name})`,
      },
      { customerId: customer.id, customerNumber: customer.customerNumber },
      { invoiceId, number, total: { amount: '72000.00', currency: 'GBP' }, created: true },
      { milestoneId: milestone.id, status: 'INVOICED', invoiceId },
    ]);
    expect(run).toMatchObject({ accountId, projectId: project.id, opportunityId: null, triggeredBy: 'test-service' });
    const events = (await stack.stores.ledger.eventsAfter(0, 100_000)).filter((e) => e.runId === runId);
    // Accepted, taken up by the worker, then one committed change per step.
    expect(events.map((e) => [e.sequence, e.status])).toEqual([
      [1, 'QUEUED'],
      [2, 'RUNNING'],
      [3, 'RUNNING'],
      [4, 'RUNNING'],
      [5, 'RUNNING'],
      [6, 'SUCCEEDED'],
    ]);

    // End state, read through the gateway: the ERP invoice (resolved from the PSA milestone), the PSA, the CRM.
    const { body } = await gql(
      stack.gatewayUrl,
      `query($milestone: ID!, $project: ID!, $account: ID!) {
        milestone(id: $milestone) {
          id status invoiceId
          invoice { id number status issueDate dueDate customer { id } project { id }
                    lines { lineNumber description quantity unitPrice { amount currency } amount { amount currency } }
                    subtotal { amount } tax { amount } total { amount currency } balance { amount currency } }
        }
        project(id: $project) { milestones { id status invoiceId } billedToDate { amount currency } syncRuns { id flow status } }
        account(id: $account) { finance { invoicedToDate { amount } } invoices { id } opportunities { psaProjectId erpCustomerId } }
      }`,
      { milestone: milestone.id, project: project.id, account: accountId },
    );
    expect(body).toEqual({
      data: {
        milestone: {
          id: milestone.id,
          status: 'INVOICED',
          invoiceId,
          invoice: {
            id: invoiceId,
            number,
            status: 'POSTED',
            issueDate: today,
            dueDate: addDays(today, 30),
            customer: { id: customer.id },
            project: { id: project.id },
            lines: [
              {
                lineNumber: 1,
                description: 'Milestone: Architecture approved',
                quantity: '1.00',
                unitPrice: { amount: '60000.00', currency: 'GBP' },
                amount: { amount: '60000.00', currency: 'GBP' },
              },
            ],
            subtotal: { amount: '60000.00' },
            tax: { amount: '12000.00' },
            total: { amount: '72000.00', currency: 'GBP' },
            balance: { amount: '72000.00', currency: 'GBP' },
          },
        },
        project: {
          milestones: milestones.map((m, i) => ({
            id: m.id,
            status: i === 0 ? 'INVOICED' : 'PLANNED',
            invoiceId: i === 0 ? invoiceId : null,
          })),
          billedToDate: { amount: '60000.00', currency: 'GBP' },
          syncRuns: [
            { id: runId, flow: 'billMilestone', status: 'SUCCEEDED' },
            { id: conversionId, flow: 'convertOpportunityToProject', status: 'SUCCEEDED' },
          ],
        },
        // The CRM is not written by this flow: its finance summary waits for syncInvoiceStatus.
        account: {
          finance: null,
          invoices: [{ id: invoiceId }],
          opportunities: [{ psaProjectId: project.id, erpCustomerId: customer.id }],
        },
      },
    });

    // The same key, no key, or another key: always the one run, and still one invoice for the milestone.
    const same = { data: { billMilestone: { id: runId, flow: 'billMilestone', status: 'SUCCEEDED' } } };
    expect(await bill(milestone.id, key)).toEqual(same);
    expect(await bill(milestone.id)).toEqual(same);
    expect(await bill(milestone.id, `${key}-again`)).toEqual(same);
    const [invoices] = await stack.stores.erp.getInvoicesByProject([project.id]);
    expect(invoices!.map((i) => i.id)).toEqual([invoiceId]);
    expect(
      (
        await stack.stores.ledger.listRuns(
          { first: 0, afterKey: null },
          { flow: 'billMilestone', projectId: project.id },
        )
      ).totalCount,
    ).toBe(1);
  });

  it('refuses to bill a milestone not yet completed, storing no run, and invoices it when called once it is completed', async () => {
    const { accountId, project, milestones } = await convertedProject();
    const planned = milestones[1]!;
    const early = await gql(
      stack.gatewayUrl,
      'mutation($input: BillMilestoneInput!) { billMilestone(input: $input) { id } }',
      { input: { milestoneId: planned.id, idempotencyKey: `early-${planned.id}` } },
    );
    expect(early.body.errors?.map((e) => [e.extensions?.code, e.extensions?.field, e.message])).toEqual([
      [
        'INVALID_STATE',
        'milestoneId',
        `Milestone ${planned.id} (Pipelines in production) is not completed yet, so there is nothing to invoice; complete it in the PSA, and the milestone trigger invoices it (or call billMilestone again then)`,
      ],
    ]);
    const runsOf = async () =>
      (await stack.stores.ledger.listRuns({ first: 1000, afterKey: null }, { flow: 'billMilestone' })).nodes.filter(
        (r) => r.input.milestoneId === planned.id,
      );
    expect(await runsOf()).toEqual([]);
    expect(
      await stack.stores.ledger.getIdempotencyRecords([{ scope: 'test-service', key: `early-${planned.id}` }]),
    ).toEqual([null]);
    expect(await stack.stores.erp.getInvoicesByProject([project.id])).toEqual([[]]);

    await complete(planned.id);
    const runId = (await bill(planned.id, `early-${planned.id}`)).data!.billMilestone.id;
    const done = await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION']);
    expect(done.steps.map((s) => [s.name, s.status])).toEqual(STEPS.map((name) => [name, 'SUCCEEDED']));
    const [invoices] = await stack.stores.erp.getInvoicesByProject([project.id]);
    const invoice = invoices![0];
    expect(invoices).toHaveLength(1);
    expect(invoice).toMatchObject({
      psaProjectId: project.id,
      subtotalMinor: 120_000_00,
      totalMinor: 144_000_00,
      externalId: `milestone:${planned.id}`,
    });
    expect(await stack.stores.psa.getMilestones([planned.id])).toEqual([
      { ...planned, status: 'INVOICED', completedOn: todayUtc(), invoiceId: invoice!.id },
    ]);
    expect(done.accountId).toBe(accountId);
  });

  it('stops a milestone of a time-and-materials or retainer project with a BAD_VALUE exception naming milestone and project', async () => {
    const [tm, retainer] = await stack.stores.psa.getProjects(['PRJ-0000023', 'PRJ-0000071']);
    expect([tm!.billingModel, retainer!.billingModel]).toEqual(['TIME_AND_MATERIALS', 'RETAINER']);
    // Neither model gets milestones from its template; these stand for ones added in the PSA by hand.
    const extra = (id: string, projectId: string, currency: string) => ({
      id,
      projectId,
      name: 'Extra workshop',
      sequence: 1,
      dueDate: '2026-10-01',
      amountMinor: 5_000_00,
      currency,
      status: 'COMPLETED' as const,
      completedOn: '2026-10-01',
      invoiceId: null,
    });
    stack.stores.psa.seed({
      projects: [],
      milestones: [extra('MS-09000001', tm!.id, 'GBP'), extra('MS-09000002', retainer!.id, 'EUR')],
      timeEntries: [],
      expenses: [],
    });
    for (const [milestoneId, p, words] of [
      ['MS-09000001', tm!, 'time and materials'],
      ['MS-09000002', retainer!, 'as a retainer'],
    ] as const) {
      const runId = (await bill(milestoneId)).data!.billMilestone.id;
      const stopped = await waitForRun(stack, runId, ['EXCEPTION', 'SUCCEEDED']);
      const message = `Milestone ${milestoneId} (Extra workshop) of project ${p.id} (${p.code}, ${p.name}) cannot be invoiced: the project is billed ${words}; only fixed-fee and milestone projects are invoiced by milestone`;
      expect(stepSummary(stopped)[0]).toEqual({
        name: 'checkMilestone',
        status: 'FAILED',
        attempts: 1,
        error: { class: 'BAD_VALUE', code: null, system: 'psa', message },
      });
      expect(await exceptionOf(runId)).toEqual({
        data: {
          syncRun: {
            status: 'EXCEPTION',
            exception: {
              flow: 'billMilestone',
              step: 'checkMilestone',
              class: 'BAD_VALUE',
              system: 'psa',
              message,
              account: null,
            },
          },
        },
      });
    }
    const invoices = await stack.stores.erp.getInvoicesByProject([tm!.id, retainer!.id]);
    expect(invoices.flat().filter((i) => i.externalId?.startsWith('milestone:'))).toEqual([]);
  });

  it('stops with MISSING_REFERENCE when the project’s account has no ERP customer, and for an unknown milestone', async () => {
    const account = await gql(
      stack.gatewayUrl,
      'mutation { upsertAccount(input: { externalId: "no-customer-1", name: "Uncustomered Ltd" }) { account { id } } }',
    );
    const accountId = account.body.data!.upsertAccount.account.id as string;
    const { record: project } = await stack.stores.psa.createProjectFromTemplate({
      externalId: 'test:no-customer-1',
      templateId: 'TPL-000002',
      accountId,
      opportunityId: null,
      name: 'Uncustomered Ltd — Data Platform',
      code: 'DAT-9100001',
      billingModel: 'FIXED_FEE',
      budgetMinor: 100_000_00,
      currency: 'GBP',
      startDate: '2026-10-01',
    });
    const [milestones] = await stack.stores.psa.getMilestonesByProject([project.id]);
    const first = milestones![0];
    await complete(first!.id);
    const runId = (await bill(first!.id)).data!.billMilestone.id;
    const stopped = await waitForRun(stack, runId, ['EXCEPTION', 'SUCCEEDED']);
    const message = `Milestone ${first!.id} (Architecture approved) of project ${project.id} (DAT-9100001, Uncustomered Ltd — Data Platform) cannot be invoiced: account ${accountId} has no ERP customer; convert its opportunity (or create the customer) first`;
    expect(stepSummary(stopped)).toEqual([
      { name: 'checkMilestone', status: 'SUCCEEDED', attempts: 1, error: null },
      {
        name: 'findErpCustomer',
        status: 'FAILED',
        attempts: 1,
        error: { class: 'MISSING_REFERENCE', code: null, system: 'erp', message },
      },
      ...STEPS.slice(2).map((name) => ({ name, status: 'PENDING', attempts: 0, error: null })),
    ]);
    expect(await exceptionOf(runId)).toEqual({
      data: {
        syncRun: {
          status: 'EXCEPTION',
          exception: {
            flow: 'billMilestone',
            step: 'findErpCustomer',
            class: 'MISSING_REFERENCE',
            system: 'erp',
            message,
            account: { id: accountId },
          },
        },
      },
    });
    expect(await stack.stores.psa.getMilestones([first!.id])).toEqual([
      { ...first, status: 'COMPLETED', completedOn: todayUtc() },
    ]);

    const unknown = (await bill('MS-99999999')).data!.billMilestone.id;
    expect(stepSummary(await waitForRun(stack, unknown, ['EXCEPTION', 'SUCCEEDED']))[0]).toEqual({
      name: 'checkMilestone',
      status: 'FAILED',
      attempts: 1,
      error: {
        class: 'MISSING_REFERENCE',
        code: 'NOT_FOUND',
        system: 'psa',
        message: "The PSA has no milestone 'MS-99999999'",
      },
    });
  });

  it('refuses a missing milestone ID and a reused idempotency key with coded errors', async () => {
    expect(await bill('')).toEqual({
      data: null,
      errors: [
        {
          message: 'milestoneId is required',
          path: ['billMilestone'],
          extensions: { code: 'BAD_USER_INPUT', system: 'orchestration', field: 'milestoneId' },
        },
      ],
    });
    const first = (await bill('MS-99999998', 'bill-key-reuse')).data!.billMilestone.id;
    expect(await bill('MS-99999997', 'bill-key-reuse')).toEqual({
      data: null,
      errors: [
        {
          message: `The idempotency key 'bill-key-reuse' was already used with a different input (run ${first})`,
          path: ['billMilestone'],
          extensions: {
            code: 'IDEMPOTENCY_KEY_REUSED',
            system: 'orchestration',
            runId: first,
            field: 'idempotencyKey',
          },
        },
      ],
    });
    await waitForRun(stack, first, ['EXCEPTION']);
  });
});
