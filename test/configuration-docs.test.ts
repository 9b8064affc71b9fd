import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..');
/** The folders whose code runs in a Meridian process (the benchmarks and tests set their own variables). */
const RUNTIME = ['gateway', 'lib', 'subgraphs', 'scripts', 'stack', 'seed'];
/** How the code reads a variable: `env.X`, `env['X']`, `process.env.X`, `intFromEnv(env, 'X', …)`. */
const READS = [
  /\benv\.([A-Z][A-Z0-9_]+)\b/g,
  /\benv\[['"]([A-Z][A-Z0-9_]+)['"]\]/g,
  /FromEnv\(\s*env,\s*'([A-Z][A-Z0-9_]+)'/g,
];

describe('docs/configuration.md', () => {
  it('lists every environment variable the processes read', () => {
    const files = execFileSync('git', ['ls-files', ...RUNTIME.map((d) => `${d}/*.ts`)], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
    const read = new Set<string>();
    for (const file of files) {
      const source = readFileSync(join(root, file), 'utf8');
      for (const pattern of READS) for (const m of source.matchAll(pattern)) read.add(m[1]!);
    }
    const doc = readFileSync(join(root, 'docs', 'configuration.md'), 'utf8');
    const table = doc.split('## Every variable')[1] ?? '';
    expect(read.size).toBeGreaterThan(40);
    expect([...read].filter((name) => !table.includes(`\`${name}\``)).sort()).toEqual([]);
  });
});
