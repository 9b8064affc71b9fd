import WebSocket from 'ws';
import { silentLogger } from '../lib/logger';
import { startWorker, type Worker } from '../subgraphs/orchestration/engine/worker';
import { FLOWS } from '../subgraphs/orchestration/flows/index';
import { loadGovernance } from '../subgraphs/orchestration/governance/governance';
import { createGraphQLSystems } from '../subgraphs/orchestration/systems/graphql-systems';
import { createCallLog, recordCalls } from './support/record-calls';
import { convert, createWonOpportunity } from './support/runs';
import { gql, startTestStack, systemTargets } from './support/stack';
import { subscribe, wsClient } from './support/ws-client';

const RUN_UPDATES = `subscription($id: ID!) {
  syncRunUpdated(id: $id) {
    status sequence steps { name status attempts error { class message } }
    opportunity { name amount { amount currency } account { name } }
    project { code budget { amount } }
  }
}`;

describe('subscriptions through the gateway', () => {
  const calls = createCallLog();
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  let worker: Worker | null = null;
  beforeAll(async () => {
    // No worker in the stack: the test starts one once its subscribers are in place.
    stack = await startTestStack({
      worker: false,
      relay: true,
      wrapConnector: (system, c) => (system === 'orchestration' ? recordCalls(c, calls, system) : c),
    });
  });
  afterEach(async () => {
    await worker?.stop();
    worker = null;
  });
  afterAll(() => stack.stop());

  const startFlowWorker = () => {
    worker = startWorker({
      ledger: stack.stores.ledger,
      flows: FLOWS,
      systems: createGraphQLSystems(systemTargets(stack)),
      governance: loadGovernance(),
      logger: silentLogger(),
      idlePollMs: 20,
    });
  };

  it('streams a conversion from its first state to SUCCEEDED, every change once and in order, with CRM and PSA fields in each', async () => {
    const { opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    const runId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
    const client = wsClient(stack.gateway.wsUrl);
    try {
      const watchers = Array.from({ length: 20 }, () => subscribe(client, RUN_UPDATES, { id: runId }));
      await Promise.all(watchers.map((w) => w.received(1)));
      calls.reset();
      startFlowWorker();
      await Promise.all(watchers.map((w) => w.done));
      const events = watchers[0]!.results.map(
        (r) => (r.data as { syncRunUpdated: Record<string, any> }).syncRunUpdated,
      );
      expect(events.map((e) => [e.sequence, e.status])).toEqual([
        [1, 'QUEUED'],
        [2, 'RUNNING'],
        [3, 'RUNNING'],
        [4, 'RUNNING'],
        [5, 'RUNNING'],
        [6, 'RUNNING'],
        [7, 'SUCCEEDED'],
      ]);
      expect(events.map((e) => e.steps.filter((s: { status: string }) => s.status === 'SUCCEEDED').length)).toEqual([
        0, 0, 1, 2, 3, 4, 5,
      ]);
      const [name] = [events[0]!.opportunity.name];
      for (const event of events) {
        expect(event.opportunity).toEqual({
          name,
          amount: { amount: '240000.00', currency: 'GBP' },
          account: { name: expect.stringMatching(/^Test Client/) },
        });
      }
      // The project appears once the PSA created it, with its PSA fields resolved through the gateway.
      expect(events.map((e) => e.project)).toEqual([
        null,
        null,
        null,
        null,
        ...Array(3).fill({ code: `DAT-${opportunityId.slice(4)}`, budget: { amount: '240000.00' } }),
      ]);
      // Twenty subscribers, one read of each state: the payload query is shared.
      expect(watchers.every((w) => JSON.stringify(w.results) === JSON.stringify(watchers[0]!.results))).toBe(true);
      expect(calls.count('orchestration.getRunAt')).toBe(6);
    } finally {
      await client.dispose();
    }
  });

  it('answers an unknown run with NOT_FOUND and completes', async () => {
    const client = wsClient(stack.gateway.wsUrl);
    try {
      const watcher = subscribe(client, RUN_UPDATES, { id: 'RUN-nope' });
      await watcher.done;
      expect(watcher.results).toEqual([
        { errors: [{ message: "No sync run 'RUN-nope'", extensions: { code: 'NOT_FOUND', value: 'RUN-nope' } }] },
      ]);
    } finally {
      await client.dispose();
    }
  });

  it('refuses malformed and invalid documents with coded errors, and keeps serving', async () => {
    const client = wsClient(stack.gateway.wsUrl);
    try {
      const parse = subscribe(client, 'subscription { syncRunUpdated(id: "x") { status ');
      await expect(parse.done).rejects.toEqual([
        expect.objectContaining({ extensions: { code: 'GRAPHQL_PARSE_FAILED' } }),
      ]);
      const invalid = subscribe(client, 'subscription { syncRunUpdated(id: "x") { nope } }');
      await expect(invalid.done).rejects.toEqual([
        expect.objectContaining({
          message: 'Cannot query field "nope" on type "SyncRun".',
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
        }),
      ]);
      const two = subscribe(client, 'subscription { a: syncRunsUpdated { id } b: exceptionRaised { id } }');
      await expect(two.done).rejects.toEqual([
        expect.objectContaining({ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }),
      ]);
      const query = subscribe(client, '{ health { status } }');
      await query.done;
      expect(query.results).toEqual([{ data: { health: { status: 'OK' } } }]);
    } finally {
      await client.dispose();
    }
    expect((await gql(stack.gatewayUrl, '{ health { status } }')).body).toEqual({ data: { health: { status: 'OK' } } });
  });

  it('closes a socket that sends an over-limit message (1009), and serves others meanwhile', async () => {
    const oversized = new WebSocket(stack.gateway.wsUrl, 'graphql-transport-ws');
    const oversizedClosed = new Promise<number>((resolve) => oversized.once('close', (code) => resolve(code)));
    oversized.once('open', () =>
      oversized.send(JSON.stringify({ type: 'connection_init', payload: { pad: 'x'.repeat(100 * 1024) } })),
    );
    expect(await oversizedClosed).toBe(1009);

    const client = wsClient(stack.gateway.wsUrl);
    try {
      const ok = subscribe(client, '{ health { status } }');
      await ok.done;
      expect(ok.results).toEqual([{ data: { health: { status: 'OK' } } }]);
    } finally {
      await client.dispose();
    }
  });

  it('streams raised exceptions and changes of runs matching a filter', async () => {
    const client = wsClient(stack.gateway.wsUrl);
    try {
      const exceptions = subscribe(
        client,
        'subscription { exceptionRaised(filter: { flow: "convertOpportunityToProject", system: "crm" }) { step class message run { id status } } }',
      );
      const failures = subscribe(
        client,
        'subscription { syncRunsUpdated(filter: { status: EXCEPTION }) { id status opportunity { name } } }',
      );
      // Subscriptions register on the server before their first event; a query on the same socket orders after them.
      await subscribe(client, '{ health { status } }').done;
      const { opportunityId } = await createWonOpportunity(stack.gatewayUrl, { deliveryRegion: null });
      const runId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
      startFlowWorker();
      const [raised] = await exceptions.received(1);
      expect(raised).toEqual({
        data: {
          exceptionRaised: {
            step: 'validateOpportunity',
            class: 'BAD_VALUE',
            message: expect.stringContaining('delivery region is missing'),
            run: { id: runId, status: 'EXCEPTION' },
          },
        },
      });
      const [failed] = await failures.received(1);
      expect(failed).toEqual({
        data: { syncRunsUpdated: { id: runId, status: 'EXCEPTION', opportunity: { name: expect.any(String) } } },
      });
    } finally {
      await client.dispose();
    }
  });
});

describe('subscriptions: the connection_init deadline', () => {
  // The deadline is configured short (not waited out at its 3 s default): the test waits for the close, not a duration.
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack({ worker: false, seedAccounts: 1, subscriptions: { connectionInitTimeoutMs: 50 } });
  });
  afterAll(() => stack.stop());

  const closeCode = (socket: WebSocket) =>
    new Promise<{ code: number; reason: string }>((resolve) =>
      socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );

  it('closes a socket that never sends connection_init with 4408', async () => {
    const silent = new WebSocket(stack.gateway.wsUrl, 'graphql-transport-ws');
    expect(await closeCode(silent)).toEqual({ code: 4408, reason: 'Connection initialisation timeout' });
  });
});
