import type { Session } from './auth';

/** One GraphQL error as the gateway sends it. */
export interface ApiErrorEntry {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; field?: string; value?: unknown; [key: string]: unknown };
}

/** A refused or failed request: the API's own code and message, and the input field it names, if any. */
export class ApiError extends Error {
  readonly code: string;
  readonly field: string | null;
  constructor(readonly errors: ApiErrorEntry[]) {
    super(errors[0]?.message ?? 'The request failed');
    this.code = errors[0]?.extensions?.code ?? 'INTERNAL_SERVER_ERROR';
    this.field = typeof errors[0]?.extensions?.field === 'string' ? errors[0].extensions.field : null;
  }
}

/** Called when the API says the token is no longer good (expired, revoked): the console signs out. */
let onUnauthenticated: (error: ApiError) => void = () => {};
export function setUnauthenticatedHandler(handler: (error: ApiError) => void): void {
  onUnauthenticated = handler;
}

/** What a query returned: its data (possibly partial) and any errors. */
export interface Result<T> {
  data: T | null;
  errors: ApiErrorEntry[];
}

/** POSTs an operation to the gateway's `/graphql` with the session's bearer token. Network failures become errors too. */
export async function request<T>(
  session: Session,
  query: string,
  variables?: Record<string, unknown>,
): Promise<Result<T>> {
  let response: Response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${session.token}` },
      body: JSON.stringify(variables ? { query, variables } : { query }),
    });
  } catch {
    return {
      data: null,
      errors: [{ message: 'The gateway cannot be reached', extensions: { code: 'NETWORK_ERROR' } }],
    };
  }
  let body: { data?: T | null; errors?: ApiErrorEntry[] };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    body = {
      errors: [{ message: `The gateway answered HTTP ${response.status}`, extensions: { code: 'BAD_RESPONSE' } }],
    };
  }
  const errors = body.errors ?? [];
  if (errors.some((e) => e.extensions?.code === 'UNAUTHENTICATED')) onUnauthenticated(new ApiError(errors));
  return { data: body.data ?? null, errors };
}

/** Like {@link request}, throwing an {@link ApiError} on any error (mutations, and queries that must be whole). */
export async function gql<T>(session: Session, query: string, variables?: Record<string, unknown>): Promise<T> {
  const { data, errors } = await request<T>(session, query, variables);
  if (errors.length > 0 || data === null) throw new ApiError(errors);
  return data;
}
