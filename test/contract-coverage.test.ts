import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(__dirname, '..');

/** Every `.ts` file under `dir` (relative to the project root), node_modules left out. */
function sources(dir: string): { path: string; text: string }[] {
  return readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.parentPath.includes('node_modules'))
    .map((e) => {
      const path = join(e.parentPath, e.name);
      return { path: relative(root, path), text: readFileSync(path, 'utf8') };
    });
}

/** The contract suites in test/contracts: `describe<Port>Contract` runs the suite of the port `<Port>`. */
const CONTRACTS = sources('test/contracts').flatMap((f) =>
  [...f.text.matchAll(/export function describe(\w+)Contract\(/g)].map((m) => ({
    port: m[1]!,
    contract: m[0].slice(16, -1),
  })),
);

/**
 * The adapters of `port` in the source: classes that implement it (or an interface extending it) and exported
 * factories that return it.
 */
function adaptersOf(port: string, code: { text: string }[]): string[] {
  const all = code.map((f) => f.text).join('\n');
  const types = new Set([port]);
  for (const m of all.matchAll(/interface (\w+) extends ([^{]*)\{/g))
    if (m[2]!.split(/[\s,<>]+/).includes(port)) types.add(m[1]!);
  const names = new Set<string>();
  for (const m of all.matchAll(/class (\w+) implements ([^{]*)\{/g))
    if (m[2]!.split(/[\s,<>]+/).some((t) => types.has(t))) names.add(m[1]!);
  for (const chunk of all.split('export function ').slice(1)) {
    const returned = /^(\w+)[\s\S]*?\)\s*:\s*(?:Promise<)?(\w+)>?\s*\{/.exec(chunk);
    if (returned && types.has(returned[2]!)) names.add(returned[1]!);
  }
  return [...names].sort();
}

describe('contract suites', () => {
  const code = [...sources('subgraphs'), ...sources('lib'), ...sources('gateway'), ...sources('stack')];
  const tests = sources('test').filter((f) => f.path.endsWith('.test.ts'));

  it('exist for the ports whose adapters are swapped by configuration', () => {
    expect(CONTRACTS.map((c) => c.port)).toEqual(
      expect.arrayContaining(['CrmConnector', 'PsaConnector', 'ErpConnector', 'EventBus']),
    );
  });

  it.each(CONTRACTS)('$contract runs against every adapter of $port', ({ port, contract }) => {
    const adapters = adaptersOf(port, code);
    expect(adapters.length).toBeGreaterThan(0);
    // A test file that runs the contract and names the adapter runs it against that adapter.
    const runs = tests.filter((t) => t.text.includes(`${contract}(`));
    expect(adapters.filter((name) => !runs.some((t) => t.text.includes(name)))).toEqual([]);
    // And it is run at least once per adapter.
    const calls = runs.reduce((n, t) => n + t.text.split(`${contract}(`).length - 1, 0);
    expect({ adapters, calls: Math.min(calls, adapters.length) }).toEqual({ adapters, calls: adapters.length });
  });
});
