/*
 * `npm run bench:sync -- --ledger postgres --workers 1,2,4 [--conversions N] [--projects N] [--entries N]`
 *
 * The engine as separate worker processes (`npm run start:worker`'s entry point) on one ledger: conversions/s and
 * billed time entries/s for each worker count on PostgreSQL, beside SQLite with one worker. The systems, the gateway
 * and the orchestration API run in this process (no worker here); runs are queued straight into the ledger, so the
 * figures are the workers' throughput, not the API's. Each configuration gets a fresh data folder (and a fresh
 * PostgreSQL database, dropped after). Figures, not assertions.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { formatId } from '../lib/ids';
import type { RunRecord } from '../subgraphs/orchestration/engine/ledger';
import { queueRun } from '../subgraphs/orchestration/engine/queue-run';
import type { Flow } from '../subgraphs/orchestration/flows/flow';
import { FLOWS } from '../subgraphs/orchestration/flows/index';
import type { TimeEntryRecord } from '../subgraphs/psa/connector/psa-connector';
import { startStack, type Stack } from '../stack/start-stack';
import { EXIT_WITH_PARENT, spawnChild, TSX_LOADER, type BenchChild } from './children';
import { benchDeal } from './bench-deal';
import { clockTicksPerSecond, cpuTimeMs, hostBusyMs } from './proc-stats';

/** What to measure. */
export interface WorkersBenchOptions {
  ledger: 'sqlite' | 'postgres';
  workers: number[];
  conversions: number;
  projects: number;
  entriesPerProject: number;
}

const ADMIN_URL = process.env.POSTGRES_BENCH_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const OPS = { subject: 'bench', role: 'operations' as const, correlationId: null };
const flow = (name: string) => FLOWS.find((f) => f.name === name)! as Flow<unknown>;

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Polls the ledger until every run has ended; throws when one did not succeed. */
async function untilAllDone(stack: Stack, runIds: readonly string[]): Promise<RunRecord[]> {
  for (;;) {
    const runs = (await stack.stores.ledger.getRuns(runIds)) as RunRecord[];
    const failed = runs.find((r) => r.status === 'EXCEPTION' || r.status === 'COMPENSATION_FAILED');
    if (failed) throw new Error(`run ${failed.id} ended ${failed.status}: ${JSON.stringify(failed.steps)}`);
    if (runs.every((r) => r.status === 'SUCCEEDED')) return runs;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function oneConfiguration(
  ledger: 'sqlite' | 'postgres',
  workers: number,
  options: WorkersBenchOptions,
): Promise<{ conversionsPerS: number; entriesPerS: number; conversionsCpu: PhaseCpu; billingCpu: PhaseCpu }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'meridian-bench-workers-'));
  const database = `meridian_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
  let databaseUrl: string | undefined;
  if (ledger === 'postgres') {
    await admin(`CREATE DATABASE ${database}`);
    const url = new URL(ADMIN_URL);
    url.pathname = `/${database}`;
    databaseUrl = url.toString();
  }
  const stack = await startStack({
    dataDir,
    seedAccounts: Math.max(20, options.projects * 6),
    worker: false,
    relay: false,
    ...(databaseUrl ? { databaseUrl } : {}),
  });
  const children: BenchChild[] = [];
  try {
    // Closed-won deals, and T&M projects with approved entries written through the reference PSA's bulk seed.
    const opportunities: string[] = [];
    for (let i = 0; i < options.conversions; i++) {
      const { record: account } = await stack.stores.crm.upsertAccount({
        externalId: `bench-w-${i}`,
        name: `Bench Client ${i} Ltd`,
        industry: 'Retail',
        billingCountry: 'GB',
        parentAccountId: null,
        owner: null,
      });
      const { record } = await stack.stores.crm.upsertOpportunity(benchDeal(`bench-w-opp-${i}`, account.id, i));
      opportunities.push(record.id);
    }
    const projects = (
      await stack.stores.psa.listProjects(
        { first: options.projects, afterKey: null },
        { billingModel: 'TIME_AND_MATERIALS' },
      )
    ).nodes.map((p) => p.id);
    for (const [round, projectId] of projects.entries()) {
      const timeEntries: TimeEntryRecord[] = Array.from({ length: options.entriesPerProject }, (_, i) => ({
        id: formatId('TE', 9_000_000_000 + round * 100_000_000 + i),
        projectId,
        resourceId: 'RES-000003',
        role: 'Senior Consultant',
        date: '2026-10-15',
        hoursHundredths: 100 + (i % 700),
        billable: true,
        status: 'APPROVED',
        notes: null,
        billingReference: null,
      }));
      stack.stores.psa.seed({ projects: [], milestones: [], timeEntries, expenses: [] });
    }

    const env = {
      ...process.env,
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      DATA_DIR: dataDir,
      CRM_URL: stack.urls.crm,
      PSA_URL: stack.urls.psa,
      ERP_URL: stack.urls.erp,
      ...Object.fromEntries(
        Object.entries(stack.secrets).map(([name, secret]) => [`SUBGRAPH_SECRET_${name.toUpperCase()}`, secret]),
      ),
      TRIGGERS: '0',
      WORKER_POLL_MS: '50',
      LOG_LEVEL: 'info',
    };
    for (let i = 0; i < workers; i++)
      children.push(
        spawnChild(
          `worker-${i}`,
          process.execPath,
          ['--import', EXIT_WITH_PARENT, '--import', TSX_LOADER, 'subgraphs/orchestration/worker-main.ts'],
          { cwd: join(__dirname, '..'), env },
        ),
      );
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve, reject) => {
            const check = () => {
              if (c.output().includes('orchestration worker started')) return resolve();
              if (c.exited()) return reject(new Error(`${c.name} exited:\n${c.output()}`));
              setTimeout(check, 50);
            };
            check();
          }),
      ),
    );

    const ticks = clockTicksPerSecond();
    // CPU per phase: this process (the three reference systems and the ledger's queueing), the worker processes, and
    // everything else on the host (PostgreSQL); against the two cores' capacity over the phase, it shows what bounds it.
    const cpuNow = () => {
      const systems = cpuTimeMs(process.pid, ticks);
      const workerCpu = children.reduce((sum, c) => sum + cpuTimeMs(c.pid, ticks), 0);
      return { systems, workers: workerCpu, host: hostBusyMs(ticks), at: performance.now() };
    };
    const cpuSince = (from: ReturnType<typeof cpuNow>): PhaseCpu => {
      const to = cpuNow();
      const systems = to.systems - from.systems;
      const workerCpu = to.workers - from.workers;
      return {
        systemsMs: systems,
        workersMs: workerCpu,
        othersMs: Math.max(0, to.host - from.host - systems - workerCpu),
        capacityMs: (to.at - from.at) * availableParallelism(),
      };
    };
    let cpu0 = cpuNow();
    let t0 = performance.now();
    const conversionRuns: string[] = [];
    for (const opportunityId of opportunities)
      conversionRuns.push(
        (await queueRun(stack.stores.ledger, flow('convertOpportunityToProject'), { opportunityId }, { actor: OPS }))
          .run.id,
      );
    await untilAllDone(stack, conversionRuns);
    const conversionsPerS = options.conversions / ((performance.now() - t0) / 1000);
    const conversionsCpu = cpuSince(cpu0);

    cpu0 = cpuNow();
    t0 = performance.now();
    const billingRuns: string[] = [];
    for (const projectId of projects)
      billingRuns.push(
        (await queueRun(stack.stores.ledger, flow('billApprovedTime'), { projectId }, { actor: OPS })).run.id,
      );
    const billed = (await untilAllDone(stack, billingRuns))
      .map((r) => (r.steps[1]!.output as { timeEntries: number }).timeEntries)
      .reduce((a, b) => a + b, 0);
    const entriesPerS = billed / ((performance.now() - t0) / 1000);
    return { conversionsPerS, entriesPerS, conversionsCpu, billingCpu: cpuSince(cpu0) };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
    if (databaseUrl) await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  }
}

/** CPU-ms spent during one phase of a configuration, and what the host's cores could give over it. */
interface PhaseCpu {
  systemsMs: number;
  workersMs: number;
  othersMs: number;
  capacityMs: number;
}

function shares(cpu: PhaseCpu): string {
  const pct = (ms: number) => `${Math.round((ms / cpu.capacityMs) * 100)}%`;
  const idle = Math.max(0, cpu.capacityMs - cpu.systemsMs - cpu.workersMs - cpu.othersMs);
  return `${pct(cpu.systemsMs)} ${pct(cpu.workersMs)} ${pct(cpu.othersMs)} ${pct(idle)}`;
}

/** Runs SQLite with one worker, then `options.ledger` with each worker count, and prints a table. */
export async function benchWorkers(options: WorkersBenchOptions): Promise<void> {
  const configurations: { ledger: 'sqlite' | 'postgres'; workers: number }[] = [
    { ledger: 'sqlite', workers: 1 },
    ...options.workers.map((workers) => ({ ledger: options.ledger, workers })),
  ];
  console.log(
    `bench:sync workers: ${options.conversions} conversions, then ${options.projects} billing runs of ${options.entriesPerProject} approved entries, per configuration (node ${process.version})`,
  );
  console.log(
    'ledger     workers  conversions/s  billed entries/s   CPU share while converting / billing: systems+bench, workers, others (PostgreSQL), idle',
  );
  for (const c of configurations) {
    const figures = await oneConfiguration(c.ledger, c.workers, options);
    console.log(
      `${c.ledger.padEnd(10)} ${String(c.workers).padStart(7)}  ${figures.conversionsPerS.toFixed(1).padStart(13)}  ${figures.entriesPerS.toFixed(0).padStart(16)}   ${shares(figures.conversionsCpu)} / ${shares(figures.billingCpu)}`,
    );
  }
  console.log(
    `(CPU from /proc over the phase, as a share of ${availableParallelism()} cores × its wall time; "systems+bench" is this process: the three reference systems, the ledger reads and the queueing)`,
  );
}
