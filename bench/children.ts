import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { pathToFileURL } from 'node:url';

/** `--import` this to run a TypeScript entry point with tsx in a plain `node` child, whose pid is then the script's own. */
export const TSX_LOADER = pathToFileURL(require.resolve('tsx')).href;

/**
 * `--import` this into a child that does not watch its stdin itself: it exits when our end of its stdin closes, so it
 * never outlives the benchmark, even one that was SIGKILLed.
 */
export const EXIT_WITH_PARENT =
  'data:text/javascript,process.stdin.on("end",()=>process.exit(0)).on("error",()=>process.exit(0)).resume()';

/** Output kept per child for failure messages, in characters. */
const OUTPUT_KEPT_CHARS = 16_000;

/** A child process of the benchmark: its pid, its recent output, and `stop()`. */
export interface BenchChild {
  name: string;
  pid: number;
  process: ChildProcess;
  /** The last {@link OUTPUT_KEPT_CHARS} characters it wrote to stdout and stderr. */
  output(): string;
  /** True once it has exited. */
  exited(): boolean;
  /** SIGTERM, then SIGKILL if it is still running after `graceMs`. @default graceMs 3000 */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<BenchChild>();

/**
 * Spawns `command args` with a piped stdin (a child that watches it sees the benchmark go away however it ends)
 * and remembers it for {@link stopAllChildren} and {@link killAllChildrenNow}.
 * @throws Error when the process cannot be spawned.
 */
export function spawnChild(
  name: string,
  command: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): BenchChild {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start ${name}: ${command} ${args.join(' ')}`);
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_KEPT_CHARS);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  // A child that exits early closes the pipe; writing to it then must not crash the benchmark.
  child.stdin.on('error', () => undefined);
  const handle: BenchChild = {
    name,
    pid: child.pid,
    process: child,
    output: () => output,
    exited: () => child.exitCode !== null || child.signalCode !== null,
    stop: (graceMs = 3000) =>
      new Promise<void>((resolve) => {
        if (handle.exited()) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
  running.add(handle);
  child.once('exit', () => running.delete(handle));
  return handle;
}

/** Stops every child still running (SIGTERM, then SIGKILL after the grace time). */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop()));
}

/** SIGKILLs every child still running, synchronously: for `process.on('exit')`, where nothing can be awaited. */
export function killAllChildrenNow(): void {
  for (const child of running) if (!child.exited()) child.process.kill('SIGKILL');
}

/** A free loopback port, found by binding port 0 and releasing it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port bound')),
      );
    });
  });
}

/**
 * Resolves once `{ __typename }` POSTed to `url` with `headers` (a gateway that requires a token gets one) answers
 * with data, polling every 100 ms.
 * @throws Error with the child's output when it exits first or `timeoutMs` passes.
 */
export async function waitUntilServing(
  url: string,
  child: BenchChild,
  timeoutMs: number,
  headers: Record<string, string> = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastAnswer = '';
  // A separate process gives no in-process event for "listening", and these gateways log it only at info level,
  // which the benchmark turns off; so poll, bounded by the deadline.
  while (Date.now() < deadline) {
    if (child.exited())
      throw new Error(
        `${child.name} exited (${child.process.exitCode ?? child.process.signalCode}) before serving:\n${child.output()}`,
      );
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', accept: 'application/json' },
        body: '{"query":"{ __typename }"}',
        signal: AbortSignal.timeout(2000),
      });
      const text = await response.text();
      if (response.ok && (JSON.parse(text) as { data?: unknown }).data) return;
      // Serving, but refusing: kept for the error (a token the gateway does not accept, say).
      lastAnswer = `; its last answer: HTTP ${response.status} ${text.slice(0, 300)}`;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${child.name} did not serve ${url} within ${timeoutMs} ms${lastAnswer}:\n${child.output()}`);
}

/**
 * Resolves with the first JSON line the child writes on stdout for which `pick` returns a value.
 * @throws Error with the child's output when it exits first or `timeoutMs` passes.
 */
export function waitForJsonLine<T>(
  child: BenchChild,
  pick: (message: unknown) => T | undefined,
  timeoutMs: number,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const stdout = child.process.stdout!;
    let buffered = '';
    const finish = (error: Error | undefined, value?: T) => {
      clearTimeout(timer);
      stdout.off('data', onData);
      child.process.off('exit', onExit);
      if (error) reject(error);
      else resolve(value as T);
    };
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        let message: unknown;
        try {
          message = JSON.parse(line);
        } catch {
          continue;
        }
        const value = pick(message);
        if (value !== undefined) return finish(undefined, value);
      }
    };
    const onExit = (code: number | null) => finish(new Error(`${child.name} exited (${code}):\n${child.output()}`));
    const timer = setTimeout(
      () => finish(new Error(`${child.name} gave no answer within ${timeoutMs} ms:\n${child.output()}`)),
      timeoutMs,
    );
    stdout.on('data', onData);
    child.process.once('exit', onExit);
  });
}

/**
 * A fixed environment for a child (PATH, HOME, TMPDIR, LANG, TZ and NODE_OPTIONS of ours, NODE_ENV production,
 * LOG_LEVEL warn) plus `extra`, so that no SUBGRAPH_URL_*, PORT, DEBUG or config path of the caller's shell changes a
 * run, while `NODE_OPTIONS=--max-semi-space-size=32 npm run bench:…` tries a V8 setting on every process alike.
 */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { NODE_ENV: 'production', LOG_LEVEL: 'warn' };
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ', 'NODE_OPTIONS'])
    if (process.env[key] !== undefined) env[key] = process.env[key];
  return { ...env, ...extra };
}
