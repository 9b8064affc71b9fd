import { intFromEnv } from '../../lib/env';
import { createRedisBus, type RedisBus } from '../../lib/event-bus/redis-bus';
import type { RunEvent } from '../../lib/event-bus/event-bus';
import { silentLogger } from '../../lib/logger';
import { queueRun } from '../../subgraphs/orchestration/engine/queue-run';
import { FLOWS } from '../../subgraphs/orchestration/flows/index';
import type { Flow } from '../../subgraphs/orchestration/flows/flow';
import { nextStatus, recordEvents, type EventRecorder } from '../support/event-recorder';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import { startTsx, waitForOutput, type Child } from '../support/processes';
import { startRedisServer, type RedisServer } from '../support/redis-server';
import { secretEnv, startTestStack } from '../support/stack';

/*
 * Many processes, one truth: worker processes (`npm run start:worker`'s entry point) on one PostgreSQL ledger and one
 * Redis, one of them SIGKILLed and restarted each time another fifth of the runs has finished. The issue asks for 300
 * conversions and 10 projects; the suite runs SCALE_TEST_CONVERSIONS (default 40) and SCALE_TEST_PROJECTS (default 4)
 * so `npm test` stays within its time on two shared cores: `SCALE_TEST_CONVERSIONS=300 SCALE_TEST_PROJECTS=10`
 * runs the full size.
 */
const CONVERSIONS = intFromEnv(process.env, 'SCALE_TEST_CONVERSIONS', 40, 1);
const PROJECTS = intFromEnv(process.env, 'SCALE_TEST_PROJECTS', 4, 1);
const WORKERS = 3;
const flow = (name: string) => FLOWS.find((f) => f.name === name)! as Flow<unknown>;
const OPS = { subject: 'scale-test', role: 'operations' as const, correlationId: null };

describe('three worker processes on one PostgreSQL ledger', () => {
  let database: TestDatabase;
  let redis: RedisServer;
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  let bus: RedisBus;
  let delivered: EventRecorder;
  const children: Child[] = [];
  let generation = 0;

  beforeAll(async () => {
    [database, redis] = await Promise.all([createTestDatabase(), startRedisServer()]);
    stack = await startTestStack({
      worker: false,
      relay: false,
      databaseUrl: database.url,
      seedAccounts: 8 * PROJECTS,
    });
    bus = createRedisBus({ url: redis.url, logger: silentLogger() });
    await nextStatus(bus, 'up');
    delivered = recordEvents(bus);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(children.map((c) => c.stop()));
    delivered?.unsubscribe();
    await bus?.close();
    await stack?.stop();
    await redis?.stop();
    await database?.drop();
  });

  /** Starts worker process `slot`, resolved once it runs (and has asked for the leaderships). */
  async function startWorkerProcess(slot: number): Promise<Child> {
    const owner = `worker-${slot}-${++generation}`;
    const child = startTsx('subgraphs/orchestration/worker-main.ts', {
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      CRM_URL: stack.urls.crm,
      PSA_URL: stack.urls.psa,
      ERP_URL: stack.urls.erp,
      ...secretEnv(stack.secrets),
      WORKER_OWNER: owner,
      LEASE_MS: '2000',
      LEADER_LEASE_MS: '1500',
      WORKER_POLL_MS: '100',
      WORKER_CONCURRENCY: '4',
      LEDGER_POOL_SIZE: '5',
      TRIGGERS: '0',
    });
    children.push(child);
    await waitForOutput(child, /orchestration worker started/);
    return child;
  }

  /** `count` closed-won deals to convert, each on its own account. */
  async function wonOpportunities(tag: string, count: number) {
    const opportunities: { accountId: string; opportunityId: string }[] = [];
    for (let i = 0; i < count; i++) {
      const { record: account } = await stack.stores.crm.upsertAccount({
        externalId: `${tag}-${i}`,
        name: `Scale Client ${tag} ${i} Ltd`,
        industry: 'Retail',
        billingCountry: 'GB',
        parentAccountId: null,
        owner: null,
      });
      const { record } = await stack.stores.crm.upsertOpportunity({
        externalId: `${tag}-opp-${i}`,
        accountId: account.id,
        name: `Scale deal ${tag} ${i}`,
        stage: 'CLOSED_WON',
        amountMinor: 12_000_000,
        currency: 'GBP',
        closeDate: '2026-11-01',
        servicePackage: 'CLOUD_MIGRATION',
        billingModel: 'FIXED_FEE',
        deliveryRegion: 'UK',
        expectedStartDate: '2026-12-01',
      });
      opportunities.push({ accountId: account.id, opportunityId: record.id });
    }
    return opportunities;
  }

  /** The outbox as the bus delivered it: each position's first delivery in order, and how many arrived again. */
  function deliveries(): { firsts: number[]; repeats: number } {
    const seen = new Set<number>();
    const firsts: number[] = [];
    let repeats = 0;
    for (const e of delivered.events) {
      if (seen.has(e.seq)) repeats++;
      else {
        seen.add(e.seq);
        firsts.push(e.seq);
      }
    }
    return { firsts, repeats };
  }

  /** Resolves once `count` of `runIds` have reached SUCCEEDED or EXCEPTION on the bus. */
  const finishedRuns = (runIds: ReadonlySet<string>, count: number) =>
    new Promise<void>((resolve) => {
      const finished = new Set<string>();
      const check = (e: RunEvent) => {
        if (runIds.has(e.runId) && (e.status === 'SUCCEEDED' || e.status === 'EXCEPTION')) finished.add(e.runId);
      };
      for (const e of delivered.events) check(e);
      if (finished.size >= count) return resolve();
      const off = bus.subscribe((e) => {
        check(e);
        if (finished.size >= count) {
          off();
          resolve();
        }
      });
    });

  const sigkill = (child: Child) =>
    new Promise<void>((resolve) => {
      child.process.once('close', () => resolve());
      child.process.kill('SIGKILL');
    });

  it('finishes every conversion and billing run once, despite SIGKILLs, and delivers every outbox event in order', async () => {
    const ledger = stack.stores.ledger;
    const opportunities = await wonOpportunities('scale', CONVERSIONS);
    const projects = (
      await stack.stores.psa.listProjectsWithBillableWork({ first: PROJECTS, afterKey: null })
    ).nodes.map((p) => p.id);
    expect(projects).toHaveLength(PROJECTS);
    for (const [n, projectId] of projects.entries()) {
      const submitted = await stack.stores.psa.submitTimeEntries(
        `scale-time-${n}`,
        Array.from({ length: 20 }, (_, i) => ({
          projectId,
          resourceId: 'RES-000004',
          role: null,
          date: '2026-10-15',
          hoursHundredths: 100 + i,
          billable: true,
          notes: null,
        })),
      );
      await stack.stores.psa.approveTimeEntries(submitted.map((e) => e.id));
    }
    const ready = await Promise.all(
      projects.map(
        async (id) =>
          (
            await stack.stores.psa.listTimeEntries(
              id,
              { first: 0, afterKey: null },
              { status: 'APPROVED', billable: true },
            )
          ).totalCount,
      ),
    );
    expect(ready.every((n) => n >= 20)).toBe(true);

    const workers = await Promise.all(Array.from({ length: WORKERS }, (_, slot) => startWorkerProcess(slot)));
    const runIds: string[] = [];
    for (const { opportunityId } of opportunities)
      runIds.push(
        (await queueRun(ledger, flow('convertOpportunityToProject'), { opportunityId }, { actor: OPS })).run.id,
      );
    for (const projectId of projects)
      runIds.push((await queueRun(ledger, flow('billApprovedTime'), { projectId }, { actor: OPS })).run.id);
    const ours = new Set(runIds);

    // A SIGKILL, and a restart, each time another fifth of the runs has finished: chaos paced by progress, not time.
    let kills = 0;
    for (let fifth = 1; fifth <= 4; fifth++) {
      await finishedRuns(ours, Math.ceil((runIds.length * fifth) / 5));
      const slot = kills++ % WORKERS;
      await sigkill(workers[slot]!);
      workers[slot] = await startWorkerProcess(slot);
    }
    await finishedRuns(ours, runIds.length);
    await Promise.all(workers.map((w) => w.stop()));

    // Every run succeeded: none stuck, none stopped on an exception.
    const runs = await ledger.getRuns(runIds);
    expect(runs.filter((r) => r!.status !== 'SUCCEEDED').map((r) => [r!.id, r!.status])).toEqual([]);

    // One PSA project and one ERP customer per opportunity, linked back on the opportunity.
    for (const { accountId, opportunityId } of opportunities) {
      const projectsOfAccount = (await stack.stores.psa.listProjects({ first: 100, afterKey: null }, { accountId }))
        .nodes;
      const [customer] = await stack.stores.erp.getCustomersByCrmAccount([accountId]);
      const [opportunity] = await stack.stores.crm.getOpportunities([opportunityId]);
      expect([
        projectsOfAccount.map((p) => p.opportunityId),
        opportunity!.psaProjectId,
        opportunity!.erpCustomerId,
      ]).toEqual([[opportunityId], projectsOfAccount[0]!.id, customer!.id]);
    }

    // Each approved time entry became exactly one ERP billing line.
    const lines = await stack.stores.erp.getBillingLinesByProject(projects);
    const timeLines = lines.map((l) => l.filter((line) => line.externalId.startsWith('time:')));
    expect(timeLines.map((l) => [l.length, new Set(l.map((line) => line.sourceId)).size])).toEqual(
      ready.map((n) => [n, n]),
    );

    // The relay published every outbox event, in outbox order: the first delivery of each position is in order and
    // none is missing. A relay leader killed between a publish and its cursor save re-publishes at most that batch
    // (the bus is at-least-once; subscribers de-duplicate by seq): no other repeat.
    const outbox = (await ledger.eventsAfter(0, 1_000_000)).map((e) => e.seq);
    const { firsts, repeats } = deliveries();
    expect(firsts).toEqual(outbox);
    expect(repeats).toBeLessThanOrEqual(kills * 500);
  }, 300_000);

  it('hands the relay to another process when its leader is killed, losing and reordering no event', async () => {
    const ledger = stack.stores.ledger;
    const workers = await Promise.all([startWorkerProcess(0), startWorkerProcess(1)]);
    const leads = (child: Child) => /"leadership":"outbox-relay"[^\n]*leadership taken/.test(child.output());
    const leader = workers.find(leads)!;
    const survivor = workers.find((w) => w !== leader)!;
    expect([leader, survivor].every(Boolean)).toBe(true);

    const runIds = new Set<string>();
    for (const { opportunityId } of await wonOpportunities('relay', 20))
      runIds.add(
        (await queueRun(ledger, flow('convertOpportunityToProject'), { opportunityId }, { actor: OPS })).run.id,
      );
    await finishedRuns(runIds, 5);
    await sigkill(leader);
    // The survivor takes the relay over once the dead leader's lease lapses, and publishes from the saved cursor.
    await waitForOutput(survivor, /"leadership":"outbox-relay"[^\n]*leadership taken/);
    await finishedRuns(runIds, runIds.size);
    await survivor.stop();

    const runs = await ledger.getRuns([...runIds]);
    expect(runs.filter((r) => r!.status !== 'SUCCEEDED')).toEqual([]);
    const outbox = (await ledger.eventsAfter(0, 1_000_000)).map((e) => e.seq);
    const { firsts, repeats } = deliveries();
    expect(firsts).toEqual(outbox);
    expect(repeats).toBeLessThanOrEqual(500);
  }, 180_000);
});
