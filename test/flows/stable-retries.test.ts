import { todayUtc } from '../../lib/dates';
import type { BillingSummary } from '../../subgraphs/orchestration/flows/bill-approved-time';
import { createTestClock } from '../support/clock';
import { recordLeases, type LeaseLog } from '../support/leases';
import { convert, createWonOpportunity, waitForRun } from '../support/runs';
import { startTsx, waitForOutput, type Child } from '../support/processes';
import { gql, secretEnv, startTestStack } from '../support/stack';

const DAY_MS = 86_400_000;
const LEASE_MS = 30_000;

/**
 * A step fixes what it derives from the clock or from reference data that may change (posting date, rates) at its
 * first attempt, stored with the step in the ledger, so that a retry on another day, after the rate card changed,
 * posts byte-identical lines, which the ERP then deduplicates instead of refusing (DUPLICATE_EXTERNAL_ID).
 */
describe('stable retries', () => {
  it('resumes a billing run that crashed before marking its batch billed, the next day after a rate change: one line per entry, at the first attempt’s date and rate', async () => {
    const clock = createTestClock();
    let leases: LeaseLog | undefined;
    let held: Promise<void> | null = null;
    let release!: () => void;
    let crashed!: () => void;
    const posted = new Promise<void>((resolve) => {
      crashed = resolve;
    });
    const stack = await startTestStack({
      clock: clock.now,
      workerOptions: { idlePollMs: 10, leaseMs: LEASE_MS },
      wrapConnector: (system, connector) => {
        if (system === 'orchestration') {
          const recorded = recordLeases(connector);
          leases = recorded.log;
          return recorded.ledger;
        }
        if (system !== 'psa') return connector;
        // The first worker posts its first batch to the ERP, then dies before the PSA marks it billed: its call never
        // returns, and its lease lapses. Every later call goes straight through.
        return new Proxy(connector, {
          get(target, prop, receiver) {
            const value = Reflect.get(target, prop, receiver) as unknown;
            if (prop !== 'markBilled' || typeof value !== 'function') return value;
            return async (...args: unknown[]) => {
              if (!held) {
                held = new Promise<void>((resolve) => {
                  release = resolve;
                });
                crashed();
                await held;
              }
              return (value as (...a: unknown[]) => unknown).apply(target, args);
            };
          },
        });
      },
    });
    try {
      const { opportunityId } = await createWonOpportunity(stack.gatewayUrl, { billingModel: 'TIME_AND_MATERIALS' });
      const conversionId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
      clock.advanceTo(Date.now());
      const conversion = await waitForRun(stack, conversionId, ['SUCCEEDED', 'EXCEPTION']);
      expect(conversion.status).toBe('SUCCEEDED');
      const projectId = conversion.projectId!;
      const [project] = await stack.stores.psa.getProjects([projectId]);
      const [card] = await stack.stores.psa.getRateCards([project!.rateCardId]);

      // 700 approved entries: two batches of the step, so the resumed attempt re-posts the first and posts the second.
      const entries = await stack.stores.psa.submitTimeEntries(
        'stable-retries-1',
        Array.from({ length: 700 }, (_, i) => ({
          projectId,
          resourceId: 'RES-000003',
          role: null,
          date: `2026-10-${String((i % 28) + 1).padStart(2, '0')}`,
          hoursHundredths: 50 + i,
          billable: true,
          notes: null,
        })),
      );
      await stack.stores.psa.approveTimeEntries(entries.map((e) => e.id));
      const role = entries[0]!.role;
      const firstRate = card!.rates.find((r) => r.role === role)!.rateMinor;

      const runId = (
        await gql(stack.gatewayUrl, 'mutation($p: ID!) { billApprovedTime(input: { projectId: $p }) { id } }', {
          p: projectId,
        })
      ).body.data!.billApprovedTime.id;
      clock.advanceTo(Date.now());
      const firstDay = todayUtc(new Date(clock.now()));
      await posted;
      const [afterCrash] = await stack.stores.erp.getBillingLinesByProject([projectId]);
      expect(afterCrash).toHaveLength(500);

      // Overnight the rate card changes; the next morning the run's lease has long lapsed and another worker takes it.
      stack.stores.psa.setRateCardRates(
        card!.id,
        card!.rates.map((r) => ({ role: r.role, rateMinor: r.rateMinor + 2500 })),
      );
      clock.advanceTo((Math.floor(clock.now() / DAY_MS) + 1) * DAY_MS + 3_600_000);
      const nextDay = todayUtc(new Date(clock.now()));
      expect(nextDay).not.toBe(firstDay);
      stack.worker!.wake();
      const run = await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION']);
      expect([run.status, run.steps[1]!.error]).toEqual(['SUCCEEDED', null]);
      expect(run.steps[1]!.output as BillingSummary).toMatchObject({
        batches: 2,
        timeEntries: 700,
        postingDate: firstDay,
      });
      // Two holders: the first, which crashed, and the one that took the run over and finished it.
      expect(leases!.tokens(runId)).toHaveLength(2);

      // ERP: one line per entry, every one at the first attempt's date and rate, though the card now says otherwise.
      const [lines] = await stack.stores.erp.getBillingLinesByProject([projectId]);
      expect(lines).toHaveLength(700);
      expect(new Set(lines!.map((l) => l.sourceId))).toEqual(new Set(entries.map((e) => e.id)));
      expect(new Set(lines!.map((l) => `${l.postingDate} ${l.unitPriceMinor}`))).toEqual(
        new Set([`${firstDay} ${firstRate}`]),
      );
      const [cardNow] = await stack.stores.psa.getRateCards([card!.id]);
      expect(cardNow!.rates.find((r) => r.role === role)!.rateMinor).toBe(firstRate + 2500);
      // PSA: every entry billed, none left.
      expect((await stack.stores.psa.getBillableWork(projectId, { first: 10, until: null })).timeEntries).toEqual([]);
    } finally {
      if (held) release();
      await stack.stop();
    }
  });

  it('does the same when the worker is killed with SIGKILL after posting and the survivor runs on the next day', async () => {
    const children: Child[] = [];
    const stack = await startTestStack({ worker: false, seedAccounts: 2 });
    try {
      const worker = (extra: Record<string, string>) => {
        const child = startTsx('test/support/crash-worker.ts', {
          DATA_DIR: stack.dataDir,
          CRM_URL: stack.urls.crm,
          PSA_URL: stack.urls.psa,
          ERP_URL: stack.urls.erp,
          ...secretEnv(stack.secrets),
          LEASE_MS: '800',
          ...extra,
        });
        children.push(child);
        return child;
      };
      const { opportunityId } = await createWonOpportunity(stack.gatewayUrl, { billingModel: 'TIME_AND_MATERIALS' });
      const conversionId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
      const converter = worker({});
      await waitForOutput(converter, new RegExp(`RUN ${conversionId} SUCCEEDED`));
      await converter.stop();
      const [conversion] = await stack.stores.ledger.getRuns([conversionId]);
      const projectId = conversion!.projectId!;
      const [project] = await stack.stores.psa.getProjects([projectId]);
      const [card] = await stack.stores.psa.getRateCards([project!.rateCardId]);
      const entries = await stack.stores.psa.submitTimeEntries(
        'stable-retries-2',
        Array.from({ length: 3 }, (_, i) => ({
          projectId,
          resourceId: 'RES-000003',
          role: null,
          date: `2026-10-0${i + 1}`,
          hoursHundredths: 300 + i * 25,
          billable: true,
          notes: null,
        })),
      );
      await stack.stores.psa.approveTimeEntries(entries.map((e) => e.id));
      const firstRate = card!.rates.find((r) => r.role === entries[0]!.role)!.rateMinor;
      const runId = (
        await gql(stack.gatewayUrl, 'mutation($p: ID!) { billApprovedTime(input: { projectId: $p }) { id } }', {
          p: projectId,
        })
      ).body.data!.billApprovedTime.id;

      // The batch is in the ERP, not yet marked billed in the PSA, when the worker dies.
      const firstDay = todayUtc();
      const doomed = worker({ CRASH_AT: 'erp.postBillingLines#1' });
      await new Promise<void>((resolve) => doomed.process.once('close', () => resolve()));
      expect([doomed.process.signalCode, doomed.output().includes('CRASH erp.postBillingLines#1')]).toEqual([
        'SIGKILL',
        true,
      ]);
      const [posted] = await stack.stores.erp.getBillingLinesByProject([projectId]);
      expect(posted!.map((l) => `${l.postingDate} ${l.unitPriceMinor}`)).toEqual(
        entries.map(() => `${firstDay} ${firstRate}`),
      );

      // Overnight the rate card changes; a worker whose clock reads the next morning takes the run over.
      stack.stores.psa.setRateCardRates(
        card!.id,
        card!.rates.map((r) => ({ role: r.role, rateMinor: r.rateMinor + 1000 })),
      );
      const nextMorning = (Math.floor(Date.now() / DAY_MS) + 1) * DAY_MS + 3_600_000;
      const survivor = worker({ CLOCK_OFFSET_MS: String(nextMorning - Date.now()) });
      await waitForOutput(survivor, new RegExp(`RUN ${runId} (SUCCEEDED|EXCEPTION)`));
      await survivor.stop();
      const [run] = await stack.stores.ledger.getRuns([runId]);
      expect([run!.status, run!.steps[1]!.error]).toEqual(['SUCCEEDED', null]);
      const [lines] = await stack.stores.erp.getBillingLinesByProject([projectId]);
      expect(lines).toEqual(posted);
      expect((await stack.stores.psa.getBillableWork(projectId, { first: 10, until: null })).timeEntries).toEqual([]);
    } finally {
      await Promise.all(children.map((c) => c.stop()));
      await stack.stop();
    }
  }, 60_000);
});
