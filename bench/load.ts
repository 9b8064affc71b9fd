/** A GraphQL response body as the load generator reads it. */
export interface GraphQLResponseBody {
  data?: unknown;
  errors?: Array<{ message?: unknown; path?: unknown; extensions?: { code?: unknown } }>;
}

/** One fixed-size batch of GraphQL POSTs. */
export interface LoadOptions {
  /** The gateway's `/graphql` URL. */
  url: string;
  /** JSON request bodies, sent as they are: request `i` sends `bodies[i % bodies.length]`. */
  bodies: readonly string[];
  /** Requests to send in all. */
  requests: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Headers added to every request (`authorization: Bearer …`). */
  headers?: Record<string, string>;
}

/** What a batch measured: wall time, each request's latency, and the last response to complete. */
export interface LoadResult {
  elapsedMs: number;
  /** One entry per request, in completion order. */
  latenciesMs: number[];
  /** The `data` of the last response to complete. */
  lastData: unknown;
  /** Index in `bodies` of the request that got {@link lastData}. */
  lastBodyIndex: number;
  /** Size of the last response body, in bytes. */
  lastBodyBytes: number;
}

/**
 * Sends `requests` POSTs, cycling through `bodies`, with `concurrency` in flight through Node's fetch (undici; its global dispatcher keeps
 * connections alive, so each worker reuses its socket). Every response must be HTTP 200 with `data` and no `errors`.
 * @throws Error describing the first failed request; the other workers stop sending.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  let next = 0;
  let failure: Error | undefined;
  let lastData: unknown;
  let lastBodyIndex = 0;
  let lastBodyBytes = 0;
  const headers = { ...options.headers, 'content-type': 'application/json', accept: 'application/json' };
  const worker = async () => {
    while (failure === undefined && next < options.requests) {
      const bodyIndex = next++ % options.bodies.length;
      const started = performance.now();
      try {
        const response = await fetch(options.url, {
          method: 'POST',
          headers,
          body: options.bodies[bodyIndex]!,
        });
        const text = await response.text();
        latenciesMs.push(performance.now() - started);
        lastData = checkedData(response.status, text);
        lastBodyIndex = bodyIndex;
        lastBodyBytes = Buffer.byteLength(text);
      } catch (error) {
        failure ??= new Error(`POST ${options.url}: ${messageOf(error)}`);
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(options.concurrency, options.requests) }, worker));
  const elapsedMs = performance.now() - started;
  if (failure) throw failure;
  return { elapsedMs, latenciesMs, lastData, lastBodyIndex, lastBodyBytes };
}

/**
 * POSTs one body, with `headers` (`authorization: Bearer …`), and returns the response's `data`.
 * @throws Error as {@link checkedData} does.
 */
export async function postForData(url: string, body: string, headers: Record<string, string> = {}): Promise<unknown> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', accept: 'application/json' },
      body,
    });
    return checkedData(response.status, await response.text());
  } catch (error) {
    throw new Error(`POST ${url}: ${messageOf(error)}`);
  }
}

function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // undici's "fetch failed" says nothing by itself; its cause names the socket error (ECONNREFUSED…).
  const cause =
    error.cause instanceof Error ? ` (${(error.cause as NodeJS.ErrnoException).code ?? error.cause.message})` : '';
  return `${error.message}${cause}`;
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
    const errors = (body.errors ?? [])
      .slice(0, 3)
      .map(
        (e) => `${String(e.extensions?.code ?? 'NO_CODE')}: ${String(e.message)} at ${JSON.stringify(e.path ?? null)}`,
      );
    throw new Error(
      `HTTP ${status}, ${body.errors?.length ?? 0} error(s)${errors.length ? `:\n  ${errors.join('\n  ')}` : `: ${text.slice(0, 300)}`}`,
    );
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
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
