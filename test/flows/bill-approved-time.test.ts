import { gql, startTestStack } from '../support/stack';
import { recordLeases, type LeaseLog } from '../support/leases';
import { waitForRun } from '../support/runs';
import { extendMinor, fromMinor } from '../../lib/money';

/** Shorter than one ERP call of the slow-step test (200 ms), so its lease lapses mid-step. */
const LEASE_MS = 150;

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
    // A lease shorter than one batch: the run is taken over mid-step, and the first holder's late commits are refused.
    let leases: LeaseLog | undefined;
    const slow = await startTestStack({
      workerOptions: { idlePollMs: 10, leaseMs: LEASE_MS },
      faults: { erp: { latencyMs: 200 } },
      wrapConnector: (system, connector) => {
        if (system !== 'orchestration') return connector;
        const recorded = recordLeases(connector);
        leases = recorded.log;
        return recorded.ledger;
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
      const runId = (
        await gql(slow.gatewayUrl, 'mutation($p: ID!) { billApprovedTime(input: { projectId: $p }) { id } }', {
          p: projectId,
        })
      ).body.data!.billApprovedTime.id;
      const run = await waitForRun(slow, runId, ['SUCCEEDED', 'EXCEPTION']);
      expect(run.status).toBe('SUCCEEDED');
      // The takeover happened: the run was claimed under more than one lease token, and a holder that had lost its
      // lease was refused when it came back to heartbeat or commit.
      expect(leases!.tokens(runId).length).toBeGreaterThanOrEqual(2);
      const refused = leases!.refused.filter((r) => r.runId === runId);
      expect(refused.length).toBeGreaterThanOrEqual(1);
      expect(refused.every((r) => leases!.tokens(runId).slice(0, -1).includes(r.token))).toBe(true);
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
      await slow.stop();
    }
  });
});
