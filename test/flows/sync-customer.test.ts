import type { AccountRecord } from '../../subgraphs/crm/connector/crm-connector';
import type { RunRecord } from '../../subgraphs/orchestration/engine/ledger';
import { loadGovernance } from '../../subgraphs/orchestration/governance/governance';
import { convert, createWonOpportunity, waitForRun } from '../support/runs';
import { gql, startTestStack } from '../support/stack';

type Stack = Awaited<ReturnType<typeof startTestStack>>;

/**
 * Governance with the name the only customer field the CRM owns: this file tests the sync's rules on one field (the
 * name); `customer-master.test.ts` tests every field the checked-in governance gives the CRM.
 */
function nameOnlyGovernance() {
  const governance = loadGovernance();
  const customer = governance.sourceOfTruth.customer;
  for (const field of ['legalName', 'billingCountry', 'billingAddress', 'parentAccount', 'billingContact'] as const)
    delete customer[field];
  return governance;
}

/** The mutations and reads a customer sync test needs, against one stack. */
function helpers(stack: Stack) {
  const sync = async (accountId: string, idempotencyKey?: string) =>
    (
      await gql(
        stack.gatewayUrl,
        'mutation($input: SyncCustomerInput!) { syncCustomer(input: $input) { id flow status } }',
        { input: { accountId, ...(idempotencyKey ? { idempotencyKey } : {}) } },
      )
    ).body;
  return {
    sync,
    syncDone: async (accountId: string): Promise<RunRecord> =>
      waitForRun(stack, (await sync(accountId)).data!.syncCustomer.id, ['SUCCEEDED', 'EXCEPTION']),
    /** A converted deal: the CRM account, and the ERP customer the conversion created under the account's name. */
    async converted() {
      const { accountId, opportunityId } = await createWonOpportunity(stack.gatewayUrl);
      await waitForRun(stack, (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id, [
        'SUCCEEDED',
      ]);
      const [account] = await stack.stores.crm.getAccounts([accountId]);
      const [customer] = await stack.stores.erp.getCustomersByCrmAccount([accountId]);
      expect(customer!.name).toBe(account!.name);
      const [project] = await stack.stores.psa.getProjectsByOpportunity([opportunityId]);
      return { accountId, account: account!, customer: customer!, project: project! };
    },
    /** Renames the account in the CRM, through the gateway, keeping its other fields. */
    async renameInCrm(account: AccountRecord, name: string) {
      const { body } = await gql(
        stack.gatewayUrl,
        'mutation($input: UpsertAccountInput!) { upsertAccount(input: $input) { account { id name } created } }',
        {
          input: {
            externalId: account.externalId,
            name,
            industry: account.industry,
            billingCountry: account.billingCountry,
            parentAccountId: account.parentAccountId,
            owner: account.owner,
          },
        },
      );
      expect(body).toEqual({ data: { upsertAccount: { account: { id: account.id, name }, created: false } } });
    },
    /** Someone edits the customer's name in the ERP itself. */
    async renameInErp(customerId: string, name: string) {
      const { body } = await gql(
        stack.gatewayUrl,
        'mutation($input: UpdateCustomerFieldsInput!) { updateCustomerFields(input: $input) { customer { name } changed } }',
        { input: { id: customerId, name } },
      );
      expect(body).toEqual({ data: { updateCustomerFields: { customer: { name }, changed: true } } });
    },
  };
}

const outcome = (run: RunRecord) =>
  run.steps.map((s) => ({
    name: s.name,
    status: s.status,
    attempts: s.attempts,
    error: s.error && { class: s.error.class, code: s.error.code, system: s.error.system, message: s.error.message },
  }));

describe('flow syncCustomer', () => {
  let stack: Stack;
  let h: ReturnType<typeof helpers>;
  beforeAll(async () => {
    stack = await startTestStack({ governance: nameOnlyGovernance(), workerOptions: { idlePollMs: 20 } });
    h = helpers(stack);
  });
  afterAll(() => stack.stop());

  it('writes a CRM rename to the ERP customer and leaves the ERP-owned fields as they were', async () => {
    const { accountId, account, customer, project } = await h.converted();
    const renamed = `${account.name} Group`;
    await h.renameInCrm(account, renamed);

    const started = await h.sync(accountId, `sync-customer-${accountId}`);
    expect(started).toEqual({
      data: { syncCustomer: { id: expect.stringMatching(/^RUN-/), flow: 'syncCustomer', status: 'QUEUED' } },
    });
    const runId = started.data!.syncCustomer.id;
    const run = await waitForRun(stack, runId, ['SUCCEEDED', 'EXCEPTION']);
    expect(outcome(run)).toEqual(
      ['readCrmAccount', 'updateErpCustomer'].map((name) => ({ name, status: 'SUCCEEDED', attempts: 1, error: null })),
    );
    expect(run.steps.map((s) => s.output)).toEqual([
      { accountId, crmOwnedFields: ['name'], values: { name: renamed } },
      {
        accountId,
        customerId: customer.id,
        synced: { name: renamed },
        updated: { name: { from: account.name, to: renamed, lastSynced: account.name } },
      },
    ]);
    const events = (await stack.stores.ledger.eventsAfter(0, 100_000)).filter((e) => e.runId === runId);
    expect(events.map((e) => [e.sequence, e.status])).toEqual([
      [1, 'QUEUED'],
      [2, 'RUNNING'],
      [3, 'RUNNING'],
      [4, 'SUCCEEDED'],
    ]);
    expect(await h.sync(accountId, `sync-customer-${accountId}`)).toEqual({
      data: { syncCustomer: { id: runId, flow: 'syncCustomer', status: 'SUCCEEDED' } },
    });

    // ERP: the name only; CRM: as renamed; PSA: untouched (the project keeps the name it was given).
    expect(await stack.stores.erp.getCustomers([customer.id])).toEqual([{ ...customer, name: renamed }]);
    expect(await stack.stores.psa.getProjects([project.id])).toEqual([project]);
    const { body } = await gql(
      stack.gatewayUrl,
      'query($id: ID!) { account(id: $id) { name customer { id name legalEntity { code } taxJurisdiction { code } paymentTerms currency externalCrmId } syncRuns { id flow status } } }',
      { id: accountId },
    );
    expect(body).toEqual({
      data: {
        account: {
          name: renamed,
          customer: {
            id: customer.id,
            name: renamed,
            legalEntity: { code: 'MERIDIAN-UK' },
            taxJurisdiction: { code: 'GB' },
            paymentTerms: 'NET_30',
            currency: 'GBP',
            externalCrmId: accountId,
          },
          syncRuns: [
            { id: runId, flow: 'syncCustomer', status: 'SUCCEEDED' },
            { id: expect.stringMatching(/^RUN-/), flow: 'convertOpportunityToProject', status: 'SUCCEEDED' },
          ],
        },
      },
    });

    // Nothing changed since: the next run writes nothing.
    const again = await h.syncDone(accountId);
    expect(again.id).not.toBe(runId);
    expect(again.steps[1]!.output).toEqual({
      accountId,
      customerId: customer.id,
      synced: { name: renamed },
      updated: {},
    });
    expect(await stack.stores.erp.getCustomers([customer.id])).toEqual([{ ...customer, name: renamed }]);
  });

  it('raises an ERP-side edit of the CRM-owned name as a CONFLICT naming both values, and syncs again once a person makes them agree', async () => {
    const { accountId, account, customer } = await h.converted();
    await h.renameInErp(customer.id, 'Edited In Finance Ltd');
    await h.renameInCrm(account, `${account.name} Holdings`);

    const stopped = await h.syncDone(accountId);
    const message =
      `Account ${accountId}, ERP customer ${customer.id} (${customer.customerNumber}): customer field 'name' was changed in the ERP to 'Edited In Finance Ltd' ` +
      `(Meridian last synced '${account.name}'), and the CRM has '${account.name} Holdings'. The CRM owns this field (governance: sourceOfTruth.customer), ` +
      'so the ERP edit is not overwritten: make the ERP and the CRM agree, then retry';
    expect(outcome(stopped)).toEqual([
      { name: 'readCrmAccount', status: 'SUCCEEDED', attempts: 1, error: null },
      {
        name: 'updateErpCustomer',
        status: 'FAILED',
        attempts: 1,
        error: { class: 'CONFLICT', code: null, system: 'erp', message },
      },
    ]);
    const { body } = await gql(
      stack.gatewayUrl,
      'query($id: ID!) { syncRun(id: $id) { status exception { flow step class system message status account { id } } } }',
      { id: stopped.id },
    );
    expect(body).toEqual({
      data: {
        syncRun: {
          status: 'EXCEPTION',
          exception: {
            flow: 'syncCustomer',
            step: 'updateErpCustomer',
            class: 'CONFLICT',
            system: 'erp',
            message,
            status: 'OPEN',
            account: { id: accountId },
          },
        },
      },
    });
    // Neither side was overwritten.
    expect(await stack.stores.erp.getCustomers([customer.id])).toEqual([
      { ...customer, name: 'Edited In Finance Ltd' },
    ]);
    expect((await stack.stores.crm.getAccounts([accountId]))[0]!.name).toBe(`${account.name} Holdings`);
    // While the run waits for a person, another trigger for the account returns it.
    expect((await h.sync(accountId)).data!.syncCustomer.id).toBe(stopped.id);

    // Finance agrees to the CRM's name in the ERP; the retried run then has nothing to write, and becomes the new baseline.
    await h.renameInErp(customer.id, `${account.name} Holdings`);
    expect(
      (await gql(stack.gatewayUrl, 'mutation($id: ID!) { retryRun(id: $id) { status } }', { id: stopped.id })).body,
    ).toEqual({ data: { retryRun: { status: 'QUEUED' } } });
    const resolved = await waitForRun(stack, stopped.id, ['SUCCEEDED', 'EXCEPTION']);
    expect(resolved.steps[1]).toMatchObject({
      status: 'SUCCEEDED',
      attempts: 2,
      output: { accountId, customerId: customer.id, synced: { name: `${account.name} Holdings` }, updated: {} },
    });

    await h.renameInCrm(account, `${account.name} International`);
    const next = await h.syncDone(accountId);
    expect(next.steps[1]!.output).toEqual({
      accountId,
      customerId: customer.id,
      synced: { name: `${account.name} International` },
      updated: {
        name: {
          from: `${account.name} Holdings`,
          to: `${account.name} International`,
          lastSynced: `${account.name} Holdings`,
        },
      },
    });
    expect(await stack.stores.erp.getCustomers([customer.id])).toEqual([
      { ...customer, name: `${account.name} International` },
    ]);
  });

  it('writes the CRM name to a customer Meridian never synced, as there is no sign of an ERP edit', async () => {
    const created = await gql(
      stack.gatewayUrl,
      'mutation { upsertAccount(input: { externalId: "legacy-1", name: "Legacy Renamed plc", billingCountry: "GB" }) { account { id } } }',
    );
    const accountId = created.body.data!.upsertAccount.account.id as string;
    const legacy = await gql(
      stack.gatewayUrl,
      'mutation($input: UpsertCustomerInput!) { upsertCustomer(input: $input) { customer { id } } }',
      {
        input: {
          externalCrmId: accountId,
          name: 'Legacy plc',
          legalEntityCode: 'MERIDIAN-UK',
          taxJurisdictionCode: 'GB',
          paymentTerms: 'NET_45',
          currency: 'GBP',
        },
      },
    );
    const customerId = legacy.body.data!.upsertCustomer.customer.id as string;
    const [before] = await stack.stores.erp.getCustomers([customerId]);
    const run = await h.syncDone(accountId);
    expect(run.steps.map((s) => [s.name, s.status, s.output])).toEqual([
      ['readCrmAccount', 'SUCCEEDED', { accountId, crmOwnedFields: ['name'], values: { name: 'Legacy Renamed plc' } }],
      [
        'updateErpCustomer',
        'SUCCEEDED',
        {
          accountId,
          customerId,
          synced: { name: 'Legacy Renamed plc' },
          updated: { name: { from: 'Legacy plc', to: 'Legacy Renamed plc', lastSynced: null } },
        },
      ],
    ]);
    expect(await stack.stores.erp.getCustomers([customerId])).toEqual([{ ...before, name: 'Legacy Renamed plc' }]);
  });

  it('succeeds with nothing to do for an account without an ERP customer', async () => {
    const created = await gql(
      stack.gatewayUrl,
      'mutation { upsertAccount(input: { externalId: "prospect-1", name: "Prospect Ltd" }) { account { id } } }',
    );
    const accountId = created.body.data!.upsertAccount.account.id as string;
    const run = await h.syncDone(accountId);
    expect(run.steps.map((s) => [s.name, s.status, s.output])).toEqual([
      ['readCrmAccount', 'SUCCEEDED', { accountId, crmOwnedFields: ['name'], values: { name: 'Prospect Ltd' } }],
      ['updateErpCustomer', 'SUCCEEDED', { accountId, skipped: 'the account has no ERP customer yet' }],
    ]);
    expect(await stack.stores.erp.getCustomersByCrmAccount([accountId])).toEqual([null]);
  });

  it('stops with MISSING_REFERENCE for an unknown account', async () => {
    const run = await h.syncDone('ACC-999999');
    expect(outcome(run)).toEqual([
      {
        name: 'readCrmAccount',
        status: 'FAILED',
        attempts: 1,
        error: {
          class: 'MISSING_REFERENCE',
          code: 'NOT_FOUND',
          system: 'crm',
          message: "The CRM has no account 'ACC-999999'",
        },
      },
      { name: 'updateErpCustomer', status: 'PENDING', attempts: 0, error: null },
    ]);
  });
});

describe('flow syncCustomer when governance makes the ERP own the name', () => {
  let stack: Stack;
  afterAll(() => stack.stop());

  it('never writes an ERP-owned field, whatever the CRM holds', async () => {
    const governance = nameOnlyGovernance();
    governance.sourceOfTruth.customer.name = 'ERP';
    stack = await startTestStack({ governance, seedAccounts: 2, workerOptions: { idlePollMs: 20 } });
    const h = helpers(stack);
    const { accountId, account, customer } = await h.converted();
    await h.renameInCrm(account, `${account.name} Renamed`);
    const run = await h.syncDone(accountId);
    expect(run.steps.map((s) => [s.name, s.status, s.output])).toEqual([
      ['readCrmAccount', 'SUCCEEDED', { accountId, crmOwnedFields: [], values: {} }],
      ['updateErpCustomer', 'SUCCEEDED', { accountId, customerId: customer.id, synced: {}, updated: {} }],
    ]);
    expect(await stack.stores.erp.getCustomers([customer.id])).toEqual([customer]);
  });
});
