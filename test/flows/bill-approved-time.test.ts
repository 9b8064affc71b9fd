import { gql, startTestStack } from '../support/stack';
import { createTestClock } from '../support/clock';
import { recordLeases, type LeaseLog } from '../support/leases';
import { waitForRun } from '../support/runs';
import { extendMinor, fromMinor } from '../../lib/money';

/** The worker's lease in the slow-step test; its clock is moved past it while the step waits on the ERP. */
const LEASE_MS = 30_000;

describe('flow billApprovedTime', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack({ workerOptions: { idlePollMs: 20 } });
  });
  afterAll(() => stack.stop());

  const bill = async (projectId: string, key?: string) =>
    (
      await gql(
        stack.gatewayUrl,
        'mutation($input: BillApprovedTimeInput!) { billApprovedTime(input: $input) { id status } }',
        { input: { projectId, ...(key ? { idempotencyKey: key } : {}) } },
      )
    ).body;

  it('turns every approved, billable, unbilled entry into one ERP line at its rate and marks it billed, in batches', async () => {
    const [projectId] = (await stack.stores.psa.listProjectsWithBillableWork({ first: 1, afterKey: null })).nodes.map(
      (p) => p.id,
    );
    // 1,100 more approved entries on top of the seeded ones, so the run needs three batches of 500.
    const project = (await stack.stores.psa.getProjects([projectId!]))[0]!;
    const submitted = await stack.stores.psa.submitTimeEntries(
      'bill-test-1',
      Array.from({ length: 1100 }, (_, i) => ({
        projectId: projectId!,
        resourceId: 'RES-000003',
        role: null,
        date: `2026-10-${String((i % 28) + 1).padStart(2, '0')}`,
        hoursHundredths: 25 * ((i % 30) + 1),
        billable: true,
        notes: null,
      })),
    );
    await stack.stores.psa.approveTimeEntries(submitted.map((e) => e.id));
    const readyCount = (
      await stack.stores.psa.listTimeEntries(
        projectId!,
        { first: 1000, afterKey: null },
        { status: 'APPROVED', billable: true },
      )
    ).totalCount;

    const started = await bill(projectId!);
    const runId = started.data!.billApprovedTime.id;
    const run = await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION']);
    expect(run.status).toBe('SUCCEEDED');
    const summary = run.steps[1]!.output as {
      batches: number;
      timeEntries: number;
      expenses: number;
      totals: Record<string, string>;
    };
    expect(summary).toMatchObject({ projectId, batches: 3, timeEntries: readyCount });

    // PSA: nothing left to bill: every entry that was ready is BILLED now.
    const after = await stack.stores.psa.getBillableWork(projectId!, { first: 1000, until: null });
    expect([after.timeEntries.length, after.expenses.length]).toEqual([0, 0]);
    expect(
      (
        await stack.stores.psa.listTimeEntries(
          projectId!,
          { first: 0, afterKey: null },
          { status: 'APPROVED', billable: true },
        )
      ).totalCount,
    ).toBe(0);

    // ERP: exactly one line per entry, priced at the rate card's rate.
    const [lines] = await stack.stores.erp.getBillingLinesByProject([projectId!]);
    const runLines = lines!.filter((l) => l.externalId.startsWith('time:') || l.externalId.startsWith('expense:'));
    const bySource = new Map<string, number>();
    for (const l of runLines) bySource.set(l.sourceId, (bySource.get(l.sourceId) ?? 0) + 1);
    expect([...bySource.values()].every((n) => n === 1)).toBe(true);
    expect(runLines.filter((l) => l.sourceType === 'TIME')).toHaveLength(readyCount);
    const rateCard = (await stack.stores.psa.getRateCards([project.rateCardId]))[0]!;
    const rate = rateCard.rates.find((r) => r.role === 'Senior Consultant')!.rateMinor;
    const line = runLines.find((l) => l.sourceId === submitted[3]!.id)!;
    expect(line).toMatchObject({
      quantityHundredths: 100,
      unitPriceMinor: rate,
      amountMinor: Number(extendMinor(100, rate)),
      currency: project.currency,
    });
    const total = runLines.reduce((s, l) => s + l.amountMinor, 0);
    expect(summary.totals).toEqual({ [project.currency]: fromMinor(total, project.currency) });

    // A second run finds nothing more to bill and posts nothing.
    const again = (await bill(projectId!)).data!.billApprovedTime.id;
    expect(again).not.toBe(runId);
    expect((await waitForRun(stack, again, ['SUCCEEDED'])).steps[1]!.output).toEqual({
      projectId,
      batches: 0,
      timeEntries: 0,
      expenses: 0,
      totals: {},
      postingDate: null,
      skipped: [],
    });
    const [linesAfter] = await stack.stores.erp.getBillingLinesByProject([projectId!]);
    expect(linesAfter).toHaveLength(lines!.length);
  });

  it('stops with MISSING_REFERENCE for an unknown project', async () => {
    const runId = (await bill('PRJ-9999999')).data!.billApprovedTime.id;
    const run = await waitForRun(stack, runId, ['EXCEPTION']);
    expect(run.steps[0]!.error).toMatchObject({ class: 'MISSING_REFERENCE', system: 'psa', code: 'NOT_FOUND' });
  });

  it('bills every entry once when a slow step outlives its lease and another worker loop takes the run over', async () => {
    // The worker's clock moves only when the test says. The first holder's first ERP posting is held until the clock
    // has passed its lease and another loop has claimed the run and billed it all; then it goes on, late.
    const clock = createTestClock();
    let leases: LeaseLog | undefined;
    let runId = '';
    let held: Promise<void> | null = null;
    let release!: () => void;
    const slow = await startTestStack({
      clock: clock.now,
      workerOptions: { idlePollMs: 10, leaseMs: LEASE_MS },
      wrapConnector: (system, connector) => {
        if (system === 'orchestration') {
          const recorded = recordLeases(connector);
          leases = recorded.log;
          return recorded.ledger;
        }
        if (system !== 'erp') return connector;
        return new Proxy(connector, {
          get(target, prop, receiver) {
            const value = Reflect.get(target, prop, receiver) as unknown;
            if (prop !== 'postBillingLines' || typeof value !== 'function') return value;
            return async (...args: unknown[]) => {
              if (!held) {
                // The step in hand outlives its lease; the next call is the new holder's and goes straight through.
                held = new Promise<void>((resolve) => {
                  release = resolve;
                });
                clock.advanceBy(LEASE_MS + 1);
                await held;
              }
              return (value as (...a: unknown[]) => unknown).apply(target, args);
            };
          },
        });
      },
    });
    try {
      const [projectId] = (await slow.stores.psa.listProjectsWithBillableWork({ first: 1, afterKey: null })).nodes.map(
        (p) => p.id,
      );
      const submitted = await slow.stores.psa.submitTimeEntries(
        'lease-test-1',
        Array.from({ length: 1200 }, (_, i) => ({
          projectId: projectId!,
          resourceId: 'RES-000002',
          role: null,
          date: '2026-10-20',
          hoursHundredths: 100 + i,
          billable: true,
          notes: null,
        })),
      );
      await slow.stores.psa.approveTimeEntries(submitted.map((e) => e.id));
      const ready = (
        await slow.stores.psa.listTimeEntries(
          projectId!,
          { first: 0, afterKey: null },
          { status: 'APPROVED', billable: true },
        )
      ).totalCount;
      runId = (
        await gql(slow.gatewayUrl, 'mutation($p: ID!) { billApprovedTime(input: { projectId: $p }) { id } }', {
          p: projectId,
        })
      ).body.data!.billApprovedTime.id;
      // The run was queued on the system clock; the worker's clock catches up to it.
      clock.advanceTo(Date.now());
      const run = await waitForRun(slow, runId, ['SUCCEEDED', 'EXCEPTION']);
      expect(run.status).toBe('SUCCEEDED');
      // The first holder comes back: its posting is deduplicated, and its heartbeat or commit refused.
      release();
      const [first, second] = leases!.tokens(runId);
      expect([first, second].every(Boolean)).toBe(true);
      await leases!.until((log) => log.refused.some((r) => r.runId === runId && r.token === first));
      expect(leases!.tokens(runId)).toEqual([first, second]);
      const [lines] = await slow.stores.erp.getBillingLinesByProject([projectId!]);
      const timeLines = lines!.filter((l) => l.externalId.startsWith('time:'));
      expect([timeLines.length, new Set(timeLines.map((l) => l.sourceId)).size]).toEqual([ready, ready]);
      expect(
        (
          await slow.stores.psa.listTimeEntries(
            projectId!,
            { first: 0, afterKey: null },
            { status: 'APPROVED', billable: true },
          )
        ).totalCount,
      ).toBe(0);
    } finally {
      if (held) release();
      await slow.stop();
    }
  });
});
