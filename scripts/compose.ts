import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatUsage } from '../lib/cli';
import { composeSupergraph, loadSupergraphConfig } from '../lib/compose';

const USAGE = formatUsage({
  command: 'npm run compose -- [config.yaml] [out.graphql]',
  summary:
    'Composes the subgraph schemas a rover-format config names into a supergraph, or prints every composition error\n' +
    'and exits 1. Defaults: ./supergraph.yaml into ./supergraph.graphql (commit it with any schema change).',
});

/** `npm run compose [-- config.yaml out.graphql]`: writes the composed supergraph, or prints why it cannot. */
function main(argv = process.argv.slice(2)): number {
  let parsed: { values: { help?: boolean | undefined }; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: true });
  } catch (error) {
    console.error(`compose: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(USAGE);
    return 0;
  }
  if (parsed.positionals.length > 2) {
    console.error(`compose: at most two arguments, the config and the output file\n${USAGE}`);
    return 2;
  }
  const root = join(__dirname, '..');
  const config = parsed.positionals[0] ?? join(root, 'supergraph.yaml');
  const out = parsed.positionals[1] ?? join(root, 'supergraph.graphql');
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
