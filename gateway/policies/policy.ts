import type { IncomingMessage } from 'node:http';
import type { DocumentNode, GraphQLError, GraphQLSchema, ValidationRule } from 'graphql';
import type { Identity } from '../../lib/auth/identity';
import type { ErrorCode, MeridianError } from '../../lib/errors';

/** The transports that run the pipeline, each through its own adapter (`http.ts`, `graphql-ws.ts`). */
export type Transport = 'http' | 'graphql-ws';

/** Who is calling: one HTTP request, or one graphql-ws socket (from `connection_init` until it closes). */
export interface PolicyConnection {
  readonly transport: Transport;
  /** The HTTP request, or the socket's upgrade request: its address and headers. */
  readonly req: IncomingMessage;
  /** The bearer credentials: HTTP `Authorization`, or `connection_init`'s `authorization` (any case of the key). */
  readonly authorization: string | undefined;
  /** Set by the authentication policy; null: anonymous. */
  identity: Identity | null;
}

/** One operation as the caller sent it, before it is parsed. */
export interface PolicyRequest {
  readonly connection: PolicyConnection;
  /**
   * An HTTP POST body (an array when batched) or a graphql-ws `subscribe` payload: `{ query, variables,
   * operationName, extensions }`. A policy may replace it (a trusted document fills in `query`). Undefined for GET.
   */
  body: unknown;
  /** A GET request's URL (its operation is in the search parameters and cannot be rewritten); null otherwise. */
  readonly getUrl: string | null;
}

/** One parsed and validated operation, before anything executes. */
export interface PolicyOperation {
  readonly identity: Identity | null;
  readonly schema: GraphQLSchema;
  readonly document: DocumentNode;
  readonly operationName: string | null | undefined;
  readonly variables: Record<string, unknown>;
}

/**
 * One gateway policy: a small module with hooks at the stages every transport goes through, in this order. A hook
 * refuses by throwing a {@link MeridianError}; its code reaches the client unchanged on every transport (HTTP: as the
 * status of the error's code; graphql-ws: a coded `error` message, or a close code at `connection_init`).
 */
export interface GatewayPolicy {
  /** Kebab-case, unique: logs, docs and the pipeline test name it. */
  readonly name: string;
  /** The codes it refuses with (docs/errors.md lists them). */
  readonly codes: readonly ErrorCode[];
  /** Once per connection: an HTTP request, or a graphql-ws socket at `connection_init`. */
  connect?(connection: PolicyConnection): Promise<void> | void;
  /** A connection an earlier policy refused (a bad token): may count it, or refuse it with another code. */
  connectionRefused?(connection: PolicyConnection, error: MeridianError): Promise<void> | void;
  /** Once per operation sent (an HTTP request, a graphql-ws `subscribe`), before it is parsed. */
  request?(request: PolicyRequest): Promise<void> | void;
  /** What parsing and validation must enforce; applied once per document text and cached with it. */
  readonly document?: DocumentPolicy;
  /** Once per operation, parsed and validated, with its variables, before it executes. */
  operation?(operation: PolicyOperation): void;
}

/** A policy's part in parsing and validation, which each transport runs once per distinct document. */
export interface DocumentPolicy {
  /** Parsing stops after this many tokens. */
  readonly maxTokens?: number;
  /** Run with graphql-js's own rules; each reports a coded {@link MeridianError} whose code is kept. */
  readonly validationRules?: readonly ValidationRule[];
  /** The coded refusal behind a parse error this policy caused (the token limit), or null when it is a plain syntax error. */
  parseRefusal?(error: GraphQLError, source: string): MeridianError | null;
}
