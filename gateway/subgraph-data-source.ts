import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { STATUS_CODES } from 'node:http';
import { parseCacheControlHeader } from '@apollo/gateway/dist/datasources/parseCacheControlHeader';
import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import { type Dispatcher, request } from 'undici';
import { encodeIdentity, IDENTITY_HEADER } from '../lib/auth/identity';
import { signEncoded } from '../lib/auth/signing';
import { MeridianError } from '../lib/errors';
import { CALLER_REQUEST_ID_HEADER, REQUEST_ID_HEADER } from '../lib/graphql-http';
import { subgraphFetchDuration } from '../lib/metrics/metrics';
import { withClientSpan } from '../lib/telemetry/spans';
import type { GatewayContext } from './context';

/** What a data source answers the gateway with: the subgraph's JSON response. */
type GatewayGraphQLResponse = Awaited<ReturnType<GraphQLDataSource<GatewayContext>['process']>>;

/**
 * How the gateway calls one subgraph, as `RemoteGraphQLDataSource` does (same body, same errors, the subgraph's
 * `cache-control` applied to the response's cache policy), on undici's `request` over the gateway's pooled keep-alive
 * connections rather than `fetch` (no WHATWG streams, `Request`/`Headers` objects or HTTP-cache layer per call: the
 * gateway's largest CPU cost after result shaping). The request ID is passed down, the caller's identity forwarded
 * and the whole request signed with the subgraph's secret (HMAC over timestamp, identity and body); a subgraph that
 * cannot be reached is reported as SUBGRAPH_UNAVAILABLE naming it, so the rest of the response still arrives. Without
 * a secret (a foreign subgraph) requests go unsigned.
 */
export class SubgraphDataSource implements GraphQLDataSource<GatewayContext> {
  /** This subgraph's fetch-time series, one per outcome, bound once rather than looked up by labels per call. */
  private readonly fetchTime: Record<'success' | 'error', { observe(seconds: number): void }>;

  constructor(
    private readonly subgraph: string,
    readonly url: string,
    private readonly logger: Logger,
    private readonly secret: string | null,
    private readonly dispatcher: Dispatcher,
  ) {
    this.fetchTime = {
      success: subgraphFetchDuration.labels({ subgraph, outcome: 'success' }),
      error: subgraphFetchDuration.labels({ subgraph, outcome: 'error' }),
    };
  }

  async process(options: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<GatewayGraphQLResponse> {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const response = await this.send(options);
      this.fetchTime[response.errors?.length ? 'error' : 'success'].observe(seconds());
      return response;
    } catch (error) {
      this.fetchTime.error.observe(seconds());
      if (
        error instanceof GraphQLError &&
        typeof error.extensions.code === 'string' &&
        error.extensions.code !== 'INTERNAL_SERVER_ERROR' &&
        !error.extensions.response
      )
        throw error;
      this.logger.warn(
        { requestId: options.context.requestId, subgraph: this.subgraph, url: this.url, err: error },
        'subgraph request failed',
      );
      // The entity path whose fields this subgraph would have filled, e.g. ["account"].
      const path = 'pathInIncomingRequest' in options ? options.pathInIncomingRequest : undefined;
      throw new MeridianError(
        'SUBGRAPH_UNAVAILABLE',
        `The ${this.subgraph} subgraph did not answer; its fields are null in this response`,
        { system: this.subgraph },
        path,
      );
    }
  }

  /**
   * One POST of the operation. @throws GraphQLError `<status>: <text>` with `extensions.response` for a non-2xx
   * answer (UNAUTHENTICATED for 401, FORBIDDEN for 403), as Apollo's data source does; Error for a body that is not
   * a JSON object, or a connection that fails.
   */
  private async send(options: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<GatewayGraphQLResponse> {
    const { request: operation, context } = options;
    const { http, ...payload } = operation;
    if (!payload.query) throw new Error('Missing query');
    const headers: Record<string, string> = {};
    // Headers a plan adds to the operation (the federated-trace request), as the stock data source forwards them.
    if (http?.headers) for (const [name, value] of http.headers) headers[name.toLowerCase()] = value;
    headers['content-type'] = 'application/json';
    if (context.requestId) headers[REQUEST_ID_HEADER] = context.requestId;
    if (context.callerRequestId) headers[CALLER_REQUEST_ID_HEADER] = context.callerRequestId;
    const identity = encodeIdentity(context.identity ?? null);
    headers[IDENTITY_HEADER] = identity;
    const body = JSON.stringify(payload);
    if (this.secret !== null) Object.assign(headers, signEncoded(this.secret, body, identity));

    const answer = await withClientSpan('POST', this.url, headers, { 'meridian.subgraph': this.subgraph }, () =>
      request(this.url, { method: 'POST', headers, body, dispatcher: this.dispatcher }),
    );
    const contentType = String(answer.headers['content-type'] ?? '');
    const json =
      contentType.startsWith('application/json') || contentType.startsWith('application/graphql-response+json');
    const parsed: unknown = json ? await answer.body.json() : await answer.body.text();
    if (answer.statusCode < 200 || answer.statusCode > 299) {
      const statusText = STATUS_CODES[answer.statusCode] ?? '';
      throw new GraphQLError(`${answer.statusCode}: ${statusText}`, {
        extensions: {
          response: { url: this.url, status: answer.statusCode, statusText, body: parsed },
          ...(answer.statusCode === 401
            ? { code: 'UNAUTHENTICATED' }
            : answer.statusCode === 403
              ? { code: 'FORBIDDEN' }
              : {}),
        },
      });
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new Error(`Expected JSON response body, but received: ${String(parsed)}`);
    restrictCachePolicy(options, answer.headers['cache-control']);
    return parsed as GatewayGraphQLResponse;
  }
}

/** Applies a subgraph's `cache-control` to the incoming operation's cache policy, as `RemoteGraphQLDataSource` does. */
function restrictCachePolicy(
  options: GraphQLDataSourceProcessOptions<GatewayContext>,
  header: string | string[] | undefined,
): void {
  if (!('incomingRequestContext' in options)) return;
  const policy = options.incomingRequestContext.overallCachePolicy;
  if (!policy || !('restrict' in policy)) return;
  const parsed = parseCacheControlHeader(Array.isArray(header) ? header.join(', ') : header);
  const hint: { maxAge: number; scope?: 'PRIVATE' | 'PUBLIC' } = { maxAge: 0 };
  const maxAge = parsed['max-age'];
  if (typeof maxAge === 'string' && /^[0-9]+$/.test(maxAge)) hint.maxAge = Number(maxAge);
  if (parsed.private === true) hint.scope = 'PRIVATE';
  if (parsed.public === true) hint.scope = 'PUBLIC';
  policy.restrict(hint);
}
