import { join } from 'node:path';
import { silentLogger } from '../lib/logger';
import { startSubgraph, type RunningSubgraph } from '../lib/subgraph';
import { seedEmptyStores } from '../seed/seed-stores';
import { crmSeedTarget, erpSeedTarget, ledgerSeedTarget, psaSeedTarget } from '../seed/targets';
import { SqliteCrmConnector } from '../subgraphs/crm/connector/reference/sqlite-crm-connector';
import { createCrmSubgraph } from '../subgraphs/crm/index';
import { SqliteErpConnector } from '../subgraphs/erp/connector/reference/sqlite-erp-connector';
import { createErpSubgraph } from '../subgraphs/erp/index';
import { SqliteLedger } from '../subgraphs/orchestration/engine/sqlite-ledger';
import { createOrchestrationSubgraph } from '../subgraphs/orchestration/index';
import { SqlitePsaConnector } from '../subgraphs/psa/connector/reference/sqlite-psa-connector';
import { createPsaSubgraph } from '../subgraphs/psa/index';

/** One line this process writes on stdout, as JSON. */
export type SubgraphsProcessMessage =
  | { event: 'seeded'; done: number; total: number }
  | { event: 'ready'; urls: Record<'crm' | 'psa' | 'erp' | 'orchestration', string> }
  | { event: 'failed'; message: string };

/**
 * Runs the four subgraphs, without a gateway, in this one process over the embedded reference systems in
 * `--data-dir` (seeding `--accounts` demo accounts into empty stores), each on an ephemeral loopback port.
 * Reports progress and then the subgraphs' URLs as JSON lines ({@link SubgraphsProcessMessage}) on stdout.
 * Stops on SIGTERM/SIGINT, and when stdin closes, so it never outlives the benchmark that started it.
 */
async function main(argv: readonly string[]): Promise<void> {
  const dataDir = argValue(argv, '--data-dir');
  const accounts = Number(argValue(argv, '--accounts'));
  if (!Number.isInteger(accounts) || accounts < 1) throw new Error(`--accounts must be a whole number from 1; got '${argValue(argv, '--accounts')}'`);
  const send = (message: SubgraphsProcessMessage) => process.stdout.write(`${JSON.stringify(message)}\n`);

  const crm = new SqliteCrmConnector(join(dataDir, 'crm.db'));
  const psa = new SqlitePsaConnector(join(dataDir, 'psa.db'));
  const erp = new SqliteErpConnector(join(dataDir, 'erp.db'));
  const ledger = new SqliteLedger(join(dataDir, 'orchestration.db'));
  seedEmptyStores([crmSeedTarget(crm), psaSeedTarget(psa), erpSeedTarget(erp), ledgerSeedTarget(ledger)], accounts, (done, total) =>
    send({ event: 'seeded', done, total }),
  );

  const logger = silentLogger();
  const options = { port: 0, host: '127.0.0.1', logger };
  const running: RunningSubgraph[] = [
    await startSubgraph(createCrmSubgraph({ crm, onClose: () => crm.close() }), options),
    await startSubgraph(createPsaSubgraph({ psa, onClose: () => psa.close() }), options),
    await startSubgraph(createErpSubgraph({ erp, onClose: () => erp.close() }), options),
    await startSubgraph(createOrchestrationSubgraph({ ledger, onClose: () => ledger.close() }), options),
  ];
  const urls = Object.fromEntries(running.map((s) => [s.name, s.url])) as Record<'crm' | 'psa' | 'erp' | 'orchestration', string>;
  send({ event: 'ready', urls });

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void Promise.allSettled(running.map((s) => s.close())).then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // The parent holds our stdin open; it closes when the parent exits, however it exits.
  process.stdin.on('end', stop).on('error', stop).resume();
}

function argValue(argv: readonly string[], name: string): string {
  const at = argv.indexOf(name);
  const value = at >= 0 ? argv[at + 1] : undefined;
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stdout.write(`${JSON.stringify({ event: 'failed', message: error instanceof Error ? error.message : String(error) } satisfies SubgraphsProcessMessage)}\n`);
  process.exit(1);
});
