import { generateAccounts } from '../../seed/generate';
import { loadGovernance } from '../../subgraphs/orchestration/governance/governance';
import { startTestStack } from '../support/stack';
import { waitForRun } from '../support/runs';

describe('trigger poller', () => {
  const seeded = generateAccounts(1, 7);
  const waiting = seeded.crm.opportunities.filter((o) => o.stage === 'CLOSED_WON' && o.psaProjectId === null).map((o) => o.id);
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  afterEach(() => stack.stop());

  it('converts every closed-won deal not yet converted and bills approved time, once, as event-triggered runs', async () => {
    expect(waiting.length).toBeGreaterThan(0);
    stack = await startTestStack({ seedAccounts: 6, triggers: { intervalMs: 3_600_000 }, workerOptions: { idlePollMs: 20 } });
    await stack.triggers!.pollOnce();
    const runs = (await stack.stores.ledger.listRuns({ first: 1000, afterKey: null })).nodes;
    const conversions = runs.filter((r) => r.flow === 'convertOpportunityToProject');
    expect(conversions.map((r) => [r.opportunityId, r.triggeredBy]).sort()).toEqual(waiting.map((id) => [id, 'event:opportunity.closed_won']).sort());
    const billing = runs.filter((r) => r.flow === 'billApprovedTime');
    expect(billing.length).toBeGreaterThan(0);
    expect(billing.every((r) => r.triggeredBy === 'event:time.approved')).toBe(true);
    const done = await Promise.all(runs.map((r) => waitForRun(stack, r.id, ['SUCCEEDED', 'EXCEPTION'])));
    expect(done.map((r) => r.status)).toEqual(runs.map(() => 'SUCCEEDED'));
    // Everything it found is done, so a second look starts nothing.
    expect(await stack.triggers!.pollOnce()).toBe(0);
    const [opportunity] = await stack.stores.crm.getOpportunities([waiting[0]!]);
    expect(opportunity!.psaProjectId).toMatch(/^PRJ-/);
  });

  it('starts nothing for a flow whose trigger is switched off in governance', async () => {
    const governance = loadGovernance();
    governance.triggers.convertOpportunityToProject = false;
    governance.triggers.billApprovedTime = false;
    stack = await startTestStack({ seedAccounts: 6, governance, triggers: { intervalMs: 3_600_000 } });
    expect(await stack.triggers!.pollOnce()).toBe(0);
    expect((await stack.stores.ledger.listRuns({ first: 0, afterKey: null })).totalCount).toBe(0);
  });
});
