import type { RunRecord, RunStatus } from '../../subgraphs/orchestration/engine/ledger';
import type { Stack } from '../../stack/start-stack';
import type { TestClock } from './clock';
import { gql } from './stack';

/**
 * Resolves with the run once it reaches one of `statuses`, waiting on the worker's run events (the listener is
 * registered before the current state is read, so no change is missed between the two).
 */
export function waitForRun(
  stack: Pick<Stack, 'runEvents' | 'stores'>,
  runId: string,
  statuses: readonly RunStatus[],
): Promise<RunRecord> {
  return new Promise((resolve, reject) => {
    const onRun = (run: RunRecord) => {
      if (run.id === runId && statuses.includes(run.status)) {
        stack.runEvents.off('run', onRun);
        resolve(run);
      }
    };
    stack.runEvents.on('run', onRun);
    stack.stores.ledger.getRuns([runId]).then(([run]) => {
      if (run) onRun(run);
    }, reject);
  });
}

let counter = 0;

/** Creates (through the gateway) an account and a closed-won opportunity with every field a conversion needs. */
export async function createWonOpportunity(
  gatewayUrl: string,
  fields: Partial<{
    deliveryRegion: string | null;
    servicePackage: string;
    billingModel: string;
    amount: string;
    currency: string;
    stage: string;
    /** An account made before (by {@link createAccount}); a new one when omitted. */
    accountId: string;
  }> = {},
): Promise<{ accountId: string; opportunityId: string }> {
  const tag = `${process.pid}-${Date.now()}-${++counter}`;
  const accountId = fields.accountId ?? (await createAccount(gatewayUrl));
  const opportunity = await gql<{ upsertOpportunity: { opportunity: { id: string } } }>(
    gatewayUrl,
    'mutation($input: UpsertOpportunityInput!) { upsertOpportunity(input: $input) { opportunity { id } } }',
    {
      input: {
        externalId: `test-opportunity-${tag}`,
        accountId,
        name: `Data Platform ${tag}`,
        stage: fields.stage ?? 'CLOSED_WON',
        amount: { amount: fields.amount ?? '240000.00', currency: fields.currency ?? 'GBP' },
        closeDate: '2026-11-02',
        servicePackage: fields.servicePackage ?? 'DATA_PLATFORM',
        billingModel: fields.billingModel ?? 'MILESTONE',
        deliveryRegion: fields.deliveryRegion === undefined ? 'UK' : fields.deliveryRegion,
        expectedStartDate: '2026-12-01',
      },
    },
  );
  return { accountId, opportunityId: opportunity.body.data!.upsertOpportunity.opportunity.id };
}

/** Creates (through the gateway) a CRM account a conversion can be for; returns its ID. */
export async function createAccount(gatewayUrl: string): Promise<string> {
  const tag = `${process.pid}-${Date.now()}-${++counter}`;
  const account = await gql<{ upsertAccount: { account: { id: string } } }>(
    gatewayUrl,
    'mutation($input: UpsertAccountInput!) { upsertAccount(input: $input) { account { id } } }',
    {
      input: {
        externalId: `test-account-${tag}`,
        name: `Test Client ${tag} Ltd`,
        industry: 'Retail',
        billingCountry: 'GB',
      },
    },
  );
  return account.body.data!.upsertAccount.account.id;
}

/** The conversion mutation, returning the response body. */
export async function convert(gatewayUrl: string, opportunityId: string, idempotencyKey?: string) {
  const response = await gql<{ convertOpportunityToProject: { id: string; status: string; flow: string } }>(
    gatewayUrl,
    'mutation($input: ConvertOpportunityToProjectInput!) { convertOpportunityToProject(input: $input) { id flow status } }',
    { input: { opportunityId, ...(idempotencyKey ? { idempotencyKey } : {}) } },
  );
  return response.body;
}

/**
 * Carries `runIds` to their end on a stack whose worker reads a {@link TestClock}: whenever no run is held by the
 * worker and none is due, it moves the clock to the earliest run's due time and wakes the worker; it resolves with
 * the runs once none is queued, running or waiting for a retry. Time moves only while nothing holds a lease, so no
 * lease lapses, and a retry happens exactly when it is due, however slow the machine.
 */
export function settleRuns(
  stack: Pick<Stack, 'runEvents' | 'stores' | 'worker'>,
  clock: TestClock,
  runIds: readonly string[],
): Promise<RunRecord[]> {
  const latest = new Map<string, RunRecord>();
  return new Promise((resolve, reject) => {
    const step = () => {
      if (latest.size < runIds.length) return;
      const runs = runIds.map((id) => latest.get(id)!);
      if (runs.some((r) => r.status === 'RUNNING' || r.status === 'COMPENSATING')) return;
      const pending = runs.filter((r) => r.status === 'QUEUED' || r.status === 'WAITING_RETRY');
      if (pending.length === 0) {
        stack.runEvents.off('run', onRun);
        resolve(runs);
        return;
      }
      // Nothing is held: the clock may move to the next due run without any lease lapsing.
      clock.advanceTo(Math.min(...pending.map((r) => r.nextAttemptAt)));
      stack.worker!.wake();
    };
    const onRun = (run: RunRecord) => {
      const known = latest.get(run.id);
      if (!runIds.includes(run.id) || (known && known.sequence > run.sequence)) return;
      latest.set(run.id, run);
      step();
    };
    stack.runEvents.on('run', onRun);
    stack.stores.ledger.getRuns([...runIds]).then((runs) => {
      for (const run of runs) if (run && !latest.has(run.id)) latest.set(run.id, run);
      step();
    }, reject);
  });
}

/**
 * A won deal (through the gateway) converted by its run: the CRM account, the PSA project with its milestones and the
 * ERP customer, as the stores hold them.
 */
export async function convertedDeal(stack: Pick<Stack, 'gatewayUrl' | 'runEvents' | 'stores'>) {
  const { accountId, opportunityId } = await createWonOpportunity(stack.gatewayUrl);
  const conversion = await waitForRun(
    stack,
    (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id,
    ['SUCCEEDED', 'EXCEPTION'],
  );
  expect(conversion.status).toBe('SUCCEEDED');
  const [project] = await stack.stores.psa.getProjectsByOpportunity([opportunityId]);
  const [milestones] = await stack.stores.psa.getMilestonesByProject([project!.id]);
  const [customer] = await stack.stores.erp.getCustomersByCrmAccount([accountId]);
  return {
    accountId,
    opportunityId,
    conversionId: conversion.id,
    project: project!,
    milestones: milestones!,
    customer: customer!,
  };
}
