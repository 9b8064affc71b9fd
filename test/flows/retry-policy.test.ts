import { MeridianError } from '../../lib/errors';
import { loadGovernance } from '../../subgraphs/orchestration/governance/governance';
import type { PsaConnector } from '../../subgraphs/psa/connector/psa-connector';
import { createTestClock } from '../support/clock';
import { settleRuns } from '../support/runs';
import { gql, startTestStack } from '../support/stack';

/*
 * Issue 9: a step that calls two systems retries each call by the policy of the system that failed, not by the step's
 * own. billWork is an ERP step that also asks the PSA to mark the entries billed: a PSA that keeps throttling that call
 * is given up on after the PSA's attempts (2 here), where the ERP's policy (12) would go on.
 */
describe('retry policy per call', () => {
  const clock = createTestClock();
  const governance = loadGovernance();
  governance.retry.psa = { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 50 };
  governance.retry.erp = { maxAttempts: 12, baseDelayMs: 10, maxDelayMs: 50 };
  let throttled = 0;
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack({
      clock: clock.now,
      governance,
      workerOptions: { idlePollMs: 10 },
      wrapConnector: (system, connector) =>
        system !== 'psa'
          ? connector
          : (new Proxy(connector as unknown as PsaConnector, {
              get(target, prop, receiver) {
                const value = Reflect.get(target, prop, receiver) as unknown;
                if (prop !== 'markBilled') return value;
                return async () => {
                  throttled += 1;
                  throw new MeridianError('RATE_LIMITED', 'PSA API budget exhausted; retry later', {
                    retryAfterMs: 20,
                  });
                };
              },
            }) as unknown as typeof connector),
    });
  });
  afterAll(() => stack.stop());

  it("gives up on a PSA call inside an ERP step after the PSA's attempts, and says so", async () => {
    // A project billed by rate card (time-and-materials) with approved work to bill.
    const projectId = (await stack.stores.psa.listProjectsWithBillableWork({ first: 1000, afterKey: null })).nodes.find(
      (p) => p.billingModel === 'TIME_AND_MATERIALS',
    )!.id;
    const runId = (
      await gql(stack.gatewayUrl, 'mutation($p: ID!) { billApprovedTime(input: { projectId: $p }) { id } }', {
        p: projectId,
      })
    ).body.data!.billApprovedTime.id as string;
    clock.advanceTo(Date.now());
    const [run] = await settleRuns(stack, clock, [runId]);
    const billWork = run!.steps.find((s) => s.name === 'billWork')!;
    expect([run!.status, billWork.attempts, billWork.error?.class, billWork.error?.system]).toEqual([
      'EXCEPTION',
      2,
      'RATE_LIMITED',
      'psa',
    ]);
    expect(billWork.error?.message).toMatch(/^Gave up after 2 attempts/);
    expect(throttled).toBe(2);
  });
});
