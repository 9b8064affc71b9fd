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
    stack = await startTestStack({ workerOptions: { idlePollMs: 50 }, logger: logs.logger });
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
