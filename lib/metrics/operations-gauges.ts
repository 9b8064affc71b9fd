import { Counter, Gauge } from 'prom-client';
import { metricsRegistry } from './metrics';

/** What one scrape reads of the shared store (the ledger's `readOperationsFigures`). */
export interface OperationsSnapshot {
  runsByStatus: readonly { status: string; count: number }[];
  /** Epoch ms since which the longest-waiting run has waited for a worker, or null. */
  oldestClaimableSince: number | null;
  outboxPending: number;
  /** ISO time of the oldest unpublished outbox event, or null. */
  oldestPendingEventAt: string | null;
  openExceptionsByClass: readonly { class: string; count: number }[];
}

/** Where the figures come from, and which run statuses count as the queue. */
export interface OperationsSource {
  read(now: number): Promise<OperationsSnapshot>;
  /** Statuses reported by `meridian_run_queue_depth` (0 when no run has one). */
  queueStatuses: readonly string[];
}

const sources: OperationsSource[] = [];
let inFlight: Promise<OperationsSnapshot | null> | null = null;
const classesSeen = new Set<string>();

// prom-client starts every metric's collect() in one tick: they share one read of the store per scrape.
function snapshot(): Promise<OperationsSnapshot | null> {
  const source = sources.at(-1);
  if (!source) return Promise.resolve(null);
  inFlight ??= source
    .read(Date.now())
    .catch(() => {
      figuresErrors.inc();
      return null;
    })
    .finally(() => {
      inFlight = null;
    });
  return inFlight;
}

const figuresErrors = new Counter({
  name: 'meridian_ledger_figures_errors_total',
  help: 'Scrapes whose ledger figures could not be read (the ledger gauges are then absent)',
  registers: [],
});

/** Runs waiting or in progress, by status; read from the ledger at each scrape. */
export const runQueueDepth = new Gauge({
  name: 'meridian_run_queue_depth',
  help: 'Runs in the ledger by status (QUEUED, RUNNING, WAITING_RETRY, COMPENSATING, EXCEPTION), read at scrape',
  labelNames: ['status'] as const,
  registers: [],
  async collect() {
    const figures = await snapshot();
    this.reset();
    const source = sources.at(-1);
    if (!figures || !source) return;
    const counts = new Map(figures.runsByStatus.map((r) => [r.status, r.count]));
    for (const status of source.queueStatuses) this.set({ status }, counts.get(status) ?? 0);
  },
});

/** How long the longest-waiting due run has waited for a worker (0 when none waits). */
export const runQueueOldestAge = new Gauge({
  name: 'meridian_run_queue_oldest_age_seconds',
  help: 'Age of the oldest run that is due and unleased, waiting for a worker (0 when none), read at scrape',
  registers: [],
  async collect() {
    const figures = await snapshot();
    this.reset();
    if (!figures) return;
    const since = figures.oldestClaimableSince;
    this.set(since === null ? 0 : Math.max(0, (Date.now() - since) / 1000));
  },
});

/** Outbox events not yet published to the bus. */
export const outboxPending = new Gauge({
  name: 'meridian_outbox_pending_events',
  help: 'Outbox events the relay has not published yet, read at scrape',
  registers: [],
  async collect() {
    const figures = await snapshot();
    this.reset();
    if (figures) this.set(figures.outboxPending);
  },
});

/** Age of the oldest unpublished outbox event (0 when none). */
export const outboxOldestAge = new Gauge({
  name: 'meridian_outbox_oldest_pending_age_seconds',
  help: 'Age of the oldest outbox event not yet published (0 when none), read at scrape',
  registers: [],
  async collect() {
    const figures = await snapshot();
    this.reset();
    if (!figures) return;
    const at = figures.oldestPendingEventAt === null ? null : Date.parse(figures.oldestPendingEventAt);
    this.set(at === null ? 0 : Math.max(0, (Date.now() - at) / 1000));
  },
});

/** Open exceptions by error class; a class once seen stays reported (0 when none is open). */
export const exceptionsOpen = new Gauge({
  name: 'meridian_exceptions_open',
  help: 'Open exceptions (runs waiting for a person) by error class, read at scrape',
  labelNames: ['class'] as const,
  registers: [],
  async collect() {
    const figures = await snapshot();
    this.reset();
    if (!figures) return;
    for (const row of figures.openExceptionsByClass) classesSeen.add(row.class);
    const counts = new Map(figures.openExceptionsByClass.map((r) => [r.class, r.count]));
    for (const errorClass of classesSeen) this.set({ class: errorClass }, counts.get(errorClass) ?? 0);
  },
});

/**
 * Reports the ledger's figures at every scrape of this process (from the first call on; a process that never calls
 * it, such as a gateway, exports none of these gauges), read through `source` (one round of queries per
 * scrape, so every process sharing a database reports the same figures). The latest source registered is read;
 * the returned function unregisters it.
 */
export function observeOperations(source: OperationsSource): () => void {
  // Registered with the first source: a process without a ledger (a gateway) does not report them at all.
  if (metricsRegistry.getSingleMetric('meridian_run_queue_depth') === undefined)
    for (const metric of [
      figuresErrors,
      runQueueDepth,
      runQueueOldestAge,
      outboxPending,
      outboxOldestAge,
      exceptionsOpen,
    ])
      metricsRegistry.registerMetric(metric);
  sources.push(source);
  return () => {
    const at = sources.indexOf(source);
    if (at >= 0) sources.splice(at, 1);
  };
}
