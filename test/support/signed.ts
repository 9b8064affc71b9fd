import { ORCHESTRATION_SERVICE, type Identity } from '../../lib/auth/identity';
import { signRequest } from '../../lib/auth/signing';
import type { GraphQLResponse } from './stack';

/**
 * POSTs a GraphQL request straight to a subgraph, signed with its secret as the gateway would sign it, on behalf of
 * `identity` (the orchestration's service identity unless given; null for anonymous).
 */
export async function signedGql<TData = any>(
  url: string,
  secret: string,
  query: string,
  variables?: Record<string, unknown>,
  identity: Identity | null = ORCHESTRATION_SERVICE,
  now = Date.now(),
): Promise<GraphQLResponse<TData>> {
  const body = JSON.stringify(variables === undefined ? { query } : { query, variables });
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signRequest(secret, body, identity, now) },
    body,
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as GraphQLResponse<TData>['body'],
  };
}
