import { trace } from '@opentelemetry/api';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTracing } from '../lib/telemetry/start-tracing';
import { startOtlpReceiver } from './support/otlp-receiver';
import { gql, startTestStack } from './support/stack';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('tracing off, disabled, or its collector down', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack.stop());

  it('records and exports nothing without OTel variables, or with OTEL_SDK_DISABLED=true', async () => {
    const receiver = await startOtlpReceiver();
    try {
      expect(startTracing('meridian-test', {}).enabled).toBe(false);
      const disabled = startTracing('meridian-test', {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_SDK_DISABLED: 'true',
      });
      expect(disabled.enabled).toBe(false);
      const response = await gql(stack.gatewayUrl, '{ __typename }', {}, { traceparent: TRACEPARENT });
      expect(response.body).toEqual({ data: { __typename: 'Query' } });
      await disabled.flush();
      const span = trace.getTracer('probe').startSpan('probe');
      expect(span.isRecording()).toBe(false);
      span.end();
      expect(receiver.requests()).toBe(0);
    } finally {
      await receiver.close();
    }
  });

  it('refuses an exporter or protocol it cannot honour, naming the variable', () => {
    expect(() =>
      startTracing('x', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }),
    ).toThrow('OTEL_EXPORTER_OTLP_PROTOCOL=grpc: use http/protobuf or http/json');
    expect(() =>
      startTracing('x', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_TRACES_EXPORTER: 'zipkin' }),
    ).toThrow('OTEL_TRACES_EXPORTER=zipkin: only otlp (or none) is supported');
  });

  it('answers every request while the collector cannot be reached, and shuts down', async () => {
    const tracing = startTracing('meridian-test', {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await closedPort()}`,
    });
    try {
      expect(tracing.enabled).toBe(true);
      const responses = await Promise.all(
        Array.from({ length: 20 }, () =>
          gql(stack.gatewayUrl, '{ accounts(first: 2) { totalCount } }', {}, { traceparent: TRACEPARENT }),
        ),
      );
      expect(responses.map((r) => [r.status, r.body.errors])).toEqual(Array(20).fill([200, undefined]));
      // The export fails in the background; flushing reports that without touching the requests.
      await tracing.flush().catch(() => undefined);
    } finally {
      await tracing.shutdown().catch(() => undefined);
    }
  });
});
