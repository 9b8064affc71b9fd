import { loadGovernance } from '../../subgraphs/orchestration/governance/governance';
import { createTestClock } from '../support/clock';
import { convert, createWonOpportunity, waitForRun } from '../support/runs';
import { gql, startTestStack } from '../support/stack';

/**
 * Pre-flight checks of `convertOpportunityToProject`: before its first write the conversion checks the ERP's reference
 * data (legal entity, tax jurisdiction, accounting period, currency), and stops with ONE exception listing every
 * problem, with nothing written to the ERP, the PSA or the CRM.
 */
describe('convertOpportunityToProject pre-flight', () => {
  // The worker's clock stands on 15 March 2027: the conversion's posting date, whose period a test closes.
  const clock = createTestClock(Date.parse('2027-03-15T12:00:00.000Z'));
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    const governance = loadGovernance();
    const uk = governance.deliveryRegions.UK!;
    // Regions that map onto what the ERP does not have, one problem each, and one with all of them.
    governance.deliveryRegions.NO_TAX = { ...uk, taxJurisdiction: 'XX' };
    governance.deliveryRegions.NO_ENTITY = { ...uk, legalEntity: 'ACME-UK' };
    governance.deliveryRegions.ALL_WRONG = { ...uk, legalEntity: 'ACME-UK', taxJurisdiction: 'XX', currency: 'EUR' };
    stack = await startTestStack({ governance, clock: clock.now, workerOptions: { idlePollMs: 20 } });
  });
  afterAll(() => stack.stop());
  afterEach(() => stack.stores.erp.reopenPeriod('2027-03'));

  /** Converts a new won deal; returns the stopped run, its exception as the gateway shows it, and the IDs. */
  async function stopped(fields: Parameters<typeof createWonOpportunity>[1]) {
    const { accountId, opportunityId } = await createWonOpportunity(stack.gatewayUrl, fields);
    const runId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
    const run = await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION']);
    const { body } = await gql(
      stack.gatewayUrl,
      `query($id: ID!) { syncRun(id: $id) { status steps { name status error { class code system } }
        exception { step class system message status } } }`,
      { id: runId },
    );
    return {
      accountId,
      opportunityId,
      run,
      syncRun: body.data!.syncRun,
      deal: run.steps[0]!.output as { name: string },
    };
  }

  /** The exception message for `problems`, as the conversion words it. */
  const message = (opportunityId: string, name: string, problems: string) =>
    `Opportunity '${opportunityId}' (${name}) was not converted, nothing was written: ${problems}. ` +
    'Fix the data in the ERP, the CRM or governance (or correct the run with retryRunWithInput), then retry';

  /** Nothing of the deal in the ERP, the PSA or the CRM's links, and the run stopped before its first write. */
  async function nothingWritten(s: Awaited<ReturnType<typeof stopped>>) {
    expect(s.syncRun.status).toBe('EXCEPTION');
    expect(s.syncRun.steps).toEqual([
      { name: 'validateOpportunity', status: 'SUCCEEDED', error: null },
      {
        name: 'ensureErpCustomer',
        status: 'FAILED',
        error: { class: 'BAD_VALUE', code: 'PREFLIGHT_FAILED', system: 'erp' },
      },
      ...['createPsaProject', 'pushProjectDimensions', 'linkBack'].map((name) => ({
        name,
        status: 'PENDING',
        error: null,
      })),
    ]);
    expect(await stack.stores.erp.getCustomersByCrmAccount([s.accountId])).toEqual([null]);
    expect(await stack.stores.psa.getProjectsByOpportunity([s.opportunityId])).toEqual([null]);
    expect((await stack.stores.crm.getOpportunities([s.opportunityId]))[0]).toMatchObject({
      psaProjectId: null,
      erpCustomerId: null,
    });
  }

  it('stops on a tax jurisdiction the ERP does not have, naming it and the legal entity', async () => {
    const s = await stopped({ deliveryRegion: 'NO_TAX' });
    await nothingWritten(s);
    expect(s.syncRun.exception).toEqual({
      step: 'ensureErpCustomer',
      class: 'BAD_VALUE',
      system: 'erp',
      status: 'OPEN',
      message: message(s.opportunityId, s.deal.name, "ERP has no tax jurisdiction 'XX' for legal entity 'MERIDIAN-UK'"),
    });
  });

  it('stops on a legal entity the ERP does not have for the delivery region', async () => {
    const s = await stopped({ deliveryRegion: 'NO_ENTITY' });
    await nothingWritten(s);
    expect(s.syncRun.exception.message).toBe(
      message(s.opportunityId, s.deal.name, "ERP has no legal entity 'ACME-UK' for delivery region 'NO_ENTITY'"),
    );
  });

  it('stops when the accounting period of the posting date (by the injected clock) is closed', async () => {
    stack.stores.erp.closePeriod('2027-03');
    const periods = await gql(
      stack.gatewayUrl,
      '{ accountingPeriods(periods: ["2027-02", "2027-03"]) { period status } }',
    );
    expect(periods.body).toEqual({
      data: {
        accountingPeriods: [
          { period: '2027-02', status: 'OPEN' },
          { period: '2027-03', status: 'CLOSED' },
        ],
      },
    });
    const s = await stopped({});
    await nothingWritten(s);
    expect(s.syncRun.exception.message).toBe(
      message(s.opportunityId, s.deal.name, 'period 2027-03 is closed (posting date 2027-03-15)'),
    );

    // Once finance reopens the period, a retry converts the deal.
    stack.stores.erp.reopenPeriod('2027-03');
    await gql(stack.gatewayUrl, 'mutation($id: ID!) { retryRun(id: $id) { status } }', { id: s.run.id });
    const done = await waitForRun(stack, s.run.id, ['SUCCEEDED', 'EXCEPTION']);
    expect(done.status).toBe('SUCCEEDED');
    const [customer] = await stack.stores.erp.getCustomersByCrmAccount([s.accountId]);
    const [project] = await stack.stores.psa.getProjectsByOpportunity([s.opportunityId]);
    expect((await stack.stores.crm.getOpportunities([s.opportunityId]))[0]).toMatchObject({
      psaProjectId: project!.id,
      erpCustomerId: customer!.id,
    });
  });

  it("stops when the deal's currency is not the one its customer is invoiced in", async () => {
    const s = await stopped({ currency: 'USD' });
    await nothingWritten(s);
    expect(s.syncRun.exception.message).toBe(
      message(
        s.opportunityId,
        s.deal.name,
        "the deal is in USD but delivery region 'UK' invoices in GBP (governance: deliveryRegions)",
      ),
    );
  });

  it("checks an existing customer's currency, not the region's", async () => {
    const first = await createWonOpportunity(stack.gatewayUrl, { deliveryRegion: 'DACH', currency: 'EUR' });
    const runId = (await convert(stack.gatewayUrl, first.opportunityId)).data!.convertOpportunityToProject.id;
    expect((await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION'])).status).toBe('SUCCEEDED');
    const [customer] = await stack.stores.erp.getCustomersByCrmAccount([first.accountId]);
    // A second deal for the same account, sold in GBP from the UK: the customer is invoiced in EUR.
    const s = await stopped({ accountId: first.accountId });
    expect(s.syncRun.exception.message).toBe(
      message(
        s.opportunityId,
        s.deal.name,
        `the deal is in GBP but ERP customer ${customer!.customerNumber} is invoiced in EUR`,
      ),
    );
    expect(await stack.stores.psa.getProjectsByOpportunity([s.opportunityId])).toEqual([null]);
    expect(await stack.stores.erp.getCustomersByCrmAccount([first.accountId])).toEqual([customer]);
  });

  it('lists every problem in one exception when several checks fail at once', async () => {
    stack.stores.erp.closePeriod('2027-03');
    const s = await stopped({ deliveryRegion: 'ALL_WRONG' });
    await nothingWritten(s);
    expect(s.syncRun.exception.message).toBe(
      message(
        s.opportunityId,
        s.deal.name,
        [
          "ERP has no legal entity 'ACME-UK' for delivery region 'ALL_WRONG'",
          "ERP has no tax jurisdiction 'XX' for legal entity 'ACME-UK'",
          "the deal is in GBP but delivery region 'ALL_WRONG' invoices in EUR (governance: deliveryRegions)",
          'period 2027-03 is closed (posting date 2027-03-15)',
        ].join('; '),
      ),
    );
    const open = await gql(
      stack.gatewayUrl,
      '{ exceptions(filter: { flow: "convertOpportunityToProject" }) { nodes { run { id } } } }',
    );
    expect(open.body.data.exceptions.nodes.filter((e: { run: { id: string } }) => e.run.id === s.run.id)).toHaveLength(
      1,
    );
  });

  it('refuses a malformed accounting period with a coded error', async () => {
    const { body } = await gql(stack.gatewayUrl, '{ accountingPeriods(periods: ["2027-13"]) { period status } }');
    expect(body.errors?.map((e) => [e.extensions?.code, e.extensions?.field, e.message])).toEqual([
      ['BAD_USER_INPUT', 'periods', "periods must be months written YYYY-MM; got '2027-13'"],
    ]);
  });
});
