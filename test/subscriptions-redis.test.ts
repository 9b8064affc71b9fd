import { createRedisBus } from '../lib/event-bus/redis-bus';
import { silentLogger } from '../lib/logger';
import { freePorts, startTsx, waitForOutput, type Child } from './support/processes';
import { startRedisServer, type RedisServer } from './support/redis-server';
import { convert, createWonOpportunity } from './support/runs';
import { gql, secretEnv, startTestStack } from './support/stack';
import { subscribe, wsClient } from './support/ws-client';

const CHANGES = 'subscription { syncRunsUpdated { id sequence status opportunity { name } project { code } } }';
const ONE_RUN = 'subscription($id: ID!) { syncRunUpdated(id: $id) { sequence status opportunity { name } } }';

type Change = { id: string; sequence: number; status: string };

/** The sequences each run went through, in arrival order. */
function sequencesByRun(results: { data?: unknown }[]): Map<string, number[]> {
  const byRun = new Map<string, number[]>();
  for (const r of results) {
    const change = (r.data as { syncRunsUpdated: Change }).syncRunsUpdated;
    byRun.set(change.id, [...(byRun.get(change.id) ?? []), change.sequence]);
  }
  return byRun;
}

/** The orchestration runs as its own process here, so both sides are given its secret. */
const ORCHESTRATION_SECRET = 'test-orchestration-secret-of-at-least-32-characters';

describe('subscriptions across processes on one Redis', () => {
  const children: Child[] = [];
  let redis: RedisServer;
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  let gatewayA: string;
  let gatewayB: string;
  let orchestration: Child;

  beforeAll(async () => {
    redis = await startRedisServer();
    // CRM, PSA and ERP in this process; the worker (with its outbox relay) and two gateways as their own processes.
    stack = await startTestStack({ worker: false, relay: false });
    const [orchestrationPort, portA, portB] = await freePorts(3);
    orchestration = startTsx('subgraphs/orchestration/main.ts', {
      DATA_DIR: stack.dataDir,
      ORCHESTRATION_PORT: String(orchestrationPort),
      CRM_URL: stack.urls.crm,
      PSA_URL: stack.urls.psa,
      ERP_URL: stack.urls.erp,
      ...secretEnv({ ...stack.secrets, orchestration: ORCHESTRATION_SECRET }),
      REDIS_URL: redis.url,
      TRIGGERS: '0',
    });
    const gateway = (port: number) =>
      startTsx('gateway/main.ts', {
        GATEWAY_PORT: String(port),
        REDIS_URL: redis.url,
        // Not the deadline under test: a loaded machine may take seconds to read a client's connection_init.
        WS_CONNECTION_INIT_TIMEOUT_MS: '60000',
        SUBGRAPH_URL_CRM: stack.urls.crm,
        SUBGRAPH_URL_PSA: stack.urls.psa,
        SUBGRAPH_URL_ERP: stack.urls.erp,
        ...secretEnv({ ...stack.secrets, orchestration: ORCHESTRATION_SECRET }),
        SUBGRAPH_URL_ORCHESTRATION: `http://127.0.0.1:${orchestrationPort}/graphql`,
      });
    const a = gateway(portA!);
    const b = gateway(portB!);
    children.push(orchestration, a, b);
    await Promise.all([
      waitForOutput(orchestration, /orchestration subgraph listening/),
      waitForOutput(a, /gateway listening/),
      waitForOutput(b, /gateway listening/),
    ]);
    gatewayA = `http://127.0.0.1:${portA}/graphql`;
    gatewayB = `http://127.0.0.1:${portB}/graphql`;
  }, 300_000);

  afterAll(async () => {
    await Promise.all(children.map((c) => c.stop()));
    await stack?.stop();
    await redis?.stop();
  });

  it('delivers every change of runs started through either gateway to subscribers on both, in order, exactly once', async () => {
    const clientA = wsClient(gatewayA.replace('http', 'ws'));
    const clientB = wsClient(gatewayB.replace('http', 'ws'));
    try {
      const onA = subscribe<{ syncRunsUpdated: Change }>(clientA, CHANGES);
      const onB = subscribe<{ syncRunsUpdated: Change }>(clientB, CHANGES);
      // A first run proves both subscriptions live end to end before the measured ones start.
      const sentinel = await createWonOpportunity(gatewayA);
      const sentinelRun = (await convert(gatewayA, sentinel.opportunityId)).data!.convertOpportunityToProject.id;
      const sentinelDone = (results: { data?: unknown }[]) =>
        results.some((r) => (r.data as { syncRunsUpdated: Change }).syncRunsUpdated.id === sentinelRun);
      await Promise.all([onA, onB].map((w) => w.received(1)));
      expect([sentinelDone(onA.results), sentinelDone(onB.results)]).toEqual([true, true]);
      const skipA = onA.results.length;
      const skipB = onB.results.length;

      const opportunities = await Promise.all(
        [gatewayA, gatewayA, gatewayB, gatewayB].map((g) => createWonOpportunity(g)),
      );
      const runIds = await Promise.all(
        opportunities.map(
          async (o, i) =>
            (await convert(i < 2 ? gatewayA : gatewayB, o.opportunityId)).data!.convertOpportunityToProject.id,
        ),
      );
      const perRun = runIds.length * 7;
      // Each conversion goes through 7 states (queued, taken up, five steps), all after the sentinel's.
      const atLeast = async (w: typeof onA, skip: number) => {
        for (let n = skip + perRun; ; n++) {
          const results = await w.received(n);
          const mine = sequencesByRun(
            results
              .slice(skip)
              .filter((r) => runIds.includes((r.data as { syncRunsUpdated: Change }).syncRunsUpdated.id)),
          );
          if ([...mine.values()].reduce((s, l) => s + l.length, 0) >= perRun) return mine;
        }
      };
      const [fromA, fromB] = await Promise.all([atLeast(onA, skipA), atLeast(onB, skipB)]);
      for (const byRun of [fromA, fromB]) {
        expect(runIds.map((id) => byRun.get(id))).toEqual(runIds.map(() => [1, 2, 3, 4, 5, 6, 7]));
      }
      const last = onA.results
        .filter((r) => (r.data as { syncRunsUpdated: Change }).syncRunsUpdated.id === runIds[3])
        .at(-1);
      expect(last).toEqual({
        data: {
          syncRunsUpdated: {
            id: runIds[3],
            sequence: 7,
            status: 'SUCCEEDED',
            opportunity: { name: expect.any(String) },
            project: { code: expect.stringMatching(/^DAT-/) },
          },
        },
      });
    } finally {
      await Promise.all([clientA.dispose(), clientB.dispose()]);
    }
  }, 120_000);

  it('delivers a run’s changes once and in order on both gateways when the bus repeats them (at-least-once)', async () => {
    const clientA = wsClient(gatewayA.replace('http', 'ws'));
    const clientB = wsClient(gatewayB.replace('http', 'ws'));
    const replayer = createRedisBus({ url: redis.url, logger: silentLogger() });
    try {
      const { accountId, opportunityId } = await createWonOpportunity(gatewayA);
      const feed = `subscription($a: ID) { syncRunsUpdated(filter: { accountId: $a }) { id sequence status } }`;
      const onA = subscribe<{ syncRunsUpdated: Change }>(clientA, feed, { a: accountId });
      const onB = subscribe<{ syncRunsUpdated: Change }>(clientB, feed, { a: accountId });
      const untilSequence = async (w: typeof onA, runId: string, sequence: number) => {
        let got = w.results;
        while (!got.some((r) => r.data!.syncRunsUpdated.id === runId && r.data!.syncRunsUpdated.sequence === sequence))
          got = await w.received(got.length + 1);
      };
      // Live on both: a first conversion for the account streams through.
      const first = (await convert(gatewayA, opportunityId)).data!.convertOpportunityToProject.id;
      await Promise.all([untilSequence(onA, first, 7), untilSequence(onB, first, 7)]);
      // A relay that restarts re-publishes what it had not acknowledged: here, the whole run again, newest first.
      if (replayer.status !== 'up')
        await new Promise<void>((resolve) => {
          const off = replayer.onStatus((status) => {
            if (status !== 'up') return;
            off();
            resolve();
          });
        });
      const published = (await stack.stores.ledger.eventsAfter(0, 100_000)).filter((e) => e.runId === first);
      for (const event of [...published].reverse()) await replayer.publish(event);
      // A second deal of the same account: its changes arrive after the repeats, so once they are in, so are those.
      const second = await createWonOpportunity(gatewayB, { accountId });
      const secondRun = (await convert(gatewayB, second.opportunityId)).data!.convertOpportunityToProject.id;
      await Promise.all([untilSequence(onA, secondRun, 7), untilSequence(onB, secondRun, 7)]);
      for (const w of [onA, onB]) {
        const byRun = sequencesByRun(w.results);
        expect([...byRun.keys()]).toEqual([first, secondRun]);
        // The first run only proves the feed live: a change committed before the subscription started is not
        // delivered (the schema says so), so it may begin late; but each change once, in order, and none repeated.
        const firstSequences = byRun.get(first)!;
        const from = firstSequences[0]!;
        expect(firstSequences).toEqual(Array.from({ length: 8 - from }, (_, i) => from + i));
        expect(byRun.get(secondRun)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      }
    } finally {
      await replayer.close();
      await Promise.all([clientA.dispose(), clientB.dispose()]);
    }
  }, 120_000);

  it('keeps a run going while Redis is killed and restarted: the subscriber resumes and nothing is lost from the ledger', async () => {
    const client = wsClient(gatewayB.replace('http', 'ws'));
    try {
      // The run first stops in an exception (no delivery region), so it is mid-way, and idle, when Redis goes.
      const { opportunityId } = await createWonOpportunity(gatewayA, { deliveryRegion: null });
      const runId = (await convert(gatewayA, opportunityId)).data!.convertOpportunityToProject.id;
      const watcher = subscribe<{ syncRunUpdated: { sequence: number; status: string } }>(client, ONE_RUN, {
        id: runId,
      });
      const statusAt = async (n: number) => (await watcher.received(n)).at(-1)!.data!.syncRunUpdated.status;
      for (let n = 1; (await statusAt(n)) !== 'EXCEPTION'; n++);
      await redis.kill();
      // Corrected and retried through gateway A while Redis is down: the run goes on to the end.
      const retried = await gql(
        gatewayA,
        'mutation($id: ID!) { retryRunWithInput(id: $id, patch: { deliveryRegion: "UK" }) { status } }',
        { id: runId },
      );
      expect(retried.body).toEqual({ data: { retryRunWithInput: { status: 'QUEUED' } } });
      await waitForOutput(orchestration, new RegExp(`"runId":"${runId}"[^\\n]*"status":"SUCCEEDED"`));
      await waitForOutput(orchestration, /outbox relay cannot publish/);
      // Nothing of that reached the subscriber while Redis was down.
      expect(watcher.results.map((r) => r.data!.syncRunUpdated.status)).not.toContain('SUCCEEDED');
      await redis.restart();
      await watcher.done;
      const sequences = watcher.results.map((r) => r.data!.syncRunUpdated.sequence);
      const first = sequences[0]!;
      expect(sequences).toEqual(Array.from({ length: sequences.length }, (_, i) => first + i));
      expect(watcher.results.at(-1)!.data!.syncRunUpdated.status).toBe('SUCCEEDED');
      const [run] = await stack.stores.ledger.getRuns([runId]);
      expect(run!.status).toBe('SUCCEEDED');
      const stored = (await stack.stores.ledger.eventsAfter(0, 100_000))
        .filter((e) => e.runId === runId && e.type === 'SYNC_RUN_UPDATED')
        .map((e) => e.sequence);
      expect(stored).toEqual(Array.from({ length: run!.sequence }, (_, i) => i + 1));
      expect(sequences.at(-1)).toBe(run!.sequence);
      // Both gateways still serve queries.
      expect((await gql(gatewayA, '{ health { status } }')).body).toEqual({ data: { health: { status: 'OK' } } });
    } finally {
      await client.dispose();
    }
  }, 120_000);
});
