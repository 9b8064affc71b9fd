import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import type { EventBus, RunEvent } from '../lib/event-bus/event-bus';
import { createInProcessBus } from '../lib/event-bus/in-process-bus';
import { createRedisBus } from '../lib/event-bus/redis-bus';
import { silentLogger } from '../lib/logger';
import { startOutboxRelay, type OutboxRelay } from '../subgraphs/orchestration/engine/outbox-relay';
import { SYSTEM_ACTOR } from '../subgraphs/orchestration/engine/ledger';
import { SqliteLedger } from '../subgraphs/orchestration/engine/sqlite-ledger';
import { nextStatus, recordEvents } from './support/event-recorder';
import { convert, createWonOpportunity } from './support/runs';
import { startTestStack } from './support/stack';
import { startRedisServer, type RedisServer } from './support/redis-server';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A real pino logger whose lines are kept, with a wait for a message. */
function watchLogs(): { logger: Logger; lines: Record<string, unknown>[]; logged(msg: string): Promise<void> } {
  const lines: Record<string, unknown>[] = [];
  const emitter = new EventEmitter();
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString('utf8').split('\n')) {
        if (!text) continue;
        const line = JSON.parse(text) as Record<string, unknown>;
        lines.push(line);
        emitter.emit('line', line);
      }
      done();
    },
  });
  const logged = (msg: string) =>
    new Promise<void>((resolve) => {
      if (lines.some((l) => l.msg === msg)) return resolve();
      const onLine = (line: Record<string, unknown>) => {
        if (line.msg !== msg) return;
        emitter.off('line', onLine);
        resolve();
      };
      emitter.on('line', onLine);
    });
  return { logger: pino({ level: 'info' }, stream), lines, logged };
}

let subjects = 0;
/** Commits `count` new runs (one outbox event each) through the real ledger. */
async function queueRuns(ledger: SqliteLedger, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await ledger.createRun({
      flow: 'relay-test',
      input: { i },
      stepNames: ['first', 'second'],
      subjectKey: `relay-test:${++subjects}`,
      subjectReuse: 'active',
      accountId: 'ACC-000001',
      opportunityId: null,
      projectId: null,
      triggeredBy: SYSTEM_ACTOR,
      idempotency: null,
    });
  }
}

/** Takes one run through a step and into an exception: SYNC_RUN_UPDATED events and an EXCEPTION_RAISED. */
async function raiseException(ledger: SqliteLedger): Promise<void> {
  const run = (await ledger.claimRun('test-worker', 30_000, Date.now()))!;
  await ledger.completeStep(run.id, 'test-worker', 0, { ok: true });
  await ledger.failStep(
    run.id,
    'test-worker',
    1,
    {
      class: 'BAD_VALUE',
      code: 'VALIDATION_REJECTED',
      message: 'Unknown tax jurisdiction',
      system: 'erp',
      retryAfterMs: null,
      at: new Date().toISOString(),
    },
    null,
  );
}

/** Every outbox row, as the bus carries it. */
async function outbox(ledger: SqliteLedger): Promise<RunEvent[]> {
  return ledger.eventsAfter(0, 100_000);
}

function openLedger(path = ':memory:'): SqliteLedger {
  const ledger = new SqliteLedger(path);
  cleanups.push(() => ledger.close());
  return ledger;
}

function relay(options: Parameters<typeof startOutboxRelay>[0]): OutboxRelay {
  const started = startOutboxRelay({ retryMaxMs: 500, ...options });
  cleanups.push(() => started.stop());
  return started;
}

/** The relay's bus and, where the adapter has more than one process's view, another instance watching. */
const BUSES: [string, () => Promise<{ bus: EventBus; other: EventBus }>][] = [
  [
    'in-process',
    async () => {
      const bus = createInProcessBus();
      cleanups.push(() => bus.close());
      return { bus, other: bus };
    },
  ],
  [
    'Redis',
    async () => {
      const channel = `relay-test:${process.pid}:${++subjects}`;
      const [bus, other] = [
        createRedisBus({ url: redis.url, channel, logger: silentLogger() }),
        createRedisBus({ url: redis.url, channel, logger: silentLogger() }),
      ];
      cleanups.push(
        () => bus.close(),
        () => other.close(),
      );
      await Promise.all([nextStatus(bus, 'up'), nextStatus(other, 'up')]);
      return { bus, other };
    },
  ],
];

describe.each(BUSES)('outbox relay on the %s bus', (_adapter, makeBus) => {
  it('publishes exactly the outbox rows in seq order, in batches, including those committed while it runs', async () => {
    const ledger = openLedger();
    const { bus, other } = await makeBus();
    const here = recordEvents(bus);
    const there = recordEvents(other);
    await queueRuns(ledger, 4);
    await raiseException(ledger);
    const running = relay({ ledger, bus, logger: silentLogger(), batchSize: 3 });
    await queueRuns(ledger, 3);
    running.wake();
    const all = await outbox(ledger);
    expect(all.filter((e) => e.type === 'EXCEPTION_RAISED')).toHaveLength(1);
    expect(all.length).toBeGreaterThan(4 + 3 + 1);
    const last = all[all.length - 1]!.seq;
    expect(await here.until((e) => e.seq === last)).toEqual(all);
    expect(await there.until((e) => e.seq === last)).toEqual(all);
  });

  it('resumes from its persisted cursor after a restart without re-publishing what was acknowledged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meridian-relay-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'orchestration.db');
    const { bus } = await makeBus();
    const first = openLedger(path);
    await queueRuns(first, 5);
    const before = await outbox(first);
    const firstRun = recordEvents(bus);
    const firstRelay = relay({ ledger: first, bus, logger: silentLogger() });
    await firstRun.until((e) => e.seq === before[4]!.seq);
    await firstRelay.stop();
    expect(await first.getRelayCursor('default')).toBe(before[4]!.seq);
    first.close();

    const second = openLedger(path);
    await queueRuns(second, 3);
    const added = (await outbox(second)).slice(5);
    const secondRun = recordEvents(bus);
    relay({ ledger: second, bus, logger: silentLogger() });
    // In order, so anything re-published from before would have arrived ahead of the last new event.
    expect(await secondRun.until((e) => e.seq === added[2]!.seq)).toEqual(added);
  });
});

describe('outbox relay with Redis killed mid-way', () => {
  afterEach(async () => {
    await redis.restart();
  });

  it('holds events while Redis is down, logs the outage once, and delivers every event once Redis is back', async () => {
    const ledger = openLedger();
    const bus = createRedisBus({
      url: redis.url,
      channel: `relay-test:${process.pid}:${++subjects}`,
      logger: silentLogger(),
    });
    cleanups.push(() => bus.close());
    await nextStatus(bus, 'up');
    const received = recordEvents(bus);
    const logs = watchLogs();
    const running = relay({ ledger, bus, logger: logs.logger });
    await queueRuns(ledger, 3);
    running.wake();
    await received.count(3);

    const down = nextStatus(bus, 'down');
    await redis.kill();
    await down;
    await queueRuns(ledger, 3);
    running.wake();
    await logs.logged('outbox relay cannot publish; events stay in the outbox and are retried with backoff');
    await raiseException(ledger);
    running.wake();

    const up = nextStatus(bus, 'up');
    await redis.restart();
    await up;
    const all = await outbox(ledger);
    expect(all.length).toBeGreaterThan(3 + 3 + 1);
    expect(await received.until((e) => e.seq === all[all.length - 1]!.seq)).toEqual(all);
    await logs.logged('outbox relay publishing again');
    expect(logs.lines.map((l) => l.msg)).toEqual([
      'outbox relay cannot publish; events stay in the outbox and are retried with backoff',
      'outbox relay publishing again',
    ]);
    await running.stop();
    expect(await ledger.getRelayCursor('default')).toBe(all[all.length - 1]!.seq);
  });
});

describe('outbox relay in the stack', () => {
  it('publishes a conversion’s run events to another process on the Redis bus handed to the stack, in order', async () => {
    const channel = `relay-test:${process.pid}:${++subjects}`;
    const [bus, replica] = [
      createRedisBus({ url: redis.url, channel, logger: silentLogger() }),
      createRedisBus({ url: redis.url, channel, logger: silentLogger() }),
    ];
    cleanups.push(
      () => bus.close(),
      () => replica.close(),
    );
    await Promise.all([nextStatus(bus, 'up'), nextStatus(replica, 'up')]);
    const stack = await startTestStack({ bus, workerOptions: { idlePollMs: 50 } });
    cleanups.push(() => stack.stop());
    expect(stack.bus).toBe(bus);
    const seen = recordEvents(replica);

    const { opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    const runId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
    const events = (await seen.until((e) => e.runId === runId && e.status === 'SUCCEEDED')).filter(
      (e) => e.runId === runId,
    );
    const committed = (await stack.stores.ledger.eventsAfter(0, 100_000)).filter((e) => e.runId === runId);
    expect(events).toEqual(committed);
    expect(events.map((e) => e.sequence)).toEqual(committed.map((_, i) => i + 1));
    expect([events[0]!.status, events[events.length - 1]!.status]).toEqual(['QUEUED', 'SUCCEEDED']);
  });

  it('creates, uses and closes its own in-process bus by default', async () => {
    const stack = await startTestStack({ workerOptions: { idlePollMs: 50 } });
    let stopped: Promise<void> | null = null;
    const stop = () => (stopped ??= stack.stop());
    cleanups.push(stop);
    const seen = recordEvents(stack.bus);
    const { opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    const runId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
    const events = (await seen.until((e) => e.runId === runId && e.status === 'SUCCEEDED')).filter(
      (e) => e.runId === runId,
    );
    expect(events).toEqual((await stack.stores.ledger.eventsAfter(0, 100_000)).filter((e) => e.runId === runId));
    await stop();
    await expect(stack.bus.publish(events[0]!)).rejects.toThrow('The event bus is closed');
  });
});
