import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { composeSupergraph, loadSupergraphConfig } from '../lib/compose';

/** `npm run compose [-- config.yaml out.graphql]`: writes the composed supergraph, or prints why it cannot. */
function main(argv = process.argv.slice(2)): number {
  const root = join(__dirname, '..');
  const config = argv[0] ?? join(root, 'supergraph.yaml');
  const out = argv[1] ?? join(root, 'supergraph.graphql');
  let subgraphs: ReturnType<typeof loadSupergraphConfig>;
  try {
    subgraphs = loadSupergraphConfig(config);
  } catch (error) {
    console.error(`compose: ${(error as Error).message}`);
    return 1;
  }
  const result = composeSupergraph(subgraphs);
  if (result.errors) {
    console.error(`compose: ${result.errors.length} composition error(s) in ${config}:`);
    for (const e of result.errors) console.error(`  - ${e}`);
    return 1;
  }
  writeFileSync(out, result.supergraphSdl);
  console.log(`compose: wrote ${out} from ${subgraphs.length} subgraphs (${subgraphs.map((s) => s.name).join(', ')})`);
  return 0;
}

process.exitCode = main();
