import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintToken } from '../gateway/auth/mint-token';
import { composeSupergraph, loadSupergraphConfig } from '../lib/compose';
import { bearerHeader, benchAuth, benchSubject, gatewayAuthEnv, subgraphSecretEnv, type BenchAuth } from './bench-auth';
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
import { HIVE_GATEWAY_BIN, HIVE_GATEWAY_VERSION, hiveGatewayInstalled, installHiveGateway } from './hive';
import { BI_QUERY } from './bi-query';
import { hiveGatewayEnv, writeHiveGatewayConfig } from './hive-config';
import { canonicalJson, checkedData, percentile, postForData, runLoad, type LoadResult } from './load';
import { type ClockWindow, monotonicNowUs, readCpuProfile, summarizeCpuProfile } from './cpu-profile';
import { clockTicksPerSecond, cpuTimeMs, hostBusyMs, residentBytes } from './proc-stats';
import type { SubgraphsProcessMessage } from './subgraphs-process';

/** What the benchmark runs; every field has a `--kebab-case` option. */
interface GatewayBenchOptions {
  /** Demo accounts seeded into the reference systems. @default 200 */
  accounts: number;
  /** `accounts(first:)` of the BI query. @default 50 */
  queryAccounts: number;
  /**
   * Distinct pages the requests cycle through: page `k` is `first: queryAccounts` after the k-th account.
   * @default every page the seeded accounts allow (accounts − queryAccounts + 1); 1 sends identical requests.
   */
  variants?: number;
  /** Unmeasured requests per gateway before the rounds. @default 100 */
  warmup: number;
  /** Requests per round. @default 300 */
  requests: number;
  /** Requests in flight at once. @default 8 */
  concurrency: number;
  /** Measured rounds per gateway, alternating ours and Hive's. @default 3 */
  rounds: number;
  /**
   * 1 adds a third contender: ours again, in development mode with `AUTH=off` (no token verified), to show what
   * verifying the token costs; 0 leaves it out. @default 1
   */
  authOff: number;
  /**
   * 1 adds another contender: ours again, as configured as the first but with `GATEWAY_RESULT_SHAPING=apollo`
   * (`@apollo/gateway` shapes every result itself), to show what the compiled result shaping saves. @default 0
   */
  apolloShaping: number;
  /**
   * 1 runs our gateway under `node --cpu-prof` and prints the profile's top functions and packages by self time over
   * its measured rounds (start-up and warm-up left out); the profile is kept in bench/.profiles/ for DevTools. The
   * profiler itself costs CPU, so compare figures of runs with the same setting. @default 0
   */
  cpuProf: number;
}

/** The defaults: about three minutes on a 2-core machine (two without `--auth-off`), once Hive Gateway is installed. */
const DEFAULT_GATEWAY_BENCH_OPTIONS: GatewayBenchOptions = {
  accounts: 200,
  queryAccounts: 50,
  warmup: 100,
  requests: 300,
  concurrency: 8,
  rounds: 3,
  authOff: 1,
  apolloShaping: 0,
  cpuProf: 0,
};

const CURSOR_QUERY = 'query AccountCursor($first: Int!) { accounts(first: $first) { pageInfo { endCursor } } }';

const ROOT = join(__dirname, '..');
const STARTUP_TIMEOUT_MS = 120_000;
/** Share of the machine's CPU that other processes may take during the rounds before the figures are flagged. */
const OTHERS_SHARE_WARNING = 0.05;
const started = performance.now();
let workDirToRemove: string | undefined;
const spawned: BenchChild[] = [];

/** What one gateway is, and what its rounds measured. */
interface Contender {
  label: string;
  child: BenchChild;
  url: string;
  /** Sent with every request: `authorization: Bearer <bi token>`. */
  headers: Record<string, string>;
  latenciesMs: number[];
  elapsedMs: number;
  requests: number;
  gatewayCpuMs: number;
  subgraphsCpuMs: number;
  othersCpuMs: number;
}

/**
 * Seeds and starts the four subgraphs in one child process, our gateway and Hive Gateway each in their own, over
 * the same supergraph; warms both up, then loads them in alternating rounds and prints the figures of each.
 * @throws Error when a process fails to start, a response has errors, or the two gateways' data differ.
 */
async function main(argv: readonly string[]): Promise<void> {
  const options = parseOptions(argv);
  const variants = options.variants ?? options.accounts - options.queryAccounts + 1;
  const ticks = clockTicksPerSecond();
  log(
    `Meridian gateway benchmark: node ${process.version}, ${availableParallelism()} CPUs; ${options.accounts} accounts seeded; ` +
      `BI query of ${options.queryAccounts} accounts over ${variants} distinct page(s); per gateway ${options.warmup} warm-up + ` +
      `${options.rounds} × ${options.requests} measured requests at concurrency ${options.concurrency}`,
  );
  for (const line of securityLines(options.authOff === 1)) log(line);
  if (variants === 1)
    log('every request is identical: Hive Gateway deduplicates identical in-flight subgraph requests, ours does not');
  if (!hiveGatewayInstalled()) {
    log(
      `installing @graphql-hive/gateway@${HIVE_GATEWAY_VERSION} into bench/.hive (first run only; outside the project's dependencies)…`,
    );
    await installHiveGateway();
    log('installed Hive Gateway');
  }

  const workDir = mkdtempSync(join(tmpdir(), 'meridian-bench-'));
  workDirToRemove = workDir;
  try {
    const dataDir = join(workDir, 'data');
    mkdirSync(dataDir);
    log(`seeding ${options.accounts} demo accounts into ${dataDir} and starting the four subgraphs in one process…`);
    const subgraphs = track(
      spawnChild(
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
      ),
    );
    const ready = await waitForJsonLine(
      subgraphs,
      (message) => {
        const m = message as SubgraphsProcessMessage;
        if (m.event === 'seeded') log(`  seeded ${m.done}/${m.total} accounts`);
        return m.event === 'ready' || m.event === 'failed' ? m : undefined;
      },
      STARTUP_TIMEOUT_MS,
    );
    if (ready.event === 'failed') throw new Error(`the subgraphs process failed: ${ready.message}`);
    log(
      `subgraphs up (pid ${subgraphs.pid}): ${Object.entries(ready.urls)
        .map(([name, url]) => `${name} ${url}`)
        .join(', ')}`,
    );

    const composed = composeSupergraph(loadSupergraphConfig(join(ROOT, 'supergraph.yaml')), ready.urls);
    if (composed.errors) throw new Error(`composition failed:\n${composed.errors.join('\n')}`);
    const supergraphPath = join(workDir, 'supergraph.graphql');
    writeFileSync(supergraphPath, composed.supergraphSdl);

    const auth = benchAuth();
    const bi = await bearerHeader(auth, 'bi');
    const [oursPort, hivePort, offPort, apolloPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    log(
      `starting our gateway (port ${oursPort}) and Hive Gateway ${HIVE_GATEWAY_VERSION} (port ${hivePort}), each in its own process, over ${supergraphPath}…`,
    );
    const profileDir = join(workDir, 'profile');
    /** Our gateway (gateway/main.ts) in a process of its own on `port`, over the run's supergraph, with `env`. */
    const ourGateway = (label: string, port: number, env: Record<string, string>, nodeArgs: string[] = []) =>
      track(
        spawnChild(
          label,
          process.execPath,
          [...nodeArgs, '--import', EXIT_WITH_PARENT, '--import', TSX_LOADER, join(ROOT, 'gateway', 'main.ts')],
          {
            cwd: ROOT,
            env: childEnv({ GATEWAY_PORT: String(port), SUPERGRAPH_PATH: supergraphPath, ...env }),
          },
        ),
      );
    const ours = ourGateway(
      'our gateway',
      oursPort,
      gatewayAuthEnv(auth, ready.secrets),
      options.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [],
    );
    // Started from the temporary folder, with the config generated there for this run: it verifies the same tokens and
    // signs subgraph requests as ours does (bench/hive-config.ts).
    const hiveConfig = writeHiveGatewayConfig(workDir);
    const hive = track(
      spawnChild(
        'Hive Gateway',
        process.execPath,
        [
          '--import',
          EXIT_WITH_PARENT,
          HIVE_GATEWAY_BIN,
          'supergraph',
          supergraphPath,
          '--config-path',
          hiveConfig,
          '--host',
          '127.0.0.1',
          '--port',
          String(hivePort),
        ],
        {
          cwd: workDir,
          env: childEnv(hiveGatewayEnv(auth, ready.urls, ready.secrets)),
        },
      ),
    );
    const contenders: Contender[] = [
      {
        label: `ours (@apollo/gateway ${versionOf('@apollo/gateway')})`,
        child: ours,
        url: `http://127.0.0.1:${oursPort}/graphql`,
        headers: bi,
        ...emptyTotals(),
      },
      {
        label: `Hive Gateway ${HIVE_GATEWAY_VERSION}`,
        child: hive,
        url: `http://127.0.0.1:${hivePort}/graphql`,
        headers: bi,
        ...emptyTotals(),
      },
    ];
    let apolloShaped: Contender | undefined;
    if (options.apolloShaping) {
      const child = ourGateway('our gateway, GATEWAY_RESULT_SHAPING=apollo', apolloPort, {
        GATEWAY_RESULT_SHAPING: 'apollo',
        ...gatewayAuthEnv(auth, ready.secrets),
      });
      log(
        `starting ours again with GATEWAY_RESULT_SHAPING=apollo (port ${apolloPort}), to show what compiled shaping saves…`,
      );
      apolloShaped = {
        label: 'ours, Apollo shaping',
        child,
        url: `http://127.0.0.1:${apolloPort}/graphql`,
        headers: bi,
        ...emptyTotals(),
      };
      contenders.push(apolloShaped);
    }
    let off: Contender | undefined;
    if (options.authOff) {
      // AUTH=off is refused in production, so this one runs in development mode: no token verified, every caller a fixed
      // bi identity; it still checks scopes and signs subgraph requests (the subgraphs accept nothing else).
      const offChild = ourGateway('our gateway, AUTH=off', offPort, {
        NODE_ENV: 'development',
        AUTH: 'off',
        AUTH_OFF_ROLE: 'bi',
        RATE_LIMIT_POINTS: '0',
        ...subgraphSecretEnv(ready.secrets),
      });
      log(
        `starting ours again with AUTH=off (development mode; port ${offPort}), to show what verifying the token costs…`,
      );
      off = {
        label: 'ours, AUTH=off',
        child: offChild,
        url: `http://127.0.0.1:${offPort}/graphql`,
        headers: bi,
        ...emptyTotals(),
      };
      contenders.push(off);
    }
    await Promise.all(contenders.map((c) => waitUntilServing(c.url, c.child, STARTUP_TIMEOUT_MS, c.headers)));
    log(`gateways up: ${contenders.map((c) => `${c.label} pid ${c.child.pid}`).join(', ')}`);
    await checkRefusals(contenders.slice(0, 2), auth);

    const bodies = await pageBodies(contenders[0]!, options.queryAccounts, variants);
    log(
      `read the cursors of ${variants} page(s) of ${options.queryAccounts} accounts; request i asks page i mod ${variants}`,
    );
    for (const [i, c] of contenders.entries()) {
      const warm = await runLoad({
        url: c.url,
        headers: c.headers,
        bodies,
        requests: options.warmup,
        concurrency: options.concurrency,
      });
      await assertSameData(warm, bodies, c, contenders[(i + 1) % contenders.length]!, 'warm-up');
      const shape =
        i === 0
          ? `; a response holds ${describeData(warm.lastData, options.queryAccounts)}, ${kib(warm.lastBodyBytes)}`
          : '';
      log(
        `warm-up ${c.label}: ${options.warmup} requests in ${seconds(warm.elapsedMs)}; data identical in the gateways${shape}`,
      );
    }

    const total = options.rounds * contenders.length;
    const profiledWindows: ClockWindow[] = [];
    for (let round = 0; round < total; round++) {
      const c = contenders[round % contenders.length]!;
      const pids = [process.pid, subgraphs.pid, ...contenders.map((x) => x.child.pid)];
      const benchCpuBefore = sum(pids.map((pid) => cpuTimeMs(pid, ticks)));
      const hostBusyBefore = hostBusyMs(ticks);
      const gatewayCpuBefore = cpuTimeMs(c.child.pid, ticks);
      const subgraphsCpuBefore = cpuTimeMs(subgraphs.pid, ticks);
      const fromUs = monotonicNowUs();
      const result = await runLoad({
        url: c.url,
        headers: c.headers,
        bodies,
        requests: options.requests,
        concurrency: options.concurrency,
      });
      if (c.child === ours) profiledWindows.push({ fromUs, toUs: monotonicNowUs() });
      const gatewayCpuMs = cpuTimeMs(c.child.pid, ticks) - gatewayCpuBefore;
      const subgraphsCpuMs = cpuTimeMs(subgraphs.pid, ticks) - subgraphsCpuBefore;
      // CPU that other processes took from the two cores during the round: a large figure means a disturbed round.
      const othersCpuMs = Math.max(
        0,
        hostBusyMs(ticks) - hostBusyBefore - (sum(pids.map((pid) => cpuTimeMs(pid, ticks))) - benchCpuBefore),
      );
      await assertSameData(result, bodies, c, contenders[(round + 1) % contenders.length]!, `round ${round + 1}`);
      c.latenciesMs.push(...result.latenciesMs);
      c.elapsedMs += result.elapsedMs;
      c.requests += result.latenciesMs.length;
      c.gatewayCpuMs += gatewayCpuMs;
      c.subgraphsCpuMs += subgraphsCpuMs;
      c.othersCpuMs += othersCpuMs;
      log(
        `round ${round + 1}/${total} ${c.label}: ${options.requests} requests in ${seconds(result.elapsedMs)}, ` +
          `${fixed((options.requests * 1000) / result.elapsedMs, 1)} req/s, p50 ${fixed(percentile(result.latenciesMs, 50), 1)} ms, ` +
          `p99 ${fixed(percentile(result.latenciesMs, 99), 1)} ms, ${fixed(gatewayCpuMs / options.requests, 2)} gateway CPU-ms/req; ` +
          `data identical in the gateways; other processes used ${fixed(othersCpuMs / 1000, 1)} CPU-s`,
      );
    }

    const [a, b] = contenders as [Contender, Contender];
    const cpuPerRequest = (c: Contender) => c.gatewayCpuMs / c.requests;
    const rss = contenders.map((c) => residentBytes(c.child.pid));
    printResults(contenders, rss);
    const rateRatio = requestsPerSecond(a) / requestsPerSecond(b);
    const cpuRatio = b.gatewayCpuMs / b.requests / (a.gatewayCpuMs / a.requests);
    console.log('');
    console.log(`ours vs Hive, requests/s:            ${fixed(rateRatio, 2)}× (above 1: ours serves more per second)`);
    console.log(
      `Hive ÷ ours, gateway CPU-ms/request: ${fixed(cpuRatio, 2)}× (above 1: ours spends less CPU per request)`,
    );
    if (apolloShaped) {
      console.log(
        `Hive ÷ ours with Apollo shaping:     ${fixed(cpuPerRequest(b) / cpuPerRequest(apolloShaped), 2)}× gateway CPU-ms/request; ` +
          `compiled shaping takes ${fixed((1 - cpuPerRequest(a) / cpuPerRequest(apolloShaped)) * 100, 0)}% off ours ` +
          `(${signed(cpuPerRequest(a) - cpuPerRequest(apolloShaped), 2)} CPU-ms/request)`,
      );
    }
    if (off) {
      console.log(
        `ours with auth ÷ ours AUTH=off:     ${fixed(requestsPerSecond(a) / requestsPerSecond(off), 2)}× requests/s, ` +
          `${fixed(cpuPerRequest(a) / cpuPerRequest(off), 2)}× gateway CPU-ms/request (${signed(cpuPerRequest(a) - cpuPerRequest(off), 2)} CPU-ms/request: ` +
          "what verifying the token and production mode cost, if above the run's noise)",
      );
    }
    if (options.cpuProf) await printProfile(ours, profileDir, profiledWindows);
    const othersShare =
      sum(contenders.map((c) => c.othersCpuMs)) / (sum(contenders.map((c) => c.elapsedMs)) * availableParallelism());
    if (othersShare > OTHERS_SHARE_WARNING) {
      console.log(
        `\nwarning: other processes took ${fixed(othersShare * 100, 0)}% of the machine's CPU during the rounds ` +
          `(${contenders.map((c) => `${c.label} ${fixed(c.othersCpuMs / 1000, 1)} s`).join(', ')}): requests/s and latencies are disturbed; CPU-ms/request much less so. Rerun on a quiet machine.`,
      );
    }
  } catch (error) {
    for (const c of spawned.filter((x) => x.exited()))
      console.error(
        `${c.name} exited (${c.process.exitCode ?? c.process.signalCode}); its last output:\n${c.output()}`,
      );
    throw error;
  } finally {
    await stopAllChildren();
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** What each contender does for security on every request, for the header. */
function securityLines(authOff: boolean): string[] {
  return [
    'every request carries `authorization: Bearer <HS256 JWT, role bi>` (a secret, issuer and audience fresh per run); the subgraphs accept only HMAC-signed requests, and verify every signature:',
    `  ours (NODE_ENV=production): verifies the JWT (jose: HS256, issuer, audience, expiry), checks @authenticated/@requiresScopes on every selected field, signs each subgraph request (HMAC-SHA256 over timestamp, the caller's identity and the body)`,
    `  Hive Gateway: the same three, from a config generated into the run's temporary folder: its JWT plugin (jsonwebtoken: HS256, issuer, audience, expiry), its generic-auth plugin (protect-granular) with the identity ours would build from the claims, and an onFetch plugin that signs each subgraph request exactly as ours does`,
    ...(authOff
      ? [
          '  ours, AUTH=off (NODE_ENV=development, the only mode that allows it): verifies no token (every caller is a fixed bi identity), still checks the directives and signs every subgraph request',
        ]
      : []),
  ];
}

/**
 * Stops our gateway so that it writes its profile, keeps the profile in bench/.profiles/ and prints its top entries
 * over the measured rounds.
 * @throws Error when the gateway wrote no profile.
 */
async function printProfile(ours: BenchChild, profileDir: string, windows: readonly ClockWindow[]): Promise<void> {
  // SIGTERM: the gateway drains and exits, and node writes the profile on the way out.
  await ours.stop(30_000);
  const profile = readCpuProfile(profileDir);
  const keptDir = join(ROOT, 'bench', '.profiles');
  mkdirSync(keptDir, { recursive: true });
  const kept = join(keptDir, `gateway-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
  // The rounds' windows ride along (DevTools ignores the extra field), so the same summary can be taken again later.
  writeFileSync(kept, JSON.stringify({ ...profile, measuredWindows: windows }));
  const summary = summarizeCpuProfile(profile, windows, ROOT, 12);
  console.log('');
  console.log(
    `our gateway's CPU profile over its measured rounds: ${fixed(summary.busyMs / 1000, 2)} CPU-s sampled busy of ` +
      `${fixed(summary.totalMs / 1000, 2)} s (${kept}, opens in Chrome DevTools → Performance)`,
  );
  for (const [title, entries] of [
    ['top functions by self time', summary.functions],
    ['top packages and files by self time', summary.packages],
  ] as const) {
    console.log(`  ${title}:`);
    for (const e of entries)
      console.log(`    ${fixed(e.ms, 0).padStart(7)} ms ${fixed(e.share * 100, 1).padStart(5)} %  ${e.name}`);
  }
}

function track(child: BenchChild): BenchChild {
  spawned.push(child);
  return child;
}

function emptyTotals() {
  return { latenciesMs: [] as number[], elapsedMs: 0, requests: 0, gatewayCpuMs: 0, subgraphsCpuMs: 0, othersCpuMs: 0 };
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function requestsPerSecond(c: Contender): number {
  return (c.requests * 1000) / c.elapsedMs;
}

function printResults(contenders: readonly Contender[], rss: readonly number[]): void {
  const rows: Array<[string, (c: Contender, i: number) => string]> = [
    ['requests/s', (c) => fixed(requestsPerSecond(c), 1)],
    ['p50 latency (ms)', (c) => fixed(percentile(c.latenciesMs, 50), 1)],
    ['p99 latency (ms)', (c) => fixed(percentile(c.latenciesMs, 99), 1)],
    ['gateway CPU-ms/request', (c) => fixed(c.gatewayCpuMs / c.requests, 2)],
    ['subgraphs CPU-ms/request', (c) => fixed(c.subgraphsCpuMs / c.requests, 2)],
    ['gateway RSS after rounds (MiB)', (_c, i) => fixed(rss[i]! / 1024 / 1024, 1)],
    ["other processes' CPU (s)", (c) => fixed(c.othersCpuMs / 1000, 1)],
  ];
  const width = Math.max(...contenders.map((c) => c.label.length)) + 2;
  console.log('');
  console.log(`${''.padEnd(32)}${contenders.map((c) => c.label.padStart(width)).join('')}`);
  for (const [name, cell] of rows)
    console.log(`${name.padEnd(32)}${contenders.map((c, i) => cell(c, i).padStart(width)).join('')}`);
  console.log(
    `(${contenders[0]!.requests} measured requests per gateway; CPU from /proc/<pid>/stat, RSS from /proc/<pid>/status)`,
  );
}

/**
 * One JSON body per page of the BI query: page `k` starts after the k-th account, its cursor read through `gateway`.
 * @throws Error when a cursor query fails.
 */
async function pageBodies(gateway: Contender, queryAccounts: number, variants: number): Promise<string[]> {
  const bodies: string[] = [];
  for (let k = 0; k < variants; k++) {
    const data = (await postForData(
      gateway.url,
      JSON.stringify({ query: CURSOR_QUERY, variables: { first: k } }),
      gateway.headers,
    )) as { accounts: { pageInfo: { endCursor: string | null } } };
    bodies.push(
      JSON.stringify({
        query: BI_QUERY,
        operationName: 'BiAccounts',
        variables: { first: queryAccounts, after: data.accounts.pageInfo.endCursor },
      }),
    );
  }
  return bodies;
}

/**
 * Asks `other` the request whose response a batch ended with, outside the measured time, and checks the data match.
 * @throws Error naming the first path where they differ, or the other gateway's failure.
 */
async function assertSameData(
  result: LoadResult,
  bodies: readonly string[],
  measured: Contender,
  other: Contender,
  when: string,
): Promise<void> {
  const otherData = await postForData(other.url, bodies[result.lastBodyIndex]!, other.headers);
  if (canonicalJson(otherData) === canonicalJson(result.lastData)) return;
  const where = firstDifference(result.lastData, otherData, 'data') ?? 'data';
  throw new Error(
    `${measured.label} and ${other.label} returned different data for page ${result.lastBodyIndex} after the ${when}, first at ${where}`,
  );
}

/**
 * Sends the first page of the BI query to each gateway without a token, then with a portal token (a client, who may
 * not see deals, receivables or other clients), and logs how each refused.
 * @throws Error when a gateway answers either with data and no errors.
 */
async function checkRefusals(gateways: readonly Contender[], auth: BenchAuth): Promise<void> {
  const body = JSON.stringify({ query: BI_QUERY, operationName: 'BiAccounts', variables: { first: 1 } });
  const portal = {
    authorization: `Bearer ${await mintToken({ ...auth, subject: benchSubject('portal'), role: 'portal', accounts: ['ACC-000001'], expiresIn: '1h' })}`,
  };
  for (const [what, headers] of [
    ['no token', {}],
    ['a portal token', portal],
  ] as const) {
    const answers = await Promise.all(
      gateways.map(async (g) => {
        const response = await fetch(g.url, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json', accept: 'application/json' },
          body,
        });
        const text = await response.text();
        let refused: string;
        try {
          checkedData(response.status, text);
          refused = '';
        } catch (error) {
          refused = (error instanceof Error ? error.message : String(error)).replace(/\n\s*/g, ' ');
        }
        if (!refused) throw new Error(`${g.label} served the BI query to a caller with ${what}: ${text.slice(0, 300)}`);
        return `${g.label}: ${refused.slice(0, 240)}`;
      }),
    );
    log(`the BI query with ${what} is refused:\n    ${answers.join('\n    ')}`);
  }
}

function firstDifference(a: unknown, b: unknown, path: string): string | undefined {
  if (canonicalJson(a) === canonicalJson(b)) return undefined;
  if (a && b && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of keys) {
      const found = firstDifference(
        (a as Record<string, unknown>)[key],
        (b as Record<string, unknown>)[key],
        `${path}.${key}`,
      );
      if (found) return found;
    }
  }
  return `${path}: ${JSON.stringify(a)?.slice(0, 200)} vs ${JSON.stringify(b)?.slice(0, 200)}`;
}

/**
 * Counts what a BI response holds, to show it spans the three systems.
 * @throws Error when it has not `expectedAccounts` accounts, or an account's PSA or ERP list is null (a subgraph failed).
 */
function describeData(data: unknown, expectedAccounts: number): string {
  const nodes = (data as { accounts?: { nodes?: unknown } } | null)?.accounts?.nodes;
  if (!Array.isArray(nodes) || nodes.length !== expectedAccounts)
    throw new Error(`expected ${expectedAccounts} accounts, got ${JSON.stringify(data).slice(0, 300)}`);
  let opportunities = 0;
  let projects = 0;
  let invoices = 0;
  let receivables = 0;
  for (const node of nodes as Array<{
    opportunities: unknown[];
    projects: unknown[] | null;
    invoices: unknown[] | null;
    receivables: unknown;
  }>) {
    if (node.projects === null || node.invoices === null)
      throw new Error(
        `an account has null projects or invoices (a subgraph failed): ${JSON.stringify(node).slice(0, 300)}`,
      );
    opportunities += node.opportunities.length;
    projects += node.projects.length;
    invoices += node.invoices.length;
    if (node.receivables !== null) receivables++;
  }
  return `${nodes.length} accounts (CRM), ${opportunities} won opportunities (CRM), ${projects} projects (PSA) with billed-to-date (ERP), ${invoices} invoices (ERP), ${receivables} receivables (ERP)`;
}

function versionOf(pkg: string): string {
  return (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string })
    .version;
}

const USAGE = `usage: npm run bench:gateway -- [--accounts N] [--query-accounts N] [--variants N] [--warmup N] [--requests N] [--concurrency N] [--rounds N] [--auth-off 0|1] [--apollo-shaping 0|1] [--cpu-prof 0|1]
Defaults: ${Object.entries(DEFAULT_GATEWAY_BENCH_OPTIONS)
  .map(([k, v]) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${v}`)
  .join(' ')} --variants <accounts − query-accounts + 1>
Our gateway against Hive Gateway on the same supergraph and subgraphs; docs/benchmarks.md says what each option and figure means.`;

/**
 * Reads `--kebab-case N` options over {@link DEFAULT_GATEWAY_BENCH_OPTIONS}.
 * @throws Error with the usage for an unknown option or a value that is not a whole number in range.
 */
function parseOptions(argv: readonly string[]): GatewayBenchOptions {
  const options = { ...DEFAULT_GATEWAY_BENCH_OPTIONS };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i]!;
    if (flag === '--help' || flag === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    const key = flag
      .replace(/^--/, '')
      .replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase()) as keyof GatewayBenchOptions;
    const value = Number(argv[i + 1]);
    if (!flag.startsWith('--') || !(key in DEFAULT_GATEWAY_BENCH_OPTIONS || key === 'variants'))
      throw new Error(`unknown option ${flag}\n${USAGE}`);
    const flag01 = key === 'authOff' || key === 'apolloShaping' || key === 'cpuProf';
    const min = flag01 ? 0 : 1;
    const max = key === 'queryAccounts' ? 1000 : flag01 ? 1 : 1_000_000;
    if (!Number.isInteger(value) || value < min || value > max)
      throw new Error(`${flag} must be a whole number from ${min} to ${max}; got '${argv[i + 1] ?? ''}'\n${USAGE}`);
    options[key] = value;
  }
  if (options.queryAccounts > options.accounts)
    throw new Error(`--query-accounts (${options.queryAccounts}) must not exceed --accounts (${options.accounts})`);
  const pages = options.accounts - options.queryAccounts + 1;
  if (options.variants !== undefined && options.variants > pages)
    throw new Error(`--variants must be at most ${pages} (accounts − query-accounts + 1), so that every page is full`);
  return options;
}

function log(line: string): void {
  console.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

function signed(value: number, digits: number): string {
  return value > 0 ? `+${fixed(value, digits)}` : fixed(value, digits);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

process.on('exit', killAllChildrenNow);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the benchmark's processes`);
    void stopAllChildren().finally(() => {
      if (workDirToRemove) rmSync(workDirToRemove, { recursive: true, force: true });
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  });
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(`bench:gateway failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
