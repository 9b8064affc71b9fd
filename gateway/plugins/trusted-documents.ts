import { getOperationAST, Kind, parse, validate, type GraphQLSchema, type OperationTypeNode } from 'graphql';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkAccess, type AccessRules } from '../../lib/auth/access-rules';
import { identityOf, ROLES, type Identity, type Role } from '../../lib/auth/identity';
import { MeridianError } from '../../lib/errors';
import { InMemoryLRUCache, type KeyValueCache } from '@apollo/utils.keyvaluecache';

/** The checked-in manifest of the portal's operations. */
export const DEFAULT_TRUSTED_DOCUMENTS_PATH = join(__dirname, '..', 'trusted-documents.json');

/** Roles that may run only the manifest's documents. @default ['portal'] */
export const DEFAULT_TRUSTED_DOCUMENT_ROLES: readonly Role[] = ['portal'];

/** One operation of the manifest: `id` is the SHA-256 (hex) of `body`, exactly as a client sends it. */
export interface TrustedDocument {
  id: string;
  name: string;
  type: 'query' | 'mutation' | 'subscription';
  body: string;
}

/** A loaded, verified manifest (Apollo's persisted query manifest format). */
export interface TrustedDocuments {
  /** Where it was read from, for messages. */
  source: string;
  operations: readonly TrustedDocument[];
  /** The operations by `id`. */
  byId: ReadonlyMap<string, TrustedDocument>;
}

/** Lower-case hex SHA-256 of a UTF-8 text: a document's ID in the manifest and in `extensions.persistedQuery.sha256Hash`. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Checks a parsed manifest (`{ format: 'apollo-persisted-query-manifest', version: 1, operations: [{ id, name, type,
 * body }] }`): every body parses to exactly one operation of that name and type, every `id` is the SHA-256 of its
 * body, no ID or name appears twice.
 * @throws Error listing every bad entry, by index and name.
 */
export function parseTrustedDocuments(manifest: unknown, source: string): TrustedDocuments {
  const m = manifest as { format?: unknown; version?: unknown; operations?: unknown } | null;
  if (
    typeof m !== 'object' ||
    m === null ||
    m.format !== 'apollo-persisted-query-manifest' ||
    m.version !== 1 ||
    !Array.isArray(m.operations)
  ) {
    throw new Error(
      `${source}: not a persisted query manifest ({ "format": "apollo-persisted-query-manifest", "version": 1, "operations": [...] })`,
    );
  }
  const problems: string[] = [];
  const operations: TrustedDocument[] = [];
  const byId = new Map<string, TrustedDocument>();
  const names = new Set<string>();
  m.operations.forEach((entry: unknown, index: number) => {
    const e = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    const label = `operations[${index}]${typeof e.name === 'string' ? ` (${e.name})` : ''}`;
    const { id, name, type, body } = e;
    if (
      typeof id !== 'string' ||
      typeof name !== 'string' ||
      typeof body !== 'string' ||
      (type !== 'query' && type !== 'mutation' && type !== 'subscription')
    ) {
      problems.push(`${label}: needs string "id", "name" and "body", and "type" query, mutation or subscription`);
      return;
    }
    const expected = sha256Hex(body);
    if (id !== expected)
      problems.push(`${label}: id ${id || '(empty)'} is not the SHA-256 of its body, which is ${expected}`);
    try {
      const document = parse(body);
      const ops = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
      const op = ops.length === 1 ? getOperationAST(document) : null;
      if (!op) problems.push(`${label}: the body must hold exactly one operation`);
      else if (op.name?.value !== name || op.operation !== type)
        problems.push(`${label}: the body is ${op.operation} ${op.name?.value ?? '(anonymous)'}, not ${type} ${name}`);
    } catch (error) {
      problems.push(`${label}: the body is not valid GraphQL: ${(error as Error).message}`);
    }
    if (byId.has(id)) problems.push(`${label}: id ${id} appears twice`);
    if (names.has(name)) problems.push(`${label}: name ${name} appears twice`);
    names.add(name);
    const document: TrustedDocument = { id, name, type, body };
    operations.push(document);
    byId.set(id, document);
  });
  if (problems.length > 0)
    throw new Error(
      `${source}: ${problems.length} bad trusted document(s):\n${problems.map((p) => `  ${p}`).join('\n')}`,
    );
  return { source, operations, byId };
}

/**
 * Reads and verifies a manifest file (see {@link parseTrustedDocuments}).
 * @throws Error naming the file, and every bad entry, when it cannot be read or does not verify.
 */
export function loadTrustedDocuments(path: string = DEFAULT_TRUSTED_DOCUMENTS_PATH): TrustedDocuments {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`${path}: cannot read the trusted documents manifest: ${(error as Error).message}`);
  }
  return parseTrustedDocuments(json, path);
}

/**
 * Validates every manifest document against a schema (the gateway's API schema) and, given the schema's access rules,
 * checks that each of `roles` may select everything it asks for: a schema or policy change that breaks a portal
 * operation is then found at start or in CI rather than by a portal user. Returns one line per problem; empty when
 * all pass.
 */
export function validateTrustedDocuments(
  manifest: TrustedDocuments,
  schema: GraphQLSchema,
  access?: { rules: AccessRules; roles?: readonly Role[] },
): string[] {
  return manifest.operations.flatMap((op) => {
    const document = parse(op.body);
    // graphql-js 16 validates a subscription (or mutation) against a schema without that root type; execution refuses it.
    if (!schema.getRootType(op.type as OperationTypeNode))
      return [`${op.name} (${op.id}): the schema has no ${op.type} type`];
    const invalid = validate(schema, document).map((error) => `${op.name} (${op.id}): ${error.message}`);
    if (invalid.length > 0 || !access) return invalid;
    return (access.roles ?? DEFAULT_TRUSTED_DOCUMENT_ROLES).flatMap((role) => {
      const identity = identityOf(`trusted-documents-check`, role, [], role === 'portal' ? ['any-account'] : null);
      return checkAccess(schema, document, op.name, access.rules, identity).map(
        (error) => `${op.name} (${op.id}) for ${role}: ${error.message} at ${error.path?.join('.') ?? ''}`,
      );
    });
  });
}

/**
 * Reads `TRUSTED_DOCUMENTS_ROLES`: the roles, comma-separated, that may run only the manifest's documents; set and
 * empty (`TRUSTED_DOCUMENTS_ROLES=`), none.
 * @default {@link DEFAULT_TRUSTED_DOCUMENT_ROLES} when unset
 * @throws Error naming the variable and the unknown role.
 */
export function trustedDocumentRolesFromEnv(env: NodeJS.ProcessEnv): Role[] {
  const raw = env.TRUSTED_DOCUMENTS_ROLES;
  if (raw === undefined) return [...DEFAULT_TRUSTED_DOCUMENT_ROLES];
  const roles = raw
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  for (const role of roles) {
    if (!(ROLES as readonly string[]).includes(role))
      throw new Error(`TRUSTED_DOCUMENTS_ROLES: unknown role '${role}'; roles are ${ROLES.join(', ')}`);
  }
  return roles as Role[];
}

/**
 * The roles the manifest actually limits, given who can call: all of `roles` when callers authenticate, and with
 * authentication off only the one role every caller gets, if it is among them. Empty: no caller is limited to the
 * manifest, so it need not fit the schema (any supergraph can be served).
 */
export function trustedRolesInUse(roles: readonly Role[], authOffRole: Role | null): Role[] {
  return authOffRole === null ? [...roles] : roles.filter((r) => r === authOffRole);
}

/** The GraphQL request fields this check reads: the query text and the APQ extension. */
interface OperationRequest {
  query?: unknown;
  extensions?: unknown;
}

/**
 * The trusted document a request names: by `extensions.persistedQuery.sha256Hash` when present (query text sent along
 * must then be exactly that document), else by the SHA-256 of the exact query text.
 * @throws MeridianError PERSISTED_QUERY_NOT_IN_LIST when it names none; BAD_REQUEST for a malformed extension or no query.
 */
function trustedDocumentOf(manifest: TrustedDocuments, identity: Identity, request: OperationRequest): TrustedDocument {
  const persisted =
    typeof request.extensions === 'object' && request.extensions !== null
      ? (request.extensions as Record<string, unknown>).persistedQuery
      : undefined;
  const refuse = (what: string) =>
    new MeridianError(
      'PERSISTED_QUERY_NOT_IN_LIST',
      `A ${identity.role} token may run only the trusted documents in the manifest; ${what} is not one of them`,
    );
  if (persisted !== undefined && persisted !== null) {
    const hash = typeof persisted === 'object' ? (persisted as Record<string, unknown>).sha256Hash : undefined;
    if (typeof hash !== 'string')
      throw new MeridianError('BAD_REQUEST', '`extensions.persistedQuery.sha256Hash` must be a string');
    const found = manifest.byId.get(hash);
    if (!found) throw refuse(`the persisted query ${hash.slice(0, 64)}`);
    // Text sent along with the hash must be that document's (Apollo would refuse the mismatch too).
    if (typeof request.query === 'string' && request.query !== '' && request.query !== found.body)
      throw refuse('the query text sent with this hash');
    return found;
  }
  if (typeof request.query !== 'string' || request.query === '') {
    throw new MeridianError(
      'BAD_REQUEST',
      'Send a trusted document: its `extensions.persistedQuery.sha256Hash`, or its exact query text',
    );
  }
  const found = manifest.byId.get(sha256Hex(request.query));
  if (!found) throw refuse('this query text');
  return found;
}

function isTrusted(identity: Identity | null, trustedRoles: readonly Role[]): identity is Identity {
  return identity !== null && trustedRoles.includes(identity.role);
}

/**
 * Admits an HTTP POST body. For a caller whose role is in `trustedRoles`: a body naming a manifest document (by APQ
 * hash, or by its exact text) comes back with `query` set to the manifest's text and the APQ extension kept (Apollo
 * checks the hash against the text, and caches it); anything else is refused. Every other caller's body comes back
 * unchanged, so Apollo's automatic persisted queries work for them as usual. Batched bodies are refused for everyone.
 * @throws MeridianError PERSISTED_QUERY_NOT_IN_LIST for an operation not in the manifest; BAD_REQUEST for an array
 * (batch) or, for a trusted-documents role, a body that is not a GraphQL request object.
 */
export function admitTrustedDocument(
  manifest: TrustedDocuments,
  identity: Identity | null,
  body: unknown,
  trustedRoles: readonly Role[] = DEFAULT_TRUSTED_DOCUMENT_ROLES,
): unknown {
  if (Array.isArray(body))
    throw new MeridianError('BAD_REQUEST', 'Batched requests are not accepted: send one operation per request');
  if (!isTrusted(identity, trustedRoles)) return body;
  if (typeof body !== 'object' || body === null)
    throw new MeridianError('BAD_REQUEST', 'Send a trusted document as a JSON object');
  const found = trustedDocumentOf(manifest, identity, body as OperationRequest);
  return { ...(body as Record<string, unknown>), query: found.body };
}

/**
 * Admits a request by method. A GET's operation is in its URL (`query`, `extensions` search parameters) and cannot be
 * rewritten: for a trusted-documents role it must name a manifest document (by hash or by exact text) and is then left
 * to Apollo, whose APQ cache holds every manifest document ({@link trustedDocumentsApqCache}), so a bare hash is
 * answered the first time. A POST goes through
 * {@link admitTrustedDocument}. Returns the body to run.
 * @throws MeridianError as {@link admitTrustedDocument}; BAD_REQUEST for a GET whose `extensions` is not JSON.
 */
export function admitTrustedRequest(
  manifest: TrustedDocuments,
  identity: Identity | null,
  request: { method?: string | undefined; url?: string | undefined; body: unknown },
  trustedRoles: readonly Role[] = DEFAULT_TRUSTED_DOCUMENT_ROLES,
): unknown {
  if ((request.method ?? 'GET').toUpperCase() !== 'GET')
    return admitTrustedDocument(manifest, identity, request.body, trustedRoles);
  if (!isTrusted(identity, trustedRoles)) return request.body;
  const search = new URL(request.url ?? '/', 'http://x').searchParams;
  const query = search.get('query') ?? undefined;
  let extensions: unknown;
  const rawExtensions = search.get('extensions');
  if (rawExtensions !== null) {
    try {
      extensions = JSON.parse(rawExtensions);
    } catch {
      throw new MeridianError('BAD_REQUEST', 'The `extensions` search parameter is not valid JSON');
    }
  }
  trustedDocumentOf(manifest, identity, { query, extensions });
  return request.body;
}

/**
 * Apollo Server's automatic-persisted-query cache, with every manifest document in it from the start: a GET (or
 * POST) that names a trusted document by its hash alone is answered the first time, as the README promises, without
 * a POST that sent its text before; other hashes are cached in `fallback` as Apollo does (a bounded LRU by default).
 * Apollo keys its entries `apq:<sha256>`.
 */
export function trustedDocumentsApqCache(
  manifest: TrustedDocuments,
  fallback: KeyValueCache<string> = new InMemoryLRUCache<string>(),
): KeyValueCache<string> {
  const trustedText = (key: string) => (key.startsWith('apq:') ? manifest.byId.get(key.slice(4))?.body : undefined);
  return {
    get: async (key) => trustedText(key) ?? fallback.get(key),
    set: async (key, value, options) => {
      if (trustedText(key) === undefined) await fallback.set(key, value, options);
    },
    delete: async (key) => (trustedText(key) === undefined ? fallback.delete(key) : false),
  };
}

/**
 * The same check for a graphql-ws `subscribe` payload (`{ query, extensions, … }`): returns the payload with `query` set
 * to the manifest's text for a trusted-documents role (so a client may send `query: ""` with the APQ extension), the
 * payload unchanged for any other role.
 * @throws MeridianError PERSISTED_QUERY_NOT_IN_LIST or BAD_REQUEST as {@link admitTrustedDocument}.
 */
export function admitTrustedSubscribePayload<
  P extends { query: string; extensions?: Record<string, unknown> | null | undefined },
>(
  manifest: TrustedDocuments,
  identity: Identity | null,
  payload: P,
  trustedRoles: readonly Role[] = DEFAULT_TRUSTED_DOCUMENT_ROLES,
): P {
  if (!isTrusted(identity, trustedRoles)) return payload;
  return { ...payload, query: trustedDocumentOf(manifest, identity, payload).body };
}
