import { context, propagation, ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * The trace context a caller sent (W3C `traceparent` / `tracestate`), or the root context when it sent none or a
 * malformed one: the request then starts a new trace. A no-op while tracing is off.
 */
export function contextFromHeaders(headers: IncomingHttpHeaders): Context {
  return propagation.extract(ROOT_CONTEXT, headers);
}

/** Adds the current (or given) trace context to outgoing request headers as `traceparent` / `tracestate`. */
export function injectTraceHeaders(headers: Record<string, string>, from: Context = context.active()): void {
  propagation.inject(from, headers);
}

/**
 * The current trace context, serialised for storage (a run remembers the call that queued it), or null when there
 * is none (tracing off, or no active span).
 */
export function captureTraceContext(): string | null {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ? JSON.stringify(carrier) : null;
}

/** The context a stored trace context stands for (the root context for null or unreadable text). */
export function contextFromStored(stored: string | null | undefined): Context {
  if (!stored) return ROOT_CONTEXT;
  try {
    return propagation.extract(ROOT_CONTEXT, JSON.parse(stored) as Record<string, string>);
  } catch {
    return ROOT_CONTEXT;
  }
}
