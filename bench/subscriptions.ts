/*
 * npm run bench:subscriptions [-- --subscribers 1000,10000 --gateways 1,2 --runs 20 --feed-share 0.2 --per-socket 100 --client-processes 1]
 *
 * graphql-ws subscriptions through the gateway, end to end over real processes on loopback:
 *   redis-server · the four subgraphs in one process (bench/subgraphs-process.ts, no worker) · the flow worker and
 *   outbox relay in their own process (subgraphs/orchestration/main.ts on the same data folder, publishing to Redis)
 *   · one or two gateways (gateway/main.ts, each its own process, on the same Redis) · the subscribers in
 *   load-generating child processes (bench/subscriptions-clients.ts).
 * Per round: fresh gateway(s); conversions queued through the first gateway while no worker runs; N subscribers
 * (syncRunsUpdated and syncRunUpdated on those runs, `--per-socket` per socket, the sockets split evenly over the
 * gateways); then the worker is started and every change of every run streams out. Figures per gateway: latency
 * from the change's commit (the payload's `updatedAt`, the outbox row's time) to its arrival at the client, both on
 * this machine's clock; payloads delivered per second; RSS per subscriber. Every subscriber is checked against the
 * outbox: every event exactly once, in sequence order; violations are reported, not thrown.
 * Every gateway request and socket carries a bearer token (a secret fresh per run: `bi` for the subscribers and payload
 * queries, `service` to create the accounts and deals the conversions start from); the gateways and the worker sign
 * their subgraph requests with the secrets the subgraphs process reports.
 * Figures, not assertions: compare runs on one machine, not across machines.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { composeSupergraph, loadSupergraphConfig } from '../lib/compose';
import type { OutboxEvent, RunStatus } from '../subgraphs/orchestration/engine/ledger';
import { SqliteLedger } from '../subgraphs/orchestration/engine/sqlite-ledger';
import { bearerHeader, benchAuth, gatewayAuthEnv, subgraphSecretEnv } from './bench-auth';
import {
  childEnv,
  EXIT_WITH_PARENT,
  freePort,
  killAllChildrenNow,
  spawnChild,
  stopAllChildren,
  TSX_LOADER,
  waitForJsonLine,
  waitUntilServing,
  type BenchChild,
} from './children';
import { percentile, postForData } from './load';
import { clockTicksPerSecond, cpuTimeMs, hostBusyMs, residentBytes } from './proc-stats';
import type { SubgraphsProcessMessage } from './subgraphs-process';
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

/** What the benchmark runs; every field has a `--kebab-case` option. */
interface SubscriptionBenchOptions {
  /** Subscriber counts, one round per count and topology. @default [1000, 10000] */
  subscribers: number[];
  /** Topologies: gateway processes on one Redis. @default [1, 2] */
  gateways: number[];
  /** Conversion runs per round (7 changes each). @default 20 */
  runs: number;
  /**
   * Share of the subscribers on `syncRunsUpdated` (every change of every run: dashboards); the rest watch one run each
   * with `syncRunUpdated` (people following their conversion). @default 0.2
   */
  feedShare: number;
  /** Subscriptions multiplexed on one socket. @default 100 */
  perSocket: number;
  /**
   * Load-generating child processes. One holds 10,000 subscriptions comfortably (measured: about a fifth of a core while
   * a 10k round delivers, a few hundred MiB), and fewer processes leave more of two cores to the gateways. @default 1
   */
  clientProcesses: number;
  /** Demo accounts seeded into the reference systems. @default 40 */
  accounts: number;
}

const DEFAULTS: SubscriptionBenchOptions = {
  subscribers: [1000, 10_000],
  gateways: [1, 2],
  runs: 20,
  feedShare: 0.2,
  perSocket: 100,
  clientProcesses: 1,
  accounts: 40,
};

const ROOT = join(__dirname, '..');
const STARTUP_TIMEOUT_MS = 120_000;
const SUBSCRIBE_TIMEOUT_MS = 180_000;
/** Longest wait for the worker to settle a round's runs. */
const RUNS_TIMEOUT_MS = 180_000;
/** Delivery is over when no payload arrived for this long (or all that the outbox implies did). */
const QUIET_MS = 10_000;
const PROGRESS_EVERY_MS = 2000;
/** Share of the machine's CPU other processes may take during delivery before the figures are flagged. */
const OTHERS_SHARE_WARNING = 0.05;
/** Requests in flight while creating a round's opportunities and conversions. */
const CREATE_CONCURRENCY = 8;
/** Run states the worker leaves a run in until someone acts: a round is settled once every run is in one. */
const SETTLED: ReadonlySet<RunStatus> = new Set([
  'SUCCEEDED',
  'RESOLVED',
  'ABANDONED',
  'COMPENSATION_FAILED',
  'EXCEPTION',
]);
const FINAL: ReadonlySet<string> = new Set(['SUCCEEDED', 'RESOLVED', 'ABANDONED', 'COMPENSATION_FAILED']);

const started = performance.now();
let workDirToRemove: string | undefined;
let ledgerToClose: SqliteLedger | undefined;

/** One load-generating child: its latest progress and a queue of its other messages. */
interface ClientProcess {
  child: BenchChild;
  received: number;
  errors: number;
  /** Resolves with the next message of `event` (queued if it came earlier). @throws Error when the child fails, exits or `timeoutMs` passes. */
  next<E extends ClientMessage['event']>(event: E, timeoutMs: number): Promise<Extract<ClientMessage, { event: E }>>;
  send(command: ClientCommand): void;
}

/** What one gateway of a round measured. */
interface GatewayFigures {
  label: string;
  subscribers: number;
  sockets: number;
  rssBeforeBytes: number;
  rssSubscribedBytes: number;
  rssAfterBytes: number;
  cpuMs: number;
  delivered: number;
  spanMs: number;
  /** Commit-to-arrival latency histograms (whole ms → payloads): per subscription field, and `all`. */
  latency: Record<SubscriberKind | 'all', Map<number, number>>;
  violations: Violations;
  warnings: string[];
  /** Set when the gateway process died during the round. */
  exited: string | null;
}

/** What one round measured. */
interface RoundResult {
  topology: string;
  subscribers: number;
  subscribeMs: number;
  /** p50 of one payload query through each gateway over HTTP, alone, before the subscribers. */
  queryMs: number[];
  committedEvents: number;
  commitSpanMs: number;
  expectedPayloads: number;
  receivedPayloads: number;
  deliveryMs: number;
  /** CPU seconds each part of the topology used from the release to the end of delivery; `others` is what the rest of the machine took. */
  cpuMs: { gateways: number; subgraphs: number; worker: number; clients: number; others: number };
  gateways: GatewayFigures[];
}

/**
 * Starts Redis, the subgraphs and the client processes once, then runs one round per topology and subscriber
 * count, and prints each round's figures and a summary.
 * @throws Error when a process fails to start or a round cannot be driven (violations are reported, not thrown).
 */
async function main(argv: string[]): Promise<void> {
  const options = parseOptions(argv);
  const ticks = clockTicksPerSecond();
  log(
    `Meridian subscriptions benchmark: node ${process.version}, ${availableParallelism()} CPUs; rounds of ${options.subscribers.join(' and ')} subscribers ` +
      `on ${options.gateways.map((g) => `${g} gateway${g > 1 ? 's' : ''}`).join(', then ')}; ${options.runs} conversion runs per round; ` +
      `${fixed(options.feedShare * 100, 0)}% syncRunsUpdated, the rest syncRunUpdated(id); ${options.perSocket} subscriptions per socket; ` +
      `${options.clientProcesses} client process(es)`,
  );
  log(
    'security as in production: the gateways verify bearer JWTs (sockets send theirs in connection_init; subscribers and payload queries use role bi, the setup mutations role service) and sign every subgraph request, as the worker does; the subgraphs verify every signature',
  );
  const workDir = mkdtempSync(join(tmpdir(), 'meridian-bench-subscriptions-'));
  workDirToRemove = workDir;
  try {
    const dataDir = join(workDir, 'data');
    mkdirSync(dataDir);
    const redisUrl = await startRedis(join(workDir, 'redis'));
    log(`redis-server up at ${redisUrl}`);

    log(
      `seeding ${options.accounts} demo accounts into ${dataDir} and starting the four subgraphs in one process (no worker)…`,
    );
    const subgraphs = spawnChild(
      'subgraphs',
      process.execPath,
      [
        '--import',
        TSX_LOADER,
        join(ROOT, 'bench', 'subgraphs-process.ts'),
        '--data-dir',
        dataDir,
        '--accounts',
        String(options.accounts),
      ],
      {
        cwd: ROOT,
        env: childEnv({}),
      },
    );
    const ready = await waitForJsonLine(
      subgraphs,
      (m) =>
        (m as SubgraphsProcessMessage).event === 'ready' || (m as SubgraphsProcessMessage).event === 'failed'
          ? (m as SubgraphsProcessMessage)
          : undefined,
      STARTUP_TIMEOUT_MS,
    );
    if (ready.event !== 'ready')
      throw new Error(`the subgraphs process failed: ${ready.event === 'failed' ? ready.message : ''}`);
    log(
      `subgraphs up (pid ${subgraphs.pid}): ${Object.entries(ready.urls)
        .map(([name, url]) => `${name} ${url}`)
        .join(', ')}`,
    );
    const composed = composeSupergraph(loadSupergraphConfig(join(ROOT, 'supergraph.yaml')), ready.urls);
    if (composed.errors) throw new Error(`composition failed:\n${composed.errors.join('\n')}`);
    const supergraphPath = join(workDir, 'supergraph.graphql');
    writeFileSync(supergraphPath, composed.supergraphSdl);
    // Read-only use: the round's outbox events (the ground truth subscribers are checked against) and run states.
    const ledger = new SqliteLedger(join(dataDir, 'orchestration.db'));
    ledgerToClose = ledger;

    const clients = await Promise.all(
      Array.from({ length: options.clientProcesses }, (_, i) => startClientProcess(i + 1)),
    );
    log(`client processes up: pids ${clients.map((c) => c.child.pid).join(', ')}`);

    const auth = benchAuth();
    const gatewayEnv = gatewayAuthEnv(auth, ready.secrets);
    const tokens = { bi: await bearerHeader(auth, 'bi'), service: await bearerHeader(auth, 'service') };
    const context: RoundContext = {
      options,
      ticks,
      workDir,
      dataDir,
      redisUrl,
      supergraphPath,
      urls: ready.urls,
      secrets: ready.secrets,
      gatewayEnv,
      tokens,
      ledger,
      clients,
      subgraphs,
      round: 0,
    };
    const results: RoundResult[] = [];
    for (const gateways of options.gateways) {
      for (const subscribers of options.subscribers) results.push(await runRound(context, gateways, subscribers));
    }
    printSummary(results);
  } finally {
    await stopAllChildren();
    ledgerToClose?.close();
    ledgerToClose = undefined;
    rmSync(workDir, { recursive: true, force: true });
    workDirToRemove = undefined;
  }
}

interface RoundContext {
  options: SubscriptionBenchOptions;
  ticks: number;
  workDir: string;
  dataDir: string;
  redisUrl: string;
  supergraphPath: string;
  urls: Record<string, string>;
  /** Each subgraph's signing secret, for the worker. */
  secrets: Record<string, string>;
  /** A gateway's token settings, subgraph secrets and rate limit off (bench/bench-auth.ts). */
  gatewayEnv: Record<string, string>;
  /** `authorization` headers: `bi` subscribes and queries, `service` creates the systems' records and triggers flows. */
  tokens: { bi: { authorization: string }; service: { authorization: string } };
  ledger: SqliteLedger;
  clients: ClientProcess[];
  subgraphs: BenchChild;
  round: number;
}

/** One round: fresh gateways, runs queued, N subscribers, the worker released, delivery measured and checked. */
async function runRound(ctx: RoundContext, gatewayCount: number, subscriberCount: number): Promise<RoundResult> {
  const { options, ticks, ledger, clients } = ctx;
  const round = ++ctx.round;
  const topology = gatewayCount === 1 ? '1 gateway' : `${gatewayCount} gateways`;
  log(`— round ${round}: ${subscriberCount} subscribers on ${topology} —`);
  const cursor = await lastOutboxSeq(ledger);

  const gateways = await Promise.all(
    Array.from({ length: gatewayCount }, async (_, g) => {
      const port = await freePort();
      const child = spawnChild(
        `gateway ${g + 1}`,
        process.execPath,
        ['--import', EXIT_WITH_PARENT, '--import', TSX_LOADER, join(ROOT, 'gateway', 'main.ts')],
        {
          cwd: ROOT,
          env: childEnv({
            GATEWAY_PORT: String(port),
            SUPERGRAPH_PATH: ctx.supergraphPath,
            REDIS_URL: ctx.redisUrl,
            ...ctx.gatewayEnv,
          }),
        },
      );
      const url = `http://127.0.0.1:${port}/graphql`;
      await waitUntilServing(url, child, STARTUP_TIMEOUT_MS, ctx.tokens.bi);
      // The payload's query plan and the subgraph connections, so the RSS baseline is a gateway that has served them.
      for (let i = 0; i < 3; i++)
        await postForData(
          url,
          JSON.stringify({ query: `{ syncRuns(first: 5) { nodes { ${RUN_SELECTION} } } }` }),
          ctx.tokens.bi,
        );
      return { child, url, wsUrl: url.replace(/^http/, 'ws') };
    }),
  );
  try {
    log(`gateways up: ${gateways.map((g, i) => `gateway ${i + 1} pid ${g.child.pid} ${g.url}`).join(', ')}`);

    const runIds = await queueConversions(gateways[0]!.url, ctx.tokens.service, options.runs, round);
    log(`queued ${runIds.length} conversions through gateway 1 (no worker runs yet, so each waits at sequence 1)`);
    const queryMs = await payloadQueryMs(
      gateways.map((g) => g.url),
      ctx.tokens.bi,
      runIds,
    );
    log(
      `one payload query (syncRunAt with the subscribers' selection) over HTTP, alone: p50 ${queryMs.map((q) => fixed(q, 1)).join(' / ')} ms per gateway ` +
        `(a subscription awaits each change's query before the next, so it delivers at most ~${fixed(1000 / Math.max(...queryMs), 0)} changes/s)`,
    );

    const rssBefore = gateways.map((g) => residentBytes(g.child.pid));
    const subscribeCpuBefore = gateways.map((g) => safeCpu(g.child, ticks));
    const plan = planSockets(subscriberCount, options, gatewayCount, runIds);
    for (const c of clients) c.received = c.errors = 0;
    const subscribeStarted = performance.now();
    for (const [k, c] of clients.entries()) {
      c.send({
        cmd: 'subscribe',
        gatewayUrls: gateways.map((g) => g.wsUrl),
        sockets: plan.filter((_, i) => i % clients.length === k),
        authorization: ctx.tokens.bi.authorization,
      });
    }
    const subscribed = await progressUntil(
      Promise.all(clients.map((c) => c.next('subscribed', SUBSCRIBE_TIMEOUT_MS))),
      () =>
        `subscribing: ${sum(clients.map((c) => c.received))} snapshots so far; gateway RSS ${gateways.map((g) => mib(safeRss(g.child))).join(' / ')} MiB`,
    );
    const subscribeMs = performance.now() - subscribeStarted;
    const subscribeCpuMs = sum(gateways.map((g, i) => safeCpu(g.child, ticks) - subscribeCpuBefore[i]!));
    const failures = subscribed.flatMap((s) => s.failures);
    const rssSubscribed = gateways.map((g) => safeRss(g.child));
    log(
      `subscribed: ${sum(subscribed.map((s) => s.subscriptions))} subscriptions on ${sum(subscribed.map((s) => s.sockets))} sockets in ${seconds(subscribeMs)} ` +
        `(gateway CPU ${seconds(subscribeCpuMs)}); gateway RSS ${gateways.map((_, i) => `${mib(rssBefore[i]!)} → ${mib(rssSubscribed[i]!)}`).join(' / ')} MiB; ` +
        `client process RSS ${clients.map((c) => mib(safeRss(c.child))).join(' / ')} MiB` +
        (failures.length ? `; failures: ${failures.join(' | ')}` : ''),
    );

    const cpuBefore = gateways.map((g) => safeCpu(g.child, ticks));
    const clientCpuBefore = sum(clients.map((c) => cpuTimeMs(c.child.pid, ticks)));
    const subgraphsCpuBefore = cpuTimeMs(ctx.subgraphs.pid, ticks);
    const ownCpuBefore = process.cpuUsage();
    const hostBusyBefore = hostBusyMs(ticks);
    const releasedAtMs = Date.now();
    const deliveryStarted = performance.now();
    const orchestrationPort = await freePort();
    const worker = spawnChild(
      'worker',
      process.execPath,
      ['--import', EXIT_WITH_PARENT, '--import', TSX_LOADER, join(ROOT, 'subgraphs', 'orchestration', 'main.ts')],
      {
        cwd: ROOT,
        env: childEnv({
          DATA_DIR: ctx.dataDir,
          ORCHESTRATION_PORT: String(orchestrationPort),
          CRM_URL: ctx.urls.crm!,
          PSA_URL: ctx.urls.psa!,
          ERP_URL: ctx.urls.erp!,
          REDIS_URL: ctx.redisUrl,
          TRIGGERS: '0',
          SEED_ACCOUNTS: String(options.accounts),
          ...subgraphSecretEnv(ctx.secrets),
        }),
      },
    );
    log(`released: started the worker and outbox relay (pid ${worker.pid}); waiting for the runs to settle`);

    const received = () => sum(clients.map((c) => c.received));
    const errorsSoFar = () => {
      const errors = sum(clients.map((c) => c.errors));
      const down = gateways.flatMap((g, i) => (g.child.exited() ? [`gateway ${i + 1}`] : []));
      return (errors ? `, ${errors} errors` : '') + (down.length ? `; ${down.join(', ')} EXITED` : '');
    };
    const events = await progressUntil(waitForRuns(ledger, runIds, worker), async () => {
      const runs = await ledger.getRuns(runIds);
      const settled = runs.filter((r) => r && SETTLED.has(r.status)).length;
      return `runs settled ${settled}/${runIds.length}; payloads received ${received()}${errorsSoFar()}; gateway CPU ${gateways.map((g, i) => `${fixed((safeCpu(g.child, ticks) - cpuBefore[i]!) / 1000, 1)} s`).join(' / ')}`;
    }).then(() => roundEvents(ledger, cursor, runIds));
    const expected = expectedRuns(events, await ledger.getRuns(runIds));
    const committed = events.filter((e) => Date.parse(e.createdAt) >= releasedAtMs).map((e) => Date.parse(e.createdAt));
    const commitSpanMs = committed.length ? Math.max(...committed) - Math.min(...committed) : 0;
    const expectedPayloads = plan.reduce(
      (n, s) => n + s.feeds * events.length + sum(s.runIds.map((id) => expected[id]?.sequences.length ?? 0)),
      0,
    );
    log(
      `runs settled: ${events.length} run events in the outbox (${committed.length} committed after the release, over ${seconds(commitSpanMs)}); ${expectedPayloads} payloads expected in all`,
    );

    await progressUntil(
      waitForDelivery(clients, expectedPayloads),
      () =>
        `delivering: ${received()}/${expectedPayloads} payloads${errorsSoFar()}; gateway RSS ${gateways.map((g) => mib(safeRss(g.child))).join(' / ')} MiB`,
    );
    const deliveryMs = performance.now() - deliveryStarted;
    const cpuMs = gateways.map((g, i) => safeCpu(g.child, ticks) - cpuBefore[i]!);
    const ownCpu = process.cpuUsage(ownCpuBefore);
    const parts = {
      gateways: sum(cpuMs),
      subgraphs: safeCpu(ctx.subgraphs, ticks) - subgraphsCpuBefore,
      worker: safeCpu(worker, ticks),
      clients: sum(clients.map((c) => safeCpu(c.child, ticks))) - clientCpuBefore,
    };
    // What the machine was busy with beyond this benchmark's processes (redis-server and this one count as ours).
    const others = Math.max(
      0,
      hostBusyMs(ticks) - hostBusyBefore - sum(Object.values(parts)) - (ownCpu.user + ownCpu.system) / 1000,
    );
    const rssAfter = gateways.map((g) => safeRss(g.child));
    await worker.stop();

    for (const c of clients) c.send({ cmd: 'verify', expected, releasedAtMs });
    const reports = (await Promise.all(clients.map((c) => c.next('report', 60_000)))).flatMap((r) => r.gateways);
    for (const c of clients) c.send({ cmd: 'close' });
    await Promise.all(clients.map((c) => c.next('closed', 60_000)));

    const result: RoundResult = {
      topology,
      subscribers: subscriberCount,
      subscribeMs,
      queryMs,
      committedEvents: events.length,
      commitSpanMs,
      expectedPayloads,
      receivedPayloads: received(),
      deliveryMs,
      cpuMs: { ...parts, others },
      gateways: gateways.map((g, i) => {
        const mine = reports.filter((r) => r.gateway === i);
        const first = Math.min(...mine.map((r) => r.firstAtMs ?? Number.POSITIVE_INFINITY));
        const last = Math.max(...mine.map((r) => r.lastAtMs ?? Number.NEGATIVE_INFINITY));
        return {
          label: `gateway ${i + 1}`,
          subscribers: sum(mine.map((r) => r.subscribers)),
          sockets: plan.filter((s) => s.gateway === i).length,
          rssBeforeBytes: rssBefore[i]!,
          rssSubscribedBytes: rssSubscribed[i]!,
          rssAfterBytes: rssAfter[i]!,
          cpuMs: cpuMs[i]!,
          delivered: sum(mine.map((r) => r.delivered)),
          spanMs: last > first ? last - first : 0,
          latency: {
            all: mergeHistograms(mine, ['feed', 'run']),
            feed: mergeHistograms(mine, ['feed']),
            run: mergeHistograms(mine, ['run']),
          },
          violations: mergeViolations(mine.map((r) => r.violations)),
          warnings: warningLines(g.child),
          exited: g.child.exited()
            ? `exited (${g.child.process.exitCode ?? g.child.process.signalCode}) during the round; its last output:\n${g.child.output().slice(-3000)}`
            : null,
        };
      }),
    };
    printRound(result);
    return result;
  } finally {
    await Promise.all(gateways.map((g) => g.child.stop()));
  }
}

/**
 * The p50 of 20 payload queries through each gateway one at a time: `syncRunAt` at sequence 1 of the queued runs,
 * with the subscribers' selection, as the gateway runs it per event.
 * @throws Error when a query fails.
 */
async function payloadQueryMs(
  urls: readonly string[],
  headers: Record<string, string>,
  runIds: readonly string[],
): Promise<number[]> {
  const result: number[] = [];
  for (const url of urls) {
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const body = JSON.stringify({
        query: `query($id: ID!) { syncRunAt(id: $id, sequence: 1) { ${RUN_SELECTION} } }`,
        variables: { id: runIds[i % runIds.length] },
      });
      const t0 = performance.now();
      await postForData(url, body, headers);
      times.push(performance.now() - t0);
    }
    result.push(percentile(times, 50));
  }
  return result;
}

/**
 * Creates `count` accounts with a closed-won opportunity each and queues a conversion of each, all through `url` with
 * `headers` (a `service` token: the CRM's own mutations need `write:systems`).
 * @throws Error when a mutation fails.
 */
async function queueConversions(
  url: string,
  headers: Record<string, string>,
  count: number,
  round: number,
): Promise<string[]> {
  const runIds: string[] = new Array<string>(count);
  let next = 0;
  const one = async (i: number) => {
    const tag = `r${round}-${i}`;
    const account = (await postForData(
      url,
      JSON.stringify({
        query: 'mutation($input: UpsertAccountInput!) { upsertAccount(input: $input) { account { id } } }',
        variables: {
          input: {
            externalId: `bench-sub-${tag}`,
            name: `Subscriber Bench ${tag} Ltd`,
            industry: 'Retail',
            billingCountry: 'GB',
          },
        },
      }),
      headers,
    )) as { upsertAccount: { account: { id: string } } };
    const opportunity = (await postForData(
      url,
      JSON.stringify({
        query: 'mutation($input: UpsertOpportunityInput!) { upsertOpportunity(input: $input) { opportunity { id } } }',
        variables: {
          input: {
            externalId: `bench-sub-opp-${tag}`,
            accountId: account.upsertAccount.account.id,
            name: `Live status ${tag}`,
            stage: 'CLOSED_WON',
            amount: { amount: '120000.00', currency: 'GBP' },
            closeDate: '2026-11-01',
            servicePackage: 'CLOUD_MIGRATION',
            billingModel: 'FIXED_FEE',
            deliveryRegion: 'UK',
            expectedStartDate: '2026-12-01',
          },
        },
      }),
      headers,
    )) as { upsertOpportunity: { opportunity: { id: string } } };
    const run = (await postForData(
      url,
      JSON.stringify({
        query:
          'mutation($input: ConvertOpportunityToProjectInput!) { convertOpportunityToProject(input: $input) { id } }',
        variables: { input: { opportunityId: opportunity.upsertOpportunity.opportunity.id } },
      }),
      headers,
    )) as { convertOpportunityToProject: { id: string } };
    runIds[i] = run.convertOpportunityToProject.id;
  };
  await Promise.all(
    Array.from({ length: Math.min(CREATE_CONCURRENCY, count) }, async () => {
      while (next < count) await one(next++);
    }),
  );
  return runIds;
}

/**
 * The sockets of a round: `perSocket` subscriptions each (the last ones may hold fewer), `feedShare` of the
 * subscribers on `syncRunsUpdated` spread evenly over them, the others on `syncRunUpdated` of the runs in turn; the
 * sockets split into equal consecutive blocks, one per gateway.
 */
function planSockets(
  subscribers: number,
  options: SubscriptionBenchOptions,
  gateways: number,
  runIds: readonly string[],
): SocketPlan[] {
  const sockets = Math.ceil(subscribers / options.perSocket);
  const feeds = Math.round(subscribers * options.feedShare);
  const plan: SocketPlan[] = [];
  let k = 0;
  let runSubscribers = 0;
  for (let i = 0; i < sockets; i++) {
    const size = Math.floor(((i + 1) * subscribers) / sockets) - Math.floor((i * subscribers) / sockets);
    const socket: SocketPlan = { gateway: Math.floor((i * gateways) / sockets), feeds: 0, runIds: [] };
    for (let j = 0; j < size; j++, k++) {
      if (Math.floor(((k + 1) * feeds) / subscribers) > Math.floor((k * feeds) / subscribers)) socket.feeds++;
      else socket.runIds.push(runIds[runSubscribers++ % runIds.length]!);
    }
    plan.push(socket);
  }
  return plan;
}

/** Resolves once every run is in a state the worker leaves it in. @throws Error when the worker exits or the runs take too long. */
async function waitForRuns(ledger: SqliteLedger, runIds: readonly string[], worker: BenchChild): Promise<void> {
  const deadline = Date.now() + RUNS_TIMEOUT_MS;
  // The worker is another process: its commits show only in the shared SQLite file, so poll it.
  for (;;) {
    const runs = await ledger.getRuns(runIds);
    if (runs.every((r) => r && SETTLED.has(r.status))) return;
    if (worker.exited())
      throw new Error(
        `the worker exited (${worker.process.exitCode ?? worker.process.signalCode}) before the runs settled:\n${worker.output()}`,
      );
    if (Date.now() > deadline)
      throw new Error(
        `the runs did not settle within ${RUNS_TIMEOUT_MS} ms: ${runs.map((r) => r?.status ?? 'missing').join(', ')}\n${worker.output()}`,
      );
    await sleep(100);
  }
}

/** Resolves once the clients received `expected` payloads, or none arrived for {@link QUIET_MS} (then the check says what is missing). */
async function waitForDelivery(clients: readonly ClientProcess[], expected: number): Promise<void> {
  let last = -1;
  let quietSince = Date.now();
  for (;;) {
    const received = sum(clients.map((c) => c.received));
    if (received >= expected) return;
    if (received !== last) {
      last = received;
      quietSince = Date.now();
    } else if (Date.now() - quietSince > QUIET_MS) {
      log(`no payload for ${QUIET_MS / 1000} s with ${received}/${expected} received: checking what arrived`);
      return;
    }
    await sleep(100);
  }
}

async function lastOutboxSeq(ledger: SqliteLedger): Promise<number> {
  let seq = 0;
  for (let batch = await ledger.eventsAfter(seq, 5000); batch.length; batch = await ledger.eventsAfter(seq, 5000))
    seq = batch[batch.length - 1]!.seq;
  return seq;
}

/** The round's SYNC_RUN_UPDATED outbox events (what `syncRunUpdated` and `syncRunsUpdated` stream), in outbox order. */
async function roundEvents(ledger: SqliteLedger, cursor: number, runIds: readonly string[]): Promise<OutboxEvent[]> {
  const ids = new Set(runIds);
  const events: OutboxEvent[] = [];
  let seq = cursor;
  for (let batch = await ledger.eventsAfter(seq, 5000); batch.length; batch = await ledger.eventsAfter(seq, 5000)) {
    events.push(...batch.filter((e) => ids.has(e.runId) && e.type === 'SYNC_RUN_UPDATED'));
    seq = batch[batch.length - 1]!.seq;
  }
  return events;
}

function expectedRuns(
  events: readonly OutboxEvent[],
  runs: readonly ({ id: string; status: string } | null)[],
): Record<string, ExpectedRun> {
  const expected: Record<string, ExpectedRun> = {};
  for (const run of runs) if (run) expected[run.id] = { sequences: [], statuses: [], final: FINAL.has(run.status) };
  for (const e of events) {
    expected[e.runId]?.sequences.push(e.sequence);
    expected[e.runId]?.statuses.push(e.status);
  }
  return expected;
}

/** Spawns a load-generating child and routes its JSON lines: progress is kept, the rest queued for {@link ClientProcess.next}. */
async function startClientProcess(index: number): Promise<ClientProcess> {
  const child = spawnChild(
    `clients ${index}`,
    process.execPath,
    ['--import', TSX_LOADER, join(ROOT, 'bench', 'subscriptions-clients.ts')],
    { cwd: ROOT, env: childEnv({}) },
  );
  const queued: ClientMessage[] = [];
  const waiters = new Set<() => void>();
  let failure: string | undefined;
  let buffered = '';
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  child.process.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      let message: ClientMessage;
      try {
        message = JSON.parse(line) as ClientMessage;
      } catch {
        continue;
      }
      if (message.event === 'progress') {
        handle.received = message.received;
        handle.errors = message.errors;
      } else if (message.event === 'failed') {
        failure = message.message;
      } else {
        queued.push(message);
      }
      wake();
    }
  });
  child.process.once('exit', wake);
  const handle: ClientProcess = {
    child,
    received: 0,
    errors: 0,
    send: (command) => void child.process.stdin!.write(`${JSON.stringify(command)}\n`),
    next: (event, timeoutMs) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const at = queued.findIndex((m) => m.event === event);
          let error: Error | undefined;
          if (at >= 0) resolve(queued.splice(at, 1)[0] as never);
          else if (failure !== undefined) error = new Error(`${child.name} failed: ${failure}`);
          else if (child.exited())
            error = new Error(
              `${child.name} exited (${child.process.exitCode ?? child.process.signalCode}):\n${child.output()}`,
            );
          else return;
          clearTimeout(timer);
          waiters.delete(check);
          if (error) reject(error);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${child.name} sent no '${event}' within ${timeoutMs} ms:\n${child.output()}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
  };
  await handle.next('ready', STARTUP_TIMEOUT_MS);
  return handle;
}

/**
 * Starts `redis-server` on a free loopback port with nothing kept on disk, as test/support/redis-server.ts does, but
 * as a benchmark child so every exit path stops it; resolves with its URL once it accepts connections.
 * @throws Error when redis-server is not installed or exits early.
 */
async function startRedis(dir: string): Promise<string> {
  mkdirSync(dir);
  const port = await freePort();
  let redis: BenchChild;
  try {
    redis = spawnChild(
      'redis-server',
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { cwd: dir, env: childEnv({}) },
    );
  } catch (error) {
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}: this benchmark needs a real Redis server on the PATH (Debian: apt-get install redis-server)`,
    );
  }
  const deadline = Date.now() + 10_000;
  while (!redis.output().includes('Ready to accept connections')) {
    if (redis.exited() || Date.now() > deadline)
      throw new Error(`redis-server on port ${port} did not become ready:\n${redis.output()}`);
    // redis-server reports readiness only in its log; it takes a few ms.
    await sleep(20);
  }
  return `redis://127.0.0.1:${port}`;
}

/** Awaits `work`, logging `line()` every {@link PROGRESS_EVERY_MS} meanwhile. */
async function progressUntil<T>(work: Promise<T>, line: () => string | Promise<string>): Promise<T> {
  const timer = setInterval(() => {
    void Promise.resolve(line()).then(log, () => undefined);
  }, PROGRESS_EVERY_MS);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

/** The gateway's log lines at warn level or above (pino JSON: level ≥ 40), first few only. */
function warningLines(child: BenchChild): string[] {
  const lines = child
    .output()
    .split('\n')
    .filter((line) => {
      try {
        return (JSON.parse(line) as { level?: number }).level! >= 40;
      } catch {
        return line.trim() !== '';
      }
    });
  return lines
    .slice(0, 3)
    .map((l) => l.slice(0, 400))
    .concat(lines.length > 3 ? [`… ${lines.length - 3} more`] : []);
}

function mergeHistograms(reports: readonly GatewayReport[], kinds: readonly SubscriberKind[]): Map<number, number> {
  const merged = new Map<number, number>();
  for (const r of reports) {
    for (const kind of kinds)
      for (const [ms, n] of Object.entries(r.latencyHistograms[kind]))
        merged.set(Number(ms), (merged.get(Number(ms)) ?? 0) + n);
  }
  return merged;
}

/** The nearest-rank percentile (0–100) of a histogram of whole milliseconds; NaN when empty. */
function histogramPercentile(histogram: Map<number, number>, p: number): number {
  const total = sum([...histogram.values()]);
  if (total === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (const ms of [...histogram.keys()].sort((a, b) => a - b)) {
    seen += histogram.get(ms)!;
    if (seen >= rank) return ms;
  }
  return Number.NaN;
}

function mergeViolations(all: readonly Violations[]): Violations {
  const merged: Violations = {
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
  for (const v of all) {
    for (const key of [
      'subscribers',
      'missing',
      'duplicates',
      'outOfOrder',
      'gaps',
      'unexpected',
      'notCompleted',
      'wrongState',
      'errors',
    ] as const)
      merged[key] += v[key];
    merged.examples.push(...v.examples);
  }
  merged.examples = merged.examples.slice(0, 6);
  return merged;
}

function describeViolations(v: Violations): string {
  if (v.subscribers === 0) return 'every subscriber got every event exactly once, in sequence order per run';
  const parts = (
    ['missing', 'duplicates', 'outOfOrder', 'gaps', 'unexpected', 'notCompleted', 'wrongState', 'errors'] as const
  )
    .filter((k) => v[k] > 0)
    .map((k) => `${k} ${v[k]}`);
  return `VIOLATIONS at ${v.subscribers} subscriber(s): ${parts.join(', ')}`;
}

function printRound(r: RoundResult): void {
  const cpu = r.cpuMs;
  log(
    `round done: ${r.receivedPayloads}/${r.expectedPayloads} payloads received; the worker committed ${r.committedEvents} run events over ${seconds(r.commitSpanMs)}; ` +
      `subscribing took ${seconds(r.subscribeMs)}, delivery (release to last payload) ${seconds(r.deliveryMs)}`,
  );
  log(
    `  CPU during delivery: gateway(s) ${seconds(cpu.gateways)}, subgraphs ${seconds(cpu.subgraphs)}, worker ${seconds(cpu.worker)}, client processes ${seconds(cpu.clients)}, ` +
      `other processes on this machine ${seconds(cpu.others)} (of ${seconds(r.deliveryMs * availableParallelism())} available)`,
  );
  if (cpu.others > r.deliveryMs * availableParallelism() * OTHERS_SHARE_WARNING)
    log(
      `  warning: other processes took ${fixed((cpu.others / (r.deliveryMs * availableParallelism())) * 100, 0)}% of the machine during delivery: latencies and rates are disturbed`,
    );
  for (const g of r.gateways) {
    log(
      `  ${g.label}: ${g.subscribers} subscribers on ${g.sockets} sockets; latency p50 ${ms(g.latency.all, 50)}, p99 ${ms(g.latency.all, 99)} ` +
        `(syncRunsUpdated p50 ${ms(g.latency.feed, 50)} p99 ${ms(g.latency.feed, 99)}; syncRunUpdated p50 ${ms(g.latency.run, 50)} p99 ${ms(g.latency.run, 99)}); ` +
        `${g.delivered} payloads in ${seconds(g.spanMs)} = ${fixed(rate(g), 0)}/s; CPU ${seconds(g.cpuMs)}`,
    );
    log(
      `  ${g.label}: RSS ${mib(g.rssBeforeBytes)} MiB before → ${mib(g.rssSubscribedBytes)} MiB subscribed (${fixed(perSubscriberKib(g), 1)} KiB per subscriber) → ${mib(g.rssAfterBytes)} MiB after delivery`,
    );
    log(`  ${g.label}: ${describeViolations(g.violations)}`);
    for (const example of g.violations.examples) log(`    e.g. ${example}`);
    if (g.exited) log(`  ${g.label} ${g.exited}`);
    if (g.warnings.length) log(`  ${g.label} logged at warn or above:\n      ${g.warnings.join('\n      ')}`);
  }
}

function printSummary(results: readonly RoundResult[]): void {
  const header = [
    'topology',
    'subscribers',
    'gateway',
    'p50 ms',
    'p99 ms',
    'feed p50/p99',
    'run p50/p99',
    'payloads/s',
    'KiB RSS/sub',
    'check',
  ];
  const rows = results.flatMap((r) =>
    r.gateways.map((g) => [
      r.topology,
      String(g.subscribers),
      g.label,
      fixed(histogramPercentile(g.latency.all, 50), 0),
      fixed(histogramPercentile(g.latency.all, 99), 0),
      `${fixed(histogramPercentile(g.latency.feed, 50), 0)}/${fixed(histogramPercentile(g.latency.feed, 99), 0)}`,
      `${fixed(histogramPercentile(g.latency.run, 50), 0)}/${fixed(histogramPercentile(g.latency.run, 99), 0)}`,
      fixed(rate(g), 0),
      fixed(perSubscriberKib(g), 1),
      g.violations.subscribers === 0 ? 'ok' : `${g.violations.subscribers} subscribers wrong`,
    ]),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  console.log('');
  console.log(header.map((h, i) => h.padEnd(widths[i]!)).join('  '));
  for (const row of rows)
    console.log(
      row.map((cell, i) => (i < 3 || i === 9 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
    );
  console.log(
    "(latency: commit (the payload's updatedAt) to arrival at the client, over changes committed after the release; feed = syncRunsUpdated, run = syncRunUpdated(id); " +
      'payloads/s: payloads a gateway delivered after the release ÷ first-to-last arrival; KiB RSS/sub: (gateway RSS with its subscribers − before) ÷ its subscribers; ' +
      'check: every subscriber got every outbox event exactly once, in sequence order per run)',
  );
}

function ms(histogram: Map<number, number>, p: number): string {
  return `${fixed(histogramPercentile(histogram, p), 0)} ms`;
}

function rate(g: GatewayFigures): number {
  return g.spanMs > 0 ? (g.delivered * 1000) / g.spanMs : Number.NaN;
}

function perSubscriberKib(g: GatewayFigures): number {
  return (g.rssSubscribedBytes - g.rssBeforeBytes) / 1024 / g.subscribers;
}

function safeRss(child: BenchChild): number {
  try {
    return residentBytes(child.pid);
  } catch {
    return Number.NaN;
  }
}

function safeCpu(child: BenchChild, ticks: number): number {
  try {
    return cpuTimeMs(child.pid, ticks);
  } catch {
    return Number.NaN;
  }
}

const USAGE = `usage: npm run bench:subscriptions -- [--subscribers 1000,10000] [--gateways 1,2] [--runs N] [--feed-share 0..1] [--per-socket N] [--client-processes N] [--accounts N]
Defaults: --subscribers ${DEFAULTS.subscribers.join(',')} --gateways ${DEFAULTS.gateways.join(',')} --runs ${DEFAULTS.runs} --feed-share ${DEFAULTS.feedShare} --per-socket ${DEFAULTS.perSocket} --client-processes ${DEFAULTS.clientProcesses} --accounts ${DEFAULTS.accounts}
Live status at scale over Redis (needs redis-server on the PATH); docs/benchmarks.md says what each option and figure means.`;

/**
 * Reads the options over {@link DEFAULTS}.
 * @throws Error with the usage for an unknown option or a value out of range.
 */
function parseOptions(argv: string[]): SubscriptionBenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      subscribers: { type: 'string' },
      gateways: { type: 'string' },
      runs: { type: 'string' },
      'feed-share': { type: 'string' },
      'per-socket': { type: 'string' },
      'client-processes': { type: 'string' },
      accounts: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const whole = (name: string, raw: string | undefined, fallback: number, min: number, max: number) => {
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max)
      throw new Error(`--${name} must be a whole number from ${min} to ${max}; got '${raw}'\n${USAGE}`);
    return value;
  };
  const list = (name: string, raw: string | undefined, fallback: number[], min: number, max: number) =>
    raw === undefined ? fallback : raw.split(',').map((v) => whole(name, v.trim(), 0, min, max));
  const feedShare = values['feed-share'] === undefined ? DEFAULTS.feedShare : Number(values['feed-share']);
  if (!(feedShare >= 0 && feedShare <= 1))
    throw new Error(`--feed-share must be from 0 to 1; got '${values['feed-share']}'\n${USAGE}`);
  return {
    subscribers: list('subscribers', values.subscribers, DEFAULTS.subscribers, 1, 100_000),
    gateways: list('gateways', values.gateways, DEFAULTS.gateways, 1, 4),
    runs: whole('runs', values.runs, DEFAULTS.runs, 1, 1000),
    feedShare,
    perSocket: whole('per-socket', values['per-socket'], DEFAULTS.perSocket, 1, 10_000),
    clientProcesses: whole('client-processes', values['client-processes'], DEFAULTS.clientProcesses, 1, 16),
    accounts: whole('accounts', values.accounts, DEFAULTS.accounts, 1, 10_000),
  };
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function log(line: string): void {
  console.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

function seconds(ms: number): string {
  return `${fixed(ms / 1000, 1)} s`;
}

function mib(bytes: number): string {
  return fixed(bytes / 1024 / 1024, 0);
}

process.on('exit', killAllChildrenNow);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the benchmark's processes`);
    void stopAllChildren().finally(() => {
      ledgerToClose?.close();
      if (workDirToRemove) rmSync(workDirToRemove, { recursive: true, force: true });
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  });
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(`bench:subscriptions failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
