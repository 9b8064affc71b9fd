import type { RunRecord } from '../../subgraphs/orchestration/engine/ledger';
import { createTestClock } from '../support/clock';
import { convert, createWonOpportunity, waitForRun } from '../support/runs';
import { gql, startTestStack } from '../support/stack';

/** Resolves with the first change of run `runId` that `predicate` accepts. */
function runChange(
  stack: Awaited<ReturnType<typeof startTestStack>>,
  runId: string,
  predicate: (run: RunRecord) => boolean,
): Promise<RunRecord> {
  return new Promise((resolve) => {
    const onRun = (run: RunRecord) => {
      if (run.id !== runId || !predicate(run)) return;
      stack.runEvents.off('run', onRun);
      resolve(run);
    };
    stack.runEvents.on('run', onRun);
  });
}

describe('a compensation that fails for a while', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  afterEach(() => stack.stop());

  it('is retried durably: recorded with its next attempt, the lease let go, then undone once due', async () => {
    // One clock for the worker and the ERP's maintenance window: it moves only when the test moves it, so a worker
    // that slept on the retry (holding the lease) would never get there.
    const clock = createTestClock();
    stack = await startTestStack({ clock: clock.now, workerOptions: { idlePollMs: 20, random: () => 0.5 } });
    const { accountId, opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    const maintenanceUntil = clock.now() + 600_000;
    // Once the project exists (step 3), the ERP goes into maintenance: step 4 waits, and so will undoing step 2.
    const onRun = (run: RunRecord) => {
      if (run.steps[2]?.status === 'SUCCEEDED') stack.stores.erp.faults.set({ maintenanceUntil });
    };
    stack.runEvents.on('run', onRun);
    const runId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
    // The ledger stamps a queued or abandoned run due at the system time; the test's clock catches up to it.
    const catchUp = () => {
      clock.advanceTo(Date.now());
      stack.worker!.wake();
    };
    catchUp();
    await waitForRun(stack, runId, ['WAITING_RETRY']);
    stack.runEvents.off('run', onRun);

    const scheduled = runChange(stack, runId, (r) => r.steps[1]!.compensationAttempts === 1);
    const abandoned = await gql(stack.gatewayUrl, 'mutation($id: ID!) { abandonRun(id: $id) { status } }', {
      id: runId,
    });
    expect(abandoned.body).toEqual({ data: { abandonRun: { status: 'COMPENSATING' } } });
    catchUp();
    const waiting = await scheduled;
    expect([waiting.status, waiting.steps.map((s) => s.status), waiting.steps[1]!.error?.class]).toEqual([
      'COMPENSATING',
      ['SUCCEEDED', 'SUCCEEDED', 'COMPENSATED', 'PENDING', 'PENDING'],
      'MAINTENANCE',
    ]);
    expect(waiting.nextAttemptAt).toBeGreaterThanOrEqual(maintenanceUntil);
    // The lease is let go: nobody may take the run before it is due, anybody may once it is.
    expect(await stack.stores.ledger.claimRun('probe:1', 1000, waiting.nextAttemptAt - 1)).toBeNull();

    const ended = runChange(stack, runId, (r) => r.status === 'ABANDONED' || r.status === 'COMPENSATION_FAILED');
    clock.advanceTo(waiting.nextAttemptAt);
    stack.worker!.wake();
    const end = await ended;
    expect(end.steps.map((s) => [s.status, s.compensationAttempts])).toEqual([
      ['COMPENSATED', 1],
      ['COMPENSATED', 2],
      ['COMPENSATED', 1],
      ['PENDING', 0],
      ['PENDING', 0],
    ]);
    const audit = (await stack.stores.ledger.getAuditByRun([runId]))[0]!;
    expect(
      audit
        .filter((a) => a.action.includes('COMPENSAT') || a.action === 'RUN_ABANDONED')
        .map((a) => [a.action, (a.detail as { step?: string } | null)?.step ?? null]),
    ).toEqual([
      ['STEP_COMPENSATED', 'createPsaProject'],
      ['COMPENSATION_RETRY_SCHEDULED', 'ensureErpCustomer'],
      ['STEP_COMPENSATED', 'ensureErpCustomer'],
      ['STEP_COMPENSATED', 'validateOpportunity'],
      ['RUN_ABANDONED', null],
    ]);
    expect(await stack.stores.erp.getCustomersByCrmAccount([accountId])).toEqual([null]);
  });
});
