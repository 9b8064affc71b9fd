import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { EventBus } from '../../../lib/event-bus/event-bus';
import type { Flow } from '../flows/flow';
import type { Governance } from '../governance/governance';
import type { Systems } from '../systems/systems';
import { startLeadership, type Leadership } from './leadership';
import type { Ledger, RunRecord } from './ledger';
import { startOutboxRelay, type OutboxRelay } from './outbox-relay';
import { startTriggerPoller, type TriggerPoller, type TriggerSources } from './triggers';
import { startWorker, type Worker, type WorkerOptions } from './worker';

/** Outbox events kept after every relay published them. @default 30 days */
export const DEFAULT_OUTBOX_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

/** What the engine runs on, and which of its parts run in this process. */
export interface EngineOptions {
  ledger: Ledger;
  bus: EventBus;
  flows: readonly Flow<any>[];
  systems: Systems;
  governance: Governance;
  logger: Logger;
  /** Names this process in leases and leaderships. @default a random UUID */
  owner?: string;
  /** Run a flow worker here (false: none). @default on */
  worker?: false | Pick<WorkerOptions, 'leaseMs' | 'idlePollMs' | 'concurrency' | 'random' | 'now'>;
  /** Take part in electing the outbox relay (one process publishes at a time). @default true when a worker runs */
  relay?: boolean;
  /** Take part in electing the trigger poller, which looks every `intervalMs`. @default off */
  /** `now`: the poller's clock, for which billing periods are due. @default Date.now */
  triggers?: false | { sources: TriggerSources; intervalMs: number; now?: () => number };
  /** How long a leader (relay, trigger poller) holds without renewing; a dead leader is replaced after it. @default 10000 */
  leaderLeaseMs?: number;
  /** Delivered outbox events older than this are deleted by the relay's leader, hourly. @default 30 days */
  outboxRetentionMs?: number;
  /** Called with the run after every change this process's worker commits. */
  onRunChanged?: (run: RunRecord) => void;
}

/** The engine's parts running in this process. */
export interface Engine {
  readonly owner: string;
  readonly worker: Worker | null;
  /** The relay, while this process leads it. */
  relay(): OutboxRelay | null;
  /** The trigger poller, while this process leads it. */
  triggers(): TriggerPoller | null;
  /** Resolves once this process first asked for each leadership (so a lone process runs the relay and triggers). */
  readonly ready: Promise<void>;
  /**
   * Deletes outbox events older than the retention that every relay has published; returns how many. The relay's
   * leader calls it when it takes over and hourly after.
   */
  pruneOutbox(): Promise<number>;
  /** Tells this process's worker and relay that a run was queued here. */
  runQueued(): void;
  /** Stops every part, letting leaderships go so another process takes over at once. */
  stop(): Promise<void>;
}

/**
 * Starts the orchestration engine over `ledger`: a worker that advances runs (as many processes as wanted, each
 * claiming runs under leases), and, under one leader at a time across all processes on the ledger, the outbox relay
 * (which also prunes delivered events past retention) and the trigger poller. On PostgreSQL, the workers and the
 * relay are woken by the ledger's NOTIFY; polling stays as the safety net.
 */
export function startEngine(options: EngineOptions): Engine {
  const { ledger, bus, logger } = options;
  const owner = options.owner ?? randomUUID();
  const leaderLeaseMs = options.leaderLeaseMs ?? 10_000;
  const retentionMs = options.outboxRetentionMs ?? DEFAULT_OUTBOX_RETENTION_MS;
  let relay: OutboxRelay | null = null;
  let triggers: TriggerPoller | null = null;
  const unlisten: (() => void)[] = [];

  const pruneOutbox = async () => {
    const pruned = await ledger.pruneOutbox(Date.now() - retentionMs);
    if (pruned) logger.info({ pruned, retentionMs }, 'pruned delivered outbox events past retention');
    return pruned;
  };
  let relayLeadership: Leadership | null = null;
  let triggerLeadership: Leadership | null = null;
  if (options.relay ?? options.worker !== false) {
    relayLeadership = startLeadership({
      ledger,
      name: 'outbox-relay',
      owner,
      leaseMs: leaderLeaseMs,
      logger: logger.child({ component: 'leadership' }),
      start: () => {
        const started = startOutboxRelay({ ledger, bus, logger: logger.child({ component: 'relay' }) });
        const prune = async () => {
          const pruned = await ledger.pruneOutbox(Date.now() - retentionMs).catch((err: unknown) => {
            logger.warn({ err }, 'outbox pruning failed; the next round tries again');
            return 0;
          });
          if (pruned) logger.info({ pruned, retentionMs }, 'pruned delivered outbox events past retention');
        };
        void prune();
        const timer = setInterval(() => void prune(), 60 * 60 * 1000);
        timer.unref();
        relay = started;
        return {
          stop: async () => {
            clearInterval(timer);
            relay = null;
            await started.stop();
          },
        };
      },
    });
    if (ledger.listen) unlisten.push(ledger.listen('outbox', () => relay?.wake()));
  }

  const worker =
    options.worker === false
      ? null
      : startWorker({
          ledger,
          flows: options.flows,
          systems: options.systems,
          governance: options.governance,
          logger: logger.child({ component: 'worker' }),
          owner,
          ...options.worker,
          onRunChanged: (run) => {
            options.onRunChanged?.(run);
            relay?.wake();
          },
        });
  if (worker && ledger.listen) unlisten.push(ledger.listen('runs', () => worker.wake()));

  const runQueued = () => {
    worker?.wake();
    relay?.wake();
  };

  // The daily overdue sweep goes by the worker's clock, so a test that moves one moves both.
  const clockOf = (worker: EngineOptions['worker']) => (worker ? worker.now : undefined);
  const triggerOptions = options.triggers;
  if (triggerOptions)
    triggerLeadership = startLeadership({
      ledger,
      name: 'trigger-poller',
      owner,
      leaseMs: leaderLeaseMs,
      logger: logger.child({ component: 'leadership' }),
      start: () => {
        const poller = startTriggerPoller({
          ledger,
          flows: options.flows,
          sources: triggerOptions.sources,
          governance: options.governance,
          logger: logger.child({ component: 'triggers' }),
          intervalMs: triggerOptions.intervalMs,
          onQueued: runQueued,
          // The triggers' own clock, else the worker's, so a test that moves one moves both.
          ...(triggerOptions.now
            ? { now: triggerOptions.now }
            : clockOf(options.worker)
              ? { now: clockOf(options.worker)! }
              : {}),
        });
        triggers = poller;
        return {
          stop: async () => {
            triggers = null;
            await poller.stop();
          },
        };
      },
    });

  return {
    owner,
    worker,
    relay: () => relay,
    triggers: () => triggers,
    runQueued,
    pruneOutbox,
    ready: Promise.all([relayLeadership?.ready, triggerLeadership?.ready]).then(() => undefined),
    stop: async () => {
      for (const off of unlisten) off();
      // Triggers first (they queue runs), then the worker, then the relay publishes what they committed.
      await triggerLeadership?.stop();
      await worker?.stop();
      await relayLeadership?.stop();
    },
  };
}
