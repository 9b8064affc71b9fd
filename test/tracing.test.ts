import { randomBytes } from 'node:crypto';
import { startTracing, type Tracing } from '../lib/telemetry/start-tracing';
import { captureLogs } from './support/log-capture';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './support/otlp-receiver';
import { createWonOpportunity, waitForRun } from './support/runs';
import { gql, startTestStack } from './support/stack';

const SERVER = 2;
const CLIENT = 3;
const STEPS = ['validateOpportunity', 'ensureErpCustomer', 'createPsaProject', 'pushProjectDimensions', 'linkBack'];

describe('traces across every hop (OTLP/HTTP, http/json)', () => {
  let receiver: OtlpReceiver;
  let tracing: Tracing;
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  const logs = captureLogs();
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    tracing = startTracing('meridian-test', {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    });
    // Triggers look only when a test asks (pollOnce).
    stack = await startTestStack({
      workerOptions: { idlePollMs: 50 },
      logger: logs.logger,
      triggers: { intervalMs: 3_600_000 },
    });
  });
  afterAll(async () => {
    await stack.stop();
    await tracing.shutdown();
    await receiver.close();
  });

  const port = (url: string) => Number(new URL(url).port);
  const serverSpansOn = (spans: ReceivedSpan[], url: string) =>
    spans.filter((s) => s.kind === SERVER && s.attributes['server.port'] === port(url));

  it('follows one conversion from the caller through the gateway, the orchestration, the ledger and the worker to each system', async () => {
    expect(tracing.enabled).toBe(true);
    const { opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    const traceId = randomBytes(16).toString('hex');
    const callerSpanId = randomBytes(8).toString('hex');
    const started = await gql(
      stack.gatewayUrl,
      'mutation Convert($input: ConvertOpportunityToProjectInput!) { convertOpportunityToProject(input: $input) { id } }',
      { input: { opportunityId } },
      { traceparent: `00-${traceId}-${callerSpanId}-01` },
    );
    const runId = started.body.data!.convertOpportunityToProject.id as string;
    const run = await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION']);
    expect(run.status).toBe('SUCCEEDED');
    await tracing.flush();

    const spans = receiver.spans.filter((s) => s.traceId === traceId);
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    // One tree: every span's parent is in the trace, but the gateway's, whose parent is the caller's span.
    const roots = spans.filter((s) => !byId.has(s.parentSpanId ?? ''));
    expect(roots.map((s) => [s.name, s.parentSpanId, s.attributes['server.port']])).toEqual([
      ['POST /graphql', callerSpanId, port(stack.gatewayUrl)],
    ]);
    expect(roots[0]!.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/graphql',
      'http.response.status_code': 200,
      'graphql.operation.type': 'mutation',
      'graphql.operation.name': 'Convert',
    });
    expect(spans.some((s) => s.name === 'gateway.fetch')).toBe(true); // @apollo/gateway's own spans join in
    const ancestors = (span: ReceivedSpan): ReceivedSpan[] => {
      const parent = byId.get(span.parentSpanId ?? '');
      return parent ? [parent, ...ancestors(parent)] : [];
    };

    const orchestration = serverSpansOn(spans, stack.urls.orchestration);
    expect(orchestration).toHaveLength(1);
    expect(ancestors(orchestration[0]!).map((s) => s.kind)).toContain(CLIENT);

    const steps = spans.filter((s) => s.name.startsWith('step '));
    expect(steps.map((s) => s.name).sort()).toEqual(STEPS.map((s) => `step ${s}`).sort());
    for (const step of steps) {
      expect(step.attributes).toMatchObject({
        'meridian.run.id': runId,
        'meridian.flow': 'convertOpportunityToProject',
        'meridian.step': step.name.slice('step '.length),
        'meridian.correlation_id': run.correlationId,
        'meridian.step.attempt': 1,
      });
      // The worker's step is a child of the call that queued the run: its parent is the orchestration's span.
      expect(byId.get(step.parentSpanId!)?.spanId).toBe(orchestration[0]!.spanId);
    }
    for (const system of ['crm', 'psa', 'erp'] as const) {
      const served = serverSpansOn(spans, stack.urls[system]).filter((s) =>
        ancestors(s).some((a) => a.name.startsWith('step ')),
      );
      expect({ system, calls: served.length > 0 }).toEqual({ system, calls: true });
      const client = byId.get(served[0]!.parentSpanId!)!;
      expect([client.kind, client.name, client.attributes['meridian.system']]).toEqual([CLIENT, 'POST', system]);
    }
    // Logs written while serving the mutation carry its trace.
    expect(logs.lines.filter((l) => l.msg === 'graphql request' && l.trace_id === traceId).length).toBeGreaterThan(1);
  });

  it("links a step's retry to its failed attempt, both in the trace of the call that queued the run", async () => {
    const { opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    const traceId = randomBytes(16).toString('hex');
    // The ERP throttles every call until the conversion has failed once, then answers again.
    stack.stores.erp.faults.set({ throttleRate: 1, retryAfterMs: 20, seed: 3 });
    const started = await gql(
      stack.gatewayUrl,
      'mutation Convert($input: ConvertOpportunityToProjectInput!) { convertOpportunityToProject(input: $input) { id } }',
      { input: { opportunityId } },
      { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
    );
    const runId = started.body.data!.convertOpportunityToProject.id as string;
    try {
      await waitForRun(stack, runId, ['WAITING_RETRY']);
    } finally {
      stack.stores.erp.faults.set({});
    }
    expect((await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION'])).status).toBe('SUCCEEDED');
    await tracing.flush();
    const attempts = receiver.spans
      .filter((s) => s.traceId === traceId && s.name === 'step ensureErpCustomer')
      .sort((a, b) => Number(a.attributes['meridian.step.attempt']) - Number(b.attributes['meridian.step.attempt']));
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    expect(attempts[0]!.links).toEqual([]);
    for (let i = 1; i < attempts.length; i++)
      expect(attempts[i]!.links).toEqual([
        { traceId, spanId: attempts[i - 1]!.spanId, attributes: { 'meridian.link': 'retry_of' } },
      ]);
  });

  it('starts a trace for each run a trigger creates, which its steps join; a look that creates nothing exports nothing', async () => {
    const { opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    const triggered = async () =>
      (await stack.stores.ledger.listRuns({ first: 1000, afterKey: null })).nodes.filter((r) =>
        r.triggeredBy.startsWith('event:'),
      );
    const triggerSpans = () => receiver.spans.filter((s) => s.name.startsWith('trigger '));
    expect(await stack.triggers!.pollOnce()).toBeGreaterThan(0);
    const [run] = (await triggered()).filter((r) => r.opportunityId === opportunityId);
    expect((await waitForRun(stack, run!.id, ['SUCCEEDED', 'EXCEPTION'])).status).toBe('SUCCEEDED');
    await tracing.flush();
    const root = triggerSpans().find((s) => s.traceId === JSON.parse(run!.traceContext!).traceparent.split('-')[1]);
    expect(root).toMatchObject({
      name: 'trigger convertOpportunityToProject',
      parentSpanId: null,
      attributes: { 'meridian.flow': 'convertOpportunityToProject' },
    });
    const steps = receiver.spans.filter((s) => s.traceId === root!.traceId && s.name.startsWith('step '));
    expect(steps.map((s) => s.name).sort()).toEqual(STEPS.map((s) => `step ${s}`).sort());
    for (const step of steps) expect(step.parentSpanId).toBe(root!.spanId);
    // One span per run a trigger created, and none for a look that found only standing runs.
    const before = triggerSpans().length;
    expect(before).toBe((await triggered()).length);
    await stack.triggers!.pollOnce();
    await tracing.flush();
    expect(triggerSpans().length - before).toBe((await triggered()).length - before);
  });

  it('ignores a malformed traceparent: the request succeeds and starts a new trace', async () => {
    const response = await gql(
      stack.gatewayUrl,
      'query MalformedTraceparent { __typename }',
      {},
      {
        traceparent: '00-not-a-trace-id-01',
      },
    );
    expect(response.body).toEqual({ data: { __typename: 'Query' } });
    await tracing.flush();
    const span = serverSpansOn(receiver.spans, stack.gatewayUrl).find(
      (s) => s.attributes['graphql.operation.name'] === 'MalformedTraceparent',
    );
    expect(span).toMatchObject({ kind: SERVER, parentSpanId: null, traceId: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(span!.traceId).not.toBe('0'.repeat(32));
  });
});
