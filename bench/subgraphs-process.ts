import { startStack, type SubgraphName } from '../stack/start-stack';

/** One line this process writes on stdout, as JSON. */
export type SubgraphsProcessMessage =
  | { event: 'seeded'; done: number; total: number }
  /** `secrets`: what each subgraph accepts requests signed with (fresh per run): the gateways and workers under test need them. */
  | { event: 'ready'; urls: Record<SubgraphName, string>; secrets: Record<SubgraphName, string> }
  | { event: 'failed'; message: string };

/**
 * Runs the four subgraphs of {@link startStack} in this one process, over the embedded reference systems in
 * `--data-dir` (seeding `--accounts` demo accounts into empty stores), each on an ephemeral loopback port, with no
 * flow worker and no gateway; each accepts only requests signed with its own fresh secret. Reports progress, then the
 * subgraphs' URLs and secrets, as JSON lines ({@link SubgraphsProcessMessage}) on stdout. Stops on SIGTERM/SIGINT,
 * and when stdin closes, so it never outlives the benchmark that started it.
 */
async function main(argv: readonly string[]): Promise<void> {
  const dataDir = argValue(argv, '--data-dir');
  const accounts = Number(argValue(argv, '--accounts'));
  if (!Number.isInteger(accounts) || accounts < 1)
    throw new Error(`--accounts must be a whole number from 1; got '${argValue(argv, '--accounts')}'`);

  const stack = await startStack({
    dataDir,
    seedAccounts: accounts,
    worker: false,
    onSeedProgress: (done, total) => send({ event: 'seeded', done, total }),
  });
  // The gateways under test run in processes of their own; startStack's in-process one would only share this CPU.
  await stack.gateway.close();
  send({ event: 'ready', urls: stack.urls, secrets: stack.secrets });

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void stack.stop().finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // The parent holds our stdin open; it closes when the parent exits, however it exits.
  process.stdin.on('end', stop).on('error', stop).resume();
}

function send(message: SubgraphsProcessMessage): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function argValue(argv: readonly string[], name: string): string {
  const at = argv.indexOf(name);
  const value = at >= 0 ? argv[at + 1] : undefined;
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  send({ event: 'failed', message: error instanceof Error ? error.message : String(error) });
  process.exit(1);
});
