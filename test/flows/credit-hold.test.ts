import type { RunRecord } from '../../subgraphs/orchestration/engine/ledger';
import { convert, convertedDeal, createWonOpportunity, waitForRun } from '../support/runs';
import { authHeader, gql, startTestStack } from '../support/stack';

/*
 * Credit hold (issue 11, item 8): an ERP customer on credit hold shows on its CRM account and PSA project through the
 * graph; a conversion or a milestone invoice for it stops with a CREDIT_HOLD exception, written nowhere, which a
 * person resolves by releasing the hold and retrying, or by overriding it for the run with a note (audited).
 */
describe('credit hold', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack({ workerOptions: { idlePollMs: 20 } });
  });
  afterAll(() => stack.stop());

  const hold = async (customerId: string, reason: string) =>
    (
      await gql(
        stack.gatewayUrl,
        'mutation($input: PlaceCreditHoldInput!) { placeCustomerOnCreditHold(input: $input) { customer { id creditHold { reason } } changed } }',
        { input: { customerId, reason } },
      )
    ).body;
  const release = async (customerId: string) =>
    (
      await gql(
        stack.gatewayUrl,
        'mutation($id: ID!) { releaseCustomerCreditHold(customerId: $id) { customer { id creditHold { reason } } changed } }',
        { id: customerId },
      )
    ).body;
  const retry = async (runId: string) =>
    (await gql(stack.gatewayUrl, 'mutation($id: ID!) { retryRun(id: $id) { status } }', { id: runId })).body;
  const correct = async (runId: string, patch: Record<string, unknown>) =>
    (
      await gql(
        stack.gatewayUrl,
        'mutation($id: ID!, $patch: RunInputPatch!) { retryRunWithInput(id: $id, patch: $patch) { status } }',
        { id: runId, patch },
      )
    ).body;
  /** What the graph shows of the hold, on the CRM account and the PSA project. */
  const shown = async (accountId: string, projectId: string) =>
    (
      await gql(
        stack.gatewayUrl,
        `query($a: ID!, $p: ID!) { account(id: $a) { id name creditHold { reason since } customer { creditHold { reason } } }
          project(id: $p) { id code creditHold { reason since } } }`,
        { a: accountId, p: projectId },
      )
    ).body;

  /** A converted milestone deal with its ERP customer, and a way to invoice a milestone through billMilestone. */
  async function convertedProject() {
    const deal = await convertedDeal(stack);
    const billMilestone = async (milestoneId: string): Promise<RunRecord> => {
      await gql(stack.gatewayUrl, 'mutation($id: ID!) { completeMilestone(id: $id) { id } }', { id: milestoneId });
      const started = await gql(
        stack.gatewayUrl,
        'mutation($id: ID!) { billMilestone(input: { milestoneId: $id }) { id } }',
        { id: milestoneId },
      );
      return waitForRun(stack, started.body.data!.billMilestone.id, ['SUCCEEDED', 'EXCEPTION']);
    };
    return { ...deal, billMilestone };
  }

  it('shows on the account and the project, stops billMilestone with CREDIT_HOLD writing nothing, and the run goes on once the hold is released', async () => {
    const { accountId, project, milestones, customer, billMilestone } = await convertedProject();
    expect(await shown(accountId, project.id)).toEqual({
      data: {
        account: { id: accountId, name: expect.any(String), creditHold: null, customer: { creditHold: null } },
        project: { id: project.id, code: project.code, creditHold: null },
      },
    });

    expect(await hold(customer.id, 'Payments 90 days late')).toEqual({
      data: {
        placeCustomerOnCreditHold: {
          customer: { id: customer.id, creditHold: { reason: 'Payments 90 days late' } },
          changed: true,
        },
      },
    });
    const since = (await stack.stores.erp.getCreditHolds([customer.id]))[0]!.since;
    expect(since).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    const onHold = { reason: 'Payments 90 days late', since };
    expect(await shown(accountId, project.id)).toEqual({
      data: {
        account: {
          id: accountId,
          name: expect.any(String),
          creditHold: onHold,
          customer: { creditHold: { reason: 'Payments 90 days late' } },
        },
        project: { id: project.id, code: project.code, creditHold: onHold },
      },
    });

    const milestone = milestones[0]!;
    const stopped = await billMilestone(milestone.id);
    expect(stopped.status).toBe('EXCEPTION');
    expect(stopped.steps.map((s) => [s.name, s.status])).toEqual([
      ['checkMilestone', 'SUCCEEDED'],
      ['findErpCustomer', 'FAILED'],
      ['postInvoice', 'PENDING'],
      ['markMilestoneInvoiced', 'PENDING'],
    ]);
    const message = `Milestone ${milestone.id} (${milestone.name}) of project ${project.id} (${project.code}, ${project.name}) cannot be invoiced: ERP customer ${customer.id} (${customer.customerNumber}, ${customer.name}) of account ${accountId} is on credit hold since ${since!.slice(0, 10)} ('Payments 90 days late'). Release the hold in the ERP and retry the run, or override it for this run with a note (retryRunWithInput with creditHoldOverride)`;
    expect(stopped.steps[1]!.error).toMatchObject({ class: 'CREDIT_HOLD', system: 'erp', message });
    expect(stopped.steps[1]!.attempts).toBe(1);
    const listed = await gql(
      stack.gatewayUrl,
      '{ exceptions(filter: { class: CREDIT_HOLD, flow: "billMilestone" }) { nodes { run { id status } step class system message status } } }',
    );
    expect(listed.body.data!.exceptions.nodes).toContainEqual({
      run: { id: stopped.id, status: 'EXCEPTION' },
      step: 'findErpCustomer',
      class: 'CREDIT_HOLD',
      system: 'erp',
      message,
      status: 'OPEN',
    });
    // Nothing written: no invoice in the ERP, the milestone still completed (not invoiced) in the PSA.
    expect((await stack.stores.erp.getInvoicesByProject([project.id]))[0]).toEqual([]);
    expect((await stack.stores.psa.getMilestones([milestone.id]))[0]).toMatchObject({ status: 'COMPLETED' });

    // Retried while the hold stands: the same exception again, still nothing written.
    expect(await retry(stopped.id)).toEqual({ data: { retryRun: { status: 'QUEUED' } } });
    const again = await waitForRun(stack, stopped.id, ['EXCEPTION', 'SUCCEEDED']);
    expect([again.status, again.steps[1]!.attempts, again.steps[1]!.error?.class]).toEqual([
      'EXCEPTION',
      2,
      'CREDIT_HOLD',
    ]);
    expect((await stack.stores.erp.getInvoicesByProject([project.id]))[0]).toEqual([]);

    // Released, then retried: the milestone is invoiced once.
    expect(await release(customer.id)).toEqual({
      data: { releaseCustomerCreditHold: { customer: { id: customer.id, creditHold: null }, changed: true } },
    });
    expect((await release(customer.id)).data.releaseCustomerCreditHold.changed).toBe(false);
    await retry(stopped.id);
    const done = await waitForRun(stack, stopped.id, ['EXCEPTION', 'SUCCEEDED']);
    expect(done.steps.map((s) => [s.name, s.status])).toEqual([
      ['checkMilestone', 'SUCCEEDED'],
      ['findErpCustomer', 'SUCCEEDED'],
      ['postInvoice', 'SUCCEEDED'],
      ['markMilestoneInvoiced', 'SUCCEEDED'],
    ]);
    const [invoices] = await stack.stores.erp.getInvoicesByProject([project.id]);
    expect(invoices!.map((i) => [i.status, i.subtotalMinor])).toEqual([['POSTED', 6_000_000]]);
    expect((await stack.stores.psa.getMilestones([milestone.id]))[0]).toMatchObject({
      status: 'INVOICED',
      invoiceId: invoices![0]!.id,
    });
    expect((await shown(accountId, project.id)).data.project.creditHold).toBeNull();
  });

  it('lets a person override the hold for one run with a note: the run proceeds, the override is audited, the hold stays', async () => {
    const { accountId, project, milestones, customer, billMilestone } = await convertedProject();
    await hold(customer.id, 'Disputed invoices');
    const stopped = await billMilestone(milestones[0]!.id);
    expect(stopped.steps[1]!.error?.class).toBe('CREDIT_HOLD');

    // A blank note is refused, naming the field; the run stays stopped and nothing is written.
    const blank = await correct(stopped.id, { creditHoldOverride: '   ' });
    expect(blank.errors?.map((e: any) => [e.extensions?.code, e.extensions?.field])).toEqual([
      ['BAD_USER_INPUT', 'creditHoldOverride'],
    ]);
    expect((await stack.stores.ledger.getRuns([stopped.id]))[0]).toEqual(stopped);

    const operator = await authHeader('operations', { subject: 'finance-lead' });
    const overridden = await gql(
      stack.gatewayUrl,
      'mutation($id: ID!, $patch: RunInputPatch!) { retryRunWithInput(id: $id, patch: $patch) { status } }',
      { id: stopped.id, patch: { creditHoldOverride: 'CFO approved: paid by wire on Friday' } },
      operator,
    );
    expect(overridden.body).toEqual({ data: { retryRunWithInput: { status: 'QUEUED' } } });
    const done = await waitForRun(stack, stopped.id, ['EXCEPTION', 'SUCCEEDED']);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.steps[1]!.output).toEqual({
      customerId: customer.id,
      customerNumber: customer.customerNumber,
      creditHold: {
        onHold: true,
        reason: 'Disputed invoices',
        since: expect.any(String),
        overriddenWith: 'CFO approved: paid by wire on Friday',
      },
    });
    const trail = (await stack.stores.ledger.getAuditByRun([stopped.id]))[0]!;
    expect(trail.filter((a) => a.action === 'RUN_RETRIED_WITH_INPUT').map((a) => [a.actor, a.role, a.detail])).toEqual([
      ['finance-lead', 'operations', { patch: { creditHoldOverride: 'CFO approved: paid by wire on Friday' } }],
    ]);
    // The invoice is posted and the milestone invoiced, while the customer stays on hold for every other run.
    const [invoices] = await stack.stores.erp.getInvoicesByProject([project.id]);
    expect(invoices!.map((i) => i.status)).toEqual(['POSTED']);
    expect((await shown(accountId, project.id)).data.account.creditHold).toMatchObject({ reason: 'Disputed invoices' });
    const next = await billMilestone(milestones[1]!.id);
    expect([next.status, next.steps[1]!.error?.class]).toEqual(['EXCEPTION', 'CREDIT_HOLD']);
  });

  it('stops a conversion for an account whose ERP customer is on hold before anything is written', async () => {
    const { accountId, customer } = await convertedProject();
    await hold(customer.id, 'Credit limit exceeded');
    const { opportunityId } = await createWonOpportunity(stack.gatewayUrl, { accountId });
    const stopped = await waitForRun(
      stack,
      (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id,
      ['SUCCEEDED', 'EXCEPTION'],
    );
    expect(stopped.status).toBe('EXCEPTION');
    expect(stopped.steps.map((s) => s.status)).toEqual(['SUCCEEDED', 'FAILED', 'PENDING', 'PENDING', 'PENDING']);
    expect(stopped.steps[1]!.error).toMatchObject({
      class: 'CREDIT_HOLD',
      message: expect.stringMatching(
        new RegExp(`^Opportunity '${opportunityId}' \\(.+\\) cannot be converted: ERP customer ${customer.id} `),
      ),
    });
    // No PSA project, no link on the opportunity, no new ERP customer or dimensions.
    expect((await stack.stores.psa.getProjectsByOpportunity([opportunityId]))[0]).toBeNull();
    expect((await stack.stores.crm.getOpportunities([opportunityId]))[0]).toMatchObject({
      psaProjectId: null,
      erpCustomerId: null,
    });

    await release(customer.id);
    await retry(stopped.id);
    const done = await waitForRun(stack, stopped.id, ['SUCCEEDED', 'EXCEPTION']);
    expect(done.status).toBe('SUCCEEDED');
    const [project] = await stack.stores.psa.getProjectsByOpportunity([opportunityId]);
    expect((await stack.stores.crm.getOpportunities([opportunityId]))[0]).toMatchObject({
      psaProjectId: project!.id,
      erpCustomerId: customer.id,
    });
  });

  it('refuses a blank reason or an unknown customer with a coded error, changing nothing', async () => {
    const { customer } = await convertedProject();
    const blank = await hold(customer.id, '  ');
    expect(blank.errors!.map((e: any) => [e.extensions.code, e.extensions.field])).toEqual([
      ['VALIDATION_REJECTED', 'reason'],
    ]);
    const unknown = await hold('CUS-999999', 'Late');
    expect(unknown.errors!.map((e: any) => [e.extensions.code, e.extensions.field])).toEqual([
      ['NOT_FOUND', 'customerId'],
    ]);
    expect((await release('CUS-999999')).errors!.map((e: any) => e.extensions.code)).toEqual(['NOT_FOUND']);
    expect(await stack.stores.erp.getCreditHolds([customer.id])).toEqual([null]);
  });
});
