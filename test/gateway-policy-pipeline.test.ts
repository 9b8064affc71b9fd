import WebSocket from 'ws';
import { DEFAULT_OPERATION_LIMITS } from '../gateway/plugins/operation-limits';
import { createRateLimiter } from '../gateway/plugins/rate-limit';
import { CLOSE_UNAUTHENTICATED } from '../gateway/subscriptions/index';
import { startTestStack, tokenFor } from './support/stack';
import { subscribe, wsClient } from './support/ws-client';

/**
 * One policy pipeline, two transports: every policy the gateway runs (gateway/policies/index.ts) refuses what it
 * should over real HTTP and over a real graphql-ws client alike, with the same code. A policy added to the pipeline
 * without a case here fails the first test.
 */

/** How one transport refused: the error code (or, for a socket refused as a whole, its close code and reason). */
type Refusal = { code: string; status?: number; close?: number };

const POINTS = 4;
const LIMITS = { ...DEFAULT_OPERATION_LIMITS, maxDepth: 3, maxTokens: 200, maxCost: 100 };

let stack: Awaited<ReturnType<typeof startTestStack>>;
beforeAll(async () => {
  stack = await startTestStack({
    worker: false,
    relay: false,
    rateLimiter: createRateLimiter({ points: POINTS, durationMs: 60_000 }),
    limits: LIMITS,
  });
});
afterAll(() => stack.stop());

/** Each caller gets its own subject, so that rate-limit budgets do not leak between cases. */
let callers = 0;
const bearer = async (role: 'bi' | 'portal', extra: { accounts?: string[] } = {}) =>
  `Bearer ${await tokenFor(role, { subject: `pipeline-${++callers}`, ...extra })}`;

async function overHttp(authorization: string, body: unknown): Promise<Refusal> {
  const response = await fetch(stack.gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
  return { status: response.status, code: json.errors?.[0]?.extensions?.code ?? 'none' };
}

async function overWs(authorization: string, query: string): Promise<Refusal> {
  const client = wsClient(stack.gateway.wsUrl, authorization);
  try {
    const sub = subscribe(client, query);
    const error = await sub.done.then(
      () => null,
      (e: unknown) => e,
    );
    if (Array.isArray(error)) return { code: (error[0] as { extensions?: { code?: string } }).extensions?.code ?? '' };
    const closed = error as { code?: number; reason?: string } | null;
    return { code: closed?.reason?.split(':')[0] ?? 'none', close: closed?.code ?? 0 };
  } finally {
    await client.dispose();
  }
}

/** A raw graphql-ws socket sending a `subscribe` whose payload is an array (a batch): how the socket closes. */
function wsBatch(authorization: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(stack.gateway.wsUrl, 'graphql-transport-ws');
    socket.once('error', reject);
    socket.once('close', (code) => resolve(code));
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization } })));
    socket.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack')
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: [{ query: '{ __typename }' }] }));
    });
  });
}

/** Per policy: what it refuses over HTTP and over graphql-ws, and how. */
const cases: Record<string, { http: () => Promise<Refusal>; ws: () => Promise<Refusal>; want: [Refusal, Refusal] }> = {
  'refuse-batches': {
    http: async () => overHttp(await bearer('bi'), [{ query: '{ __typename }' }]),
    // graphql-ws carries one operation per subscribe: the protocol itself closes a socket that sends a batch.
    ws: async () => ({ code: 'BAD_REQUEST', close: await wsBatch(await bearer('bi')) }),
    want: [
      { status: 400, code: 'BAD_REQUEST' },
      { code: 'BAD_REQUEST', close: 4400 },
    ],
  },
  authentication: {
    http: () => overHttp('Bearer not-a-token', { query: '{ __typename }' }),
    ws: () => overWs('Bearer not-a-token', '{ __typename }'),
    want: [
      { status: 401, code: 'UNAUTHENTICATED' },
      { code: 'UNAUTHENTICATED', close: CLOSE_UNAUTHENTICATED },
    ],
  },
  'rate-limit': {
    // A subject that spends its budget on graphql-ws is refused over HTTP, and the other way round.
    http: async () => {
      const token = await bearer('bi');
      const client = wsClient(stack.gateway.wsUrl, token);
      try {
        for (let i = 0; i < POINTS; i++) await subscribe(client, '{ __typename }').done;
      } finally {
        await client.dispose();
      }
      return overHttp(token, { query: '{ __typename }' });
    },
    ws: async () => {
      const token = await bearer('bi');
      for (let i = 0; i < POINTS; i++) expect((await overHttp(token, { query: '{ __typename }' })).code).toBe('none');
      return overWs(token, '{ __typename }');
    },
    want: [{ status: 429, code: 'RATE_LIMITED' }, { code: 'RATE_LIMITED' }],
  },
  'trusted-documents': {
    http: async () => overHttp(await bearer('portal', { accounts: ['ACC-000001'] }), { query: '{ __typename }' }),
    ws: async () => overWs(await bearer('portal', { accounts: ['ACC-000001'] }), '{ __typename }'),
    want: [{ status: 400, code: 'PERSISTED_QUERY_NOT_IN_LIST' }, { code: 'PERSISTED_QUERY_NOT_IN_LIST' }],
  },
  'access-rules': {
    http: async () => overHttp(await bearer('bi'), { query: 'mutation { retryRun(id: "RUN-x") { id } }' }),
    ws: async () => overWs(await bearer('bi'), 'mutation { retryRun(id: "RUN-x") { id } }'),
    want: [{ status: 403, code: 'FORBIDDEN' }, { code: 'FORBIDDEN' }],
  },
  'operation-limits': {
    // One refusal per stage the limits act in: parsing (tokens), validation (depth), the operation (cost).
    http: async () => {
      const token = await bearer('bi');
      const codes = [
        await overHttp(token, { query: `{ ${'__typename '.repeat(250)}}` }),
        await overHttp(token, { query: '{ accounts { nodes { projects { id } } } }' }),
        await overHttp(token, { query: '{ accounts(first: 100) { nodes { id name } } }' }),
      ];
      return { status: codes[0]!.status!, code: codes.map((c) => c.code).join(',') };
    },
    ws: async () => {
      const token = await bearer('bi');
      const codes = [
        await overWs(token, `{ ${'__typename '.repeat(250)}}`),
        await overWs(token, '{ accounts { nodes { projects { id } } } }'),
        await overWs(token, '{ accounts(first: 100) { nodes { id name } } }'),
      ];
      return { code: codes.map((c) => c.code).join(',') };
    },
    want: [
      { status: 400, code: 'TOO_MANY_TOKENS,QUERY_TOO_DEEP,QUERY_TOO_COSTLY' },
      { code: 'TOO_MANY_TOKENS,QUERY_TOO_DEEP,QUERY_TOO_COSTLY' },
    ],
  },
};

describe('the gateway policy pipeline', () => {
  it('runs every policy in the documented order, each with a case below', () => {
    expect(stack.gateway.policies).toEqual([
      'refuse-batches',
      'authentication',
      'rate-limit',
      'trusted-documents',
      'access-rules',
      'operation-limits',
    ]);
    expect(Object.keys(cases).sort()).toEqual([...stack.gateway.policies].sort());
  });

  it.each(Object.keys(cases))('applies %s over HTTP and over graphql-ws, with the same code', async (name) => {
    const policy = cases[name]!;
    expect([await policy.http(), await policy.ws()]).toEqual(policy.want);
  });

  it('lets through what no policy refuses, on both transports', async () => {
    const token = await bearer('bi');
    const http = await fetch(stack.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: token },
      body: JSON.stringify({ query: '{ accounts(first: 2) { nodes { id } } }' }),
    });
    const body = await http.json();
    expect(body).toEqual({ data: { accounts: { nodes: [{ id: expect.any(String) }, { id: expect.any(String) }] } } });
    const client = wsClient(stack.gateway.wsUrl, token);
    try {
      const sub = subscribe(client, '{ accounts(first: 2) { nodes { id } } }');
      await sub.done;
      expect(sub.results).toEqual([body]);
    } finally {
      await client.dispose();
    }
  });
});
