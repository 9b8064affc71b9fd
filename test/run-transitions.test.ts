import type { Actor, NewRun, RunRecord, StepError } from '../subgraphs/orchestration/engine/ledger';
import {
  decideCreate,
  decideResolve,
  standsForSubject,
  transition,
  type TransitionContext,
} from '../subgraphs/orchestration/engine/run-transitions';

const NOW = Date.parse('2026-03-01T10:00:00.000Z');
const AT = new Date(NOW).toISOString();
let ids = 0;
const ctx: TransitionContext = { now: NOW, newId: () => `id-${++ids}` };
const OPS: Actor = { subject: 'ops-1', role: 'operations', correlationId: 'req-1' };
const ERROR: StepError = {
  class: 'RATE_LIMITED',
  code: 'RATE_LIMITED',
  message: 'Too many requests',
  system: 'erp',
  retryAfterMs: 1000,
  at: AT,
};

function newRun(overrides: Partial<NewRun> = {}): NewRun {
  return {
    flow: 'convert',
    input: { opportunityId: 'OPP-1' },
    stepNames: ['read', 'write'],
    subjectKey: 'opportunity:OPP-1',
    subjectReuse: 'ever',
    accountId: null,
    opportunityId: 'OPP-1',
    projectId: null,
    triggeredBy: OPS,
    idempotency: { scope: 'ops-1', key: 'k1', requestHash: 'h1' },
    ...overrides,
  };
}

function queued(): RunRecord {
  const decision = decideCreate(newRun(), { idempotency: null, subjectRun: null }, ctx);
  if (decision.kind !== 'create') throw new Error('expected a new run');
  return decision.transition.run;
}

const withStatus = (run: RunRecord, status: RunRecord['status'], steps: RunRecord['steps'][number]['status'][]) => ({
  ...run,
  status,
  steps: run.steps.map((s, i) => ({ ...s, status: steps[i]! })),
});

beforeEach(() => {
  ids = 0;
});

describe('decideCreate', () => {
  it('creates a queued run with pending steps, audited and announced', () => {
    const decision = decideCreate(newRun(), { idempotency: null, subjectRun: null }, ctx);
    expect(decision).toEqual({
      kind: 'create',
      recordKey: true,
      transition: expect.objectContaining({
        lease: null,
        steps: [0, 1],
        audit: [{ actor: OPS, action: 'RUN_CREATED', detail: { flow: 'convert', input: { opportunityId: 'OPP-1' } } }],
        events: [{ type: 'SYNC_RUN_UPDATED', exceptionId: null }],
      }),
    });
    const run = (decision as Extract<typeof decision, { kind: 'create' }>).transition.run;
    expect([run.id, run.status, run.sequence, run.nextAttemptAt, run.steps.map((s) => s.status)]).toEqual([
      'RUN-id-1',
      'QUEUED',
      1,
      NOW,
      ['PENDING', 'PENDING'],
    ]);
  });

  it('returns the run standing for the same key and request, auditing the replay only when asked', () => {
    const found = { idempotency: { requestHash: 'h1', runId: 'RUN-9' }, subjectRun: null };
    expect(decideCreate(newRun(), found, ctx)).toEqual({
      kind: 'existing',
      runId: 'RUN-9',
      audit: null,
      recordKey: false,
    });
    expect(decideCreate(newRun({ auditRepeats: true }), found, ctx)).toEqual({
      kind: 'existing',
      runId: 'RUN-9',
      audit: { actor: OPS, action: 'RUN_REQUEST_REPLAYED', detail: { idempotencyKey: 'k1' } },
      recordKey: false,
    });
  });

  it('refuses the same key with another request', () => {
    expect(() =>
      decideCreate(newRun(), { idempotency: { requestHash: 'other', runId: 'RUN-9' }, subjectRun: null }, ctx),
    ).toThrow(expect.objectContaining({ code: 'IDEMPOTENCY_KEY_REUSED' }));
  });

  it("returns the subject's standing run and records the new key against it", () => {
    expect(decideCreate(newRun(), { idempotency: null, subjectRun: { id: 'RUN-7', status: 'QUEUED' } }, ctx)).toEqual({
      kind: 'existing',
      runId: 'RUN-7',
      audit: null,
      recordKey: true,
    });
  });

  // The subject hold, state by state: [latest run's status, reuse, explicit request] → whether it stands.
  const HOLDS: [RunRecord['status'], NewRun['subjectReuse'], boolean, boolean][] = [
    ['QUEUED', 'active', false, true],
    ['RUNNING', 'active', true, true],
    ['WAITING_RETRY', 'ever', true, true],
    ['EXCEPTION', 'ever', true, true],
    ['COMPENSATING', 'ever', true, true],
    ['SUCCEEDED', 'ever', true, true],
    ['SUCCEEDED', 'active', false, false],
    ['RESOLVED', 'ever', false, false],
    ['RESOLVED', 'active', true, false],
    ['ABANDONED', 'ever', false, true],
    ['ABANDONED', 'active', false, true],
    ['ABANDONED', 'ever', true, false],
    ['COMPENSATION_FAILED', 'ever', false, true],
    ['COMPENSATION_FAILED', 'ever', true, false],
  ];
  it.each(HOLDS)('a latest run %s (%s, explicit: %s) stands for its subject: %s', (status, reuse, explicit, stands) => {
    expect(standsForSubject({ status }, reuse, explicit)).toBe(stands);
    const decision = decideCreate(
      newRun({ subjectReuse: reuse, explicit, idempotency: null }),
      { idempotency: null, subjectRun: { id: 'RUN-7', status } },
      ctx,
    );
    expect(decision.kind).toBe(stands ? 'existing' : 'create');
  });

  it('says in the new run’s audit trail that an explicit request restarted an abandoned subject', () => {
    const decision = decideCreate(
      newRun({ explicit: true }),
      { idempotency: null, subjectRun: { id: 'RUN-7', status: 'ABANDONED' } },
      ctx,
    );
    expect(decision.kind === 'create' && decision.transition.audit.map((a) => [a.action, a.detail])).toEqual([
      ['RUN_CREATED', { flow: 'convert', input: { opportunityId: 'OPP-1' } }],
      ['RUN_RESTARTED_AFTER_ABANDON', { abandonedRunId: 'RUN-7', abandonedStatus: 'ABANDONED' }],
    ]);
  });
});

describe('decideResolve', () => {
  const stopped = () => ({ ...withStatus(queued(), 'EXCEPTION', ['SUCCEEDED', 'FAILED']), sequence: 5 });

  it('ends a run stopped on the exception as RESOLVED (released), announced and audited', () => {
    const run = stopped();
    const t = decideResolve(run, { id: 'EXC-1', runId: run.id, status: 'OPEN' }, OPS, 'Fixed in the ERP', ctx);
    expect([t.run.status, t.run.sequence, t.lease, t.resolveException, t.events]).toEqual([
      'RESOLVED',
      6,
      null,
      { id: 'EXC-1', note: 'Fixed in the ERP' },
      [{ type: 'SYNC_RUN_UPDATED', exceptionId: null }],
    ]);
    expect(t.audit.map((a) => [a.action, a.actor])).toEqual([
      ['EXCEPTION_RESOLVED', OPS],
      ['RUN_RESOLVED', OPS],
    ]);
    expect(run.status).toBe('EXCEPTION');
  });

  it('resolves an exception of a run in another state without changing the run; a repeat is only audited', () => {
    const run = { ...withStatus(queued(), 'COMPENSATION_FAILED', ['COMPENSATION_FAILED', 'PENDING']), sequence: 5 };
    const t = decideResolve(run, { id: 'EXC-2', runId: run.id, status: 'OPEN' }, OPS, 'Deleted by hand', ctx);
    expect([t.run, t.resolveException, t.events, t.audit.map((a) => a.action)]).toEqual([
      run,
      { id: 'EXC-2', note: 'Deleted by hand' },
      [],
      ['EXCEPTION_RESOLVED'],
    ]);
    const again = decideResolve(stopped(), { id: 'EXC-1', runId: run.id, status: 'RESOLVED' }, OPS, 'again', ctx);
    expect([again.run.status, again.resolveException, again.events, again.audit.map((a) => a.action)]).toEqual([
      'EXCEPTION',
      null,
      [],
      ['EXCEPTION_RESOLVE_REPEATED'],
    ]);
  });
});

describe('transition', () => {
  it('starts a queued run on claim (a visible change) but takes a running one over silently', () => {
    const claimed = transition(queued(), { type: 'CLAIMED', lease: 'w1:a', leaseExpiresAt: NOW + 30_000 }, ctx);
    expect([claimed.run.status, claimed.run.sequence, claimed.lease, claimed.events.length]).toEqual([
      'RUNNING',
      2,
      { owner: 'w1:a', expiresAt: NOW + 30_000 },
      1,
    ]);
    const takeover = transition(claimed.run, { type: 'CLAIMED', lease: 'w2:b', leaseExpiresAt: NOW + 1 }, ctx);
    expect([takeover.run.status, takeover.run.sequence, takeover.events, takeover.audit]).toEqual([
      'RUNNING',
      2,
      [],
      [],
    ]);
  });

  it('advances step by step, records revealed IDs and succeeds after the last step', () => {
    const running = withStatus(queued(), 'RUNNING', ['PENDING', 'PENDING']);
    const first = transition(
      running,
      {
        type: 'STEP_SUCCEEDED',
        index: 0,
        output: { accountId: 'ACC-1', skip: undefined },
        ids: { accountId: 'ACC-1' },
      },
      ctx,
    );
    expect([first.run.status, first.run.accountId, first.run.steps[0], first.lease]).toEqual([
      'RUNNING',
      'ACC-1',
      {
        index: 0,
        name: 'read',
        status: 'SUCCEEDED',
        attempts: 1,
        compensationAttempts: 0,
        output: { accountId: 'ACC-1' },
        error: null,
        finishedAt: AT,
      },
      'keep',
    ]);
    const last = transition(first.run, { type: 'STEP_SUCCEEDED', index: 1, output: null }, ctx);
    expect([last.run.status, last.run.sequence, last.audit.map((a) => a.action), last.lease]).toEqual([
      'SUCCEEDED',
      3,
      ['STEP_SUCCEEDED', 'RUN_SUCCEEDED'],
      null,
    ]);
  });

  it('schedules a retry, letting the lease go, or raises an exception when none is left', () => {
    const running = withStatus(queued(), 'RUNNING', ['PENDING', 'PENDING']);
    const retry = transition(running, { type: 'STEP_FAILED', index: 0, error: ERROR, retryAt: NOW + 5000 }, ctx);
    expect([
      retry.run.status,
      retry.run.nextAttemptAt,
      retry.run.steps[0]!.status,
      retry.lease,
      retry.exception,
    ]).toEqual(['WAITING_RETRY', NOW + 5000, 'PENDING', null, null]);
    expect(retry.audit.map((a) => a.action)).toEqual(['STEP_RETRY_SCHEDULED']);

    const stop = transition(running, { type: 'STEP_FAILED', index: 1, error: ERROR, retryAt: null }, ctx);
    expect([stop.run.status, stop.run.steps[1]!.status, stop.lease]).toEqual(['EXCEPTION', 'FAILED', null]);
    expect(stop.exception).toEqual({
      id: 'EXC-id-3',
      runId: running.id,
      flow: 'convert',
      step: 'write',
      class: 'RATE_LIMITED',
      system: 'erp',
      message: 'Too many requests',
      accountId: null,
      createdAt: AT,
    });
    expect(stop.events).toEqual([
      { type: 'SYNC_RUN_UPDATED', exceptionId: null },
      { type: 'EXCEPTION_RAISED', exceptionId: 'EXC-id-3' },
    ]);
  });

  it('retries a stopped run with patched input and resolves its exception; refuses any other state', () => {
    const stopped = withStatus(queued(), 'EXCEPTION', ['SUCCEEDED', 'FAILED']);
    const retried = transition(stopped, { type: 'RETRY_REQUESTED', actor: OPS, patch: { template: 'T2' } }, ctx);
    expect([
      retried.run.status,
      retried.run.input,
      retried.run.steps.map((s) => s.status),
      retried.resolveOpenExceptions,
      retried.audit,
    ]).toEqual([
      'QUEUED',
      { opportunityId: 'OPP-1', template: 'T2' },
      ['SUCCEEDED', 'PENDING'],
      'Retried with {"template":"T2"}',
      [{ actor: OPS, action: 'RUN_RETRIED_WITH_INPUT', detail: { patch: { template: 'T2' } } }],
    ]);
    expect(() => transition(queued(), { type: 'RETRY_REQUESTED', actor: OPS }, ctx)).toThrow(
      expect.objectContaining({ code: 'INVALID_STATE' }),
    );
  });

  it('abandons a queued, waiting or stopped run into compensation, and nothing else', () => {
    const stopped = withStatus(queued(), 'EXCEPTION', ['SUCCEEDED', 'FAILED']);
    const abandoned = transition(stopped, { type: 'ABANDON_REQUESTED', actor: OPS }, ctx);
    expect([abandoned.run.status, abandoned.resolveOpenExceptions, abandoned.run.steps[1]!.status]).toEqual([
      'COMPENSATING',
      'Abandoned',
      'PENDING',
    ]);
    for (const status of ['RUNNING', 'SUCCEEDED', 'ABANDONED', 'COMPENSATING'] as const)
      expect(() =>
        transition(
          withStatus(queued(), status, ['SUCCEEDED', 'PENDING']),
          { type: 'ABANDON_REQUESTED', actor: OPS },
          ctx,
        ),
      ).toThrow(expect.objectContaining({ code: 'INVALID_STATE' }));
  });

  it('records a compensation retry durably (attempt counted, next attempt set, lease let go)', () => {
    const compensating = withStatus(queued(), 'COMPENSATING', ['SUCCEEDED', 'PENDING']);
    const t = transition(
      compensating,
      { type: 'COMPENSATION_RETRY_SCHEDULED', index: 0, error: ERROR, retryAt: NOW + 9000 },
      ctx,
    );
    expect([
      t.run.status,
      t.run.nextAttemptAt,
      t.run.steps[0]!.status,
      t.run.steps[0]!.compensationAttempts,
      t.lease,
      t.audit.map((a) => a.action),
    ]).toEqual(['COMPENSATING', NOW + 9000, 'SUCCEEDED', 1, null, ['COMPENSATION_RETRY_SCHEDULED']]);
  });

  it('ends compensation as ABANDONED, or COMPENSATION_FAILED when any compensation failed', () => {
    const compensating = withStatus(queued(), 'COMPENSATING', ['SUCCEEDED', 'PENDING']);
    const failed = transition(compensating, { type: 'STEP_COMPENSATED', index: 0, error: ERROR }, ctx);
    expect([failed.run.steps[0]!.status, failed.exception?.step, failed.audit.map((a) => a.action)]).toEqual([
      'COMPENSATION_FAILED',
      'read',
      ['COMPENSATION_FAILED', 'EXCEPTION_RAISED'],
    ]);
    expect(transition(failed.run, { type: 'COMPENSATION_ENDED' }, ctx).run.status).toBe('COMPENSATION_FAILED');
    const undone = transition(compensating, { type: 'STEP_COMPENSATED', index: 0, error: null }, ctx);
    const ended = transition(undone.run, { type: 'COMPENSATION_ENDED' }, ctx);
    expect([ended.run.status, ended.lease, ended.audit.map((a) => a.action)]).toEqual([
      'ABANDONED',
      null,
      ['RUN_ABANDONED'],
    ]);
  });

  it('leaves the run it is given untouched', () => {
    const run = withStatus(queued(), 'RUNNING', ['PENDING', 'PENDING']);
    const before = JSON.stringify(run);
    transition(run, { type: 'STEP_SUCCEEDED', index: 0, output: { x: 1 } }, ctx);
    expect(JSON.stringify(run)).toBe(before);
  });
});
