import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The process's Prometheus registry: every Meridian metric and Node's own process metrics (`process_*`, `nodejs_*`).
 * One per process, as Prometheus scrapes a process: when the whole graph runs in one process (`npm start`, the tests)
 * every server's `/metrics` shows the same figures. Labels are low-cardinality only: names from code (flows, steps,
 * systems, subgraphs, error classes, statuses) and bounded operation names, never an ID.
 */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

/** Latency buckets in seconds, from a cached field (1 ms) to a slow system call (30 s). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** GraphQL operations the gateway answered, by operation name, type and outcome. */
export const gatewayRequests = new Counter({
  name: 'meridian_gateway_requests_total',
  help: 'GraphQL operations the gateway answered, by operation name (bounded), type and outcome (success, error)',
  labelNames: ['operation_name', 'operation_type', 'outcome'] as const,
  registers: [metricsRegistry],
});

/** Time from the gateway receiving an operation to its response. */
export const gatewayRequestDuration = new Histogram({
  name: 'meridian_gateway_request_duration_seconds',
  help: 'Time the gateway took to answer a GraphQL operation, by operation type and outcome',
  labelNames: ['operation_type', 'outcome'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [metricsRegistry],
});

/** One gateway → subgraph fetch, from request to parsed response. */
export const subgraphFetchDuration = new Histogram({
  name: 'meridian_gateway_subgraph_fetch_duration_seconds',
  help: 'Time of one gateway fetch from a subgraph, by subgraph and outcome (success, error)',
  labelNames: ['subgraph', 'outcome'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [metricsRegistry],
});

/** Results of operations shaped from a compiled plan, or by `@apollo/gateway` (gateway/result-shaping/). */
export const resultsShaped = new Counter({
  name: 'meridian_gateway_results_shaped_total',
  help: 'Operation results the gateway shaped, by who shaped them: plan (compiled per operation) or apollo (@apollo/gateway, for what a plan cannot take)',
  labelNames: ['by'] as const,
  registers: [metricsRegistry],
});

/** graphql-ws subscriptions open on this gateway. */
export const subscriptionsOpen = new Gauge({
  name: 'meridian_gateway_subscriptions_open',
  help: 'graphql-ws subscriptions open on this gateway',
  registers: [metricsRegistry],
});

/** Subscription payloads sent to clients. */
export const subscriptionPayloads = new Counter({
  name: 'meridian_gateway_subscription_payloads_total',
  help: 'Subscription payloads the gateway delivered to clients',
  registers: [metricsRegistry],
});

/** Runs created (a request or trigger that got a standing run back does not count). */
export const runsStarted = new Counter({
  name: 'meridian_runs_started_total',
  help: 'Runs created, by flow',
  labelNames: ['flow'] as const,
  registers: [metricsRegistry],
});

/** Runs that reached an end state this process's worker committed. */
export const runsFinished = new Counter({
  name: 'meridian_runs_finished_total',
  help: 'Runs a worker brought to an end state (SUCCEEDED, EXCEPTION, ABANDONED, COMPENSATION_FAILED), by flow and status',
  labelNames: ['flow', 'status'] as const,
  registers: [metricsRegistry],
});

/**
 * The business's lead times: from a run's creation (the closed-won trigger, the approval trigger, a person's call) to
 * its end, by flow: closed-won → project ready is `convertOpportunityToProject`'s, approved time → ERP billing lines
 * `billApprovedTime`'s. Buckets from a second to a week, since a run that waits on a person ends days later.
 */
export const runLeadTime = new Histogram({
  name: 'meridian_run_lead_time_seconds',
  help: 'Time from a run being created to its end state (SUCCEEDED, EXCEPTION, ABANDONED, COMPENSATION_FAILED), by flow and status',
  labelNames: ['flow', 'status'] as const,
  buckets: [1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600],
  registers: [metricsRegistry],
});

/** Exceptions raised: runs a worker stopped for a person, by flow and error class. */
export const exceptionsRaised = new Counter({
  name: 'meridian_exceptions_raised_total',
  help: 'Runs a worker stopped in EXCEPTION for a person, by flow and error class',
  labelNames: ['flow', 'error_class'] as const,
  registers: [metricsRegistry],
});

/** What people did to stopped runs: the manual touches the business wants to see fall. */
export const manualTouches = new Counter({
  name: 'meridian_manual_touches_total',
  help: 'Commands people gave stopped runs (retry, retry_with_input, resolve, abandon), by flow and action',
  labelNames: ['flow', 'action'] as const,
  registers: [metricsRegistry],
});

/** Step attempts, by the system the step writes to and how it ended (`none` when it succeeded). */
export const stepAttempts = new Counter({
  name: 'meridian_step_attempts_total',
  help: 'Flow step attempts, by system and error class (none: the attempt succeeded)',
  labelNames: ['system', 'error_class'] as const,
  registers: [metricsRegistry],
});

/** System calls the CRM, PSA or ERP refused with RATE_LIMITED. */
export const systemCallsThrottled = new Counter({
  name: 'meridian_system_calls_throttled_total',
  help: 'Calls to a system refused as rate-limited (HTTP 429 style), by system',
  labelNames: ['system'] as const,
  registers: [metricsRegistry],
});

/** The Retry-After a throttled system call was told to wait. */
export const systemRetryAfter = new Histogram({
  name: 'meridian_system_call_retry_after_seconds',
  help: 'Retry-After given with a throttled system call, by system',
  labelNames: ['system'] as const,
  buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300],
  registers: [metricsRegistry],
});
