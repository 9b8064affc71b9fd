import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, startTsx, waitForOutput, type Child } from './support/processes';
import { gql } from './support/stack';

const QUERY =
  '{ accounts(first: 3) { nodes { id name projects { code billedToDate { currency } } receivables { currency } crossReferences { system } } } }';

describe('npm start', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meridian-start-'));
  let child: Child;
  afterAll(async () => {
    await child?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('seeds an empty data folder and answers a query spanning every subgraph', async () => {
    const [gateway, crm, psa, erp, orchestration] = await freePorts(5);
    child = startTsx('scripts/start.ts', {
      DATA_DIR: dataDir,
      GATEWAY_PORT: String(gateway),
      CRM_PORT: String(crm),
      PSA_PORT: String(psa),
      ERP_PORT: String(erp),
      ORCHESTRATION_PORT: String(orchestration),
    });
    const url = `http://127.0.0.1:${gateway}/graphql`;
    await waitForOutput(child, /Meridian graph ready at/);
    await waitForOutput(child, new RegExp(`Operations console: http://127\\.0\\.0\\.1:${gateway}/console/ `));
    const consolePage = await fetch(`http://127.0.0.1:${gateway}/console/`);
    expect([consolePage.status, consolePage.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    const { body } = await gql(url, QUERY);
    expect(body.errors).toBeUndefined();
    const first = (
      body.data as {
        accounts: {
          nodes: {
            id: string;
            projects: unknown[];
            receivables: { currency: string } | null;
            crossReferences: unknown[];
          }[];
        };
      }
    ).accounts.nodes[0]!;
    expect(first).toMatchObject({
      id: 'ACC-000001',
      projects: [expect.objectContaining({ code: expect.any(String) })],
      receivables: { currency: 'USD' },
      crossReferences: expect.arrayContaining([{ system: 'ERP' }]),
    });
  });
});

describe('each subgraph and the gateway as its own process', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meridian-alone-'));
  const children: Child[] = [];
  afterAll(async () => {
    await Promise.all(children.map((c) => c.stop()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves the checked-in supergraph with URLs overridden per subgraph', async () => {
    const [gateway, crm, psa, erp, orchestration] = await freePorts(5);
    const common = { DATA_DIR: dataDir, SEED_ACCOUNTS: '5' };
    const subgraphs = [
      startTsx('scripts/start-subgraph.ts', { ...common, CRM_PORT: String(crm) }, ['crm']),
      startTsx('scripts/start-subgraph.ts', { ...common, PSA_PORT: String(psa) }, ['psa']),
      startTsx('scripts/start-subgraph.ts', { ...common, ERP_PORT: String(erp) }, ['erp']),
      startTsx('scripts/start-subgraph.ts', { ...common, ORCHESTRATION_PORT: String(orchestration) }, [
        'orchestration',
      ]),
    ];
    children.push(...subgraphs);
    const gw = startTsx('gateway/main.ts', {
      GATEWAY_PORT: String(gateway),
      SUBGRAPH_URL_CRM: `http://127.0.0.1:${crm}/graphql`,
      SUBGRAPH_URL_PSA: `http://127.0.0.1:${psa}/graphql`,
      SUBGRAPH_URL_ERP: `http://127.0.0.1:${erp}/graphql`,
      SUBGRAPH_URL_ORCHESTRATION: `http://127.0.0.1:${orchestration}/graphql`,
    });
    children.push(gw);
    await Promise.all([
      ...subgraphs.map((c) => waitForOutput(c, /subgraph listening/)),
      waitForOutput(gw, /gateway listening/),
    ]);
    const ready = await fetch(`http://127.0.0.1:${gateway}/readyz`).then((r) => r.json());
    expect(ready).toEqual({ status: 'ready', subgraphs: { crm: 'up', psa: 'up', erp: 'up', orchestration: 'up' } });
    const response = await gql(
      `http://127.0.0.1:${gateway}/graphql`,
      '{ accounts { totalCount } projects(first: 0) { totalCount } invoices(first: 0) { totalCount } health { status ledger } }',
    );
    expect(response.body).toEqual({
      data: {
        accounts: { totalCount: 5 },
        projects: { totalCount: expect.any(Number) },
        invoices: { totalCount: expect.any(Number) },
        health: { status: 'OK', ledger: 'sqlite' },
      },
    });
  });
});
