/*
 * A load-generating child of bench/subscriptions.ts: holds graphql-ws sockets to one or more gateways, many
 * subscriptions on each, records every payload with its arrival time, and checks what arrived against the outbox.
 * Commands arrive as JSON lines on stdin, answers leave as JSON lines on stdout (bench/subscriptions-protocol.ts).
 * It exits when stdin closes, so it never outlives the benchmark.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import {
  RUN_SELECTION,
  type ClientCommand,
  type ClientMessage,
  type ExpectedRun,
  type GatewayReport,
  type SocketPlan,
  type SubscriberKind,
  type Violations,
} from './subscriptions-protocol';

const FEED_QUERY = `subscription Feed { syncRunsUpdated { ${RUN_SELECTION} } }`;
const RUN_QUERY = `subscription Run($id: ID!) { syncRunUpdated(id: $id) { ${RUN_SELECTION} } }`;
/** Sent after a socket's subscriptions: its answer comes after the gateway has set up the ones before it. */
const PROBE_QUERY = 'query Probe { __typename }';
/** How often progress is reported while subscribed. */
const PROGRESS_EVERY_MS = 1000;
const KINDS: readonly SubscriberKind[] = ['feed', 'run'];
/** Violation examples kept per gateway. */
const EXAMPLES_KEPT = 6;
/** Findings quoted per example subscriber. */
const NOTES_KEPT = 3;

interface RunPayload {
  id: string;
  status: string;
  sequence: number;
  updatedAt: string;
}

interface Subscriber {
  gateway: number;
  /** The run a `syncRunUpdated` watches; null for `syncRunsUpdated`. */
  runId: string | null;
  /** Sequences received per run, in arrival order. */
  byRun: Map<string, number[]>;
  /** Statuses received per run, parallel to `byRun`. */
  statuses: Map<string, string[]>;
  completed: boolean;
  errors: string[];
}

/** Arrivals kept flat (four numbers per payload) to hold hundreds of thousands cheaply. */
interface Arrivals {
  gateway: number[];
  /** 0 for a `syncRunsUpdated` subscriber, 1 for a `syncRunUpdated` one. */
  kind: number[];
  committedAtMs: number[];
  receivedAtMs: number[];
}

let clients: Client[] = [];
let subscribers: Subscriber[] = [];
const arrivals: Arrivals = { gateway: [], kind: [], committedAtMs: [], receivedAtMs: [] };
let received = 0;
let errorCount = 0;
/** Bumped when a round's sockets are closed: their close events, which may come later, are not the next round's failures. */
let generation = 0;
let progressTimer: NodeJS.Timeout | undefined;

function send(message: ClientMessage): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/**
 * Opens every socket with `authorization` (`Bearer <token>`) in its `connection_init` payload (all acknowledged before
 * any subscribes, so no socket waits on the others' subscriptions past the gateway's connection_init timeout),
 * subscribes, and reports once each `syncRunUpdated` sent its snapshot and each socket answered a query sent after
 * its subscriptions.
 */
async function subscribeAll(
  gatewayUrls: readonly string[],
  sockets: readonly SocketPlan[],
  authorization: string,
): Promise<void> {
  const started = performance.now();
  const mine = generation;
  progressTimer = setInterval(() => send({ event: 'progress', received, errors: errorCount }), PROGRESS_EVERY_MS);
  const failures: string[] = [];
  const fail = (what: string) => {
    errorCount++;
    if (failures.length < EXAMPLES_KEPT) failures.push(what);
  };
  clients = sockets.map((plan, i) =>
    createClient({
      url: gatewayUrls[plan.gateway]!,
      webSocketImpl: WebSocket,
      connectionParams: { authorization },
      lazy: false,
      retryAttempts: 0,
      onNonLazyError: (error) => fail(`socket ${i}: ${describe(error)}`),
      on: {
        closed: (event) => {
          if (generation === mine) fail(`socket ${i} to gateway ${plan.gateway} closed: ${describe(event)}`);
        },
      },
    }),
  );
  await Promise.all(
    clients.map(
      (client) =>
        new Promise<void>((resolve) => {
          const offConnected = client.on('connected', () => {
            offConnected();
            resolve();
          });
          // A socket that never connects is reported by onNonLazyError; do not wait for it.
          const offClosed = client.on('closed', () => {
            offClosed();
            resolve();
          });
        }),
    ),
  );

  const ready: Promise<void>[] = [];
  sockets.forEach((plan, i) => {
    const client = clients[i]!;
    const subscribe = (runId: string | null) => {
      const subscriber: Subscriber = {
        gateway: plan.gateway,
        runId,
        byRun: new Map(),
        statuses: new Map(),
        completed: false,
        errors: [],
      };
      subscribers.push(subscriber);
      const field = runId === null ? 'syncRunsUpdated' : 'syncRunUpdated';
      let first: (() => void) | null = null;
      if (runId !== null) ready.push(new Promise<void>((resolve) => (first = resolve)));
      const settle = () => {
        first?.();
        first = null;
      };
      client.subscribe<Record<string, RunPayload | null>>(
        runId === null ? { query: FEED_QUERY } : { query: RUN_QUERY, variables: { id: runId } },
        {
          next: (result) => {
            if (generation !== mine) return;
            const receivedAtMs = Date.now();
            received++;
            settle();
            const run = result.data?.[field];
            if (result.errors?.length || !run) {
              errorCount++;
              subscriber.errors.push(
                `payload with errors: ${JSON.stringify(result.errors ?? result.data).slice(0, 200)}`,
              );
              return;
            }
            let sequences = subscriber.byRun.get(run.id);
            let statuses = subscriber.statuses.get(run.id);
            if (!sequences || !statuses) {
              subscriber.byRun.set(run.id, (sequences = []));
              subscriber.statuses.set(run.id, (statuses = []));
            }
            sequences.push(run.sequence);
            statuses.push(run.status);
            arrivals.gateway.push(plan.gateway);
            arrivals.kind.push(runId === null ? 0 : 1);
            arrivals.committedAtMs.push(Date.parse(run.updatedAt));
            arrivals.receivedAtMs.push(receivedAtMs);
          },
          error: (error) => {
            if (generation !== mine) return;
            errorCount++;
            subscriber.errors.push(`subscription error: ${describe(error)}`);
            settle();
          },
          complete: () => {
            subscriber.completed = true;
            settle();
          },
        },
      );
    };
    for (let f = 0; f < plan.feeds; f++) subscribe(null);
    for (const runId of plan.runIds) subscribe(runId);
    ready.push(
      new Promise<void>((resolve) => {
        client.subscribe(
          { query: PROBE_QUERY },
          {
            next: () => undefined,
            error: (error) => {
              fail(`probe on socket ${i}: ${describe(error)}`);
              resolve();
            },
            complete: resolve,
          },
        );
      }),
    );
  });
  await Promise.all(ready);
  send({
    event: 'subscribed',
    subscriptions: subscribers.length,
    sockets: sockets.length,
    elapsedMs: performance.now() - started,
    failures,
  });
}

/** Checks every subscriber against the outbox and sums arrivals per gateway. */
function verify(expected: Record<string, ExpectedRun>, releasedAtMs: number): GatewayReport[] {
  const reports = new Map<number, GatewayReport>();
  const reportOf = (gateway: number) => {
    let report = reports.get(gateway);
    if (!report) {
      report = {
        gateway,
        subscribers: 0,
        delivered: 0,
        firstAtMs: null,
        lastAtMs: null,
        latencyHistograms: { feed: {}, run: {} },
        violations: emptyViolations(),
      };
      reports.set(gateway, report);
    }
    return report;
  };
  for (let i = 0; i < arrivals.gateway.length; i++) {
    const receivedAtMs = arrivals.receivedAtMs[i]!;
    if (receivedAtMs < releasedAtMs) continue;
    const report = reportOf(arrivals.gateway[i]!);
    report.delivered++;
    report.firstAtMs = Math.min(report.firstAtMs ?? receivedAtMs, receivedAtMs);
    report.lastAtMs = Math.max(report.lastAtMs ?? receivedAtMs, receivedAtMs);
    const committedAtMs = arrivals.committedAtMs[i]!;
    if (committedAtMs < releasedAtMs) continue;
    const histogram = report.latencyHistograms[KINDS[arrivals.kind[i]!]!];
    const bucket = String(receivedAtMs - committedAtMs);
    histogram[bucket] = (histogram[bucket] ?? 0) + 1;
  }
  subscribers.forEach((subscriber, index) => {
    const report = reportOf(subscriber.gateway);
    report.subscribers++;
    const found = check(subscriber, expected);
    const v = report.violations;
    const total =
      found.missing +
      found.duplicates +
      found.outOfOrder +
      found.gaps +
      found.unexpected +
      found.notCompleted +
      found.wrongState +
      subscriber.errors.length;
    if (total === 0) return;
    v.subscribers++;
    v.missing += found.missing;
    v.duplicates += found.duplicates;
    v.outOfOrder += found.outOfOrder;
    v.gaps += found.gaps;
    v.unexpected += found.unexpected;
    v.notCompleted += found.notCompleted;
    v.wrongState += found.wrongState;
    v.errors += subscriber.errors.length;
    if (v.examples.length < EXAMPLES_KEPT) {
      const what = subscriber.runId === null ? 'syncRunsUpdated' : `syncRunUpdated(${subscriber.runId})`;
      const notes = [...found.notes, ...subscriber.errors];
      const more = notes.length > NOTES_KEPT ? `; … ${notes.length - NOTES_KEPT} more` : '';
      v.examples.push(
        `pid ${process.pid} subscriber ${index} ${what}: ${notes.slice(0, NOTES_KEPT).join('; ')}${more}`,
      );
    }
  });
  return [...reports.values()].sort((a, b) => a.gateway - b.gateway);
}

/** What one subscriber got wrong: the report's counts (but the per-gateway ones) and notes for the examples. */
type Found = Omit<Violations, 'subscribers' | 'errors' | 'examples'> & { notes: string[] };

/**
 * A `syncRunsUpdated` subscriber, subscribed before the round's runs published anything, must get every event of
 * every run once, in sequence order. A `syncRunUpdated` one must get its run from the snapshot's sequence on, once
 * and in order, and complete when the run ended.
 */
function check(subscriber: Subscriber, expected: Record<string, ExpectedRun>): Found {
  const found: Found = {
    missing: 0,
    duplicates: 0,
    outOfOrder: 0,
    gaps: 0,
    unexpected: 0,
    notCompleted: 0,
    wrongState: 0,
    notes: [],
  };
  const watched = subscriber.runId === null ? Object.keys(expected) : [subscriber.runId];
  for (const [runId, got] of subscriber.byRun) {
    if (watched.includes(runId) && expected[runId]) continue;
    found.unexpected += got.length;
    found.notes.push(`${got.length} payload(s) of unexpected run ${runId}`);
  }
  for (const runId of watched) {
    const run = expected[runId];
    if (!run) continue;
    const got = subscriber.byRun.get(runId) ?? [];
    const from = (subscriber.runId === null ? undefined : got[0]) ?? run.sequences[0] ?? 1;
    const wanted = run.sequences.filter((s) => s >= from);
    const counts = new Map<number, number>();
    for (const s of got) counts.set(s, (counts.get(s) ?? 0) + 1);
    let missing = 0;
    let duplicates = 0;
    let phantom = 0;
    for (const s of wanted) if (!counts.has(s)) missing++;
    for (const s of counts.keys()) if (!run.sequences.includes(s)) phantom++;
    for (const n of counts.values()) if (n > 1) duplicates += n - 1;
    let outOfOrder = 0;
    let gaps = 0;
    for (let i = 1; i < got.length; i++) {
      if (got[i]! < got[i - 1]!) outOfOrder++;
      else if (got[i]! > got[i - 1]! + 1) gaps++;
    }
    found.missing += missing;
    found.duplicates += duplicates;
    found.outOfOrder += outOfOrder;
    found.gaps += gaps;
    found.unexpected += phantom;
    if (missing || duplicates || outOfOrder || gaps || phantom)
      found.notes.push(`run ${runId} got [${compact(got)}], outbox [${compact(run.sequences)}]`);
    const statuses = subscriber.statuses.get(runId) ?? [];
    got.forEach((sequence, i) => {
      const at = run.sequences.indexOf(sequence);
      if (at < 0 || run.statuses[at] === statuses[i]) return;
      found.wrongState++;
      found.notes.push(
        `run ${runId} at sequence ${sequence} came as ${statuses[i]}, the outbox has ${run.statuses[at]}`,
      );
    });
    if (subscriber.runId !== null && run.final && !subscriber.completed) {
      found.notCompleted++;
      found.notes.push(`run ${runId} ended but the subscription did not complete`);
    }
  }
  return found;
}

function compact(values: readonly number[]): string {
  return values.length > 24
    ? `${values.slice(0, 12).join(',')},…,${values.slice(-6).join(',')} (${values.length})`
    : values.join(',');
}

function emptyViolations(): Violations {
  return {
    subscribers: 0,
    missing: 0,
    duplicates: 0,
    outOfOrder: 0,
    gaps: 0,
    unexpected: 0,
    notCompleted: 0,
    wrongState: 0,
    errors: 0,
    examples: [],
  };
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (Array.isArray(error))
    return error.map((e: { message?: unknown }) => String(e.message ?? JSON.stringify(e))).join('; ');
  if (error && typeof error === 'object' && 'code' in error) {
    const e = error as { code: unknown; reason?: unknown };
    return `close ${String(e.code)}${e.reason ? ` ${String(e.reason)}` : ''}`;
  }
  return String(error);
}

async function close(): Promise<void> {
  generation++;
  clearInterval(progressTimer);
  await Promise.all(clients.map((client) => client.dispose()));
  clients = [];
  subscribers = [];
  arrivals.gateway.length = arrivals.kind.length = arrivals.committedAtMs.length = arrivals.receivedAtMs.length = 0;
  received = errorCount = 0;
}

async function handle(command: ClientCommand): Promise<void> {
  if (command.cmd === 'subscribe') await subscribeAll(command.gatewayUrls, command.sockets, command.authorization);
  else if (command.cmd === 'verify')
    send({ event: 'report', gateways: verify(command.expected, command.releasedAtMs) });
  else {
    await close();
    send({ event: 'closed' });
  }
}

function main(): void {
  let buffered = '';
  // Commands run one after another, in the order they arrive.
  let queue = Promise.resolve();
  process.stdin.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (!line) continue;
      const command = JSON.parse(line) as ClientCommand;
      queue = queue
        .then(() => handle(command))
        .catch((error: unknown) =>
          send({ event: 'failed', message: error instanceof Error ? error.message : String(error) }),
        );
    }
  });
  // The benchmark holds our stdin open; it closes when the benchmark exits, however it exits.
  process.stdin.on('end', () => process.exit(0)).on('error', () => process.exit(0));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(0));
  send({ event: 'ready' });
}

main();
