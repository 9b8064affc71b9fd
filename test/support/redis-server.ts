import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from './processes';

/** A real `redis-server` child process on a loopback port, keeping nothing on disk. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** SIGTERM; resolves once it exited. Also deletes its temp folder. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash; resolves once it exited. */
  kill(): Promise<void>;
  /** SIGSTOP: connections stay open but nothing is answered, as a hung server; until {@link RedisServer.resume}. */
  pause(): void;
  /** SIGCONT after {@link RedisServer.pause}. */
  resume(): void;
  /** Starts it again on the same port (stopping it first if it runs); resolves once it accepts connections. */
  restart(): Promise<void>;
}

/**
 * Starts `redis-server` on a free port in a temp folder and resolves once it logs "Ready to accept connections".
 * @param command the server binary. @default 'redis-server', from the PATH
 * @throws Error saying how to install it when `command` is not found, or with its output when it exits early.
 */
export async function startRedisServer(command = 'redis-server'): Promise<RedisServer> {
  const [port] = await freePorts(1);
  const dir = mkdtempSync(join(tmpdir(), 'meridian-redis-'));
  let child = await launch(command, port!, dir).catch((error: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });

  const signal = (name: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill(name);
      // A paused server (SIGSTOP) acts on the signal only once it runs again.
      child.kill('SIGCONT');
    });
  return {
    url: `redis://127.0.0.1:${port}`,
    port: port!,
    stop: async () => {
      await signal('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
    kill: () => signal('SIGKILL'),
    pause: () => {
      child.kill('SIGSTOP');
    },
    resume: () => {
      child.kill('SIGCONT');
    },
    restart: async () => {
      await signal('SIGTERM');
      child = await launch(command, port!, dir);
    },
  };
}

function launch(command: string, port: number, dir: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      command,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (!output.includes('Ready to accept connections')) return;
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      // Keep draining its log, or a full pipe would block the server.
      child.stdout.resume();
      resolve(child);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      reject(new Error(`redis-server on port ${port} exited (${code ?? signal}) before it was ready:\n${output}`));
    child.once('error', (error: NodeJS.ErrnoException) => {
      child.off('exit', onExit);
      reject(
        error.code === 'ENOENT'
          ? new Error(
              `${command} is not on the PATH: these tests need a real Redis server (Debian: apt-get install redis-server)`,
            )
          : new Error(`redis-server could not be started: ${error.message}`),
      );
    });
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('exit', onExit);
  });
}
