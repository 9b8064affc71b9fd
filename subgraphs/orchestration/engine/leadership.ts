import type { Logger } from 'pino';
import { createWakeableSleep } from '../../../lib/wakeable-sleep';
import type { LeadershipLedger } from './ledger';

/** Something that runs in one process at a time across the deployment: the outbox relay, the trigger poller. */
export interface Singleton {
  stop(): Promise<void>;
}

/** What {@link startLeadership} needs. */
export interface LeadershipOptions {
  ledger: LeadershipLedger;
  /** The leadership's name, one per singleton (`outbox-relay`, `trigger-poller`). */
  name: string;
  /** This process's name for the leadership (unique per process). */
  owner: string;
  /** How long a leader holds without renewing; renewed every third of it. @default 10000 */
  leaseMs?: number;
  logger: Logger;
  /** Starts the singleton when this process becomes the leader. */
  start(): Singleton;
}

/** A leadership this process takes part in. */
export interface Leadership {
  /** Resolves after this process first asked for the leadership (and started the singleton if it got it). */
  readonly ready: Promise<void>;
  /** True while this process leads (and runs the singleton). */
  isLeader(): boolean;
  /** Stops the singleton if it runs here and lets the leadership go, so another process takes over at once. */
  stop(): Promise<void>;
}

/**
 * Runs `start()`'s singleton in one process at a time: every process asks the ledger for the leadership (a lease row)
 * every `leaseMs / 3`; the holder renews it and runs the singleton, the others wait. A leader that dies stops
 * renewing, and another process takes over once the lease lapses. A leader that cannot renew (the ledger is
 * unreachable, or another process took over) stops its singleton before its lease can have lapsed.
 */
export function startLeadership(options: LeadershipOptions): Leadership {
  const { ledger, name, owner, logger } = options;
  const leaseMs = options.leaseMs ?? 10_000;
  let running: Singleton | null = null;
  let stopped = false;
  const { sleep, wakeAll } = createWakeableSleep();
  let asked: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    asked = resolve;
  });

  const stepDown = async (reason: string) => {
    if (!running) return;
    const singleton = running;
    running = null;
    logger.warn({ leadership: name, owner, reason }, 'leadership lost; singleton stopped here');
    await singleton.stop();
  };

  const loop = async () => {
    while (!stopped) {
      try {
        const leads = await ledger.acquireLeadership(name, owner, leaseMs, Date.now());
        if (leads && !running && !stopped) {
          logger.info({ leadership: name, owner }, 'leadership taken; starting the singleton here');
          running = options.start();
        } else if (!leads) await stepDown('another process holds the lease');
      } catch (err) {
        logger.warn({ err, leadership: name }, 'cannot renew leadership');
        await stepDown('the ledger could not renew the lease');
      }
      asked();
      if (!stopped) await sleep(Math.max(1, Math.floor(leaseMs / 3)));
    }
  };
  const looping = loop();

  return {
    ready,
    isLeader: () => running !== null,
    stop: async () => {
      stopped = true;
      wakeAll();
      await looping;
      const singleton = running;
      running = null;
      await singleton?.stop();
      await ledger.releaseLeadership(name, owner).catch(() => undefined);
    },
  };
}
