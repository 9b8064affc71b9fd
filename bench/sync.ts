/*
 * npm run bench:sync [-- --conversions 200 --concurrency 16 --sizes 10000,100000,1000000]
 *
 * The flows end to end in one process (four subgraphs, the gateway, a worker; SQLite stores in a temp folder):
 *  1. conversions/s and p50/p99 latency from the accepted `convertOpportunityToProject` mutation to the run's
 *     SUCCEEDED (customer, project, dimensions and links all written);
 *  2. approved time entries billed per second by one `billApprovedTime` run, at each size, with the RSS after.
 * Requests to the gateway carry an `operations` bearer token (it may trigger flows), minted for a secret fresh per run.
 * Figures, not assertions: compare runs on one machine, not across machines.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatUsage } from '../lib/cli';
import { formatId } from '../lib/ids';
import type { RunRecord } from '../subgraphs/orchestration/engine/ledger';
import type { TimeEntryRecord } from '../subgraphs/psa/connector/psa-connector';
import { startStack, type Stack } from '../stack/start-stack';
import { authOptionsOf, bearerHeader, benchAuth } from './bench-auth';
import { percentile } from './load';
import { benchWorkers } from './sync-workers';
import { benchDeal } from './bench-deal';

process.env.APOLLO_TELEMETRY_DISABLED ??= '1';

const USAGE = formatUsage({
  command:
    'npm run bench:sync -- [--conversions N] [--concurrency N] [--sizes N,N,...] | [--ledger sqlite|postgres --workers N,N,... --projects N --entries N]',
  summary:
    'The flows end to end in one process: conversions/s with p50/p99 from the accepted mutation to SUCCEEDED, then\n' +
    'approved time entries billed per second by one billApprovedTime run at each size, with the RSS after.',
  options: [
    ['--conversions N', 'conversions to run (default 200)'],
    ['--concurrency N', 'conversion mutations in flight (default 16)'],
    ['--sizes N,N,...', 'approved time entries to bill, one run per size (default 10000,100000,1000000)'],
    [
      '--workers N,N,...',
      'instead: worker processes on one ledger, per count, beside SQLite with one (docs/scale-out.md)',
    ],
    ['--ledger sqlite|postgres', 'the ledger the --workers counts run on (default postgres; POSTGRES_BENCH_URL)'],
    ['--projects N', 'with --workers: billing runs, one per T&M project (default 4)'],
    ['--entries N', 'with --workers: approved entries per project (default 500); conversions default to 100'],
  ],
});

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        conversions: { type: 'string' },
        concurrency: { type: 'string', default: '16' },
        sizes: { type: 'string', default: '10000,100000,1000000' },
        ledger: { type: 'string', default: 'postgres' },
        workers: { type: 'string' },
        projects: { type: 'string', default: '4' },
        entries: { type: 'string', default: '500' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    console.error(`bench:sync: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
})();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const conversions = Number(values.conversions ?? (values.workers ? 100 : 200));
const concurrency = Number(values.concurrency);
const sizes = values.sizes.split(',').map(Number);
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

/** Where the flows are triggered: the stack's gateway, with an `operations` bearer token. */
interface Gateway {
  url: string;
  headers: Record<string, string>;
}

async function post(gateway: Gateway, query: string, variables: Record<string, unknown>): Promise<Record<string, any>> {
  const response = await fetch(gateway.url, {
    method: 'POST',
    headers: { ...gateway.headers, 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: Record<string, any>; errors?: unknown[] };
  if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data!;
}

function terminal(stack: Stack): (runId: string) => Promise<RunRecord> {
  const waiters = new Map<string, (run: RunRecord) => void>();
  const done = new Map<string, RunRecord>();
  stack.runEvents.on('run', (run) => {
    if (run.status !== 'SUCCEEDED' && run.status !== 'EXCEPTION') return;
    const waiter = waiters.get(run.id);
    if (waiter) waiter(run);
    else done.set(run.id, run);
  });
  return (runId) =>
    new Promise((resolve) => (done.has(runId) ? resolve(done.get(runId)!) : waiters.set(runId, resolve)));
}

async function benchConversions(
  stack: Stack,
  gateway: Gateway,
  untilDone: (id: string) => Promise<RunRecord>,
): Promise<void> {
  console.log(`conversions: preparing ${conversions} closed-won opportunities`);
  const ids: string[] = [];
  for (let i = 0; i < conversions; i++) {
    const { record: account } = await stack.stores.crm.upsertAccount({
      externalId: `bench-${i}`,
      name: `Bench Client ${i} Ltd`,
      industry: 'Retail',
      billingCountry: 'GB',
      parentAccountId: null,
      owner: null,
    });
    const { record } = await stack.stores.crm.upsertOpportunity(benchDeal(`bench-opp-${i}`, account.id, i));
    ids.push(record.id);
  }
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < ids.length) {
        const opportunityId = ids[next++]!;
        const t0 = performance.now();
        const data = await post(
          gateway,
          'mutation($id: ID!) { convertOpportunityToProject(input: { opportunityId: $id }) { id } }',
          { id: opportunityId },
        );
        const run = await untilDone(data.convertOpportunityToProject.id);
        if (run.status !== 'SUCCEEDED') throw new Error(`conversion ${run.id} ended ${run.status}`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `conversions: ${conversions} at concurrency ${concurrency} in ${seconds.toFixed(1)} s → ${(conversions / seconds).toFixed(1)} conversions/s, ` +
      `latency p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms, RSS ${mb(process.memoryUsage().rss)}`,
  );
}

async function benchBilling(
  stack: Stack,
  gateway: Gateway,
  untilDone: (id: string) => Promise<RunRecord>,
  size: number,
  round: number,
): Promise<void> {
  // A T&M project of the demo data, with `size` approved entries written through the reference PSA's bulk seed.
  const project = (
    await stack.stores.psa.listProjects({ first: 1000, afterKey: null }, { billingModel: 'TIME_AND_MATERIALS' })
  ).nodes[round]!;
  console.log(`billing ${size}: writing ${size} approved time entries to ${project.id}`);
  const base = 9_000_000_000 + round * 1_000_000_000;
  for (let from = 0; from < size; from += 50_000) {
    const timeEntries: TimeEntryRecord[] = [];
    for (let i = from; i < Math.min(size, from + 50_000); i++) {
      timeEntries.push({
        id: formatId('TE', base + i),
        projectId: project.id,
        resourceId: 'RES-000003',
        role: 'Senior Consultant',
        date: '2026-10-15',
        hoursHundredths: 100 + (i % 700),
        billable: true,
        status: 'APPROVED',
        notes: null,
        billingReference: null,
      });
    }
    stack.stores.psa.seed({ projects: [], milestones: [], timeEntries, expenses: [] });
  }
  const t0 = performance.now();
  const data = await post(gateway, 'mutation($p: ID!) { billApprovedTime(input: { projectId: $p }) { id } }', {
    p: project.id,
  });
  const run = await untilDone(data.billApprovedTime.id);
  const seconds = (performance.now() - t0) / 1000;
  if (run.status !== 'SUCCEEDED')
    throw new Error(`billing run ${run.id} ended ${run.status}: ${JSON.stringify(run.steps)}`);
  const summary = run.steps[1]!.output as { timeEntries: number; batches: number };
  console.log(
    `billing ${size}: ${summary.timeEntries} entries in ${summary.batches} batches in ${seconds.toFixed(1)} s → ${(summary.timeEntries / seconds).toFixed(0)} entries/s, RSS ${mb(process.memoryUsage().rss)}`,
  );
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'meridian-bench-sync-'));
  console.log(
    `bench:sync: stack on ${dataDir} (node ${process.version}); mutations carry an operations token, every subgraph request is signed`,
  );
  const auth = benchAuth();
  const stack = await startStack({
    dataDir,
    seedAccounts: 40,
    workerOptions: { idlePollMs: 20 },
    auth: authOptionsOf(auth),
  });
  try {
    const gateway: Gateway = { url: stack.gatewayUrl, headers: await bearerHeader(auth, 'operations') };
    const untilDone = terminal(stack);
    await benchConversions(stack, gateway, untilDone);
    for (const [round, size] of sizes.entries()) await benchBilling(stack, gateway, untilDone, size, round);
  } finally {
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

(values.workers
  ? benchWorkers({
      ledger: values.ledger === 'sqlite' ? 'sqlite' : 'postgres',
      workers: values.workers.split(',').map(Number),
      conversions,
      projects: Number(values.projects),
      entriesPerProject: Number(values.entries),
    })
  : main()
).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
