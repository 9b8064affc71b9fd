import { HeaderMap, type ApolloServer, type BaseContext } from '@apollo/server';
import cors from 'cors';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Identity } from './auth/identity';
import { MeridianError } from './errors';
import { withServerSpan } from './telemetry/spans';

/** Header carrying the request ID from the gateway to the subgraphs and back to the client. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** Largest HTTP body accepted, in bytes. @default 1 MiB */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** A GET route served beside GraphQL (health checks): it writes the whole response; a throw answers 500. */
export type Route = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

/** What {@link GraphQLHttpOptions.admit} sees of a GraphQL request before it runs. */
export interface AdmissionRequest {
  req: IncomingMessage;
  requestId: string;
  /** The body exactly as received (signatures are computed over it). */
  raw: string;
  /** The parsed JSON body (undefined for GET). */
  body: unknown;
}

/** Who the caller is, and the body to run (a trusted-document lookup may fill in the query). */
export interface Admission {
  identity: Identity | null;
  body?: unknown;
}

/** HTTP status of a request refused before it runs, by code. */
const REFUSAL_STATUS: Record<string, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  RATE_LIMITED: 429,
  BAD_REQUEST: 400,
};

export interface GraphQLHttpOptions<TContext extends BaseContext> {
  /**
   * Admits a request before GraphQL runs: verifies the caller (a gateway token, a subgraph signature), may rewrite the
   * body. Throw a {@link MeridianError} to refuse: its code becomes the status (401, 403, 429 with Retry-After, else 400).
   * @default every request is anonymous
   */
  admit?: (request: AdmissionRequest) => Promise<Admission> | Admission;
  /** Builds the per-request context (loaders, identity) from the request, its ID and the admitted identity. */
  context: (req: IncomingMessage, requestId: string, identity: Identity | null) => Promise<TContext>;
  /** Extra GET routes by path, such as `/healthz`. */
  routes?: Record<string, Route>;
  /** @default {@link DEFAULT_MAX_BODY_BYTES} */
  maxBodyBytes?: number;
  /**
   * Browser origins (`https://portal.example.com`) allowed to call GraphQL cross-origin: preflights are answered and
   * responses carry `Access-Control-Allow-Origin` for them alone; credentials (cookies) are never allowed.
   * @default none: no CORS headers, so browsers refuse every cross-origin call
   */
  corsOrigins?: readonly string[];
  /**
   * `mint`: every request gets a fresh ID of ours, whatever the caller sent (the edge: the gateway), and the caller's
   * `x-request-id` is only kept beside it ({@link callerRequestIdOf}). `accept`: the `x-request-id` of the (trusted)
   * caller is used when it looks sane (a subgraph behind the gateway), so one ID follows a request through every hop.
   * @default 'accept'
   */
  requestIds?: 'mint' | 'accept';
}

/** Headers a browser may send cross-origin: JSON bodies, bearer tokens, Apollo's CSRF header, our request ID. */
const CORS_ALLOWED_HEADERS = [
  'content-type',
  'authorization',
  'apollo-require-preflight',
  'x-apollo-operation-name',
  REQUEST_ID_HEADER,
];
/** How long a browser may keep a preflight answer, in seconds. */
const CORS_MAX_AGE_SECONDS = 600;

/**
 * Reads `CORS_ORIGINS`: comma-separated origins (scheme, host and port only).
 * @default none
 * @throws Error naming the variable and the value that is not an origin (`*` included: the list is an allowlist).
 */
export function corsOriginsFromEnv(env: NodeJS.ProcessEnv): string[] {
  const origins = (env.CORS_ORIGINS ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const origin of origins) {
    let parsed: string | null = null;
    try {
      parsed = new URL(origin).origin;
    } catch {}
    if (parsed !== origin)
      throw new Error(
        `CORS_ORIGINS: '${origin}' is not an origin; write scheme://host[:port], e.g. https://portal.example.com`,
      );
  }
  return origins;
}

/** The header the gateway passes the caller's own request ID on to the subgraphs in. */
export const CALLER_REQUEST_ID_HEADER = 'x-caller-request-id';

const SANE_REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Request ID from the incoming header when it looks sane, else a fresh UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * The request ID the caller sent, when it looks sane (at most 128 of letters, digits, `_.:-`), else null: at the
 * gateway from `x-request-id`, behind it from {@link CALLER_REQUEST_ID_HEADER}. Kept for the audit log, never used as
 * Meridian's own ID, which a caller could otherwise reuse to make its calls look like somebody else's.
 */
export function callerRequestIdOf(req: IncomingMessage, header = REQUEST_ID_HEADER): string | null {
  const given = req.headers[header];
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : null;
}

/**
 * Serves an (already started) Apollo Server on `node:http`: GraphQL on `/graphql` (and `/`),
 * the given routes beside it. Bodies over the limit get 413 with a coded error, without reading further.
 */
export function createGraphQLRequestListener<TContext extends BaseContext>(
  apollo: ApolloServer<TContext>,
  options: GraphQLHttpOptions<TContext>,
): (req: IncomingMessage, res: ServerResponse) => void {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const allowCors = options.corsOrigins?.length
    ? cors({
        origin: [...options.corsOrigins],
        methods: ['GET', 'POST'],
        allowedHeaders: CORS_ALLOWED_HEADERS,
        exposedHeaders: [REQUEST_ID_HEADER, 'retry-after'],
        credentials: false,
        maxAge: CORS_MAX_AGE_SECONDS,
      })
    : null;
  const serve = graphQLRequestHandler(apollo, options, maxBodyBytes);
  const handle = (req: IncomingMessage, res: ServerResponse, path: string) => {
    // CORS covers GraphQL only; a preflight is answered here (204) and never reaches GraphQL.
    if (allowCors && (path === '/graphql' || path === '/'))
      allowCors(req, res, (error?: unknown) =>
        error ? sendError(res, 500, 'INTERNAL_SERVER_ERROR', 'CORS failed') : serve(req, res),
      );
    else serve(req, res);
  };
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    // GraphQL requests continue the caller's trace (W3C traceparent); health checks and /metrics are not traced.
    if (path === '/graphql' || path === '/') withServerSpan(req, res, '/graphql', () => handle(req, res, path));
    else handle(req, res, path);
  };
}

function graphQLRequestHandler<TContext extends BaseContext>(
  apollo: ApolloServer<TContext>,
  options: GraphQLHttpOptions<TContext>,
  maxBodyBytes: number,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const requestId = options.requestIds === 'mint' ? randomUUID() : requestIdOf(req);
    res.setHeader(REQUEST_ID_HEADER, requestId);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = options.routes?.[path];
    if (route) {
      Promise.resolve(route(req, res)).catch(() => sendError(res, 500, 'INTERNAL_SERVER_ERROR', 'Route failed'));
      return;
    }
    if (path !== '/graphql' && path !== '/') {
      sendError(res, 404, 'NOT_FOUND', `No route ${path}; GraphQL is served on /graphql`);
      return;
    }
    readBody(req, maxBodyBytes)
      .then(
        async (raw) => {
          let body: unknown;
          if (raw.length > 0 && (req.headers['content-type'] ?? '').includes('json')) {
            try {
              body = JSON.parse(raw);
            } catch {
              sendError(res, 400, 'BAD_REQUEST', 'The request body is not valid JSON');
              return;
            }
          } else if (raw.length > 0) {
            body = raw;
          }
          let admission: Admission = { identity: null };
          if (options.admit) {
            try {
              admission = await options.admit({ req, requestId, raw, body });
            } catch (error) {
              if (!(error instanceof MeridianError)) throw error;
              const retryAfterMs = error.details.retryAfterMs;
              if (retryAfterMs !== undefined)
                res.setHeader('retry-after', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
              sendError(
                res,
                REFUSAL_STATUS[error.code] ?? 400,
                error.code,
                error.message,
                retryAfterMs === undefined ? {} : { retryAfterMs },
              );
              return;
            }
            if ('body' in admission) body = admission.body;
          }
          const headers = new HeaderMap();
          for (const [key, value] of Object.entries(req.headers)) {
            if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
          }
          const response = await apollo.executeHTTPGraphQLRequest({
            httpGraphQLRequest: {
              method: (req.method ?? 'GET').toUpperCase(),
              headers,
              search: new URL(req.url ?? '/', 'http://x').search,
              body,
            },
            context: () => options.context(req, requestId, admission.identity),
          });
          for (const [key, value] of response.headers) res.setHeader(key, value);
          res.statusCode = response.status ?? 200;
          if (response.body.kind === 'complete') {
            res.end(response.body.string);
            return;
          }
          for await (const chunk of response.body.asyncIterator) res.write(chunk);
          res.end();
        },
        (error: Error & { status?: number }) => {
          if (error.status === 413)
            sendError(res, 413, 'BAD_REQUEST', `The request body exceeds ${maxBodyBytes} bytes`);
          else sendError(res, 400, 'BAD_REQUEST', 'The request body could not be read');
        },
      )
      .catch(() => {
        if (!res.headersSent) sendError(res, 500, 'INTERNAL_SERVER_ERROR', 'Unexpected error');
        else res.destroy();
      });
  };
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      req.resume();
      reject(Object.assign(new Error('too large'), { status: 413 }));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(Object.assign(new Error('too large'), { status: 413 }));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Writes a GraphQL-shaped error body with `extensions.code`. */
export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  extensions: Record<string, unknown> = {},
): void {
  if (res.headersSent) return;
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify({ errors: [{ message, extensions: { code, ...extensions } }] }));
}

/** Writes a JSON body with a status. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}

/** A listening HTTP server and how to stop it. */
export interface Listening {
  server: Server;
  /** `http://127.0.0.1:<port>/graphql` */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Listens on `port` (0 for an ephemeral one) at `host`, resolving once bound.
 * `close()` stops accepting, ends idle keep-alive sockets and waits for in-flight requests.
 */
export function listen(
  listener: (req: IncomingMessage, res: ServerResponse) => void,
  port: number,
  host = '127.0.0.1',
): Promise<Listening> {
  const server = createServer(listener);
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const actual = (server.address() as AddressInfo).port;
      resolve({
        server,
        port: actual,
        url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}/graphql`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeIdleConnections();
          }),
      });
    });
  });
}
