import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { composeSupergraph, loadSupergraphConfig } from '../lib/compose';

const root = join(__dirname, '..');
const run = promisify(execFile);

describe('supergraph', () => {
  it('is the composition of the subgraph schemas in supergraph.yaml (run `npm run compose` when this fails)', () => {
    const composed = composeSupergraph(loadSupergraphConfig(join(root, 'supergraph.yaml')));
    expect(composed.errors).toBeUndefined();
    expect(readFileSync(join(root, 'supergraph.graphql'), 'utf8')).toBe(composed.supergraphSdl);
  });

  it('compose prints each composition error and exits non-zero', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meridian-compose-'));
    try {
      writeFileSync(join(dir, 'a.graphql'), 'type Query { shared: String }\ntype Thing @key(fields: "id") { id: ID! }');
      writeFileSync(join(dir, 'b.graphql'), 'type Query { shared: Int }');
      writeFileSync(
        join(dir, 'supergraph.yaml'),
        'federation_version: =2.7.0\nsubgraphs:\n  a:\n    routing_url: http://a\n    schema:\n      file: ./a.graphql\n  b:\n    routing_url: http://b\n    schema:\n      file: ./b.graphql\n',
      );
      const failure = await run(join(root, 'node_modules/.bin/tsx'), [
        join(root, 'scripts/compose.ts'),
        join(dir, 'supergraph.yaml'),
        join(dir, 'out.graphql'),
      ]).catch((e: { code: number; stderr: string }) => e);
      expect(failure).toMatchObject({ code: 1 });
      expect((failure as { stderr: string }).stderr).toMatch(
        /composition error\(s\)[\s\S]*- (INVALID_GRAPHQL|FIELD_TYPE_MISMATCH): [^\n]*Query\.shared/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
