import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { isProduction } from '../lib/auth/secrets';
import type { Usage } from '../lib/cli';
import { intFromEnv } from '../lib/env';
import { runMain } from '../lib/run-main';

/*
 * `npm run start:cluster`: the scale-out topology on one machine, as separate processes — the three system subgraphs,
 * two orchestration processes (each a subgraph, a worker, and a candidate leader for the outbox relay and the trigger
 * poller) on one PostgreSQL ledger, and two gateways on one Redis, each gateway routed to its own orchestration
 * process. Every process is started as it would be on its own machine (`npm run start:<name>`, `npm run
 * start:gateway`), with the environment this script prints; docs/scale-out.md says how to spread them.
 */
const USAGE: Usage = {
  command: 'npm run start:cluster',
  summary:
    'Starts, on this machine, the system subgraphs, two orchestration processes on PostgreSQL and two gateways on ' +
    'Redis, each its own process, and prints their URLs; Ctrl-C stops them all. Not for production: it makes up ' +
    'the subgraph secrets and uses the development JWT settings.',
  env: [
    ['DATABASE_URL', 'the ledger (default postgres://postgres@127.0.0.1:5432/meridian_cluster, created when missing)'],
    ['REDIS_URL', 'run events between the processes (default redis://127.0.0.1:6379)'],
    ['CLUSTER_BASE_PORT', 'gateways on BASE and BASE+10, CRM, PSA, ERP on BASE+1..3, orchestration on +4, +5 (4100)'],
    ['DATA_DIR', 'folder of the reference systems’ SQLite files (default ./data/cluster)'],
    ['SEED_ACCOUNTS', 'demo accounts seeded into empty reference systems (default 40)'],
    ['LOG_LEVEL', "the processes' pino level (default warn; their lines are prefixed with the process name)"],
  ],
};

/** One process of the cluster. */
interface Member {
  name: string;
  script: string;
  args: string[];
  env: Record<string, string>;
  /** Where it answers when up. */
  url: string;
}

/** Creates the database of `url` when the server has none of that name (trust or password auth as in the URL). */
async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!/^\w+$/.test(name)) throw new Error(`DATABASE_URL: the database name '${name}' must be letters, digits or _`);
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  const client = new pg.Client({ connectionString: maintenance.toString() });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`DATABASE_URL: cannot reach PostgreSQL at ${target.host}: ${(error as Error).message}`);
  }
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
}

/** Resolves once `url` answers 200, or rejects when `child` exits first or `timeoutMs` passes. */
async function waitUntilUp(url: string, child: ChildProcess, name: string, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before it answered at ${url}`);
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${name} did not answer at ${url} within ${timeoutMs / 1000} s`);
}

/** Passes a child's output on, each line prefixed with its name. */
function prefixOutput(child: ChildProcess, name: string): void {
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream?.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) process.stdout.write(`[${name}] ${line}\n`);
    });
  }
}

runMain(async () => {
  const env = process.env;
  if (isProduction(env))
    throw new Error('npm run start:cluster is a development topology: run each process on its own in production');
  const root = join(__dirname, '..');
  const base = intFromEnv(env, 'CLUSTER_BASE_PORT', 4100, 1, 65_525);
  const databaseUrl = env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/meridian_cluster';
  const redisUrl = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const dataDir = env.DATA_DIR ?? join(root, 'data', 'cluster');
  await ensureDatabase(databaseUrl);

  const secret = (name: string) => env[`SUBGRAPH_SECRET_${name.toUpperCase()}`] ?? randomBytes(24).toString('hex');
  const secrets = Object.fromEntries(
    ['crm', 'psa', 'erp', 'orchestration'].map((name) => [`SUBGRAPH_SECRET_${name.toUpperCase()}`, secret(name)]),
  );
  const url = (port: number) => `http://127.0.0.1:${port}`;
  const ports = {
    gateways: [base, base + 10],
    crm: base + 1,
    psa: base + 2,
    erp: base + 3,
    orch: [base + 4, base + 5],
  };
  const shared = {
    ...secrets,
    DATA_DIR: dataDir,
    LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
    APOLLO_TELEMETRY_DISABLED: '1',
  };
  const systems = {
    CRM_URL: `${url(ports.crm)}/graphql`,
    PSA_URL: `${url(ports.psa)}/graphql`,
    ERP_URL: `${url(ports.erp)}/graphql`,
  };
  const members: Member[] = [
    ...(['crm', 'psa', 'erp'] as const).map((name) => ({
      name,
      script: 'scripts/start-subgraph.ts',
      args: [name],
      // The PSA checks the ERP invoice a milestone is marked invoiced on.
      env: { [`${name.toUpperCase()}_PORT`]: String(ports[name]), ERP_URL: systems.ERP_URL },
      url: url(ports[name]),
    })),
    ...ports.orch.map((port, i) => ({
      name: `orchestration-${i + 1}`,
      script: 'scripts/start-subgraph.ts',
      args: ['orchestration'],
      env: { ORCHESTRATION_PORT: String(port), DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, ...systems },
      url: url(port),
    })),
    ...ports.gateways.map((port, i) => ({
      name: `gateway-${i + 1}`,
      script: 'gateway/main.ts',
      args: [],
      env: {
        GATEWAY_PORT: String(port),
        REDIS_URL: redisUrl,
        SUBGRAPH_URL_CRM: systems.CRM_URL,
        SUBGRAPH_URL_PSA: systems.PSA_URL,
        SUBGRAPH_URL_ERP: systems.ERP_URL,
        SUBGRAPH_URL_ORCHESTRATION: `${url(ports.orch[i]!)}/graphql`,
      },
      url: url(port),
    })),
  ];

  const children: ChildProcess[] = [];
  const stopAll = async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
  };
  try {
    // The systems first (the orchestration calls them), then the orchestration processes, then the gateways.
    for (const group of [members.slice(0, 3), members.slice(3, 5), members.slice(5)]) {
      await Promise.all(
        group.map(async (member) => {
          const child = spawn(process.execPath, ['--import', 'tsx', join(root, member.script), ...member.args], {
            cwd: root,
            env: { ...env, ...shared, ...member.env },
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          children.push(child);
          prefixOutput(child, member.name);
          child.once('exit', (code, signal) => console.log(`${member.name} exited (${code ?? signal})`));
          console.log(`starting ${member.name} on ${member.url}`);
          await waitUntilUp(`${member.url}/healthz`, child, member.name);
        }),
      );
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  console.log(
    [
      '',
      'Meridian cluster is up:',
      ...members.map((m) => `  ${m.name.padEnd(16)}${m.url}/graphql`),
      `  ${'ledger'.padEnd(16)}${databaseUrl.replace(/\/\/[^@/]*@/, '//')}`,
      `  ${'events'.padEnd(16)}${redisUrl}`,
      'Both gateways serve the whole graph (put a load balancer in front); both orchestration processes work the one',
      'ledger. Ctrl-C stops every process.',
      'cluster ready',
    ].join('\n'),
  );
  return { close: stopAll };
}, USAGE);
