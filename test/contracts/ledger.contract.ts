import type { Actor, Ledger, NewRun, StepError } from '../../subgraphs/orchestration/engine/ledger';

/**
 * Two handles on one ledger as two processes see it (two connections or pools on the same store), fresh and empty,
 * and how to dispose of them.
 */
export type LedgerFactory = () => Promise<{ a: Ledger; b: Ledger; close(): Promise<void> }>;

const OPS: Actor = { subject: 'ops-1', role: 'operations', correlationId: 'req-1' };
const ERROR: StepError = {
  class: 'BAD_VALUE',
  code: 'VALIDATION_REJECTED',
  message: 'Tax jurisdiction unknown',
  system: 'erp',
  retryAfterMs: null,
  at: '2026-03-01T10:00:00.000Z',
};

let subjects = 0;
function newRun(overrides: Partial<NewRun> = {}): NewRun {
  const n = ++subjects;
  return {
    flow: 'contract',
    input: { n },
    stepNames: ['first', 'second'],
    subjectKey: `subject:${n}`,
    subjectReuse: 'ever',
    accountId: `ACC-${n}`,
    opportunityId: null,
    projectId: null,
    triggeredBy: OPS,
    idempotency: null,
    ...overrides,
  };
}

/** The behaviour every {@link Ledger} adapter must show. */
export function describeLedgerContract(adapter: string, make: LedgerFactory): void {
  describe(`Ledger contract: ${adapter}`, () => {
    let a: Ledger;
    let b: Ledger;
    let close: () => Promise<void>;
    beforeEach(async () => {
      ({ a, b, close } = await make());
    });
    afterEach(async () => {
      await close();
    });

    it('hands each due run to exactly one of many concurrent claims, through either handle', async () => {
      const created = await Promise.all(Array.from({ length: 8 }, () => a.createRun(newRun())));
      const now = Date.now();
      const claims = await Promise.all(
        Array.from({ length: 16 }, (_, i) => (i % 2 ? a : b).claimRun(`w${i}:t`, 30_000, now)),
      );
      const claimed = claims.filter((r) => r !== null).map((r) => r!.id);
      expect(claimed.sort()).toEqual(created.map((c) => c.run.id).sort());
      expect(await a.claimRun('late:t', 30_000, now)).toBeNull();
      const [run] = await b.getRuns([created[0]!.run.id]);
      expect([run!.status, run!.sequence]).toEqual(['RUNNING', 2]);
    });

    it('leaves a run due later alone until then, and says when it is due', async () => {
      const { run } = await a.createRun(newRun());
      const now = Date.now();
      const claimed = await a.claimRun('w1:t', 30_000, now);
      await a.failStep(run.id, 'w1:t', 0, { ...ERROR, class: 'INTERMITTENT' }, now + 60_000);
      expect(await b.claimRun('w2:t', 30_000, now)).toBeNull();
      expect([claimed!.id, await b.nextDueAt()]).toEqual([run.id, now + 60_000]);
      const resumed = await b.claimRun('w2:t', 30_000, now + 60_000);
      expect([resumed?.id, resumed?.status, resumed?.steps[0]?.attempts]).toEqual([run.id, 'RUNNING', 1]);
    });

    it('lets another worker take a run over once its lease lapses, and refuses the old token from then on', async () => {
      const { run } = await a.createRun(newRun());
      const now = Date.now();
      expect((await a.claimRun('w1:old', 1000, now))?.id).toBe(run.id);
      expect(await b.claimRun('w2:new', 1000, now + 500)).toBeNull();
      expect(await a.renewLease(run.id, 'w1:old', 1000, now + 900)).toBe(true);
      expect(await b.claimRun('w2:new', 1000, now + 1500)).toBeNull();
      const takeover = await b.claimRun('w2:new', 1000, now + 2000);
      // A takeover is no change a subscriber sees: the run keeps its sequence.
      expect([takeover?.id, takeover?.status, takeover?.sequence]).toEqual([run.id, 'RUNNING', 2]);

      expect(await a.completeStep(run.id, 'w1:old', 0, { stale: true })).toBeNull();
      expect(await a.failStep(run.id, 'w1:old', 0, ERROR, null)).toBeNull();
      expect(await a.scheduleCompensationRetry(run.id, 'w1:old', 0, ERROR, now)).toBeNull();
      expect(await a.compensateStep(run.id, 'w1:old', 0, null)).toBeNull();
      expect(await a.endCompensation(run.id, 'w1:old')).toBeNull();
      expect(await a.renewLease(run.id, 'w1:old', 1000, now + 2000)).toBe(false);
      await a.releaseLease(run.id, 'w1:old');

      const first = await b.completeStep(run.id, 'w2:new', 0, { accountId: 'ACC-X' }, { accountId: 'ACC-X' });
      const done = await b.completeStep(run.id, 'w2:new', 1, null);
      expect([first?.status, first?.accountId, done?.status, done?.steps.map((s) => [s.status, s.attempts])]).toEqual([
        'RUNNING',
        'ACC-X',
        'SUCCEEDED',
        [
          ['SUCCEEDED', 1],
          ['SUCCEEDED', 1],
        ],
      ]);
      const [stored] = await a.getRuns([run.id]);
      expect(stored).toEqual(done);
      expect((await a.getAuditByRun([run.id]))[0]!.map((e) => e.action)).toEqual([
        'RUN_CREATED',
        'STEP_SUCCEEDED',
        'STEP_SUCCEEDED',
        'RUN_SUCCEEDED',
      ]);
    });

    it("fixes a step's first-attempt facts: later values never replace them, new keys join, a lapsed lease writes none", async () => {
      const { run } = await a.createRun(newRun());
      const now = Date.now();
      await a.claimRun('w1:old', 1000, now);
      expect(await a.fixStepFacts(run.id, 'w1:old', 1, {})).toEqual({});
      const first = { postingDate: '2026-12-06', 'rate:Consultant': { amount: '150.00', currency: 'GBP' } };
      expect(await a.fixStepFacts(run.id, 'w1:old', 1, first)).toEqual(first);
      // The run's worker dies; another takes it over the next day, after the rate card changed.
      const takeover = await b.claimRun('w2:new', 1000, now + 2000);
      expect(takeover?.id).toBe(run.id);
      expect(
        await a.fixStepFacts(run.id, 'w1:old', 1, { postingDate: '2026-12-07', 'rate:Architect': { amount: '1.00' } }),
      ).toBeNull();
      const later = {
        postingDate: '2026-12-07',
        'rate:Consultant': { amount: '175.00', currency: 'GBP' },
        'rate:Architect': { amount: '210.00', currency: 'GBP' },
      };
      expect(await b.fixStepFacts(run.id, 'w2:new', 1, later)).toEqual({
        ...first,
        'rate:Architect': { amount: '210.00', currency: 'GBP' },
      });
      expect(await a.fixStepFacts(run.id, 'w2:new', 1, {})).toEqual({
        ...first,
        'rate:Architect': { amount: '210.00', currency: 'GBP' },
      });
      // Per step: the run's other step has none.
      expect(await b.fixStepFacts(run.id, 'w2:new', 0, {})).toEqual({});
    });

    it('keeps idempotency records: same key and request return the first run, another request is refused', async () => {
      const request = newRun({ idempotency: { scope: 'ops-1', key: `key-${subjects}`, requestHash: 'h1' } });
      const results = await Promise.all([a.createRun(request), b.createRun(request), a.createRun(request)]);
      expect(results.map((r) => r.run.id)).toEqual(Array(3).fill(results[0]!.run.id));
      expect(results.filter((r) => r.created)).toHaveLength(1);
      const [record, missing, otherScope] = await b.getIdempotencyRecords([
        { scope: 'ops-1', key: request.idempotency!.key },
        { scope: 'ops-1', key: 'nope' },
        { scope: 'ops-2', key: request.idempotency!.key },
      ]);
      expect([record?.scope, record?.requestHash, record?.runId, missing, otherScope]).toEqual([
        'ops-1',
        'h1',
        results[0]!.run.id,
        null,
        null,
      ]);
      await expect(
        a.createRun({ ...request, idempotency: { ...request.idempotency!, requestHash: 'h2' } }),
      ).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    });

    it('scopes idempotency keys per caller: the same key in two scopes stands for two runs', async () => {
      const mine = await a.createRun(newRun({ idempotency: { scope: 'ops-1', key: '0', requestHash: 'h1' } }));
      const theirs = await b.createRun(newRun({ idempotency: { scope: 'ops-2', key: '0', requestHash: 'h2' } }));
      expect([mine.created, theirs.created, mine.run.id === theirs.run.id]).toEqual([true, true, false]);
      const records = await a.getIdempotencyRecords([
        { scope: 'ops-2', key: '0' },
        { scope: 'ops-1', key: '0' },
      ]);
      expect(records.map((r) => r?.runId)).toEqual([theirs.run.id, mine.run.id]);
    });

    it('returns the run standing for a subject, per subjectReuse', async () => {
      const first = await a.createRun(newRun({ subjectKey: 'project:P1', subjectReuse: 'active' }));
      const again = await b.createRun(newRun({ subjectKey: 'project:P1', subjectReuse: 'active', auditRepeats: true }));
      expect([again.created, again.run.id]).toEqual([false, first.run.id]);
      const lease = 'w1:t';
      await a.claimRun(lease, 30_000, Date.now());
      await a.completeStep(first.run.id, lease, 0, null);
      await a.completeStep(first.run.id, lease, 1, null);
      const after = await b.createRun(newRun({ subjectKey: 'project:P1', subjectReuse: 'active' }));
      expect(after.created).toBe(true);
      expect((await a.getAuditByRun([first.run.id]))[0]!.map((e) => [e.action, e.actor])).toContainEqual([
        'RUN_REQUEST_DEDUPLICATED',
        'ops-1',
      ]);
    });

    it('writes outbox events in commit order, each with the run as it was at that sequence', async () => {
      const start = (await a.eventsAfter(0, 10_000)).at(-1)?.seq ?? 0;
      const { run } = await a.createRun(newRun());
      const lease = 'w1:t';
      await b.claimRun(lease, 30_000, Date.now());
      await b.completeStep(run.id, lease, 0, { x: 1 });
      const stopped = await a.failStep(run.id, lease, 1, ERROR, null);
      const events = await b.eventsAfter(start, 100);
      expect(events.map((e) => [e.runId, e.type, e.sequence, e.status])).toEqual([
        [run.id, 'SYNC_RUN_UPDATED', 1, 'QUEUED'],
        [run.id, 'SYNC_RUN_UPDATED', 2, 'RUNNING'],
        [run.id, 'SYNC_RUN_UPDATED', 3, 'RUNNING'],
        [run.id, 'SYNC_RUN_UPDATED', 4, 'EXCEPTION'],
        [run.id, 'EXCEPTION_RAISED', 4, 'EXCEPTION'],
      ]);
      expect(events.map((e) => e.seq)).toEqual([...events.map((e) => e.seq)].sort((x, y) => x - y));
      const [exception] = await a.getOpenExceptionsByRun([run.id]);
      expect(events[4]!.exceptionId).toBe(exception!.id);
      expect((await a.getRunAt(run.id, 3))?.steps.map((s) => s.status)).toEqual(['SUCCEEDED', 'PENDING']);
      expect(await a.getRunAt(run.id, 4)).toEqual(stopped);
      expect(await a.eventsAfter(events[1]!.seq, 2)).toEqual(events.slice(2, 4));
    });

    it('retries and abandons only runs in a state that allows it, resolving the open exception', async () => {
      const { run } = await a.createRun(newRun());
      const lease = 'w1:t';
      await a.claimRun(lease, 30_000, Date.now());
      await expect(b.retryRun(run.id, OPS)).rejects.toMatchObject({ code: 'INVALID_STATE' });
      await expect(b.abandonRun(run.id, OPS)).rejects.toMatchObject({ code: 'INVALID_STATE' });
      await a.completeStep(run.id, lease, 0, { made: 'X-1' });
      await a.failStep(run.id, lease, 1, ERROR, null);
      const retried = await b.retryRun(run.id, OPS, { fixed: true });
      expect([retried.status, retried.input, (await a.getOpenExceptionsByRun([run.id]))[0]]).toEqual([
        'QUEUED',
        { n: run.input.n, fixed: true },
        null,
      ]);
      const abandoned = await b.abandonRun(run.id, OPS);
      expect(abandoned.status).toBe('COMPENSATING');
      const claimed = await a.claimRun('w2:t', 30_000, Date.now());
      expect([claimed?.id, claimed?.status]).toEqual([run.id, 'COMPENSATING']);
      await a.compensateStep(run.id, 'w2:t', 0, null);
      const ended = await a.endCompensation(run.id, 'w2:t');
      expect([ended?.status, ended?.steps.map((s) => s.status)]).toEqual(['ABANDONED', ['COMPENSATED', 'PENDING']]);
      const exceptions = await a.listExceptions({ first: 10, afterKey: null }, { status: 'RESOLVED' });
      expect(exceptions.nodes.map((e) => [e.runId, e.resolution])).toEqual([[run.id, 'Retried with {"fixed":true}']]);
    });

    it('ends a run stopped on a resolved exception as RESOLVED, releasing its subject for the next request', async () => {
      const request = newRun({ subjectReuse: 'ever' });
      const { run } = await a.createRun(request);
      const lease = 'w1:t';
      await a.claimRun(lease, 30_000, Date.now());
      await a.failStep(run.id, lease, 0, ERROR, null);
      expect((await b.createRun({ ...request, auditRepeats: true })).run.id).toBe(run.id);
      const [open] = await a.getOpenExceptionsByRun([run.id]);
      const resolved = await b.resolveException(open!.id, OPS, 'Fixed in the ERP by hand');
      expect([resolved.status, resolved.resolution]).toEqual(['RESOLVED', 'Fixed in the ERP by hand']);
      const [after] = await a.getRuns([run.id]);
      expect([after!.status, after!.sequence]).toEqual(['RESOLVED', run.sequence + 3]);
      expect((await a.getRunAt(run.id, after!.sequence))?.status).toBe('RESOLVED');
      expect(await a.claimRun('w2:t', 30_000, Date.now())).toBeNull();
      await expect(a.retryRun(run.id, OPS)).rejects.toMatchObject({ code: 'INVALID_STATE' });
      // A trigger's look (not explicit) as well as a call start a new run once the subject is released.
      const next = await b.createRun(request);
      expect([next.created, next.run.id === run.id]).toEqual([true, false]);
      const again = await a.resolveException(open!.id, OPS, 'again');
      expect(again.resolution).toBe('Fixed in the ERP by hand');
      expect((await b.getAuditByRun([run.id]))[0]!.map((e) => [e.action, e.actor])).toEqual([
        ['RUN_CREATED', 'ops-1'],
        ['EXCEPTION_RAISED', 'system'],
        ['RUN_REQUEST_DEDUPLICATED', 'ops-1'],
        ['EXCEPTION_RESOLVED', 'ops-1'],
        ['RUN_RESOLVED', 'ops-1'],
        ['EXCEPTION_RESOLVE_REPEATED', 'ops-1'],
      ]);
      await expect(a.resolveException('EXC-nope', OPS, 'x')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('keeps an abandoned subject from triggers; an explicit request starts a new run and its audit says so', async () => {
      const request = newRun({ subjectReuse: 'active' });
      const { run } = await a.createRun(request);
      await b.abandonRun(run.id, OPS);
      const lease = 'w1:t';
      expect((await a.claimRun(lease, 30_000, Date.now()))?.id).toBe(run.id);
      await a.endCompensation(run.id, lease);
      const looked = await b.createRun(request);
      expect([looked.created, looked.run.id, looked.run.status]).toEqual([false, run.id, 'ABANDONED']);
      const restarted = await a.createRun({ ...request, explicit: true });
      expect(restarted.created).toBe(true);
      expect((await b.getAuditByRun([restarted.run.id]))[0]!.map((e) => [e.action, e.detail])).toEqual([
        ['RUN_CREATED', { flow: 'contract', input: request.input }],
        ['RUN_RESTARTED_AFTER_ABANDON', { abandonedRunId: run.id, abandonedStatus: 'ABANDONED' }],
      ]);
      // The newest run decides from then on, even created within the same millisecond: it holds the subject.
      expect((await b.createRun({ ...request, explicit: true })).run.id).toBe(restarted.run.id);
      expect((await b.createRun(request)).run.id).toBe(restarted.run.id);
    });

    it('re-runs the completed steps a correction invalidates: back to PENDING, output dropped, audited', async () => {
      const { run } = await a.createRun(newRun());
      const lease = 'w1:t';
      await a.claimRun(lease, 30_000, Date.now());
      await a.completeStep(run.id, lease, 0, { deal: 'old' });
      await a.failStep(run.id, lease, 1, ERROR, null);
      const retried = await b.retryRun(run.id, OPS, { region: 'DACH' }, [0]);
      expect(retried.steps.map((s) => [s.status, s.output, s.attempts])).toEqual([
        ['PENDING', null, 1],
        ['PENDING', null, 1],
      ]);
      expect((await a.getRuns([run.id]))[0]).toEqual(retried);
      const claimed = await a.claimRun('w2:t', 30_000, Date.now());
      expect(claimed?.steps.map((s) => s.status)).toEqual(['PENDING', 'PENDING']);
      expect((await b.getAuditByRun([run.id]))[0]!.at(-1)).toMatchObject({
        action: 'RUN_RETRIED_WITH_INPUT',
        detail: { patch: { region: 'DACH' }, rerun: ['first'] },
      });
    });

    it('lists runs in the order they were created, newest first by default, with keys that later runs never shift', async () => {
      const flow = `ordered-${++subjects}`;
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await a.createRun(newRun({ flow }))).run.id);
      const first = await b.listRuns({ first: 2, afterKey: null }, { flow });
      expect([first.nodes.map((r) => r.id), first.hasNextPage, first.totalCount]).toEqual([[ids[4], ids[3]], true, 5]);
      // A run created between two pages is not on the next one (it is newer than the page's end), and nothing repeats.
      const later = (await a.createRun(newRun({ flow }))).run.id;
      const second = await a.listRuns({ first: 10, afterKey: first.endKey! }, { flow });
      expect([second.nodes.map((r) => r.id), second.hasNextPage]).toEqual([[ids[2], ids[1], ids[0]], false]);
      const oldest = await b.listRuns({ first: 4, afterKey: null }, { flow }, 'OLDEST_FIRST');
      const rest = await b.listRuns({ first: 4, afterKey: oldest.endKey! }, { flow }, 'OLDEST_FIRST');
      expect([...oldest.nodes, ...rest.nodes].map((r) => r.id)).toEqual([...ids, later]);
    });

    it("keeps the actor's request IDs on the audit trail: ours as correlation ID, the caller's own beside it", async () => {
      const { run } = await a.createRun(
        newRun({ triggeredBy: { ...OPS, correlationId: 'ours-1', callerRequestId: 'theirs-1' } }),
      );
      const [created] = (await b.getAuditByRun([run.id]))[0]!;
      expect([created?.correlationId, created?.callerRequestId]).toEqual(['ours-1', 'theirs-1']);
      await b.abandonRun(run.id, OPS);
      expect((await a.getAuditByRun([run.id]))[0]!.at(-1)).toMatchObject({
        correlationId: 'req-1',
        callerRequestId: null,
      });
    });

    it('sends a run whose precondition was lost straight into compensation, with its exception open', async () => {
      const { run } = await a.createRun(newRun());
      const lease = 'w1:t';
      await a.claimRun(lease, 30_000, Date.now());
      await a.completeStep(run.id, lease, 0, { made: 'X-1' });
      const stopped = await a.failStep(run.id, lease, 1, { ...ERROR, class: 'PRECONDITION_LOST' }, null);
      expect([stopped?.status, stopped?.steps.map((s) => s.status)]).toEqual(['COMPENSATING', ['SUCCEEDED', 'FAILED']]);
      expect((await b.getOpenExceptionsByRun([run.id]))[0]).toMatchObject({
        class: 'PRECONDITION_LOST',
        step: 'second',
      });
      const claimed = await b.claimRun('w2:t', 30_000, Date.now());
      expect([claimed?.id, claimed?.status]).toEqual([run.id, 'COMPENSATING']);
      expect((await a.getAuditByRun([run.id]))[0]!.slice(-2).map((e) => e.action)).toEqual([
        'EXCEPTION_RAISED',
        'RUN_COMPENSATION_STARTED',
      ]);
    });

    it('records a compensation retry durably and lets the lease go until it is due', async () => {
      const { run } = await a.createRun(newRun());
      const now = Date.now();
      await a.claimRun('w1:t', 30_000, now);
      await a.completeStep(run.id, 'w1:t', 0, { made: 'X-1' });
      await a.failStep(run.id, 'w1:t', 1, ERROR, null);
      await a.abandonRun(run.id, OPS);
      expect((await b.claimRun('w2:t', 30_000, Date.now()))?.status).toBe('COMPENSATING');
      const waiting = await b.scheduleCompensationRetry(run.id, 'w2:t', 0, ERROR, now + 60_000);
      expect([waiting?.status, waiting?.steps[0]?.compensationAttempts, waiting?.nextAttemptAt]).toEqual([
        'COMPENSATING',
        1,
        now + 60_000,
      ]);
      expect(await a.claimRun('w3:t', 30_000, now + 1000)).toBeNull();
      expect((await a.claimRun('w3:t', 30_000, now + 60_000))?.id).toBe(run.id);
    });

    it('keeps the first cross-reference per entity and system, and reads them by ID and by entity', async () => {
      const [link] = await a.recordCrossReferences([
        { entityType: 'OPPORTUNITY', canonicalId: 'OPP-1', system: 'PSA', externalId: 'PRJ-1' },
      ]);
      const [again, erp] = await b.recordCrossReferences([
        { entityType: 'OPPORTUNITY', canonicalId: 'OPP-1', system: 'PSA', externalId: 'PRJ-2' },
        { entityType: 'OPPORTUNITY', canonicalId: 'OPP-1', system: 'ERP', externalId: 'CUS-1' },
      ]);
      expect(again).toEqual(link);
      expect(await a.getCrossReferences([erp!.id, 'XREF-none', link!.id])).toEqual([erp, null, link]);
      const [byOpp, none] = await b.getCrossReferencesByEntity([
        { entityType: 'OPPORTUNITY', canonicalId: 'OPP-1' },
        { entityType: 'ACCOUNT', canonicalId: 'OPP-1' },
      ]);
      expect([byOpp!.map((l) => [l.system, l.externalId]), none]).toEqual([
        [
          ['PSA', 'PRJ-1'],
          ['ERP', 'CUS-1'],
        ],
        [],
      ]);
    });

    it('moves a watermark only from the value the caller read', async () => {
      expect(await a.getWatermark('trigger:x')).toBeNull();
      expect(await a.setWatermark('trigger:x', 'v1', null)).toBe(true);
      expect(await b.setWatermark('trigger:x', 'v0', null)).toBe(false);
      expect(await b.setWatermark('trigger:x', 'v2', 'v1')).toBe(true);
      expect(await a.setWatermark('trigger:x', 'v3', 'v1')).toBe(false);
      expect(await a.getWatermark('trigger:x')).toBe('v2');
    });

    it('prunes only outbox events older than the cut-off that every relay has published; runs and audit stay', async () => {
      const { run } = await a.createRun(newRun());
      await a.claimRun('w1:t', 30_000, Date.now());
      const events = await a.eventsAfter(0, 10_000);
      await a.setRelayCursor('one', events.at(-1)!.seq);
      await a.setRelayCursor('two', events.at(-2)!.seq);
      expect(await b.pruneOutbox(Date.now() - 60_000)).toBe(0);
      expect(await b.pruneOutbox(Date.now() + 60_000)).toBe(events.length - 1);
      expect((await a.eventsAfter(0, 10_000)).map((e) => e.seq)).toEqual([events.at(-1)!.seq]);
      expect(await a.getRelayCursor('two')).toBe(events.at(-2)!.seq);
      expect([(await a.getRuns([run.id]))[0]?.id, (await a.getAuditByRun([run.id]))[0]!.length]).toEqual([run.id, 1]);
    });

    it('keeps the trace context of the call that queued a run, for the worker that claims it', async () => {
      const traceContext = JSON.stringify({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
      const { run } = await a.createRun(newRun({ traceContext }));
      const { run: untraced } = await a.createRun(newRun());
      expect([run.traceContext, untraced.traceContext]).toEqual([traceContext, null]);
      // Both runs are due in the same millisecond, so either may be claimed first: claim both.
      const claimed = [await b.claimRun('w1:t', 30_000, Date.now()), await b.claimRun('w2:t', 30_000, Date.now())];
      const byId = new Map(claimed.map((c) => [c?.id, c?.traceContext]));
      expect([byId.get(run.id), byId.get(untraced.id)]).toEqual([traceContext, null]);
    });

    it('reads the operations figures across handles: runs by status, the longest-waiting due run, unpublished events, open exceptions', async () => {
      const now = Date.now();
      expect(await b.readOperationsFigures('default', now)).toEqual({
        runsByStatus: [],
        oldestClaimableSince: null,
        outboxPending: 0,
        oldestPendingEventAt: null,
        openExceptionsByClass: [],
      });
      const { run: failing } = await a.createRun(newRun());
      await a.claimRun('w1:t', 30_000, Date.now());
      await a.failStep(failing.id, 'w1:t', 0, ERROR, null);
      const { run: running } = await a.createRun(newRun());
      expect((await a.claimRun('w2:t', 30_000, Date.now()))?.id).toBe(running.id);
      const { run: queued } = await a.createRun(newRun());
      const events = await a.eventsAfter(0, 10_000);
      await a.setRelayCursor('default', events.at(-3)!.seq);
      const figures = await b.readOperationsFigures('default', Date.now());
      expect(Object.fromEntries(figures.runsByStatus.map((r) => [r.status, r.count]))).toEqual({
        EXCEPTION: 1,
        RUNNING: 1,
        QUEUED: 1,
      });
      // The running run is leased, the stopped one waits for a person: only the queued one waits for a worker.
      expect(figures.oldestClaimableSince).toBe(queued.nextAttemptAt);
      expect([figures.outboxPending, figures.oldestPendingEventAt]).toEqual([2, events.at(-2)!.createdAt]);
      expect(figures.openExceptionsByClass).toEqual([{ class: 'BAD_VALUE', count: 1 }]);
    });

    it('grants a leadership to one owner at a time, to another once it lapses or is let go', async () => {
      const now = Date.now();
      const [one, two] = await Promise.all([
        a.acquireLeadership('relay', 'p1', 1000, now),
        b.acquireLeadership('relay', 'p2', 1000, now),
      ]);
      expect([one, two].filter(Boolean)).toHaveLength(1);
      const [holder, other] = one ? ['p1', 'p2'] : ['p2', 'p1'];
      expect(await a.acquireLeadership('relay', holder!, 1000, now + 900)).toBe(true);
      expect(await b.acquireLeadership('relay', other!, 1000, now + 1500)).toBe(false);
      expect(await b.acquireLeadership('relay', other!, 1000, now + 2000)).toBe(true);
      await b.releaseLeadership('relay', holder!);
      expect(await a.acquireLeadership('relay', holder!, 1000, now + 2100)).toBe(false);
      await b.releaseLeadership('relay', other!);
      expect(await a.acquireLeadership('relay', holder!, 1000, now + 2100)).toBe(true);
    });
  });
}
