import { createClient } from 'redis';
import { createInProcessBus } from '../lib/event-bus/in-process-bus';
import { createRedisBus, type RedisBus } from '../lib/event-bus/redis-bus';
import { silentLogger } from '../lib/logger';
import { describeEventBusContract } from './contracts/event-bus.contract';
import { captureLogs } from './support/log-capture';
import { nextStatus, recordEvents, runEvent } from './support/event-recorder';
import { startRedisServer, type RedisServer } from './support/redis-server';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

let channels = 0;
/** A Redis bus on its own channel of the test server, resolved once it is up. */
async function upRedisBus(options: Partial<Parameters<typeof createRedisBus>[0]> = {}): Promise<RedisBus> {
  const bus = createRedisBus({
    url: redis.url,
    channel: `test:${process.pid}:${++channels}`,
    logger: silentLogger(),
    ...options,
  });
  await nextStatus(bus, 'up');
  return bus;
}

describeEventBusContract('in-process', async (logger) => {
  const bus = createInProcessBus({ logger });
  return { a: bus, b: bus, close: () => bus.close() };
});

describeEventBusContract('Redis (two instances on one server)', async (logger) => {
  const channel = `test:${process.pid}:${++channels}`;
  const [a, b] = await Promise.all([upRedisBus({ channel, logger }), upRedisBus({ channel, logger })]);
  return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
});

describe('in-process bus', () => {
  it('delivers an event published from inside a listener after the current one, to every listener', async () => {
    const bus = createInProcessBus();
    const [first, second] = [runEvent(), runEvent()];
    bus.subscribe((e) => {
      if (e.seq === first.seq) void bus.publish(second);
    });
    const later = recordEvents(bus);
    await bus.publish(first);
    expect(later.events).toEqual([first, second]);
    await bus.close();
  });
});

describe('Redis bus', () => {
  it('needs a real server: starting one fails with a clear message when the binary is not on the PATH', async () => {
    await expect(startRedisServer('redis-server-not-installed')).rejects.toThrow(
      'redis-server-not-installed is not on the PATH: these tests need a real Redis server (Debian: apt-get install redis-server)',
    );
  });

  it('keeps instances on different channels apart', async () => {
    const [a, b] = await Promise.all([upRedisBus(), upRedisBus()]);
    const onA = recordEvents(a);
    const onB = recordEvents(b);
    const [forA, forB] = [runEvent(), runEvent()];
    await a.publish(forA);
    await b.publish(forB);
    expect(await onA.count(1)).toEqual([forA]);
    expect(await onB.count(1)).toEqual([forB]);
    // B's own event arrived after anything of A's could have, on the one server.
    expect(onB.events).toEqual([forB]);
    await Promise.all([a.close(), b.close()]);
  });

  it('drops and logs a message on the channel that is not a run event', async () => {
    const logs = captureLogs();
    const channel = `test:${process.pid}:${++channels}`;
    const bus = await upRedisBus({ channel, logger: logs.logger });
    const received = recordEvents(bus);
    const raw = createClient({ url: redis.url });
    raw.on('error', () => undefined);
    await raw.connect();
    await raw.publish(channel, 'not json');
    await raw.publish(channel, JSON.stringify({ hello: 'world' }));
    const good = runEvent();
    await bus.publish(good);
    expect(await received.count(1)).toEqual([good]);
    expect(
      logs.lines
        .filter((l) => l.msg === 'dropped a message on the event channel that is not a run event')
        .map((l) => l.message),
    ).toEqual(['not json', '{"hello":"world"}']);
    raw.destroy();
    await bus.close();
  });

  describe('when Redis goes away and comes back', () => {
    // Each test here kills the shared server; it is restarted before the next one.
    afterEach(async () => {
      await redis.restart();
    });

    it('reports down, rejects publishes at once while down, then reports up and delivers again on the same port', async () => {
      const logs = captureLogs();
      const channel = `test:${process.pid}:${++channels}`;
      // A publish timeout far beyond the test's own: a publish that waited for Redis instead of refusing at once
      // would end the test by its timeout, not pass it.
      const a = await upRedisBus({ channel, logger: logs.logger, publishTimeoutMs: 600_000 });
      const b = await upRedisBus({ channel, logger: logs.logger, publishTimeoutMs: 600_000 });
      const onB = recordEvents(b);
      const before = runEvent();
      await a.publish(before);
      await onB.count(1);

      const down = Promise.all([nextStatus(a, 'down'), nextStatus(b, 'down')]);
      await redis.kill();
      await down;
      expect([a.status, b.status]).toEqual(['down', 'down']);
      await expect(a.publish(runEvent())).rejects.toThrow(
        'Redis did not take the event: the event bus is down (reconnecting)',
      );

      const up = Promise.all([nextStatus(a, 'up'), nextStatus(b, 'up')]);
      await redis.restart();
      await up;
      const after = runEvent();
      await a.publish(after);
      expect(await onB.until((e) => e.seq === after.seq)).toEqual([before, after]);
      // One warning per outage however many reconnect attempts failed, and one line when it is back.
      const outage = logs.lines.filter((l) => String(l.msg).startsWith('Redis event bus')).map((l) => l.msg);
      expect(
        outage.filter((m) => m === 'Redis event bus connection lost or refused; reconnecting with backoff').length,
      ).toBeLessThanOrEqual(2);
      expect(outage.filter((m) => m === 'Redis event bus reconnected').length).toBe(
        outage.filter((m) => m !== 'Redis event bus reconnected').length,
      );
      await Promise.all([a.close(), b.close()]);
    });

    it('rejects a publish after publishTimeoutMs when Redis holds the connection but does not answer, and delivers once it does', async () => {
      const channel = `test:${process.pid}:${++channels}`;
      const a = await upRedisBus({ channel, publishTimeoutMs: 50 });
      const received = recordEvents(a);
      redis.pause();
      try {
        // The connection is up, so the publish is sent and waits: only the configured timeout ends it.
        expect(a.status).toBe('up');
        await expect(a.publish(runEvent())).rejects.toThrow('Redis did not take the event: no answer within 50 ms');
      } finally {
        redis.resume();
      }
      const after = runEvent();
      await a.publish(after);
      expect(await received.until((e) => e.seq === after.seq)).toContainEqual(after);
      await a.close();
    });

    it('starts down while Redis is unreachable, comes up once it starts, and closes without hanging while down', async () => {
      await redis.kill();
      const waiting = createRedisBus({ url: redis.url, logger: silentLogger() });
      const abandoned = createRedisBus({ url: redis.url, logger: silentLogger() });
      const up = nextStatus(waiting, 'up');
      await expect(waiting.publish(runEvent())).rejects.toThrow(/^Redis did not take the event/);
      await abandoned.close();
      expect([waiting.status, abandoned.status]).toEqual(['down', 'down']);
      await redis.restart();
      await up;
      const received = recordEvents(waiting);
      const event = runEvent();
      await waiting.publish(event);
      expect(await received.count(1)).toEqual([event]);
      await waiting.close();
    });
  });
});
