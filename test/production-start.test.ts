import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, startTsx, waitForOutput, type Child } from './support/processes';

/** The tables each store's demo data fills: reference data and generated accounts. */
const DEMO_TABLES = {
  crm: ['accounts', 'contacts', 'opportunities'],
  psa: ['rate_cards', 'project_templates', 'resources', 'projects', 'time_entries'],
  erp: ['legal_entities', 'tax_jurisdictions', 'customers', 'invoices'],
  orchestration: ['cross_references'],
} as const;

/** Rows in each store's demo tables, read straight from the SQLite files. */
function demoRows(dataDir: string): Record<string, number> {
  return Object.fromEntries(
    Object.entries(DEMO_TABLES).map(([store, tables]) => {
      const db = new Database(join(dataDir, `${store}.db`), { readonly: true });
      const rows = tables.reduce(
        (sum, table) => sum + (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n,
        0,
      );
      db.close();
      return [store, rows];
    }),
  );
}

const SECRET = (name: string) => `${name}-production-test-secret-of-32-characters-or-more`;
const PRODUCTION = {
  NODE_ENV: 'production',
  TRIGGERS: '0',
  JWT_SECRET: SECRET('jwt'),
  JWT_ISSUER: 'meridian-test',
  JWT_AUDIENCE: 'meridian',
  SUBGRAPH_SECRET_CRM: SECRET('crm'),
  SUBGRAPH_SECRET_PSA: SECRET('psa'),
  SUBGRAPH_SECRET_ERP: SECRET('erp'),
  SUBGRAPH_SECRET_ORCHESTRATION: SECRET('orchestration'),
};

describe('with NODE_ENV=production', () => {
  const dirs: string[] = [];
  const children: Child[] = [];
  const dataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'meridian-production-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(async () => {
    await Promise.all(children.map((c) => c.stop()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('npm start serves an empty data folder without seeding demo data into it', async () => {
    const dir = dataDir();
    const [gateway, crm, psa, erp, orchestration] = await freePorts(5);
    const child = startTsx('scripts/start.ts', {
      ...PRODUCTION,
      DATA_DIR: dir,
      GATEWAY_PORT: String(gateway),
      CRM_PORT: String(crm),
      PSA_PORT: String(psa),
      ERP_PORT: String(erp),
      ORCHESTRATION_PORT: String(orchestration),
    });
    children.push(child);
    await waitForOutput(child, /Meridian graph ready at/);
    expect(demoRows(dir)).toEqual({ crm: 0, psa: 0, erp: 0, orchestration: 0 });
  });

  it('npm run start:<subgraph> starts each subgraph over an empty store without seeding it', async () => {
    const dir = dataDir();
    const ports = await freePorts(4);
    const started = (['crm', 'psa', 'erp', 'orchestration'] as const).map((name, i) =>
      startTsx(
        'scripts/start-subgraph.ts',
        { ...PRODUCTION, DATA_DIR: dir, ORCHESTRATION_WORKER: '0', [`${name.toUpperCase()}_PORT`]: String(ports[i]) },
        [name],
      ),
    );
    children.push(...started);
    await Promise.all(started.map((c) => waitForOutput(c, /subgraph listening/)));
    expect(demoRows(dir)).toEqual({ crm: 0, psa: 0, erp: 0, orchestration: 0 });
  });
});
