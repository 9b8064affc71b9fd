import type { RunRecord, RunStatus } from '../../subgraphs/orchestration/engine/ledger';
import type { Stack } from '../../stack/start-stack';
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
  }> = {},
): Promise<{ accountId: string; opportunityId: string }> {
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
  const accountId = account.body.data!.upsertAccount.account.id;
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

/** The conversion mutation, returning the response body. */
export async function convert(gatewayUrl: string, opportunityId: string, idempotencyKey?: string) {
  const response = await gql<{ convertOpportunityToProject: { id: string; status: string; flow: string } }>(
    gatewayUrl,
    'mutation($input: ConvertOpportunityToProjectInput!) { convertOpportunityToProject(input: $input) { id flow status } }',
    { input: { opportunityId, ...(idempotencyKey ? { idempotencyKey } : {}) } },
  );
  return response.body;
}
