import { loadGovernance } from '../../subgraphs/orchestration/governance/governance';
import { gql, startTestStack } from '../support/stack';
import { mulberry32 } from '../../lib/reference-faults';
import { createTestClock } from '../support/clock';
import { convert, createWonOpportunity, settleRuns, waitForRun } from '../support/runs';

const ERP_STEPS = ['ensureErpCustomer', 'pushProjectDimensions'];
const STEPS = ['validateOpportunity', 'ensureErpCustomer', 'createPsaProject', 'pushProjectDimensions', 'linkBack'];

describe('conversions under system faults', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  afterEach(() => stack.stop());

  it('completes every run with 30% of ERP calls throttled and a maintenance window, none early, nothing duplicated', async () => {
    // The worker and the ERP read one clock that moves only when no run is in flight (settleRuns): every backoff, with
    // its jitter up to the ERP's 30 s cap, and the window itself pass at once, in the order they are due.
    const clock = createTestClock();
    stack = await startTestStack({ clock: clock.now, workerOptions: { idlePollMs: 20, random: mulberry32(7) } });
    const created = await Promise.all(Array.from({ length: 8 }, () => createWonOpportunity(stack.gatewayUrl)));
    const maintenanceUntil = clock.now() + 60_000;
    stack.stores.erp.faults.set({ throttleRate: 0.3, retryAfterMs: 30, maintenanceUntil, seed: 11 });
    // When (on the shared clock) each run's ERP steps succeeded.
    const erpDoneAt: number[] = [];
    const seen = new Set<string>();
    const onRun = (run: { id: string; steps: { name: string; status: string }[] }) => {
      for (const s of run.steps)
        if (ERP_STEPS.includes(s.name) && s.status === 'SUCCEEDED' && !seen.has(`${run.id}:${s.name}`)) {
          seen.add(`${run.id}:${s.name}`);
          erpDoneAt.push(clock.now());
        }
    };
    stack.runEvents.on('run', onRun);
    const runIds = await Promise.all(
      created.map(async (c) => (await convert(stack.gatewayUrl, c.opportunityId)).data!.convertOpportunityToProject.id),
    );
    const runs = await settleRuns(stack, clock, runIds);
    stack.runEvents.off('run', onRun);
    stack.stores.erp.faults.set({});
    expect(runs.map((r) => r.status)).toEqual(Array(8).fill('SUCCEEDED'));
    // Every ERP step met the window, and none finished inside it.
    expect(erpDoneAt).toHaveLength(16);
    expect(erpDoneAt.every((at) => at >= maintenanceUntil)).toBe(true);
    // Each retry waited at least what the ERP asked for: the rest of the window, or its Retry-After when throttled.
    const retries = (await stack.stores.ledger.getAuditByRun(runIds))
      .flat()
      .filter((a) => a.action === 'STEP_RETRY_SCHEDULED')
      .map((a) => a.detail as { step: string; retryAt: string; error: { class: string; at: string } });
    expect(new Set(retries.map((r) => r.error.class))).toEqual(new Set(['MAINTENANCE', 'RATE_LIMITED']));
    const maintenance = retries.filter((r) => r.error.class === 'MAINTENANCE');
    expect(new Set(maintenance.map((r) => r.step))).toEqual(new Set(['ensureErpCustomer']));
    expect(maintenance.length).toBeGreaterThanOrEqual(8);
    for (const r of maintenance) expect(Date.parse(r.retryAt)).toBeGreaterThanOrEqual(maintenanceUntil);
    for (const r of retries.filter((x) => x.error.class === 'RATE_LIMITED'))
      expect(Date.parse(r.retryAt) - Date.parse(r.error.at)).toBeGreaterThanOrEqual(30);
    // Exactly one customer, one project and one set of dimensions per opportunity.
    for (const c of created) {
      const [customer] = await stack.stores.erp.getCustomersByCrmAccount([c.accountId]);
      const [project] = await stack.stores.psa.getProjectsByOpportunity([c.opportunityId]);
      const [dimensions] = await stack.stores.erp.getProjectDimensions([project!.id]);
      expect(dimensions).toMatchObject({ psaProjectId: project!.id, customerId: customer!.id });
    }
    const projects = (await stack.stores.psa.listProjects({ first: 1000, afterKey: null })).nodes;
    for (const c of created) expect(projects.filter((p) => p.opportunityId === c.opportunityId)).toHaveLength(1);
  });

  it('turns an ERP rejection into an exception naming the bad value, and completes after retryRunWithInput fixes it', async () => {
    const governance = loadGovernance();
    governance.deliveryRegions.UK = { ...governance.deliveryRegions.UK!, taxJurisdiction: 'XX' };
    stack = await startTestStack({ governance, workerOptions: { idlePollMs: 20 } });
    const { accountId, opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    const runId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
    const stopped = await waitForRun(stack, runId, ['EXCEPTION', 'SUCCEEDED']);
    expect(stopped.steps.map((s) => s.status)).toEqual(['SUCCEEDED', 'FAILED', 'PENDING', 'PENDING', 'PENDING']);
    const { body } = await gql(
      stack.gatewayUrl,
      'query($id: ID!) { syncRun(id: $id) { status exception { class system step message account { id } } } }',
      { id: runId },
    );
    expect(body).toEqual({
      data: {
        syncRun: {
          status: 'EXCEPTION',
          exception: {
            class: 'BAD_VALUE',
            system: 'erp',
            step: 'ensureErpCustomer',
            // Pre-flight finds what the ERP would reject before the conversion's first write (preflight.ts).
            message: `Opportunity '${opportunityId}' (${(stopped.steps[0]!.output as { name: string }).name}) was not converted, nothing was written: ERP has no tax jurisdiction 'XX' for legal entity 'MERIDIAN-UK'. Fix the data in the ERP, the CRM or governance (or correct the run with retryRunWithInput), then retry`,
            account: { id: accountId },
          },
        },
      },
    });
    // A correction that is no calendar day is refused by field before the run is touched.
    const badDate = await gql(
      stack.gatewayUrl,
      'mutation($id: ID!) { retryRunWithInput(id: $id, patch: { expectedStartDate: "2026-02-30" }) { status } }',
      { id: runId },
    );
    expect(badDate.body).toEqual({
      data: null,
      errors: [
        {
          message: "expectedStartDate must be a date written YYYY-MM-DD; got '2026-02-30'",
          path: ['retryRunWithInput'],
          extensions: {
            code: 'BAD_USER_INPUT',
            field: 'expectedStartDate',
            value: '2026-02-30',
            system: 'orchestration',
          },
        },
      ],
    });
    expect((await stack.stores.ledger.getRuns([runId]))[0]).toMatchObject({
      status: 'EXCEPTION',
      sequence: stopped.sequence,
    });
    const retried = await gql(
      stack.gatewayUrl,
      'mutation($id: ID!) { retryRunWithInput(id: $id, patch: { taxJurisdiction: "GB" }) { status } }',
      { id: runId },
    );
    expect(retried.body).toEqual({ data: { retryRunWithInput: { status: 'QUEUED' } } });
    const done = await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION']);
    expect(done.steps.map((s) => [s.name, s.status])).toEqual(STEPS.map((s) => [s, 'SUCCEEDED']));
    const [customer] = await stack.stores.erp.getCustomersByCrmAccount([accountId]);
    expect(customer).toMatchObject({ taxJurisdictionCode: 'GB', legalEntityCode: 'MERIDIAN-UK' });
    const open = await gql(
      stack.gatewayUrl,
      '{ exceptions { totalCount } resolved: exceptions(filter: { status: RESOLVED }) { nodes { resolution } } }',
    );
    expect(open.body).toEqual({
      data: {
        exceptions: { totalCount: 0 },
        resolved: { nodes: [{ resolution: 'Retried with {"taxJurisdiction":"GB"}' }] },
      },
    });
  });

  it('abandoning after step 3 undoes steps 3, 2 and 1 newest first and leaves the systems as before', async () => {
    stack = await startTestStack({ workerOptions: { idlePollMs: 20 } });
    const { accountId, opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    // Once the project exists (step 3), the ERP goes into maintenance so step 4 waits for a retry.
    const onRun = (run: { steps: { name: string; status: string }[] }) => {
      if (run.steps[2]?.status === 'SUCCEEDED') stack.stores.erp.faults.set({ maintenanceUntil: Date.now() + 60_000 });
    };
    stack.runEvents.on('run', onRun);
    const runId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
    const waiting = await waitForRun(stack, runId, ['WAITING_RETRY']);
    stack.runEvents.off('run', onRun);
    expect(waiting.steps.map((s) => s.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'PENDING', 'PENDING']);
    const projectId = (waiting.steps[2]!.output as { projectId: string }).projectId;
    stack.stores.erp.faults.set({});
    const abandoned = await gql(stack.gatewayUrl, 'mutation($id: ID!) { abandonRun(id: $id) { status } }', {
      id: runId,
    });
    expect(abandoned.body).toEqual({ data: { abandonRun: { status: 'COMPENSATING' } } });
    const end = await waitForRun(stack, runId, ['ABANDONED', 'COMPENSATION_FAILED']);
    expect(end.steps.map((s) => s.status)).toEqual(['COMPENSATED', 'COMPENSATED', 'COMPENSATED', 'PENDING', 'PENDING']);
    const audit = (await stack.stores.ledger.getAuditByRun([runId]))[0]!;
    expect(
      audit.filter((a) => a.action === 'STEP_COMPENSATED').map((a) => (a.detail as { step: string }).step),
    ).toEqual(['createPsaProject', 'ensureErpCustomer', 'validateOpportunity']);
    expect(audit.at(-1)!.action).toBe('RUN_ABANDONED');
    expect(await stack.stores.psa.getProjects([projectId])).toEqual([null]);
    expect(await stack.stores.erp.getCustomersByCrmAccount([accountId])).toEqual([null]);
    const [opportunity] = await stack.stores.crm.getOpportunities([opportunityId]);
    expect(opportunity).toMatchObject({ psaProjectId: null, erpCustomerId: null, stage: 'CLOSED_WON' });
  });
});
