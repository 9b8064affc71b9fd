import { trace } from '@opentelemetry/api';
import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * The JSON logger every process uses: one line per event on stdout, with the active span's `trace_id` and `span_id`.
 * @default level `LOG_LEVEL` is read by main files only; here it is a parameter (`info`).
 */
export function createLogger(name: string, level = 'info'): Logger {
  return pino({ name, level, base: { service: name }, mixin: traceFields });
}

/** `trace_id` and `span_id` of the span active where a line is logged (none while tracing is off). */
export function traceFields(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId, traceFlags } = span.spanContext();
  return { trace_id: traceId, span_id: spanId, trace_flags: `0${traceFlags.toString(16)}` };
}

/** A logger that drops everything, for tests and benchmarks that do not read logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
