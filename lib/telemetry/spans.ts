import {
  context,
  isSpanContextValid,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
} from '@opentelemetry/api';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { contextFromHeaders, injectTraceHeaders } from './propagation';

/** The tracer of Meridian's own spans. */
export const tracer = trace.getTracer('meridian');

// Stable semantic-convention attribute names, written out: importing @opentelemetry/semantic-conventions for a dozen
// strings costs every process (and every worker a test spawns) its load time.
const ATTR_ERROR_TYPE = 'error.type';
const ATTR_HTTP_REQUEST_METHOD = 'http.request.method';
const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';
const ATTR_HTTP_ROUTE = 'http.route';
const ATTR_SERVER_ADDRESS = 'server.address';
const ATTR_SERVER_PORT = 'server.port';
const ATTR_URL_FULL = 'url.full';
const ATTR_URL_PATH = 'url.path';
const ATTR_URL_SCHEME = 'url.scheme';

/** Span attributes Meridian adds to a run's spans. */
export const ATTR_MERIDIAN_RUN_ID = 'meridian.run.id';
export const ATTR_MERIDIAN_FLOW = 'meridian.flow';
export const ATTR_MERIDIAN_STEP = 'meridian.step';
export const ATTR_MERIDIAN_CORRELATION_ID = 'meridian.correlation_id';
// Incubating semantic conventions are copied, not imported, as OpenTelemetry advises.
export const ATTR_GRAPHQL_OPERATION_NAME = 'graphql.operation.name';
export const ATTR_GRAPHQL_OPERATION_TYPE = 'graphql.operation.type';

/**
 * Runs `handle` inside an HTTP server span (`POST /graphql`, kind SERVER) that continues the caller's W3C trace
 * context, or starts a new trace when there is none or it is malformed. The span ends when the response finishes
 * or the connection closes, with the status code; 5xx marks it an error.
 */
export function withServerSpan(req: IncomingMessage, res: ServerResponse, route: string, handle: () => void): void {
  const method = (req.method ?? 'GET').toUpperCase();
  const local = req.socket.localPort;
  const span = tracer.startSpan(
    `${method} ${route}`,
    {
      kind: SpanKind.SERVER,
      attributes: {
        [ATTR_HTTP_REQUEST_METHOD]: method,
        [ATTR_HTTP_ROUTE]: route,
        [ATTR_URL_PATH]: (req.url ?? '/').split('?')[0],
        [ATTR_URL_SCHEME]: 'http',
        ...(local === undefined ? {} : { [ATTR_SERVER_PORT]: local }),
      },
    },
    contextFromHeaders(req.headers),
  );
  if (!span.isRecording()) {
    handle();
    return;
  }
  const end = () => {
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res.statusCode);
    if (res.statusCode >= 500) {
      span.setAttribute(ATTR_ERROR_TYPE, String(res.statusCode));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  };
  res.once('finish', end);
  res.once('close', () => {
    if (!res.writableFinished) end();
  });
  context.with(trace.setSpan(context.active(), span), handle);
}

/**
 * Node's fetch inside an HTTP client span (`POST`, kind CLIENT), the W3C trace context added to the request's
 * headers; `attributes` name the peer (`meridian.subgraph`, `meridian.system`). A failed fetch marks the span.
 */
export async function tracedFetch(
  url: string,
  init: RequestInit & { headers: Record<string, string> },
  attributes: Attributes,
): Promise<Response> {
  const headers = { ...init.headers };
  return withClientSpan((init.method ?? 'GET').toUpperCase(), url, headers, attributes, () =>
    fetch(url, { ...init, headers }),
  );
}

/**
 * Runs `send` (one HTTP request to `url`) inside an HTTP client span (`POST`, kind CLIENT), the W3C trace context
 * added to `headers` first, which `send` must then send; `attributes` name the peer. The answer's status is recorded
 * (5xx marks the span an error), and so is a failure. With tracing off it only calls `send`.
 */
export function withClientSpan<T extends { status: number } | { statusCode: number }>(
  method: string,
  url: string,
  headers: Record<string, string>,
  attributes: Attributes,
  send: () => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(method, { kind: SpanKind.CLIENT }, async (span) => {
    if (!span.isRecording()) {
      span.end();
      return send();
    }
    const target = new URL(url);
    span.setAttributes({
      [ATTR_HTTP_REQUEST_METHOD]: method,
      [ATTR_URL_FULL]: url,
      [ATTR_SERVER_ADDRESS]: target.hostname,
      [ATTR_SERVER_PORT]: Number(target.port || (target.protocol === 'https:' ? 443 : 80)),
      ...attributes,
    });
    injectTraceHeaders(headers);
    try {
      const response = await send();
      const status = 'status' in response ? response.status : response.statusCode;
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      if (status >= 500) {
        span.setAttribute(ATTR_ERROR_TYPE, String(status));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      return response;
    } catch (error) {
      failSpan(span, error, (error as Error).name || 'Error');
      throw error;
    } finally {
      span.end();
    }
  });
}

/** A run's step (or its compensation), as the worker runs it. */
export interface StepSpanInfo {
  /** `step` or `compensate`. */
  kind: 'step' | 'compensate';
  runId: string;
  flow: string;
  step: string;
  correlationId: string;
  /** Which attempt this is (1 for the first). */
  attempt: number;
  /** The system the step writes to. */
  system: string;
  /** The trace context of the call that queued the run (see `captureTraceContext`). */
  parent: Context;
  /** The W3C `traceparent` of the attempt before this one, when it failed: the span links to it (a retry). */
  retryOf?: string | null;
  /** Told this attempt's `traceparent` once its span starts (null when tracing is off), to store with a failure. */
  onSpan?: (traceparent: string | null) => void;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A span's context as a W3C `traceparent`, or null for a span that records nothing (tracing off). */
export function traceparentOf(span: Span): string | null {
  const context = span.spanContext();
  if (!isSpanContextValid(context)) return null;
  return `00-${context.traceId}-${context.spanId}-${context.traceFlags.toString(16).padStart(2, '0')}`;
}

/** A link to the span a stored `traceparent` names; none for a missing or malformed one. */
function linksTo(traceparent: string | null | undefined): Link[] {
  const m = traceparent ? TRACEPARENT.exec(traceparent) : null;
  if (!m) return [];
  const context = { traceId: m[1]!, spanId: m[2]!, traceFlags: Number.parseInt(m[3]!, 16), isRemote: true };
  return isSpanContextValid(context) ? [{ context, attributes: { 'meridian.link': 'retry_of' } }] : [];
}

/**
 * Runs a step inside its span (`step <name>`, INTERNAL), a child of the call that queued the run, so every system call
 * it makes joins that trace. A throw marks the span with the error and is rethrown; `classify` names its class
 * (`error.type`).
 */
export function withStepSpan<T>(
  info: StepSpanInfo,
  classify: (error: unknown) => string,
  run: () => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(
    `${info.kind} ${info.step}`,
    {
      kind: SpanKind.INTERNAL,
      attributes: {
        [ATTR_MERIDIAN_RUN_ID]: info.runId,
        [ATTR_MERIDIAN_FLOW]: info.flow,
        [ATTR_MERIDIAN_STEP]: info.step,
        [ATTR_MERIDIAN_CORRELATION_ID]: info.correlationId,
        'meridian.step.attempt': info.attempt,
        'meridian.system': info.system,
      },
      links: linksTo(info.retryOf),
    },
    info.parent,
    async (span) => {
      info.onSpan?.(traceparentOf(span));
      try {
        return await run();
      } catch (error) {
        failSpan(span, error, classify(error));
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

function failSpan(span: Span, error: unknown, type: string): void {
  span.setAttribute(ATTR_ERROR_TYPE, type);
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/**
 * Runs `queue` inside a new trace's root span, `trigger <flow>` (INTERNAL, with `meridian.flow` and the trigger's
 * actor), so a run it queues remembers the span as the call that queued it and the worker's steps join that trace.
 * The span is exported only when `queue` says it created a run (`keep`): a look that finds only standing runs leaves
 * nothing behind (a span never ended is never exported).
 */
export async function withTriggerSpan<T>(
  flow: string,
  actor: string,
  queue: () => Promise<{ value: T; keep: boolean }>,
): Promise<T> {
  const span = tracer.startSpan(`trigger ${flow}`, {
    kind: SpanKind.INTERNAL,
    root: true,
    attributes: { [ATTR_MERIDIAN_FLOW]: flow, 'meridian.trigger': actor },
  });
  const { value, keep } = await context.with(trace.setSpan(context.active(), span), queue);
  if (keep) span.end();
  return value;
}
