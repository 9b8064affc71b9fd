import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { identityOf } from '../lib/auth/identity';
import { DEV_AUTH } from '../stack/start-stack';
import { startGateway } from '../gateway/start';
import { loadTrustedDocuments } from '../gateway/plugins/trusted-documents';
import { captureLogs } from './support/log-capture';
import { freePorts, startTsx, waitForOutput } from './support/processes';

process.env.APOLLO_TELEMETRY_DISABLED ??= '1';

/** A small Federation 2 supergraph that has nothing to do with Meridian: no portal document fits it. */
function foreignSupergraph(): string {
  const composed = composeServices([
    {
      name: 'inventory',
      url: 'http://127.0.0.1:9/graphql',
      typeDefs: parse(`
        extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable"])
        type Query { products: [Product!]! }
        type Product @key(fields: "upc") { upc: ID! name: String! @shareable }
      `),
    },
    {
      name: 'reviews',
      url: 'http://127.0.0.1:9/graphql',
      typeDefs: parse(`
        extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
        type Product @key(fields: "upc") { upc: ID! stars: Int }
      `),
    },
  ]);
  if (composed.errors) throw new Error(composed.errors.map((e) => e.message).join('\n'));
  return composed.supergraphSdl;
}

const NOT_CHECKED = /the manifest is not checked against the schema/;

describe('any supergraph (issue 12, item 1)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-foreign-'));
  const path = join(dir, 'supergraph.graphql');
  const supergraphSdl = foreignSupergraph();
  writeFileSync(path, supergraphSdl);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('starts `SUPERGRAPH_PATH=<foreign> AUTH=off npm run start:gateway`, saying once that the manifest is not checked', async () => {
    const [port] = await freePorts(1);
    const gateway = startTsx('gateway/main.ts', { SUPERGRAPH_PATH: path, AUTH: 'off', GATEWAY_PORT: String(port) });
    try {
      const output = await waitForOutput(gateway, /gateway listening/);
      expect(output.split('\n').filter((line) => NOT_CHECKED.test(line))).toHaveLength(1);
      const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ __type(name: "Product") { fields { name } } }' }),
      });
      expect(await response.json()).toEqual({
        data: { __type: { fields: [{ name: 'upc' }, { name: 'name' }, { name: 'stars' }] } },
      });
    } finally {
      await gateway.stop();
    }
  }, 60_000);

  it('stops at start with one line naming the file when the supergraph does not parse', async () => {
    const bad = join(dir, 'bad.graphql');
    writeFileSync(bad, 'type Query { nope');
    const gateway = startTsx('gateway/main.ts', { SUPERGRAPH_PATH: bad, AUTH: 'off', GATEWAY_PORT: '0' });
    const code = await new Promise<number | null>((resolve) => gateway.process.once('exit', resolve));
    const lines = gateway
      .output()
      .split('\n')
      .filter((line) => line && !line.startsWith('{'));
    expect({ code, lines }).toEqual({
      code: 1,
      lines: [`SUPERGRAPH_PATH ${bad}: not a usable supergraph: Syntax Error: Expected ":", found <EOF>.`],
    });
  }, 60_000);

  const start = async (options: { roles: string[]; authOffRole?: 'portal' | 'operations' }) => {
    const { logger, lines } = captureLogs();
    const gateway = await startGateway({
      supergraphSdl,
      subgraphSecrets: {},
      logger,
      port: 0,
      auth: options.authOffRole
        ? { mode: 'off', identity: identityOf('auth-off', options.authOffRole, [], null) }
        : DEV_AUTH,
      trustedDocuments: { manifest: loadTrustedDocuments(), roles: options.roles as never },
    });
    await gateway.close();
    return lines.filter((l) => NOT_CHECKED.test(String(l.msg)));
  };

  it('does not check the manifest when TRUSTED_DOCUMENTS_ROLES names no role, or AUTH=off gives a role it does not name', async () => {
    expect(await start({ roles: [] })).toEqual([
      expect.objectContaining({
        msg: 'trusted documents: no role is limited to the manifest (TRUSTED_DOCUMENTS_ROLES); the manifest is not checked against the schema',
      }),
    ]);
    expect(await start({ roles: ['portal'], authOffRole: 'operations' })).toHaveLength(1);
  });

  it('still refuses to start, naming each document, when a role is limited to a manifest that does not fit', async () => {
    const names = loadTrustedDocuments().operations.map((op) => op.name);
    expect(names.length).toBeGreaterThan(0);
    for (const options of [{ roles: ['portal'] }, { roles: ['portal'], authOffRole: 'portal' as const }]) {
      const refusal = start(options).then(
        () => '',
        (error: Error) => error.message,
      );
      const message = await refusal;
      expect(message).toMatch(/trusted documents that do not fit the schema/);
      for (const name of names) expect(message).toContain(`${name} (`);
    }
  });
});
