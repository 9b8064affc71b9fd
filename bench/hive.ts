import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The Hive Gateway release the benchmark compares against. */
export const HIVE_GATEWAY_VERSION = '2.15.1';

/** Where the benchmark installs Hive Gateway: outside the project's dependencies, gitignored. */
export const HIVE_PREFIX = join(__dirname, '.hive');

/** The Hive Gateway CLI's entry file, run with `node` so the benchmark's child pid is the gateway itself. */
export const HIVE_GATEWAY_BIN = join(HIVE_PREFIX, 'node_modules', '@graphql-hive', 'gateway', 'dist', 'bin.js');

/** True when {@link HIVE_GATEWAY_VERSION} is installed under {@link HIVE_PREFIX}. */
export function hiveGatewayInstalled(): boolean {
  const manifest = join(HIVE_PREFIX, 'node_modules', '@graphql-hive', 'gateway', 'package.json');
  if (!existsSync(manifest) || !existsSync(HIVE_GATEWAY_BIN)) return false;
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version?: unknown }).version === HIVE_GATEWAY_VERSION;
}

/**
 * Installs `@graphql-hive/gateway@`{@link HIVE_GATEWAY_VERSION} under {@link HIVE_PREFIX} with
 * `npm install --no-save --prefix`, leaving package.json and package-lock.json alone.
 * @throws Error with npm's output when npm fails.
 */
export function installHiveGateway(): Promise<void> {
  mkdirSync(HIVE_PREFIX, { recursive: true });
  const args = [
    'install',
    '--no-save',
    '--no-audit',
    '--no-fund',
    '--prefix',
    HIVE_PREFIX,
    `@graphql-hive/gateway@${HIVE_GATEWAY_VERSION}`,
  ];
  return new Promise((resolve, reject) => {
    const npm = spawn(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, {
      cwd: HIVE_PREFIX,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    npm.once('error', reject);
    npm.once('exit', (code) => {
      if (code === 0 && hiveGatewayInstalled()) resolve();
      else reject(new Error(`npm ${args.join(' ')} failed (${code}):\n${output.slice(-4000)}`));
    });
  });
}
