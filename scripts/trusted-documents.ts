import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { accessRulesOf } from '../lib/auth/access-rules';
import { formatUsage } from '../lib/cli';
import { loadSupergraphConfig } from '../lib/compose';
import {
  DEFAULT_TRUSTED_DOCUMENTS_PATH,
  loadTrustedDocuments,
  sha256Hex,
  trustedDocumentRolesFromEnv,
  validateTrustedDocuments,
} from '../gateway/plugins/trusted-documents';

const USAGE = formatUsage({
  command: 'npm run trusted-documents -- [--write] [--manifest PATH] [--config PATH]',
  summary:
    "Prints the trusted-documents manifest's operations (id, type, name) and checks them: every id is the SHA-256 of\n" +
    'its body, every body validates against the API schema composed from the subgraph schemas, and the roles limited\n' +
    'to trusted documents may select every field. Exits 1 on any problem.',
  options: [
    ['--write', 'first set each id to the SHA-256 of its body (add an operation with "id": "", run this, commit)'],
    ['--manifest PATH', 'the manifest (default gateway/trusted-documents.json)'],
    ['--config PATH', 'the rover-format config naming the subgraph schemas (default ./supergraph.yaml)'],
  ],
  env: [['TRUSTED_DOCUMENTS_ROLES', 'roles limited to the manifest, checked against it (default portal)']],
});

/*
 * `npm run trusted-documents [-- --write] [--manifest path] [--config supergraph.yaml]`: prints the manifest's
 * operations (id, type, name) and checks them: every id is the SHA-256 of its body, every body validates against the
 * API schema composed from the subgraph schemas, and the trusted-documents roles (TRUSTED_DOCUMENTS_ROLES, portal) may
 * select every field. `--write` first sets each id to the SHA-256 of its body: add an operation with `"id": ""`, run
 * it, commit the file. Exits 1 on any problem.
 */
function main(): number {
  const { values } = parseArgs({
    options: {
      write: { type: 'boolean', default: false },
      manifest: { type: 'string', default: DEFAULT_TRUSTED_DOCUMENTS_PATH },
      config: { type: 'string', default: join(__dirname, '..', 'supergraph.yaml') },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const path = values.manifest;
  if (values.write) {
    const json = JSON.parse(readFileSync(path, 'utf8')) as { operations?: { id?: string; body?: unknown }[] };
    let changed = 0;
    for (const op of json.operations ?? []) {
      if (typeof op.body !== 'string') continue;
      const id = sha256Hex(op.body);
      if (op.id !== id) changed += 1;
      op.id = id;
    }
    writeFileSync(path, `${JSON.stringify(json, null, 2)}\n`);
    console.log(`trusted-documents: set ${changed} id(s) in ${path}`);
  }
  const manifest = loadTrustedDocuments(path);
  for (const op of manifest.operations) console.log(`${op.id}  ${op.type} ${op.name}`);

  const services = loadSupergraphConfig(values.config).map((s) => ({
    name: s.name,
    url: s.routingUrl,
    typeDefs: parse(readFileSync(s.schemaFile, 'utf8')),
  }));
  const composed = composeServices(services);
  if (composed.errors) {
    console.error(
      `trusted-documents: the subgraphs in ${values.config} do not compose:\n${composed.errors.map((e) => `  - ${e.message}`).join('\n')}`,
    );
    return 1;
  }
  const schema = composed.schema.toAPISchema().toGraphQLJSSchema();
  const roles = trustedDocumentRolesFromEnv(process.env);
  const problems = validateTrustedDocuments(manifest, schema, {
    rules: accessRulesOf(parse(composed.supergraphSdl)),
    roles,
  });
  if (problems.length > 0) {
    console.error(`trusted-documents: ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    return 1;
  }
  console.log(
    `trusted-documents: ${manifest.operations.length} operation(s) verified, valid, and allowed for ${roles.join(', ')}`,
  );
  return 0;
}

try {
  process.exitCode = main();
} catch (error) {
  console.error(`trusted-documents: ${(error as Error).message}`);
  process.exitCode = 1;
}
