import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { identityOf, ORCHESTRATION_SERVICE, type Identity } from '../lib/auth/identity';
import { signRequest } from '../lib/auth/signing';
import { CLOSE_UNSIGNED } from '../lib/live/subgraph-subscriptions';
import { silentLogger } from '../lib/logger';
import { startWorker, type Worker } from '../subgraphs/orchestration/engine/worker';
import { FLOWS } from '../subgraphs/orchestration/flows/index';
import { loadGovernance } from '../subgraphs/orchestration/governance/governance';
import { createGraphQLSystems } from '../subgraphs/orchestration/systems/graphql-systems';
import { convert, createWonOpportunity } from './support/runs';
import { startTestStack, systemTargets } from './support/stack';
import { subscribe } from './support/ws-client';

/**
 * The orchestration subgraph serves its own subscriptions over graphql-ws on its /graphql, for any gateway that
 * federates subscriptions: a real graphql-ws client straight at the subgraph, signed as our gateway signs, streams a
 * conversion; unsigned or wrongly signed sockets are closed before any operation runs.
 */
const RUN_UPDATES = `subscription($id: ID!) {
  syncRunUpdated(id: $id) { __typename id status sequence account { __typename id } project { __typename id } }
}`;

/** A graphql-ws client at the subgraph whose upgrade request carries these headers (as a gateway would send them). */
function clientWithHeaders(
  url: string,
  headers: Record<string, string>,
  connectionParams: Record<string, string> = {},
) {
  class WithHeaders extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { headers });
    }
  }
  return createClient({ url, webSocketImpl: WithHeaders, retryAttempts: 0, lazy: true, connectionParams });
}

/** How a socket's first operation ended: its close code and reason. */
async function closeOf(client: Client): Promise<{ code: number; reason: string }> {
  const sub = subscribe(client, '{ __typename }');
  const error = (await sub.done.then(
    () => null,
    (e: unknown) => e,
  )) as { code: number; reason: string } | null;
  return { code: error?.code ?? 0, reason: error?.reason ?? '' };
}

describe('subscriptions served by the orchestration subgraph', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  let worker: Worker | null = null;
  let wsUrl = '';
  const signed = (identity: Identity | null = ORCHESTRATION_SERVICE, secret = stack.secrets.orchestration) =>
    signRequest(secret, '', identity);
  beforeAll(async () => {
    stack = await startTestStack({ worker: false, relay: true });
    wsUrl = stack.urls.orchestration.replace(/^http/, 'ws');
  });
  afterAll(async () => {
    await worker?.stop();
    await stack.stop();
  });

  it('streams a conversion to a signed socket, every change once and in order, entities as references', async () => {
    const { accountId, opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    const runId = (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id;
    const client = clientWithHeaders(wsUrl, signed());
    try {
      const watcher = subscribe(client, RUN_UPDATES, { id: runId });
      await watcher.received(1);
      worker = startWorker({
        ledger: stack.stores.ledger,
        flows: FLOWS,
        systems: createGraphQLSystems(systemTargets(stack)),
        governance: loadGovernance(),
        logger: silentLogger(),
        idlePollMs: 20,
      });
      await watcher.done;
      const states = watcher.results.map((r) => (r.data as { syncRunUpdated: Record<string, any> }).syncRunUpdated);
      expect(states.map((s) => [s.sequence, s.status])).toEqual([
        [1, 'QUEUED'],
        [2, 'RUNNING'],
        [3, 'RUNNING'],
        [4, 'RUNNING'],
        [5, 'RUNNING'],
        [6, 'RUNNING'],
        [7, 'SUCCEEDED'],
      ]);
      // The subgraph answers its own fields; other subgraphs' entities are references for the gateway to resolve.
      expect(states.at(-1)).toEqual({
        __typename: 'SyncRun',
        id: runId,
        status: 'SUCCEEDED',
        sequence: 7,
        account: { __typename: 'Account', id: accountId },
        project: { __typename: 'Project', id: expect.stringMatching(/^PRJ-/) },
      });
    } finally {
      await client.dispose();
    }
  });

  it('accepts the signature in connection_init too, and applies the access rules to the signed identity', async () => {
    const client = clientWithHeaders(wsUrl, {}, signed(identityOf('bi-reader', 'bi', [], null)));
    try {
      const query = subscribe(client, '{ health { status } }');
      await query.done;
      expect(query.results).toEqual([{ data: { health: { status: 'OK' } } }]);
      // A BI reader may not trigger flows: the subgraph refuses as the gateway would.
      const refused = subscribe(client, 'mutation { retryRun(id: "RUN-x") { id } }');
      await expect(refused.done).rejects.toEqual([expect.objectContaining({ extensions: { code: 'FORBIDDEN' } })]);
    } finally {
      await client.dispose();
    }
    const anonymous = clientWithHeaders(wsUrl, signed(null));
    try {
      const refused = subscribe(anonymous, 'subscription { syncRunsUpdated { id } }');
      await expect(refused.done).rejects.toEqual([
        expect.objectContaining({ extensions: { code: 'UNAUTHENTICATED' } }),
      ]);
    } finally {
      await anonymous.dispose();
    }
  });

  it('closes an unsigned or wrongly signed socket with 4401 UNAUTHENTICATED before any operation runs', async () => {
    const unsigned = clientWithHeaders(wsUrl, {});
    const wrong = clientWithHeaders(wsUrl, signed(ORCHESTRATION_SERVICE, 'not-the-secret'));
    const stale = clientWithHeaders(wsUrl, signRequest(stack.secrets.orchestration, '', null, Date.now() - 3_600_000));
    try {
      expect(await closeOf(unsigned)).toEqual({
        code: CLOSE_UNSIGNED,
        reason: 'UNAUTHENTICATED: Subgraphs accept only requests signed by the gateway',
      });
      expect(await closeOf(wrong)).toEqual({
        code: CLOSE_UNSIGNED,
        reason: 'UNAUTHENTICATED: The request signature does not match',
      });
      expect(await closeOf(stale)).toEqual({
        code: CLOSE_UNSIGNED,
        reason: 'UNAUTHENTICATED: The request signature is stale',
      });
    } finally {
      await Promise.all([unsigned.dispose(), wrong.dispose(), stale.dispose()]);
    }
  });
});
