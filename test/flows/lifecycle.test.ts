import type { RunRecord, RunStatus } from '../../subgraphs/orchestration/engine/ledger';
import { ACTIVE } from '../../subgraphs/orchestration/engine/run-transitions';
import { loadGovernance } from '../../subgraphs/orchestration/governance/governance';
import { convert, createWonOpportunity, waitForRun } from '../support/runs';
import { authHeader, gql, startTestStack } from '../support/stack';

/*
 * The run lifecycle (docs/run-lifecycle.md) as an operations user meets it through the gateway: each reproduction of
 * issue 15's "Why" 2 and 4, asserting the end state in the CRM, the PSA, the ERP and the ledger (status, subject
 * hold, audit).
 */
describe('run lifecycle through the gateway', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    const governance = loadGovernance();
    governance.triggers = {
      convertOpportunityToProject: true,
      billApprovedTime: false,
      billMilestone: true,
      syncInvoiceStatus: false,
      syncCustomer: true,
    };
    // The poller looks only when a test asks (pollOnce); its first scheduled look is an hour away.
    stack = await startTestStack({
      seedAccounts: 2,
      governance,
      triggers: { intervalMs: 3_600_000 },
      workerOptions: { idlePollMs: 20 },
    });
    await look();
  });
  afterAll(() => stack.stop());

  const ENDED: RunStatus[] = ['SUCCEEDED', 'EXCEPTION', 'RESOLVED', 'ABANDONED', 'COMPENSATION_FAILED'];
  const allRuns = async () => (await stack.stores.ledger.listRuns({ first: 1000, afterKey: null })).nodes;
  /** One trigger look; waits until every run it (or anything before it) started has ended; returns the new runs. */
  async function look(): Promise<RunRecord[]> {
    const before = new Set((await allRuns()).map((r) => r.id));
    await stack.triggers!.pollOnce();
    const runs = await allRuns();
    await Promise.all(runs.filter((r) => ACTIVE.includes(r.status)).map((r) => waitForRun(stack, r.id, ENDED)));
    return (await allRuns()).filter((r) => !before.has(r.id));
  }
  const audit = async (runId: string) =>
    (await stack.stores.ledger.getAuditByRun([runId]))[0]!.map((a) => [a.action, a.actor]);
  const mutate = async (query: string, variables: Record<string, unknown>) =>
    (await gql(stack.gatewayUrl, query, variables)).body;
  const openExceptions = async (runId: string) =>
    (
      await gql(stack.gatewayUrl, '{ exceptions(first: 1000) { nodes { id run { id } } } }')
    ).body.data!.exceptions.nodes.filter((e: { run: { id: string } }) => e.run.id === runId);

  async function converted() {
    const { accountId, opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    const run = await waitForRun(
      stack,
      (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id,
      ['SUCCEEDED', 'EXCEPTION'],
    );
    expect(run.status).toBe('SUCCEEDED');
    const [account] = await stack.stores.crm.getAccounts([accountId]);
    const [customer] = await stack.stores.erp.getCustomersByCrmAccount([accountId]);
    const [project] = await stack.stores.psa.getProjectsByOpportunity([opportunityId]);
    const [milestones] = await stack.stores.psa.getMilestonesByProject([project!.id]);
    return { accountId, opportunityId, account: account!, customer: customer!, project: project!, milestones };
  }

  it('resolving a stopped customer sync ends the run and releases the account: the next change and a new call each start a new run', async () => {
    const { accountId, account, customer, project } = await converted();
    await look();
    // Finance renames the customer in the ERP while sales renames the account in the CRM: the sync stops on a CONFLICT.
    await mutate('mutation($input: UpdateCustomerFieldsInput!) { updateCustomerFields(input: $input) { changed } }', {
      input: { id: customer.id, name: 'Edited In Finance Ltd' },
    });
    const rename = (name: string) =>
      mutate('mutation($input: UpsertAccountInput!) { upsertAccount(input: $input) { account { name } } }', {
        input: {
          externalId: account.externalId,
          name,
          industry: account.industry,
          billingCountry: account.billingCountry,
        },
      });
    await rename(`${account.name} Holdings`);
    const started = await mutate('mutation($id: ID!) { syncCustomer(input: { accountId: $id }) { id } }', {
      id: accountId,
    });
    const stopped = await waitForRun(stack, started.data.syncCustomer.id, ['EXCEPTION', 'SUCCEEDED']);
    expect(stopped.status).toBe('EXCEPTION');
    const [exception] = await openExceptions(stopped.id);

    // A person makes the two agree in the ERP by hand and resolves the exception with a note.
    await mutate('mutation($input: UpdateCustomerFieldsInput!) { updateCustomerFields(input: $input) { changed } }', {
      input: { id: customer.id, name: `${account.name} Holdings` },
    });
    const resolved = await mutate(
      'mutation($id: ID!) { resolveException(id: $id, note: "Agreed with finance; ERP renamed by hand") { status resolution run { id status } } }',
      { id: exception.id },
    );
    expect(resolved).toEqual({
      data: {
        resolveException: {
          status: 'RESOLVED',
          resolution: 'Agreed with finance; ERP renamed by hand',
          run: { id: stopped.id, status: 'RESOLVED' },
        },
      },
    });
    expect(await openExceptions(stopped.id)).toEqual([]);

    // The rename that stopped the run is still unsynced in the feed: the next look starts a new sync (nothing left to
    // write, and it records what both now hold); the next rename gets a new sync again, which writes it to the ERP.
    const afterResolve = (await look()).filter((r) => r.flow === 'syncCustomer' && r.accountId === accountId);
    expect(afterResolve.map((r) => [r.status, r.triggeredBy])).toEqual([['SUCCEEDED', 'event:account.changed']]);
    await rename(`${account.name} Group`);
    const fromTrigger = (await look()).filter((r) => r.flow === 'syncCustomer' && r.accountId === accountId);
    expect(fromTrigger.map((r) => [r.status, r.triggeredBy])).toEqual([['SUCCEEDED', 'event:account.changed']]);
    // A new call (new key) starts a new run too, not the resolved one.
    const called = await mutate(
      'mutation($id: ID!) { syncCustomer(input: { accountId: $id, idempotencyKey: "after-resolve" }) { id } }',
      { id: accountId },
    );
    expect([stopped.id, fromTrigger[0]!.id]).not.toContain(called.data.syncCustomer.id);
    expect((await waitForRun(stack, called.data.syncCustomer.id, ENDED)).status).toBe('SUCCEEDED');

    // CRM, ERP and PSA agree; the ledger holds the resolved run (ended, not holding) and the new ones.
    expect((await stack.stores.crm.getAccounts([accountId]))[0]!.name).toBe(`${account.name} Group`);
    expect((await stack.stores.erp.getCustomers([customer.id]))[0]).toMatchObject({
      name: `${account.name} Group`,
      legalEntityCode: customer.legalEntityCode,
    });
    expect((await stack.stores.psa.getProjects([project.id]))[0]).toMatchObject({ accountId, status: 'PLANNED' });
    expect((await stack.stores.ledger.getRuns([stopped.id]))[0]!.status).toBe('RESOLVED');
    expect(await audit(stopped.id)).toEqual([
      ['RUN_CREATED', 'test-service'],
      ['STEP_SUCCEEDED', 'system'],
      ['EXCEPTION_RAISED', 'system'],
      ['EXCEPTION_RESOLVED', 'test-service'],
      ['RUN_RESOLVED', 'test-service'],
    ]);
  });

  it('refuses to bill a milestone not completed yet, storing nothing; once completed the trigger invoices it once, and 20 calls return that run', async () => {
    const { accountId, opportunityId, customer, project, milestones } = await converted();
    const milestone = milestones![1]!;
    const bill = (key?: string) =>
      mutate('mutation($input: BillMilestoneInput!) { billMilestone(input: $input) { id status } }', {
        input: { milestoneId: milestone.id, ...(key ? { idempotencyKey: key } : {}) },
      });
    const early = await gql(
      stack.gatewayUrl,
      'mutation($id: ID!) { billMilestone(input: { milestoneId: $id }) { id } }',
      { id: milestone.id },
    );
    expect(early.body).toEqual({
      data: null,
      errors: [
        expect.objectContaining({
          message: `Milestone ${milestone.id} (${milestone.name}) is not completed yet, so there is nothing to invoice; complete it in the PSA, and the milestone trigger invoices it (or call billMilestone again then)`,
          extensions: expect.objectContaining({ code: 'INVALID_STATE', field: 'milestoneId' }),
        }),
      ],
    });
    const milestoneRuns = async () =>
      (await allRuns()).filter((r) => r.flow === 'billMilestone' && r.input.milestoneId === milestone.id);
    expect(await milestoneRuns()).toEqual([]);

    await mutate('mutation($id: ID!) { completeMilestone(id: $id) { status } }', { id: milestone.id });
    const started = (await look()).filter((r) => r.flow === 'billMilestone' && r.input.milestoneId === milestone.id);
    expect(started.map((r) => [r.status, r.triggeredBy])).toEqual([['SUCCEEDED', 'event:milestone.completed']]);
    const calls = await Promise.all(Array.from({ length: 20 }, (_, i) => bill(`late-call-${milestone.id}-${i}`)));
    expect(new Set(calls.map((c) => c.data.billMilestone.id))).toEqual(new Set([started[0]!.id]));
    expect(await milestoneRuns()).toHaveLength(1);

    const invoiceId = (started[0]!.steps[2]!.output as { invoiceId: string }).invoiceId;
    expect((await stack.stores.psa.getMilestones([milestone.id]))[0]).toMatchObject({ status: 'INVOICED', invoiceId });
    const [invoices] = await stack.stores.erp.getInvoicesByProject([project.id]);
    expect(invoices!.map((i) => [i.id, i.customerId])).toEqual([[invoiceId, customer.id]]);
    expect((await stack.stores.crm.getOpportunities([opportunityId]))[0]).toMatchObject({
      accountId,
      stage: 'CLOSED_WON',
      psaProjectId: project.id,
    });
    const trail = await audit(started[0]!.id);
    expect(trail.slice(0, 1)).toEqual([['RUN_CREATED', 'event:milestone.completed']]);
    expect(trail.filter(([action]) => action === 'RUN_REQUEST_DEDUPLICATED')).toHaveLength(20);
  });

  it('an abandoned conversion stays abandoned: the trigger starts nothing for the still-won deal; an explicit call does, and its audit says so', async () => {
    const { accountId, opportunityId } = await createWonOpportunity(stack.gatewayUrl, { deliveryRegion: null });
    const first = await waitForRun(
      stack,
      (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id,
      ['EXCEPTION', 'SUCCEEDED'],
    );
    expect(first.status).toBe('EXCEPTION');
    expect(await mutate('mutation($id: ID!) { abandonRun(id: $id) { status } }', { id: first.id })).toEqual({
      data: { abandonRun: { status: 'COMPENSATING' } },
    });
    expect((await waitForRun(stack, first.id, ['ABANDONED', 'COMPENSATION_FAILED'])).status).toBe('ABANDONED');

    // Someone fills the region in the CRM; the deal is still won and unlinked, which the trigger lists at every look.
    const [opportunity] = await stack.stores.crm.getOpportunities([opportunityId]);
    await mutate(
      'mutation($input: UpsertOpportunityInput!) { upsertOpportunity(input: $input) { opportunity { id } } }',
      {
        input: {
          externalId: opportunity!.externalId,
          accountId,
          name: opportunity!.name,
          stage: 'CLOSED_WON',
          amount: { amount: '240000.00', currency: 'GBP' },
          closeDate: opportunity!.closeDate,
          servicePackage: opportunity!.servicePackage,
          billingModel: opportunity!.billingModel,
          deliveryRegion: 'UK',
          expectedStartDate: opportunity!.expectedStartDate,
        },
      },
    );
    expect((await look()).filter((r) => r.opportunityId === opportunityId)).toEqual([]);
    expect((await look()).filter((r) => r.opportunityId === opportunityId)).toEqual([]);
    expect((await stack.stores.crm.getOpportunities([opportunityId]))[0]).toMatchObject({
      stage: 'CLOSED_WON',
      psaProjectId: null,
      erpCustomerId: null,
    });
    expect(await stack.stores.psa.getProjectsByOpportunity([opportunityId])).toEqual([null]);
    expect(await stack.stores.erp.getCustomersByCrmAccount([accountId])).toEqual([null]);

    // A person starts a new conversion explicitly: it runs, and its audit trail names the abandoned run.
    const again = await convert(stack.gatewayUrl, opportunityId, `restart-${opportunityId}`);
    const second = await waitForRun(stack, again.data!.convertOpportunityToProject.id, ['SUCCEEDED', 'EXCEPTION']);
    expect([second.id === first.id, second.status]).toEqual([false, 'SUCCEEDED']);
    const trail = (await stack.stores.ledger.getAuditByRun([second.id]))[0]!;
    expect(trail.slice(0, 2).map((a) => [a.action, a.actor, a.detail])).toEqual([
      ['RUN_CREATED', 'test-service', { flow: 'convertOpportunityToProject', input: { opportunityId } }],
      ['RUN_RESTARTED_AFTER_ABANDON', 'test-service', { abandonedRunId: first.id, abandonedStatus: 'ABANDONED' }],
    ]);
    const [project] = await stack.stores.psa.getProjectsByOpportunity([opportunityId]);
    expect((await stack.stores.crm.getOpportunities([opportunityId]))[0]).toMatchObject({ psaProjectId: project!.id });
    expect((await stack.stores.erp.getCustomersByCrmAccount([accountId]))[0]).toMatchObject({
      legalEntityCode: 'MERIDIAN-UK',
    });
    expect((await stack.stores.ledger.getRuns([first.id]))[0]!.status).toBe('ABANDONED');
    // From now on the new run holds the deal: another look or call gets it back.
    expect((await look()).filter((r) => r.opportunityId === opportunityId)).toEqual([]);
    expect((await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id).toBe(second.id);
  });

  it('scopes idempotency keys per caller: two operators who both use "0" start their own runs; one reusing it is refused', async () => {
    const ann = await authHeader('operations', { subject: 'ops-ann' });
    const bob = await authHeader('operations', { subject: 'ops-bob' });
    const first = await createWonOpportunity(stack.gatewayUrl);
    const second = await createWonOpportunity(stack.gatewayUrl);
    const convertAs = (headers: Record<string, string>, opportunityId: string) =>
      gql(
        stack.gatewayUrl,
        'mutation($input: ConvertOpportunityToProjectInput!) { convertOpportunityToProject(input: $input) { id triggeredBy } }',
        { input: { opportunityId, idempotencyKey: '0' } },
        headers,
      );
    const annRun = (await convertAs(ann, first.opportunityId)).body.data.convertOpportunityToProject;
    const bobRun = (await convertAs(bob, second.opportunityId)).body.data.convertOpportunityToProject;
    expect([annRun.triggeredBy, bobRun.triggeredBy, annRun.id === bobRun.id]).toEqual(['ops-ann', 'ops-bob', false]);
    // Ann's "0" again, for another deal: her key, another request.
    const reused = await convertAs(ann, second.opportunityId);
    expect(reused.body.errors?.map((e) => e.extensions?.code)).toEqual(['IDEMPOTENCY_KEY_REUSED']);
    const done = await Promise.all([annRun.id, bobRun.id].map((id) => waitForRun(stack, id, ENDED)));
    expect(done.map((r) => r.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    for (const { accountId, opportunityId } of [first, second]) {
      const [project] = await stack.stores.psa.getProjectsByOpportunity([opportunityId]);
      const [customer] = await stack.stores.erp.getCustomersByCrmAccount([accountId]);
      expect((await stack.stores.crm.getOpportunities([opportunityId]))[0]).toMatchObject({
        psaProjectId: project!.id,
        erpCustomerId: customer!.id,
      });
    }
    const records = await stack.stores.ledger.getIdempotencyRecords([
      { scope: 'ops-ann', key: '0' },
      { scope: 'ops-bob', key: '0' },
    ]);
    expect(records.map((r) => r?.runId)).toEqual([annRun.id, bobRun.id]);
    expect(await audit(annRun.id)).toContainEqual(['RUN_CREATED', 'ops-ann']);
  });
});
