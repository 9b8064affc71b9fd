/** A GraphQL response body as the load generator reads it. */
export interface GraphQLResponseBody {
  data?: unknown;
  errors?: Array<{ message?: unknown; path?: unknown; extensions?: { code?: unknown } }>;
}

/** One fixed-size batch of identical GraphQL POSTs. */
export interface LoadOptions {
  /** The gateway's `/graphql` URL. */
  url: string;
  /** The JSON request body, sent as is. */
  body: string;
  /** Requests to send in all. */
  requests: number;
  /** Requests in flight at once. */
  concurrency: number;
}

/** What a batch measured: wall time, each request's latency, and the data of the last response. */
export interface LoadResult {
  elapsedMs: number;
  /** One entry per request, in completion order. */
  latenciesMs: number[];
  lastData: unknown;
  /** Size of the last response body, in bytes. */
  lastBodyBytes: number;
}

/**
 * Sends `requests` POSTs with `concurrency` in flight through Node's fetch (undici; its global dispatcher keeps
 * connections alive, so each worker reuses its socket). Every response must be HTTP 200 with `data` and no `errors`.
 * @throws Error describing the first failed request; the other workers stop sending.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  let next = 0;
  let failure: Error | undefined;
  let lastData: unknown;
  let lastBodyBytes = 0;
  const worker = async () => {
    while (failure === undefined && next < options.requests) {
      next++;
      const started = performance.now();
      try {
        const response = await fetch(options.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: options.body,
        });
        const text = await response.text();
        latenciesMs.push(performance.now() - started);
        lastData = checkedData(response.status, text);
        lastBodyBytes = Buffer.byteLength(text);
      } catch (error) {
        failure ??= error instanceof Error ? error : new Error(String(error));
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(options.concurrency, options.requests) }, worker));
  const elapsedMs = performance.now() - started;
  if (failure) throw failure;
  return { elapsedMs, latenciesMs, lastData, lastBodyBytes };
}

/**
 * The `data` of a GraphQL HTTP response that succeeded in full.
 * @throws Error with the status and the first errors when the status is not 200, or the body has errors or no data.
 */
export function checkedData(status: number, text: string): unknown {
  let body: GraphQLResponseBody;
  try {
    body = JSON.parse(text) as GraphQLResponseBody;
  } catch {
    throw new Error(`HTTP ${status}, not JSON: ${text.slice(0, 300)}`);
  }
  if (status !== 200 || body.errors?.length || body.data === undefined || body.data === null) {
    const errors = (body.errors ?? []).slice(0, 3).map((e) => `${String(e.extensions?.code ?? 'NO_CODE')}: ${String(e.message)} at ${JSON.stringify(e.path ?? null)}`);
    throw new Error(`HTTP ${status}, ${body.errors?.length ?? 0} error(s)${errors.length ? `:\n  ${errors.join('\n  ')}` : `: ${text.slice(0, 300)}`}`);
  }
  return body.data;
}

/** The nearest-rank percentile (0–100) of `values`; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** JSON with object keys sorted, so two values compare equal whatever order their keys came in. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}
