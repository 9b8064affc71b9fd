import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from './support/postgres';
import { bindable, type Child, startTsx, waitForOutput } from './support/processes';
import { startRedisServer, type RedisServer } from './support/redis-server';
import { convert, createWonOpportunity } from './support/runs';
import { gql } from './support/stack';

/** A base port whose BASE..BASE+10 are all free. */
async function freeBase(): Promise<number> {
  for (;;) {
    // Below the kernel's ephemeral range (32768 and up here), where the other tests' port-0 servers land.
    const base = 10_000 + Math.floor(Math.random() * 20_000);
    const all = await Promise.all(Array.from({ length: 11 }, (_, i) => bindable(base + i)));
    if (all.every(Boolean)) return base;
  }
}

/*
 * Issue 9, item 7: `npm run start:cluster` starts the system subgraphs, two orchestration processes on one
 * PostgreSQL database and two gateways on one Redis, each its own process. A deal converted through one gateway is
 * seen finished through the other; SIGTERM stops every process.
 */
describe('npm run start:cluster', () => {
  let database: TestDatabase;
  let redis: RedisServer;
  let cluster: Child;
  let base: number;
  const dataDir = mkdtempSync(join(tmpdir(), 'meridian-cluster-'));
  beforeAll(async () => {
    [database, redis] = await Promise.all([createTestDatabase(), startRedisServer()]);
    base = await freeBase();
    cluster = startTsx('scripts/start-cluster.ts', {
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      CLUSTER_BASE_PORT: String(base),
      DATA_DIR: dataDir,
      SEED_ACCOUNTS: '5',
      TRIGGER_POLL_MS: '200',
    });
    await waitForOutput(cluster, /cluster ready/);
  }, 420_000);
  afterAll(async () => {
    await cluster?.stop();
    await Promise.all([database?.drop(), redis?.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('converts a deal through one gateway and shows it finished through the other, both on the one ledger', async () => {
    const [one, two] = [`http://127.0.0.1:${base}/graphql`, `http://127.0.0.1:${base + 10}/graphql`];
    for (const url of [one, two]) {
      const health = await gql(url, '{ health { status ledger } }');
      expect(health.body.data).toEqual({ health: { status: 'OK', ledger: 'postgres' } });
    }
    const { opportunityId } = await createWonOpportunity(one);
    const runId = (await convert(one, opportunityId)).data!.convertOpportunityToProject.id;
    let status = '';
    // Another process runs the conversion: read its status through the other gateway until it has ended.
    while (status !== 'SUCCEEDED' && status !== 'EXCEPTION') {
      status = (await gql(two, 'query($id: ID!) { syncRun(id: $id) { status } }', { id: runId })).body.data!.syncRun
        .status;
      if (status !== 'SUCCEEDED') await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe('SUCCEEDED');
    const project = await gql(two, 'query($id: ID!) { opportunity(id: $id) { project { id } } }', {
      id: opportunityId,
    });
    expect(project.body.data!.opportunity.project.id).toMatch(/^PRJ-/);
  }, 300_000);

  it('stops every process on SIGTERM', async () => {
    await cluster.stop();
    expect(cluster.process.exitCode).toBe(0);
    expect(cluster.output().match(/exited \(/g)?.length).toBe(7);
    const stillBound = await Promise.all(Array.from({ length: 11 }, (_, i) => bindable(base + i)));
    expect(stillBound.every(Boolean)).toBe(true);
  });
});
