import { silentLogger } from '../../lib/logger';
import type { RunRecord, RunStatus } from '../../subgraphs/orchestration/engine/ledger';
import { queueRun } from '../../subgraphs/orchestration/engine/queue-run';
import { SqliteLedger } from '../../subgraphs/orchestration/engine/sqlite-ledger';
import { startWorker, type Worker } from '../../subgraphs/orchestration/engine/worker';
import { flow } from '../../subgraphs/orchestration/flows/flow';
import { loadGovernance } from '../../subgraphs/orchestration/governance/governance';
import { createGraphQLSystems } from '../../subgraphs/orchestration/systems/graphql-systems';
import { SystemError } from '../../subgraphs/orchestration/systems/system-error';

interface ProbeInput {
  fail: boolean;
}

/** What each step's `run` and `compensate` were handed, in the order they were called. */
type Seen = { step: string; results: unknown; output?: unknown };

/** A three-step flow written with the builder, whose steps record what they are handed; `fail` stops its last step. */
function probeFlow(seen: Seen[]) {
  return flow<ProbeInput>({
    name: 'probe',
    parseInput: (raw) => ({ fail: raw.fail === true }),
    subject: () => ({
      subjectKey: null,
      subjectReuse: 'active',
      accountId: null,
      opportunityId: null,
      projectId: null,
    }),
  })
    .step('readDeal', {
      system: 'crm',
      reveals: ['accountId'],
      async run(ctx) {
        seen.push({ step: 'readDeal', results: { ...ctx.results } });
        return { accountId: 'ACC-1', amount: 100 };
      },
    })
    .step('createThing', {
      system: 'erp',
      async run(ctx) {
        seen.push({ step: 'createThing', results: { ...ctx.results } });
        const { accountId, amount } = ctx.results.readDeal;
        if (amount === 0) return { skipped: true };
        return { thingId: `THING-${accountId}`, amount: amount * 2 };
      },
      writes: (output) => ('skipped' in output ? null : `created thing ${output.thingId}`),
      async compensate(ctx, output) {
        seen.push({ step: 'undo createThing', results: { ...ctx.results }, output });
      },
    })
    .step('finish', {
      system: 'psa',
      async run(ctx) {
        seen.push({ step: 'finish', results: { ...ctx.results } });
        if (ctx.input.fail) throw new SystemError('BAD_VALUE', 'The probe was told to fail', 'psa');
        const thing = ctx.results.createThing;
        return { done: 'skipped' in thing ? null : thing.thingId };
      },
    })
    .build();
}

describe('the flow builder', () => {
  const ledger = new SqliteLedger(':memory:');
  const seen: Seen[] = [];
  const probe = probeFlow(seen);
  const changes: ((run: RunRecord) => void)[] = [];
  let worker: Worker;
  const OPS = { subject: 'test', role: 'operations' as const, correlationId: null };

  beforeAll(() => {
    worker = startWorker({
      ledger,
      flows: [probe],
      // The probe's steps call no system: nothing listens here.
      systems: createGraphQLSystems({
        crm: { url: 'http://127.0.0.1:9/graphql', secret: 'unused' },
        psa: { url: 'http://127.0.0.1:9/graphql', secret: 'unused' },
        erp: { url: 'http://127.0.0.1:9/graphql', secret: 'unused' },
      }),
      governance: loadGovernance(),
      logger: silentLogger(),
      idlePollMs: 10,
      onRunChanged: (run) => {
        for (const listener of changes) listener(run);
      },
    });
  });
  afterAll(async () => {
    await worker.stop();
    ledger.close();
  });
  beforeEach(() => {
    seen.length = 0;
  });

  /** The run once it reaches one of `statuses` (listening before reading, so no change is missed). */
  const settled = (runId: string, statuses: readonly RunStatus[]) =>
    new Promise<RunRecord>((resolve, reject) => {
      const listener = (run: RunRecord) => {
        if (run.id !== runId || !statuses.includes(run.status)) return;
        changes.splice(changes.indexOf(listener), 1);
        resolve(run);
      };
      changes.push(listener);
      ledger.getRuns([runId]).then(([run]) => run && listener(run), reject);
    });

  it('builds the flow the engine runs: the steps in the order written, by their names', () => {
    expect(probe.name).toBe('probe');
    expect(probe.steps.map((s) => [s.name, s.system, s.reveals ?? null])).toEqual([
      ['readDeal', 'crm', ['accountId']],
      ['createThing', 'erp', null],
      ['finish', 'psa', null],
    ]);
    expect(probe.steps.map((s) => [typeof s.compensate, typeof s.writes])).toEqual([
      ['undefined', 'undefined'],
      ['function', 'function'],
      ['undefined', 'undefined'],
    ]);
  });

  it('refuses a second step of the same name', () => {
    const twice = () =>
      flow<ProbeInput>({ name: 'twice', parseInput: () => ({ fail: false }), subject: probe.subject })
        .step('a', { system: 'crm', run: async () => 1 })
        // @ts-expect-error the name is taken: a type error as well as a thrown one
        .step('a', { system: 'crm', run: async () => 2 });
    expect(twice).toThrow(new Error("Flow twice has two steps named 'a'"));
  });

  it('hands each step the outputs of the steps before it, and stores each output as the step returned it', async () => {
    const { run } = await queueRun(ledger, probe, { fail: false }, { actor: OPS });
    worker.wake();
    const done = await settled(run.id, ['SUCCEEDED', 'EXCEPTION']);
    const deal = { accountId: 'ACC-1', amount: 100 };
    const thing = { thingId: 'THING-ACC-1', amount: 200 };
    expect(seen).toEqual([
      { step: 'readDeal', results: {} },
      { step: 'createThing', results: { readDeal: deal } },
      { step: 'finish', results: { readDeal: deal, createThing: thing } },
    ]);
    expect([done.status, done.accountId, done.steps.map((s) => [s.name, s.output])]).toEqual([
      'SUCCEEDED',
      'ACC-1',
      [
        ['readDeal', deal],
        ['createThing', thing],
        ['finish', { done: 'THING-ACC-1' }],
      ],
    ]);
    expect(probe.steps[1]!.writes!(thing)).toBe('created thing THING-ACC-1');
  });

  it("hands a step's compensation its own output and the earlier outputs", async () => {
    const { run } = await queueRun(ledger, probe, { fail: true }, { actor: OPS });
    worker.wake();
    await settled(run.id, ['EXCEPTION']);
    await ledger.abandonRun(run.id, OPS);
    worker.wake();
    const abandoned = await settled(run.id, ['ABANDONED', 'COMPENSATION_FAILED']);
    expect(abandoned.status).toBe('ABANDONED');
    expect(seen.find((s) => s.step === 'undo createThing')).toEqual({
      step: 'undo createThing',
      results: { readDeal: { accountId: 'ACC-1', amount: 100 }, createThing: { thingId: 'THING-ACC-1', amount: 200 } },
      output: { thingId: 'THING-ACC-1', amount: 200 },
    });
  });

  // `tsc --noEmit` covers test/: each directive below fails the type check when its error goes away.
  it('types what a step reads: earlier outputs only, and reveals only string fields of its own output', () => {
    const checked = flow<ProbeInput>({
      name: 'typeChecks',
      parseInput: () => ({ fail: false }),
      subject: probe.subject,
    })
      .step('first', {
        system: 'crm',
        async run(ctx) {
          // @ts-expect-error a later step's output is not there yet
          ctx.results.second;
          return { accountId: 'ACC-1', count: 1 };
        },
      })
      .step('second', {
        system: 'erp',
        // @ts-expect-error the output names no project
        reveals: ['projectId'],
        run: async (ctx) => ({ copied: ctx.results.first.accountId }),
      })
      .step('third', {
        system: 'psa',
        // @ts-expect-error the output's accountId is not a string
        reveals: ['accountId'],
        run: async () => ({ accountId: 42 }),
      })
      .build();
    expect(checked.steps.map((s) => s.name)).toEqual(['first', 'second', 'third']);
  });
});
