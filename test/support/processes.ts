import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

/** True when `port` on loopback can be bound now. */
export function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Free loopback ports for a child process to listen on, picked at random below the kernel's ephemeral range (32768
 * and up): a port handed out there could be taken, before the child binds it, by any outgoing connection's source
 * port or any other test's port-0 server; down here only another pick of this function can collide.
 */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = 10_000 + Math.floor(Math.random() * 22_000);
    if (!ports.includes(port) && (await bindable(port))) ports.push(port);
  }
  return ports;
}

/** A child process running a TypeScript entry point; its output is kept for failure messages. */
export interface Child {
  process: ChildProcess;
  output(): string;
  /** SIGTERM, then SIGKILL if it has not exited within 5 s. */
  stop(): Promise<void>;
}

/**
 * Starts a TypeScript entry point from the project root with `env` added to the environment and `args` on its command
 * line, as one Node process (`node --import tsx`), so signals and exit status are the script's own.
 */
export function startTsx(script: string, env: Record<string, string>, args: readonly string[] = []): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, script), ...args], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  return {
    process: child,
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/** Resolves with the output so far once it matches `pattern`; rejects when the child exits first. */
export function waitForOutput(child: Child, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!pattern.test(child.output())) return false;
      child.process.stdout?.off('data', check);
      child.process.stderr?.off('data', check);
      child.process.off('exit', exited);
      resolve(child.output());
      return true;
    };
    const exited = (code: number | null) =>
      reject(new Error(`process exited (${code}) before printing ${pattern}:\n${child.output()}`));
    if (check()) return;
    // Listeners added after startTsx's own, so the output already holds the chunk being checked.
    child.process.stdout?.on('data', check);
    child.process.stderr?.on('data', check);
    child.process.once('exit', exited);
  });
}
