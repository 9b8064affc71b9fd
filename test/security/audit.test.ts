import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { identityOf, ORCHESTRATION_SERVICE, type Identity } from '../../lib/auth/identity';
import { signRequest } from '../../lib/auth/signing';
import { REQUEST_ID_HEADER } from '../../lib/graphql-http';
import { openSqlite } from '../../lib/sqlite';
import { startSubgraph, type RunningSubgraph } from '../../lib/subgraph';
import { SqliteLedger } from '../../subgraphs/orchestration/engine/sqlite-ledger';
import {
  startTriggerPoller,
  type TriggerPage,
  type TriggerSources,
} from '../../subgraphs/orchestration/engine/triggers';
import { FLOWS } from '../../subgraphs/orchestration/flows/index';
import { loadGovernance } from '../../subgraphs/orchestration/governance/governance';
import { createOrchestrationSubgraph } from '../../subgraphs/orchestration/index';
import { createSystemClient } from '../../subgraphs/orchestration/systems/graphql-client';
import { SystemError } from '../../subgraphs/orchestration/systems/system-error';
import type { GraphQLResponse } from '../support/stack';

process.env.APOLLO_TELEMETRY_DISABLED ??= '1';

const SECRET = 'audit-test-secret-for-the-orchestration-subgraph';
const OPS = identityOf('ops-1', 'operations', [], null);
const OPS_2 = identityOf('ops-2', 'operations', [], null);
const BI = identityOf('bi-1', 'bi', [], null);
const PORTAL = identityOf('portal-user-1', 'portal', [], ['ACC-000001']);
const logger = pino({ level: 'silent' });

const AUDIT = `query Audit($id: ID!) { syncRun(id: $id) { id status triggeredBy audit { actor role correlationId action } } }`;
const CONVERT = `mutation Convert($input: ConvertOpportunityToProjectInput!) { convertOpportunityToProject(input: $input) { id status triggeredBy } }`;

interface Call {
  /** Null: anonymous (signed, no identity). */
  identity?: Identity | null;
  requestId?: string;
  /** false: no signature headers at all. @default true */
  signed?: boolean;
}

/** POSTs straight to the subgraph, signed as the gateway signs, with an `x-request-id` the subgraph takes as the request ID. */
async function call<TData = any>(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  options: Call = {},
): Promise<GraphQLResponse<TData>> {
  const body = JSON.stringify({ query, variables });
  const identity = options.identity === undefined ? OPS : options.identity;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ...(options.requestId ? { [REQUEST_ID_HEADER]: options.requestId } : {}),
    ...(options.signed === false ? {} : signRequest(SECRET, body, identity)),
  };
  const response = await fetch(url, { method: 'POST', headers, body });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as GraphQLResponse<TData>['body'],
  };
}

const auditOf = async (url: string, runId: string) =>
  (await call(url, AUDIT, { id: runId }, { identity: BI })).body.data.syncRun;

describe('orchestration audit trail', () => {
  let ledger: SqliteLedger;
  let server: RunningSubgraph;
  const cleanups: (() => unknown)[] = [];

  // A fresh ledger per test, and no worker: runs stay where the mutations put them, and a test plays the worker
  // through the ledger.
  beforeEach(async () => {
    ledger = new SqliteLedger(':memory:');
    server = await startSubgraph(createOrchestrationSubgraph({ ledger, flows: FLOWS, onClose: () => ledger.close() }), {
      port: 0,
      logger,
      signature: { secret: SECRET },
    });
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await server.close();
  });

  /** Takes the run (the test's only due one) through to an exception, as a worker would. */
  async function raiseException(runId: string): Promise<void> {
    const claimed = await ledger.claimRun('test-worker', 60_000, Date.now());
    expect(claimed?.id).toBe(runId);
    const error = {
      class: 'BAD_VALUE' as const,
      code: 'VALIDATION_REJECTED',
      message: "ERP rejected tax jurisdiction 'XX'",
      system: 'erp',
      retryAfterMs: null,
      at: new Date().toISOString(),
    };
    await ledger.failStep(runId, 'test-worker', 0, error, null);
  }

  it('records a flow mutation with the caller’s subject, role and request ID, and its replays with theirs', async () => {
    const input = { opportunityId: 'OPP-AUDIT-1', idempotencyKey: 'audit-key-1' };
    const first = await call(server.url, CONVERT, { input }, { requestId: 'req-convert-1' });
    expect(first.status).toBe(200);
    const runId = first.body.data.convertOpportunityToProject.id as string;
    expect(first.body).toEqual({
      data: { convertOpportunityToProject: { id: runId, status: 'QUEUED', triggeredBy: 'ops-1' } },
    });

    // The same key text, by another person: their own key (keys are per caller); the deal's run stands, and the call is on its trail.
    const replay = await call(server.url, CONVERT, { input }, { identity: OPS_2, requestId: 'req-convert-2' });
    expect(replay.body).toEqual({
      data: { convertOpportunityToProject: { id: runId, status: 'QUEUED', triggeredBy: 'ops-1' } },
    });
    // No key, but the deal is already converting: its run comes back, and the call is on its trail too.
    const again = await call(
      server.url,
      CONVERT,
      { input: { opportunityId: 'OPP-AUDIT-1' } },
      { requestId: 'req-convert-3' },
    );
    expect(again.body).toEqual({
      data: { convertOpportunityToProject: { id: runId, status: 'QUEUED', triggeredBy: 'ops-1' } },
    });

    expect(await auditOf(server.url, runId)).toEqual({
      id: runId,
      status: 'QUEUED',
      triggeredBy: 'ops-1',
      audit: [
        { actor: 'ops-1', role: 'operations', correlationId: 'req-convert-1', action: 'RUN_CREATED' },
        { actor: 'ops-2', role: 'operations', correlationId: 'req-convert-2', action: 'RUN_REQUEST_DEDUPLICATED' },
        { actor: 'ops-1', role: 'operations', correlationId: 'req-convert-3', action: 'RUN_REQUEST_DEDUPLICATED' },
      ],
    });
  });

  it('records retryRun, retryRunWithInput, resolveException and abandonRun with their callers', async () => {
    const created = await call(
      server.url,
      CONVERT,
      { input: { opportunityId: 'OPP-AUDIT-2' } },
      { requestId: 'req-create' },
    );
    const runId = created.body.data.convertOpportunityToProject.id as string;

    await raiseException(runId);
    const retried = await call(
      server.url,
      `mutation R($id: ID!) { retryRun(id: $id) { id status } }`,
      { id: runId },
      { requestId: 'req-retry' },
    );
    expect(retried.body).toEqual({ data: { retryRun: { id: runId, status: 'QUEUED' } } });

    await raiseException(runId);
    const patched = await call(
      server.url,
      `mutation P($id: ID!, $patch: RunInputPatch!) { retryRunWithInput(id: $id, patch: $patch) { id status input } }`,
      { id: runId, patch: { taxJurisdiction: 'GB' } },
      { identity: OPS_2, requestId: 'req-retry-with-input' },
    );
    expect(patched.body).toEqual({
      data: {
        retryRunWithInput: {
          id: runId,
          status: 'QUEUED',
          input: JSON.stringify({ opportunityId: 'OPP-AUDIT-2', taxJurisdiction: 'GB' }),
        },
      },
    });

    await raiseException(runId);
    const exceptionId = (await ledger.getOpenExceptionsByRun([runId]))[0]!.id;
    const resolved = await call(
      server.url,
      `mutation X($id: ID!, $note: String!) { resolveException(id: $id, note: $note) { id status resolution } }`,
      { id: exceptionId, note: 'Fixed in the ERP by hand' },
      { requestId: 'req-resolve' },
    );
    expect(resolved.body).toEqual({
      data: { resolveException: { id: exceptionId, status: 'RESOLVED', resolution: 'Fixed in the ERP by hand' } },
    });
    // Resolving it again changes nothing, but the call is on the trail.
    const again = await call(
      server.url,
      `mutation X($id: ID!, $note: String!) { resolveException(id: $id, note: $note) { id status resolution } }`,
      { id: exceptionId, note: 'Fixed twice?' },
      { identity: OPS_2, requestId: 'req-resolve-again' },
    );
    expect(again.body).toEqual(resolved.body);

    // The resolved run has ended (RESOLVED): it is abandoned no more; a stopped one is.
    const abandon = (id: string) =>
      call(
        server.url,
        `mutation A($id: ID!) { abandonRun(id: $id) { id status } }`,
        { id },
        { identity: OPS_2, requestId: 'req-abandon' },
      );
    expect((await abandon(runId)).body.errors?.map((e) => e.extensions?.code)).toEqual(['INVALID_STATE']);
    const other = (
      await call(server.url, CONVERT, { input: { opportunityId: 'OPP-AUDIT-2B' } }, { requestId: 'req-create-2' })
    ).body.data.convertOpportunityToProject.id as string;
    await raiseException(other);
    expect((await abandon(other)).body).toEqual({ data: { abandonRun: { id: other, status: 'COMPENSATING' } } });
    expect((await auditOf(server.url, other)).audit.at(-1)).toEqual({
      actor: 'ops-2',
      role: 'operations',
      correlationId: 'req-abandon',
      action: 'RUN_ABANDON_REQUESTED',
    });

    const engine = { actor: 'system', role: null, correlationId: null, action: 'EXCEPTION_RAISED' };
    expect((await auditOf(server.url, runId)).audit).toEqual([
      { actor: 'ops-1', role: 'operations', correlationId: 'req-create', action: 'RUN_CREATED' },
      engine,
      { actor: 'ops-1', role: 'operations', correlationId: 'req-retry', action: 'RUN_RETRIED' },
      engine,
      { actor: 'ops-2', role: 'operations', correlationId: 'req-retry-with-input', action: 'RUN_RETRIED_WITH_INPUT' },
      engine,
      { actor: 'ops-1', role: 'operations', correlationId: 'req-resolve', action: 'EXCEPTION_RESOLVED' },
      { actor: 'ops-1', role: 'operations', correlationId: 'req-resolve', action: 'RUN_RESOLVED' },
      { actor: 'ops-2', role: 'operations', correlationId: 'req-resolve-again', action: 'EXCEPTION_RESOLVE_REPEATED' },
    ]);
  });

  it('takes a generated request ID as the correlation ID when the caller sends none', async () => {
    const created = await call(server.url, CONVERT, { input: { opportunityId: 'OPP-AUDIT-3' } });
    const [entry] = (await auditOf(server.url, created.body.data.convertOpportunityToProject.id)).audit;
    expect(entry).toEqual({
      actor: 'ops-1',
      role: 'operations',
      correlationId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      action: 'RUN_CREATED',
    });
  });

  it('records a service caller with the service role', async () => {
    const created = await call(
      server.url,
      CONVERT,
      { input: { opportunityId: 'OPP-AUDIT-4' } },
      { identity: ORCHESTRATION_SERVICE, requestId: 'req-service' },
    );
    expect((await auditOf(server.url, created.body.data.convertOpportunityToProject.id)).audit).toEqual([
      { actor: 'orchestration', role: 'service', correlationId: 'req-service', action: 'RUN_CREATED' },
    ]);
  });

  it('records runs a trigger starts as its event with the service role, and not the later looks that find them again', async () => {
    const empty: TriggerPage = { ids: [], endCursor: null, hasNextPage: false };
    const sources: TriggerSources = {
      unconvertedWonOpportunities: async () => ({ ids: ['OPP-AUDIT-TRIGGER'], endCursor: 'c1', hasNextPage: false }),
      projectsWithBillableWork: async () => empty,
      milestonesReadyToInvoice: async () => empty,
      invoicesChanged: async () => empty,
      accountsChanged: async () => empty,
      billingPeriodsDue: async () => empty,
      approvedContractAmendments: async () => empty,
      invoicesPastDue: async () => empty,
    };
    const poller = startTriggerPoller({
      ledger,
      flows: FLOWS,
      sources,
      governance: loadGovernance(),
      logger,
      intervalMs: 3_600_000,
    });
    cleanups.push(() => poller.stop());
    expect(await poller.pollOnce()).toBe(1);
    expect(await poller.pollOnce()).toBe(0);
    const [runs] = await ledger.getRunsBy('opportunityId', ['OPP-AUDIT-TRIGGER']);
    expect(runs!.map((r) => r.triggeredBy)).toEqual(['event:opportunity.closed_won']);
    expect((await auditOf(server.url, runs![0]!.id)).audit).toEqual([
      { actor: 'event:opportunity.closed_won', role: 'service', correlationId: null, action: 'RUN_CREATED' },
    ]);
  });

  describe('callers without write:flows', () => {
    const refused = (status: number, code: string, message: string) => ({
      status,
      body: { errors: [{ message, path: ['convertOpportunityToProject'], extensions: { code } }] },
    });
    const convertDenied = async (options: Call) => {
      const response = await call(server.url, CONVERT, { input: { opportunityId: 'OPP-AUDIT-DENIED' } }, options);
      expect(await ledger.getRunsBy('opportunityId', ['OPP-AUDIT-DENIED'])).toEqual([[]]);
      return { status: response.status, body: response.body };
    };

    it('refuses a portal user’s conversion with FORBIDDEN, starting nothing', async () => {
      expect(await convertDenied({ identity: PORTAL })).toEqual(
        refused(
          403,
          'FORBIDDEN',
          // The portal may read a run's status (read:portal), so only write:flows is missing.
          'Mutation.convertOpportunityToProject needs write:flows, which the portal token of portal-user-1 does not have',
        ),
      );
    });

    it('refuses a BI reader’s conversion with FORBIDDEN, starting nothing', async () => {
      expect(await convertDenied({ identity: BI })).toEqual(
        refused(
          403,
          'FORBIDDEN',
          'Mutation.convertOpportunityToProject needs write:flows, which the bi token of bi-1 does not have',
        ),
      );
    });

    it('refuses a signed request without an identity with UNAUTHENTICATED, starting nothing', async () => {
      expect(await convertDenied({ identity: null })).toEqual(
        refused(
          401,
          'UNAUTHENTICATED',
          'Mutation.convertOpportunityToProject needs write:flows, and read:sync or read:portal: send a bearer token',
        ),
      );
    });

    it('refuses an unsigned request with 401 UNAUTHENTICATED, starting nothing', async () => {
      expect(await convertDenied({ signed: false })).toEqual({
        status: 401,
        body: {
          errors: [
            {
              message: 'Subgraphs accept only requests signed by the gateway',
              extensions: { code: 'UNAUTHENTICATED' },
            },
          ],
        },
      });
    });
  });

  describe('the orchestration’s own calls to a subgraph', () => {
    it('are signed with the subgraph’s secret as the orchestration’s service identity', async () => {
      const client = createSystemClient('crm', { url: server.url, secret: SECRET });
      // crossReference needs read:sync, which only an identity that came through the signature carries.
      await expect(
        client.request(`query { health { status } crossReference(id: "XREF-NONE") { id } }`, {}),
      ).resolves.toEqual({ health: { status: 'OK' }, crossReference: null });
    });

    it('fail for good, naming the configuration, when the subgraph refuses the secret', async () => {
      const client = createSystemClient('crm', {
        url: server.url,
        secret: 'a-secret-the-subgraph-does-not-share-with-us',
      });
      const error = await client.request(`query { health { status } }`, {}).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SystemError);
      expect({ ...(error as SystemError), message: (error as SystemError).message }).toEqual({
        name: 'SystemError',
        errorClass: 'ACCESS_DENIED',
        system: 'crm',
        code: 'UNAUTHENTICATED',
        retryAfterMs: null,
        message:
          "CRM refused the orchestration's signed request (The request signature does not match): a configuration problem. SUBGRAPH_SECRET_CRM must be " +
          'the same for the orchestration and the crm subgraph, and their clocks must agree; retry the run once it is fixed',
      });
    });
  });
});

describe('SqliteLedger audit log columns', () => {
  it('adds role and correlation_id to a ledger created before them, keeping its entries', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meridian-audit-'));
    try {
      const path = join(dir, 'orchestration.db');
      const old = openSqlite(path);
      old.exec(`CREATE TABLE audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, detail TEXT);
        INSERT INTO audit_log (run_id, at, actor, action, detail) VALUES ('RUN-OLD', '2024-01-01T00:00:00.000Z', 'api', 'RUN_CREATED', NULL);`);
      old.close();

      const ledger = new SqliteLedger(path);
      try {
        const { run } = await ledger.createRun({
          flow: 'audit-test',
          input: {},
          stepNames: ['only'],
          subjectKey: null,
          subjectReuse: 'active',
          accountId: null,
          opportunityId: null,
          projectId: null,
          triggeredBy: { subject: 'ops-1', role: 'operations', correlationId: 'req-1' },
          idempotency: null,
        });
        const strip = (
          entries: { actor: string; role: string | null; correlationId: string | null; action: string }[],
        ) => entries.map(({ actor, role, correlationId, action }) => ({ actor, role, correlationId, action }));
        expect((await ledger.getAuditByRun(['RUN-OLD', run.id])).map(strip)).toEqual([
          [{ actor: 'api', role: null, correlationId: null, action: 'RUN_CREATED' }],
          [{ actor: 'ops-1', role: 'operations', correlationId: 'req-1', action: 'RUN_CREATED' }],
        ]);
      } finally {
        ledger.close();
      }
      // Opening it again finds the columns and changes nothing.
      new SqliteLedger(path).close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
