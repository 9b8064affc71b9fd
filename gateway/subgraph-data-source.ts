import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { Fetcher } from '@apollo/utils.fetcher';
import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import { encodeIdentity, IDENTITY_HEADER } from '../lib/auth/identity';
import { signEncoded } from '../lib/auth/signing';
import { MeridianError } from '../lib/errors';
import { CALLER_REQUEST_ID_HEADER, REQUEST_ID_HEADER } from '../lib/graphql-http';
import { subgraphFetchDuration } from '../lib/metrics/metrics';
import { tracedFetch } from '../lib/telemetry/spans';
import type { GatewayContext } from './context';

/**
 * How the gateway calls one subgraph: Node's own fetch (undici, pooled keep-alive connections), the request ID
 * passed down, the caller's identity forwarded and the whole request signed with the subgraph's secret (HMAC over
 * timestamp, identity and body), and a subgraph that cannot be reached reported as SUBGRAPH_UNAVAILABLE naming it,
 * so the rest of the response still arrives. Without a secret (a foreign subgraph) requests go unsigned.
 */
export class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  constructor(
    private readonly subgraph: string,
    url: string,
    private readonly logger: Logger,
    secret: string | null,
  ) {
    // make-fetch-happen (the default) adds an HTTP cache layer the subgraphs' POSTs never use. The signature is
    // computed here, over the exact body string the data source serialised.
    const signed = (input: string, init: { headers: Record<string, string>; body: string }) =>
      tracedFetch(
        input,
        secret === null
          ? init
          : {
              ...init,
              headers: { ...init.headers, ...signEncoded(secret, init.body, init.headers[IDENTITY_HEADER] ?? '') },
            },
        { 'meridian.subgraph': subgraph },
      );
    super({ url, fetcher: signed as unknown as Fetcher });
  }

  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    if (context.requestId) request.http?.headers.set(REQUEST_ID_HEADER, context.requestId);
    if (context.callerRequestId) request.http?.headers.set(CALLER_REQUEST_ID_HEADER, context.callerRequestId);
    request.http?.headers.set(IDENTITY_HEADER, encodeIdentity(context.identity ?? null));
  }

  override async process(options: GraphQLDataSourceProcessOptions<GatewayContext>) {
    const endTimer = subgraphFetchDuration.startTimer({ subgraph: this.subgraph });
    try {
      const response = await super.process(options);
      endTimer({ outcome: response.errors?.length ? 'error' : 'success' });
      return response;
    } catch (error) {
      endTimer({ outcome: 'error' });
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
}
