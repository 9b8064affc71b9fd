import type { Logger } from 'pino';
import type { EventBus, RunEvent } from '../../lib/event-bus/event-bus';
import { captureLogs } from '../support/log-capture';
import { recordEvents, runEvent } from '../support/event-recorder';

/**
 * Two views of one bus as two processes see it (`a` and `b` are the same object for an in-process bus), ready
 * to deliver, and how to dispose of them.
 */
export type EventBusFactory = (logger: Logger) => Promise<{ a: EventBus; b: EventBus; close(): Promise<void> }>;

/** The behaviour every {@link EventBus} adapter must show. */
export function describeEventBusContract(adapter: string, make: EventBusFactory): void {
  describe(`EventBus contract: ${adapter}`, () => {
    let a: EventBus;
    let b: EventBus;
    let close: () => Promise<void>;
    let logs: ReturnType<typeof captureLogs>;
    beforeEach(async () => {
      logs = captureLogs();
      ({ a, b, close } = await make(logs.logger));
    });
    afterEach(async () => {
      await close();
    });

    it('delivers every event published on one instance to each subscriber of every instance exactly once, in publish order', async () => {
      const onA1 = recordEvents(a);
      const onA2 = recordEvents(a);
      const onB = recordEvents(b);
      const sent = Array.from({ length: 30 }, (_, i) =>
        runEvent({ sequence: i + 1, status: i % 2 ? 'RUNNING' : 'QUEUED' }),
      );
      // Not awaited one by one: order must hold for publishes in flight together too.
      await Promise.all(sent.map((e) => a.publish(e)));
      const last = runEvent({ type: 'EXCEPTION_RAISED', status: 'EXCEPTION', exceptionId: 'EXC-1', accountId: null });
      await a.publish(last);
      // Order is kept, so anything delivered twice would have arrived before `last`.
      for (const recorder of [onA1, onA2, onB]) {
        expect(await recorder.until((e) => e.seq === last.seq)).toEqual([...sent, last]);
      }
    });

    it('keeps each publisher’s order when both instances publish', async () => {
      const onA = recordEvents(a);
      const onB = recordEvents(b);
      const fromA = Array.from({ length: 10 }, () => runEvent());
      const fromB = Array.from({ length: 10 }, () => runEvent());
      await Promise.all([...fromA.map((e) => a.publish(e)), ...fromB.map((e) => b.publish(e))]);
      for (const recorder of [onA, onB]) {
        const got = await recorder.count(20);
        expect(got.filter((e) => fromA.some((x) => x.seq === e.seq))).toEqual(fromA);
        expect(got.filter((e) => fromB.some((x) => x.seq === e.seq))).toEqual(fromB);
      }
    });

    it('stops delivering to a listener once it unsubscribes, and unsubscribing twice is harmless', async () => {
      const leaving = recordEvents(b);
      const staying = recordEvents(b);
      const first = runEvent();
      await a.publish(first);
      await Promise.all([leaving.count(1), staying.count(1)]);
      leaving.unsubscribe();
      leaving.unsubscribe();
      const second = runEvent();
      await a.publish(second);
      expect(await staying.until((e) => e.seq === second.seq)).toEqual([first, second]);
      expect(leaving.events).toEqual([first]);
    });

    it('goes on delivering to the other listeners when one throws, and logs the failure', async () => {
      const thrown: RunEvent[] = [];
      b.subscribe((event) => {
        thrown.push(event);
        throw new Error('listener broke');
      });
      const after = recordEvents(b);
      const sent = [runEvent(), runEvent()];
      for (const e of sent) await a.publish(e);
      expect(await after.count(2)).toEqual(sent);
      expect(thrown).toEqual(sent);
      expect(
        logs.lines
          .filter((l) => l.msg === 'an event bus listener threw; the other listeners still get the event')
          .map((l) => [l.seq, (l.err as { message: string }).message]),
      ).toEqual(sent.map((e) => [e.seq, 'listener broke']));
    });

    it('rejects a publish after close', async () => {
      await a.close();
      await expect(a.publish(runEvent())).rejects.toThrow('The event bus is closed');
    });
  });
}
