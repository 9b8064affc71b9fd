import { createInProcessBus } from '../lib/event-bus/in-process-bus';
import { silentLogger } from '../lib/logger';
import type { NewRun } from '../subgraphs/orchestration/engine/ledger';
import { SqliteLedger } from '../subgraphs/orchestration/engine/sqlite-ledger';
import { DEFAULT_OUTBOX_RETENTION_MS, startEngine } from '../subgraphs/orchestration/engine/start-engine';
import { FLOWS } from '../subgraphs/orchestration/flows/index';
import { loadGovernance } from '../subgraphs/orchestration/governance/governance';
import type { Systems } from '../subgraphs/orchestration/systems/systems';

const run = (n: number): NewRun => ({
  flow: 'retention',
  input: { n },
  stepNames: ['only'],
  subjectKey: null,
  subjectReuse: 'active',
  accountId: null,
  opportunityId: null,
  projectId: null,
  triggeredBy: { subject: 'ops-1', role: 'operations', correlationId: null },
  idempotency: null,
});

describe('outbox retention', () => {
  it('defaults to 30 days', () => {
    expect(DEFAULT_OUTBOX_RETENTION_MS).toBe(30 * 24 * 60 * 60 * 1000);
  });

  it('deletes delivered events past the retention, keeps undelivered ones, the runs and their audit', async () => {
    const ledger = new SqliteLedger(':memory:');
    const bus = createInProcessBus({ logger: silentLogger() });
    const options = {
      ledger,
      bus,
      flows: FLOWS,
      systems: {} as Systems,
      governance: loadGovernance(),
      logger: silentLogger(),
      worker: false as const,
      relay: false,
    };
    try {
      const first = await ledger.createRun(run(1));
      await ledger.createRun(run(2));
      const events = await ledger.eventsAfter(0, 100);
      // Only the first event was delivered by the relay.
      await ledger.setRelayCursor('default', events[0]!.seq);

      const keeping = startEngine(options);
      expect(await keeping.pruneOutbox()).toBe(0);
      await keeping.stop();

      const pruning = startEngine({ ...options, outboxRetentionMs: 0 });
      // Past a retention of 0 ms, the delivered event goes; the undelivered one stays whatever its age.
      // Strictly older than "now minus 0 ms" once the clock has ticked past their creation.
      while (Date.now() <= Date.parse(events[1]!.createdAt)) await new Promise((resolve) => setImmediate(resolve));
      expect(await pruning.pruneOutbox()).toBe(1);
      await pruning.stop();
      expect((await ledger.eventsAfter(0, 100)).map((e) => e.seq)).toEqual([events[1]!.seq]);
      expect((await ledger.getRuns([first.run.id]))[0]?.id).toBe(first.run.id);
      expect((await ledger.getAuditByRun([first.run.id]))[0]!.map((a) => a.action)).toEqual(['RUN_CREATED']);
    } finally {
      await bus.close();
      ledger.close();
    }
  });
});
