import type { RunRecord } from '../../subgraphs/orchestration/engine/ledger';
import { loadGovernance } from '../../subgraphs/orchestration/governance/governance';
import { convert, createWonOpportunity, waitForRun } from '../support/runs';
import { gql, startTestStack } from '../support/stack';

/*
 * Corrections through the gateway (issue 15, "Why" 1 and 5): every patch field checked against the run's flow, and a
 * correction that takes effect, re-running the steps that depend on it, or is refused saying what to do. Each test
 * asserts the end state in the CRM, the PSA, the ERP and the ledger.
 */
describe('retryRunWithInput through the gateway', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    const governance = loadGovernance();
    // The UK maps to a tax jurisdiction the ERP refuses, so a UK conversion stops at ensureErpCustomer; GHOST is sold
    // but maps to a template the PSA does not have, so such a conversion stops at createPsaProject.
    governance.deliveryRegions.UK = { ...governance.deliveryRegions.UK!, taxJurisdiction: 'XX' };
    governance.servicePackages.GHOST = { template: 'TPL-999999', code: 'GHO' };
    stack = await startTestStack({ governance, workerOptions: { idlePollMs: 20 } });
  });
  afterAll(() => stack.stop());

  const correct = (id: string, patch: Record<string, unknown>) =>
    gql(
      stack.gatewayUrl,
      'mutation($id: ID!, $patch: RunInputPatch!) { retryRunWithInput(id: $id, patch: $patch) { status input } }',
      { id, patch },
    );
  const codes = (body: { errors?: { message: string; extensions?: Record<string, unknown> }[] }) =>
    body.errors?.map((e) => [e.extensions?.code, e.extensions?.field ?? e.extensions?.step ?? null, e.message]);
  const actions = async (runId: string) => (await stack.stores.ledger.getAuditByRun([runId]))[0]!.map((a) => a.action);
  async function stoppedConversion(fields: Parameters<typeof createWonOpportunity>[1] = {}) {
    const { accountId, opportunityId } = await createWonOpportunity(stack.gatewayUrl, fields);
    const run = await waitForRun(
      stack,
      (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id,
      ['EXCEPTION', 'SUCCEEDED'],
    );
    expect(run.status).toBe('EXCEPTION');
    return { accountId, opportunityId, run };
  }
  /** The run, its open exception and its audit actions, unchanged by a refused correction. */
  async function unchanged(before: RunRecord) {
    const [now] = await stack.stores.ledger.getRuns([before.id]);
    expect(now).toEqual(before);
    expect((await stack.stores.ledger.getOpenExceptionsByRun([before.id]))[0]).toMatchObject({ status: 'OPEN' });
    expect(await actions(before.id)).not.toContain('RUN_RETRIED_WITH_INPUT');
  }

  it('a corrected delivery region takes effect: the deal is read again, and the ERP customer gets the new legal entity', async () => {
    // Sold in EUR, the currency of the DACH region the correction moves it to (pre-flight checks the deal's currency).
    const { accountId, opportunityId, run } = await stoppedConversion({ currency: 'EUR' });
    expect(run.steps.map((s) => s.status)).toEqual(['SUCCEEDED', 'FAILED', 'PENDING', 'PENDING', 'PENDING']);

    // Bad values are refused with the field named, and leave the run as it was: still correctable.
    expect(codes((await correct(run.id, { expectedStartDate: 'not-a-date' })).body)).toEqual([
      ['BAD_USER_INPUT', 'expectedStartDate', "expectedStartDate must be a date written YYYY-MM-DD; got 'not-a-date'"],
    ]);
    expect(codes((await correct(run.id, { billingModel: 'BANANA' })).body)).toEqual([
      [
        'BAD_USER_INPUT',
        'billingModel',
        "billingModel must be one of FIXED_FEE, TIME_AND_MATERIALS, MILESTONE, RETAINER; got 'BANANA'",
      ],
    ]);
    // A field no flow takes is refused by the schema itself, named.
    const unknown = await correct(run.id, { colour: 'RED' });
    expect(unknown.body.errors?.map((e) => [e.extensions?.code, /"colour"/.test(e.message)])).toEqual([
      ['BAD_USER_INPUT', true],
    ]);
    await unchanged(run);

    const retried = await correct(run.id, { deliveryRegion: 'DACH', taxJurisdiction: 'DE' });
    expect(retried.body).toEqual({
      data: {
        retryRunWithInput: {
          status: 'QUEUED',
          input: JSON.stringify({ opportunityId, deliveryRegion: 'DACH', taxJurisdiction: 'DE' }),
        },
      },
    });
    const done = await waitForRun(stack, run.id, ['SUCCEEDED', 'EXCEPTION']);
    expect(done.steps.map((s) => [s.name, s.status, s.attempts])).toEqual([
      ['validateOpportunity', 'SUCCEEDED', 2],
      ['ensureErpCustomer', 'SUCCEEDED', 2],
      ['createPsaProject', 'SUCCEEDED', 1],
      ['pushProjectDimensions', 'SUCCEEDED', 1],
      ['linkBack', 'SUCCEEDED', 1],
    ]);
    expect(done.steps[0]!.output).toMatchObject({ deliveryRegion: 'DACH' });

    const [customer] = await stack.stores.erp.getCustomersByCrmAccount([accountId]);
    expect(customer).toMatchObject({ legalEntityCode: 'MERIDIAN-DE', taxJurisdictionCode: 'DE', currency: 'EUR' });
    const [project] = await stack.stores.psa.getProjectsByOpportunity([opportunityId]);
    expect(project).toMatchObject({ accountId, opportunityId });
    expect((await stack.stores.crm.getOpportunities([opportunityId]))[0]).toMatchObject({
      psaProjectId: project!.id,
      erpCustomerId: customer!.id,
    });
    const trail = (await stack.stores.ledger.getAuditByRun([run.id]))[0]!;
    expect(trail.filter((a) => a.action === 'RUN_RETRIED_WITH_INPUT').map((a) => a.detail)).toEqual([
      { patch: { deliveryRegion: 'DACH', taxJurisdiction: 'DE' }, rerun: ['validateOpportunity'] },
    ]);
    expect(await stack.stores.ledger.getOpenExceptionsByRun([run.id])).toEqual([null]);
  });

  it('refuses a correction that would have to redo a write, saying what to do; one that does not re-runs only what depends on it', async () => {
    const { accountId, opportunityId, run } = await stoppedConversion({
      servicePackage: 'GHOST',
      deliveryRegion: 'NA',
      currency: 'USD',
    });
    expect(run.steps.map((s) => s.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'FAILED', 'PENDING', 'PENDING']);
    const customerId = (run.steps[1]!.output as { customerId: string }).customerId;

    // The customer was created for region NA; a region correction cannot reach it.
    const refused = await correct(run.id, { deliveryRegion: 'DACH' });
    expect(codes(refused.body)).toEqual([
      [
        'INVALID_STATE',
        'ensureErpCustomer',
        `Run ${run.id} cannot be corrected: its step 'ensureErpCustomer' already created ERP customer ${customerId} from the input as it was, and the correction of 'deliveryRegion' would have to redo it. Abandon the run (its completed steps are undone, newest first), correct the value where it comes from (the CRM record, say), and start a new convertOpportunityToProject run; or retry this run without the correction`,
      ],
    ]);
    await unchanged(run);
    expect((await stack.stores.erp.getCustomers([customerId]))[0]).toMatchObject({ legalEntityCode: 'MERIDIAN-US' });

    // The package shapes only the project: the deal is read again, the customer kept, the project created.
    expect((await correct(run.id, { servicePackage: 'DATA_PLATFORM' })).body.data).toEqual({
      retryRunWithInput: {
        status: 'QUEUED',
        input: JSON.stringify({ opportunityId, servicePackage: 'DATA_PLATFORM' }),
      },
    });
    const done = await waitForRun(stack, run.id, ['SUCCEEDED', 'EXCEPTION']);
    expect(done.steps.map((s) => [s.status, s.attempts])).toEqual([
      ['SUCCEEDED', 2],
      ['SUCCEEDED', 1],
      ['SUCCEEDED', 2],
      ['SUCCEEDED', 1],
      ['SUCCEEDED', 1],
    ]);
    expect(done.steps[1]!.output).toMatchObject({ customerId, created: true });
    const [project] = await stack.stores.psa.getProjectsByOpportunity([opportunityId]);
    expect(project).toMatchObject({ templateId: 'TPL-000002', code: `DAT-${opportunityId.slice(4)}` });
    expect(await stack.stores.erp.getCustomersByCrmAccount([accountId])).toEqual([
      expect.objectContaining({ id: customerId, legalEntityCode: 'MERIDIAN-US' }),
    ]);
    expect((await stack.stores.crm.getOpportunities([opportunityId]))[0]).toMatchObject({
      psaProjectId: project!.id,
      erpCustomerId: customerId,
    });
    expect(
      (await stack.stores.ledger.getAuditByRun([run.id]))[0]!
        .filter((a) => a.action === 'RUN_RETRIED_WITH_INPUT')
        .map((a) => a.detail),
    ).toEqual([{ patch: { servicePackage: 'DATA_PLATFORM' }, rerun: ['validateOpportunity'] }]);
  });

  it("refuses a conversion's fields on a billMilestone run, naming the field; the run's input and audit stay as they were", async () => {
    // A converted deal whose ERP customer is then removed: billing its completed milestone stops at findErpCustomer.
    const { accountId, opportunityId } = await createWonOpportunity(stack.gatewayUrl, {
      deliveryRegion: 'DACH',
      currency: 'EUR',
    });
    const conversion = await waitForRun(
      stack,
      (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id,
      ['SUCCEEDED', 'EXCEPTION'],
    );
    expect(conversion.status).toBe('SUCCEEDED');
    const [project] = await stack.stores.psa.getProjectsByOpportunity([opportunityId]);
    const [milestones] = await stack.stores.psa.getMilestonesByProject([project!.id]);
    const milestone = milestones![0]!;
    await gql(stack.gatewayUrl, 'mutation($id: ID!) { completeMilestone(id: $id) { status } }', { id: milestone.id });
    const [customer] = await stack.stores.erp.getCustomersByCrmAccount([accountId]);
    await stack.stores.erp.deleteProjectDimensions(project!.id);
    await stack.stores.erp.deleteCustomer(customer!.id);
    const billed = await gql(
      stack.gatewayUrl,
      'mutation($id: ID!) { billMilestone(input: { milestoneId: $id }) { id } }',
      { id: milestone.id },
    );
    const run = await waitForRun(stack, billed.body.data!.billMilestone.id, ['EXCEPTION', 'SUCCEEDED']);
    expect(run.steps.map((s) => s.status)).toEqual(['SUCCEEDED', 'FAILED', 'PENDING', 'PENDING']);

    const refused = await correct(run.id, { deliveryRegion: 'DACH', legalEntity: 'MERIDIAN-DE' });
    expect(codes(refused.body)).toEqual([
      [
        'BAD_USER_INPUT',
        'deliveryRegion',
        "'deliveryRegion' is not an input of billMilestone runs; they take corrections of 'creditHoldOverride'",
      ],
    ]);
    await unchanged(run);
    expect(run.input).toEqual({ milestoneId: milestone.id });
    expect((await stack.stores.psa.getMilestones([milestone.id]))[0]).toMatchObject({
      status: 'COMPLETED',
      invoiceId: null,
    });
    expect(await stack.stores.erp.getInvoicesByProject([project!.id])).toEqual([[]]);
    expect((await stack.stores.crm.getOpportunities([opportunityId]))[0]).toMatchObject({ psaProjectId: project!.id });
  });
});
