import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter as OTLPJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

/** Tracing as {@link startTracing} left it. */
export interface Tracing {
  /** False when no OTLP endpoint is configured (or `OTEL_SDK_DISABLED=true`): nothing is recorded or exported. */
  readonly enabled: boolean;
  /** Exports the spans ended so far (tests wait on it). */
  flush(): Promise<void>;
  /** Exports what is left and stops; a collector that cannot be reached only delays this by the export timeout. */
  shutdown(): Promise<void>;
}

const OFF: Tracing = { enabled: false, flush: async () => {}, shutdown: async () => {} };

/**
 * Starts the OpenTelemetry trace SDK for this process when the standard variables ask for it:
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, `OTEL_SDK_DISABLED` not `true`,
 * `OTEL_TRACES_EXPORTER` unset or `otlp`. It exports OTLP over HTTP, `http/protobuf` unless
 * `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL` say `http/json`; the exporter reads the rest
 * (`…_HEADERS`, `…_TIMEOUT`), and `OTEL_SERVICE_NAME` overrides `serviceName`. It registers the W3C trace-context
 * propagator and an AsyncLocalStorage context manager, so `@opentelemetry/api` spans (ours, `@apollo/gateway`'s)
 * are recorded. Spans are batched and exported in the background: a collector that is slow or down never blocks a
 * request. Otherwise nothing is registered and the API stays a no-op.
 * @throws Error when the protocol is one this process cannot export (`grpc`).
 */
export function startTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env): Tracing {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint || env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return OFF;
  const exporterKind = (env.OTEL_TRACES_EXPORTER ?? 'otlp').trim().toLowerCase();
  if (exporterKind === 'none') return OFF;
  if (exporterKind !== 'otlp')
    throw new Error(`OTEL_TRACES_EXPORTER=${exporterKind}: only otlp (or none) is supported`);
  const protocol = (
    env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ||
    env.OTEL_EXPORTER_OTLP_PROTOCOL ||
    'http/protobuf'
  ).trim();
  if (protocol !== 'http/protobuf' && protocol !== 'http/json')
    throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL=${protocol}: use http/protobuf or http/json`);
  // A signal-specific endpoint is used as given; the generic one gets the signal's path (the OTLP exporter spec).
  const url = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || `${endpoint.replace(/\/+$/, '')}/v1/traces`;
  // Headers and the export timeout come from the standard variables, read by the exporter itself.
  const exporter = protocol === 'http/json' ? new OTLPJsonTraceExporter({ url }) : new OTLPProtoTraceExporter({ url });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || serviceName }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  provider.register();
  return {
    enabled: true,
    flush: () => provider.forceFlush(),
    shutdown: async () => {
      await provider.shutdown();
      trace.disable();
    },
  };
}
