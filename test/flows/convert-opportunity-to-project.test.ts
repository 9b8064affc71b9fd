import { gql, startTestStack } from '../support/stack';
import { convert, createWonOpportunity, waitForRun } from '../support/runs';

describe('flow convertOpportunityToProject', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack({ workerOptions: { idlePollMs: 50 } });
  });
  afterAll(() => stack.stop());

  it('creates the ERP customer, the PSA project from its template, the ERP dimensions, and links them back', async () => {
    const { accountId, opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    const started = await convert(stack.gatewayUrl, opportunityId);
    expect(started).toEqual({
      data: {
        convertOpportunityToProject: {
          id: expect.stringMatching(/^RUN-/),
          flow: 'convertOpportunityToProject',
          status: 'QUEUED',
        },
      },
    });
    const runId = started.data!.convertOpportunityToProject.id;
    const run = await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION']);
    expect(run.status).toBe('SUCCEEDED');

    const { body } = await gql(
      stack.gatewayUrl,
      `query($id: ID!, $run: ID!) {
        opportunity(id: $id) {
          psaProjectId erpCustomerId
          account { customer { id name legalEntity { code } taxJurisdiction { code } paymentTerms currency externalCrmId } }
          project { id code status billingModel budget { amount currency } startDate template { id } milestones { name amount { amount } status }
                    dimensions { projectCode billingSchedule revenueTreatment customer { id } } }
          crossReferences { system externalId }
          conversion { id status steps { name status attempts error { message } } }
        }
        syncRun(id: $run) { audit { action } }
      }`,
      { id: opportunityId, run: runId },
    );
    const opportunity = body.data!.opportunity;
    const customerId = opportunity.account.customer.id;
    const projectId = opportunity.project.id;
    expect(opportunity).toEqual({
      psaProjectId: projectId,
      erpCustomerId: customerId,
      account: {
        customer: {
          id: customerId,
          name: expect.stringMatching(/^Test Client /),
          legalEntity: { code: 'MERIDIAN-UK' },
          taxJurisdiction: { code: 'GB' },
          paymentTerms: 'NET_30',
          currency: 'GBP',
          externalCrmId: accountId,
        },
      },
      project: {
        id: projectId,
        code: `DAT-${opportunityId.slice(4)}`,
        status: 'PLANNED',
        billingModel: 'MILESTONE',
        budget: { amount: '240000.00', currency: 'GBP' },
        startDate: '2026-12-01',
        template: { id: 'TPL-000002' },
        milestones: [
          { name: 'Architecture approved', amount: { amount: '60000.00' }, status: 'PLANNED' },
          { name: 'Pipelines in production', amount: { amount: '120000.00' }, status: 'PLANNED' },
          { name: 'Handover', amount: { amount: '60000.00' }, status: 'PLANNED' },
        ],
        dimensions: {
          projectCode: `DAT-${opportunityId.slice(4)}`,
          billingSchedule: 'ON_MILESTONE',
          revenueTreatment: 'PERCENT_COMPLETE',
          customer: { id: customerId },
        },
      },
      crossReferences: [
        { system: 'PSA', externalId: projectId },
        { system: 'ERP', externalId: customerId },
      ],
      conversion: {
        id: runId,
        status: 'SUCCEEDED',
        steps: [
          'validateOpportunity',
          'ensureErpCustomer',
          'createPsaProject',
          'pushProjectDimensions',
          'linkBack',
        ].map((name) => ({ name, status: 'SUCCEEDED', attempts: 1, error: null })),
      },
    });
    expect(body.data!.syncRun.audit.map((a: { action: string }) => a.action)).toEqual([
      'RUN_CREATED',
      ...Array(5).fill('STEP_SUCCEEDED'),
      'RUN_SUCCEEDED',
    ]);
    const events = await stack.stores.ledger.eventsAfter(0, 10_000);
    // Accepted, taken up by the worker, one change per step: each commit wrote its event.
    expect(events.filter((e) => e.runId === runId).map((e) => [e.sequence, e.status, e.type])).toEqual([
      [1, 'QUEUED', 'SYNC_RUN_UPDATED'],
      [2, 'RUNNING', 'SYNC_RUN_UPDATED'],
      [3, 'RUNNING', 'SYNC_RUN_UPDATED'],
      [4, 'RUNNING', 'SYNC_RUN_UPDATED'],
      [5, 'RUNNING', 'SYNC_RUN_UPDATED'],
      [6, 'RUNNING', 'SYNC_RUN_UPDATED'],
      [7, 'SUCCEEDED', 'SYNC_RUN_UPDATED'],
    ]);
  });

  it('stops on an opportunity that lacks a mandatory field with an exception that names it, and completes after the fix', async () => {
    const { opportunityId } = await createWonOpportunity(stack.gatewayUrl, { deliveryRegion: null });
    const runId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
    const stopped = await waitForRun(stack, runId, ['EXCEPTION']);
    expect(stopped.steps[0]).toMatchObject({
      name: 'validateOpportunity',
      status: 'FAILED',
      error: { class: 'BAD_VALUE', system: 'crm' },
    });
    const exceptions = await gql(
      stack.gatewayUrl,
      'query($f: SyncExceptionFilter) { exceptions(filter: $f) { nodes { run { id } step class system message status } } }',
      { f: { flow: 'convertOpportunityToProject', class: 'BAD_VALUE' } },
    );
    expect(exceptions.body.data!.exceptions.nodes).toContainEqual({
      run: { id: runId },
      step: 'validateOpportunity',
      class: 'BAD_VALUE',
      system: 'crm',
      message: expect.stringMatching(
        new RegExp(
          `^Opportunity '${opportunityId}' \\(.*\\) cannot be converted: delivery region is missing in the CRM$`,
        ),
      ),
      status: 'OPEN',
    });
    const retried = await gql(
      stack.gatewayUrl,
      'mutation($id: ID!) { retryRunWithInput(id: $id, patch: { deliveryRegion: "UK" }) { status input } }',
      { id: runId },
    );
    expect(retried.body).toEqual({
      data: { retryRunWithInput: { status: 'QUEUED', input: JSON.stringify({ opportunityId, deliveryRegion: 'UK' }) } },
    });
    expect((await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION'])).status).toBe('SUCCEEDED');
  });

  it("uses the account's existing ERP customer as it is, never rewriting the fields the ERP owns", async () => {
    const { accountId, opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    const { record: before } = await stack.stores.erp.upsertCustomer({
      externalCrmId: accountId,
      name: 'Kept Name Ltd',
      legalEntityCode: 'MERIDIAN-UK',
      taxJurisdictionCode: 'NL',
      paymentTerms: 'NET_60',
      currency: 'GBP',
    });
    const runId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
    const run = await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION']);
    expect([run.status, run.steps[1]!.output]).toEqual(['SUCCEEDED', { customerId: before.id, created: false }]);
    expect(await stack.stores.erp.getCustomers([before.id])).toEqual([before]);
  });

  it('refuses a retry of a run that is not stopped, and unknown runs, with coded errors', async () => {
    const retry = await gql(stack.gatewayUrl, 'mutation { retryRun(id: "RUN-nope") { id } }');
    expect(retry.body.errors?.map((e) => [e.extensions?.code, e.extensions?.system])).toEqual([
      ['NOT_FOUND', 'orchestration'],
    ]);
    const { opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    const runId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
    await waitForRun(stack, runId, ['SUCCEEDED']);
    const again = await gql(stack.gatewayUrl, 'mutation($id: ID!) { abandonRun(id: $id) { id } }', { id: runId });
    expect(again.body.errors?.map((e) => e.extensions?.code)).toEqual(['INVALID_STATE']);
  });
});
