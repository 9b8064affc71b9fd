import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..');
const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
  .scripts;
/** Every npm script that runs one of our entry points with tsx: `[name, file, its fixed arguments]`. */
const entryPoints = Object.entries(scripts).flatMap(([name, command]) => {
  const m = /^tsx (\S+\.ts)((?: [\w-]+)*)$/.exec(command);
  return m ? [[name, m[1]!, m[2]!.split(' ').filter(Boolean)] as const] : [];
});

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), file, ...args], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) console.error(`${file} --help exited ${code}:\n${stderr}`);
      resolve({ code, stdout });
    });
  });
}

describe('every script', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = join(mkdtempSync(join(tmpdir(), 'meridian-help-')), 'data');
  });
  afterAll(() => rmSync(join(dataDir, '..'), { recursive: true, force: true }));

  it('is found in package.json: the servers, seed, compose, token, trusted-documents and the benchmarks', () => {
    expect(entryPoints.map(([name]) => name)).toEqual(
      expect.arrayContaining([
        'start',
        'start:gateway',
        'start:crm',
        'start:psa',
        'start:erp',
        'start:orchestration',
        'seed',
        'compose',
        'token',
        'trusted-documents',
        'bench:gateway',
        'bench:sync',
        'bench:subscriptions',
      ]),
    );
  });

  it.each(entryPoints)(
    '%s answers --help with its usage, exits 0 and starts nothing',
    async (name, file, args) => {
      const env = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'silent', NODE_ENV: 'development' };
      const { code, stdout } = await run(file, [...args, '--help'], env);
      expect(code).toBe(0);
      const command = name === 'start' ? 'npm start' : `npm run ${name}`;
      expect(stdout.startsWith(`usage: ${command}`)).toBe(true);
      expect(stdout.split('\n').length).toBeGreaterThan(1);
      expect(existsSync(dataDir)).toBe(false);
    },
    // Generous: on a loaded machine loading the whole stack through tsx alone can take a minute (not a timing test).
    180_000,
  );
});
