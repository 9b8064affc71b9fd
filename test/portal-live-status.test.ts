import { loadTrustedDocuments } from '../gateway/plugins/trusted-documents';
import { createTestClock } from './support/clock';
import { convert, createAccount, createWonOpportunity, settleRuns, waitForRun } from './support/runs';
import { startTestStack, tokenFor } from './support/stack';
import { subscribe, wsClient } from './support/ws-client';

/**
 * A portal user watches the runs of its own accounts live, through the manifest's `PortalRunUpdated` over real
 * graphql-ws, and is refused another account's run exactly as an unknown one (NOT_FOUND), by the orchestration
 * subgraph's own tenant scope.
 */
const PORTAL_RUN_UPDATED = loadTrustedDocuments().operations.find((o) => o.name === 'PortalRunUpdated')!.body;

describe('portal live status', () => {
  const clock = createTestClock();
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    // The ERP throttles every call with an hour's Retry-After: a conversion then waits after its first step, its
    // account known, until the test moves the clock.
    stack = await startTestStack({
      relay: true,
      clock: clock.now,
      faults: { erp: { throttleRate: 1, retryAfterMs: 3_600_000 } },
    });
  });
  afterAll(() => stack.stop());

  it("streams a run of the portal's own account to its end, and refuses another account's with NOT_FOUND", async () => {
    const { accountId, opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    const otherAccount = await createAccount(stack.gatewayUrl);
    const runId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
    // The run is due when it was queued (on the system clock, which the test clock has fallen behind).
    const [queued] = await stack.stores.ledger.getRuns([runId]);
    clock.advanceTo(queued!.nextAttemptAt);
    stack.worker!.wake();
    const waiting = await waitForRun(stack, runId, ['WAITING_RETRY']);
    expect(waiting.accountId).toBe(accountId);

    const own = wsClient(stack.gateway.wsUrl, `Bearer ${await tokenFor('portal', { accounts: [accountId] })}`);
    const other = wsClient(stack.gateway.wsUrl, `Bearer ${await tokenFor('portal', { accounts: [otherAccount] })}`);
    try {
      const watching = subscribe(own, PORTAL_RUN_UPDATED, { id: runId });
      const [first] = await watching.received(1);
      expect(first).toEqual({
        data: {
          syncRunUpdated: {
            id: runId,
            flow: 'convertOpportunityToProject',
            status: 'WAITING_RETRY',
            sequence: waiting.sequence,
            updatedAt: expect.any(String),
            account: { id: accountId, name: expect.stringMatching(/^Test Client/) },
            project: null,
          },
        },
      });

      const refused = subscribe(other, PORTAL_RUN_UPDATED, { id: runId });
      await refused.done;
      expect(refused.results).toEqual([
        { errors: [{ message: `No sync run '${runId}'`, extensions: { code: 'NOT_FOUND', value: runId } }] },
      ]);

      stack.stores.erp.faults.set({});
      const [settled] = await settleRuns(stack, clock, [runId]);
      expect(settled!.status).toBe('SUCCEEDED');
      await watching.done;
      const states = watching.results.map((r) => (r.data as { syncRunUpdated: Record<string, any> }).syncRunUpdated);
      // Every later change once, in order, to the end; the project appears once the PSA created it.
      expect(states.map((s) => s.sequence)).toEqual(
        Array.from({ length: settled!.sequence - waiting.sequence + 1 }, (_, i) => waiting.sequence + i),
      );
      expect(states.at(-1)).toEqual({
        id: runId,
        flow: 'convertOpportunityToProject',
        status: 'SUCCEEDED',
        sequence: settled!.sequence,
        updatedAt: expect.any(String),
        account: { id: accountId, name: expect.stringMatching(/^Test Client/) },
        project: { id: settled!.projectId, code: expect.any(String), name: expect.any(String) },
      });
    } finally {
      await own.dispose();
      await other.dispose();
    }
  });
});
