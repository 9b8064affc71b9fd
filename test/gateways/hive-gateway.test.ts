import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HIVE_GATEWAY_BIN, hiveGatewayInstalled, installHiveGateway } from '../../bench/hive';
import { gatewayTrustOf } from '../../lib/auth/subgraph-trust';
import { composeSupergraph, loadSupergraphConfig } from '../../lib/compose';
import { DEV_AUTH, SUPERGRAPH_CONFIG } from '../../stack/start-stack';
import { freePorts } from '../support/processes';
import { silentLogger } from '../../lib/logger';
import { startWorker, type Worker } from '../../subgraphs/orchestration/engine/worker';
import { FLOWS } from '../../subgraphs/orchestration/flows/index';
import { loadGovernance } from '../../subgraphs/orchestration/governance/governance';
import { createGraphQLSystems } from '../../subgraphs/orchestration/systems/graphql-systems';
import { convert, createWonOpportunity } from '../support/runs';
import { authHeader, gql, startTestStack, systemTargets, type GraphQLResponse } from '../support/stack';

/** The documented config, used as shipped. */
const HIVE_CONFIG = join(__dirname, '..', '..', 'examples', 'gateways', 'hive', 'gateway.config.mjs');
const TRUSTED_DOCUMENTS = join(__dirname, '..', '..', 'gateway', 'trusted-documents.json');
const GATEWAY_SECRET = `hive-test-${Date.now()}-shared-secret-of-32-chars`;

const BI_QUERY = `query BiAccounts($first: Int!) {
  accounts(first: $first) {
    totalCount
    nodes {
      id
      name
      opportunities(stage: CLOSED_WON) { amount { amount currency } }
      projects { code billedToDate { amount currency } }
      invoices { total { amount } balance { amount } }
      receivables { amount currency }
    }
  }
}`;

/** An answer as compared across gateways: the data, and each error's code and path (messages are each gateway's own). */
function outcome(response: GraphQLResponse) {
  return {
    data: response.body.data ?? null,
    errors: (response.body.errors ?? []).map((e) => ({ code: e.extensions?.code, path: e.path ?? null })),
  };
}

/** Resolves once Hive Gateway answers its readiness check; rejects when it exits first. */
function hiveReady(hive: ChildProcess, url: string, output: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = false;
    hive.once('exit', (code) => {
      if (!done) reject(new Error(`Hive Gateway exited (${code}) before it was ready:\n${output()}`));
    });
    const poll = () => {
      if (done) return;
      fetch(`${url}/readiness`)
        .then((response) => {
          if (response.ok) {
            done = true;
            resolve();
          } else setTimeout(poll, 200);
        })
        .catch(() => setTimeout(poll, 200));
    };
    poll();
  });
}

describe('Hive Gateway in front of the subgraphs (SUBGRAPH_TRUST=jwt, examples/gateways/hive)', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  let hive: ChildProcess | null = null;
  let hiveOutput = '';
  let hiveUrl: string;
  let workDir: string;

  beforeAll(async () => {
    // Hive Gateway is installed outside the project's dependencies, as the benchmark does (docs/libraries.md).
    if (!hiveGatewayInstalled()) await installHiveGateway();
    stack = await startTestStack({
      worker: false,
      relay: true,
      gatewayTrust: gatewayTrustOf(GATEWAY_SECRET, DEV_AUTH),
    });
    workDir = mkdtempSync(join(tmpdir(), 'meridian-hive-'));
    const composed = composeSupergraph(loadSupergraphConfig(SUPERGRAPH_CONFIG), stack.urls);
    if (composed.errors) throw new Error(composed.errors.join('\n'));
    const supergraphPath = join(workDir, 'supergraph.graphql');
    writeFileSync(supergraphPath, composed.supergraphSdl);
    const [port] = await freePorts(1);
    hiveUrl = `http://127.0.0.1:${port}`;
    hive = spawn(
      process.execPath,
      [
        HIVE_GATEWAY_BIN,
        'supergraph',
        supergraphPath,
        '--config-path',
        HIVE_CONFIG,
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
      ],
      {
        cwd: workDir,
        env: { ...process.env, GATEWAY_SHARED_SECRET: GATEWAY_SECRET, NODE_ENV: 'test' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    hive.stdout!.on('data', (chunk: Buffer) => (hiveOutput += chunk.toString('utf8')));
    hive.stderr!.on('data', (chunk: Buffer) => (hiveOutput += chunk.toString('utf8')));
    await hiveReady(hive, hiveUrl, () => hiveOutput);
  }, 300_000);

  let worker: Worker | null = null;
  afterAll(async () => {
    await worker?.stop();
    if (hive && hive.exitCode === null) {
      const exited = new Promise((resolve) => hive!.once('exit', resolve));
      hive.kill('SIGTERM');
      await exited;
    }
    await stack?.stop();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  /** Reads a server-sent-events response, handing each `data:` payload to `onEvent` until it returns true or the stream ends. */
  async function readEvents(response: Response, onEvent: (payload: any) => boolean): Promise<void> {
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffered += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          for (const line of block.split('\n'))
            if (line.startsWith('data:') && line.length > 5 && onEvent(JSON.parse(line.slice(5)))) return;
        }
      }
    } finally {
      await reader.cancel();
    }
  }

  const viaHive = (query: string, variables: Record<string, unknown>, headers: Record<string, string>) =>
    gql(`${hiveUrl}/graphql`, query, variables, headers);

  it('answers a BI query with the same data as our gateway', async () => {
    const bi = await authHeader('bi');
    const ours = await gql(stack.gatewayUrl, BI_QUERY, { first: 5 }, bi);
    const theirs = await viaHive(BI_QUERY, { first: 5 }, bi);
    expect(ours.status).toBe(200);
    expect((ours.body.data as { accounts: { nodes: unknown[] } }).accounts.nodes).toHaveLength(5);
    expect([theirs.status, outcome(theirs)]).toEqual([200, outcome(ours)]);
  });

  it('refuses a request without a token, as UNAUTHENTICATED from the subgraph, with no data', async () => {
    const theirs = await viaHive(BI_QUERY, { first: 5 }, { authorization: '' });
    expect(theirs.body.data ?? null).toBeNull();
    expect(theirs.body.errors?.map((e) => e.extensions?.code)).toContain('UNAUTHENTICATED');
    const ours = await gql(stack.gatewayUrl, BI_QUERY, { first: 5 }, { authorization: '' });
    expect(outcome(ours).errors.map((e) => e.code)).toEqual(['UNAUTHENTICATED']);
  });

  it('refuses an operation one level deeper than the limit, as our gateway does, and suggests no field names', async () => {
    const bi = await authHeader('bi');
    // accounts › nodes › parentAccount × (depth − 3) › id: exactly `depth` levels.
    const deep = (depth: number) =>
      `{ accounts(first: 1) { nodes { ${'parentAccount { '.repeat(depth - 3)}id${' }'.repeat(depth - 3)} } } }`;
    const served = await viaHive(deep(12), {}, bi);
    expect([served.status, served.body.errors]).toEqual([200, undefined]);
    const theirs = await viaHive(deep(13), {}, bi);
    expect(theirs.body.data ?? null).toBeNull();
    expect(theirs.body.errors?.map((e) => e.message).join(' ')).toMatch(/depth/i);
    const ours = await gql(stack.gatewayUrl, deep(13), {}, bi);
    expect(outcome(ours).errors.map((e) => e.code)).toEqual(['QUERY_TOO_DEEP']);
    const typo = await viaHive('{ acounts(first: 1) { totalCount } }', {}, bi);
    expect(typo.body.errors?.[0]?.message).toMatch(/acounts/);
    expect(typo.body.errors?.[0]?.message).not.toMatch(/did you mean/i);
  });

  it("gives a portal token its own account, and another account's as an unknown one, as our gateway does", async () => {
    const manifest = JSON.parse(readFileSync(TRUSTED_DOCUMENTS, 'utf8')) as {
      operations: { id: string; name: string; body: string }[];
    };
    const document = manifest.operations.find((op) => op.name === 'PortalAccount')!;
    const portal = await authHeader('portal', { accounts: ['ACC-000003'] });
    // Our gateway runs portal tokens' trusted documents only; Hive has no manifest, so it gets the text, and the
    // subgraphs' tenant scope alone decides.
    const ours = async (id: string) => {
      const response = await fetch(stack.gatewayUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...portal },
        body: JSON.stringify({
          operationName: 'PortalAccount',
          variables: { id },
          extensions: { persistedQuery: { version: 1, sha256Hash: document.id } },
        }),
      });
      return { status: response.status, headers: response.headers, body: await response.json() } as GraphQLResponse;
    };
    const own = await viaHive(document.body, { id: 'ACC-000003' }, portal);
    expect((own.body.data as { account: { id: string } }).account.id).toBe('ACC-000003');
    expect(outcome(own)).toEqual(outcome(await ours('ACC-000003')));
    const foreign = await viaHive(document.body, { id: 'ACC-000004' }, portal);
    expect(outcome(foreign)).toEqual(outcome(await ours('ACC-000004')));
    expect(outcome(foreign).data).toEqual({ account: null });
  });

  it('streams syncRunUpdated live through Hive from the orchestration subgraph, every change in order', async () => {
    const { opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    const runId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
    const response = await fetch(`${hiveUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(await authHeader('operations')) },
      body: JSON.stringify({
        query: 'subscription($id: ID!) { syncRunUpdated(id: $id) { id status sequence account { id name } } }',
        variables: { id: runId },
      }),
    });
    expect(response.status).toBe(200);
    const states: { status: string; sequence: number; account: { name: string } }[] = [];
    await readEvents(response, (payload) => {
      if (payload.errors) throw new Error(JSON.stringify(payload.errors));
      states.push(payload.data.syncRunUpdated);
      // The first state is the run as it stands (queued); the worker starts only once the stream is open.
      if (states.length === 1)
        worker = startWorker({
          ledger: stack.stores.ledger,
          flows: FLOWS,
          systems: createGraphQLSystems(systemTargets(stack)),
          governance: loadGovernance(),
          logger: silentLogger(),
          idlePollMs: 20,
        });
      return payload.data.syncRunUpdated.status === 'SUCCEEDED';
    });
    expect(states.map((s) => s.sequence)).toEqual(states.map((_, i) => i + 1));
    expect([states[0]!.status, states.at(-1)!.status]).toEqual(['QUEUED', 'SUCCEEDED']);
    // Hive resolved the CRM's field of the account the orchestration returned as a reference.
    expect(states.at(-1)!.account.name).toEqual(expect.any(String));
  });
});
