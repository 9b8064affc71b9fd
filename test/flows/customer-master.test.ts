import type { RunRecord } from '../../subgraphs/orchestration/engine/ledger';
import { loadGovernance } from '../../subgraphs/orchestration/governance/governance';
import { convert, createWonOpportunity, waitForRun } from '../support/runs';
import { gql, startTestStack } from '../support/stack';

type Stack = Awaited<ReturnType<typeof startTestStack>>;

let counter = 0;

/** Account and customer helpers through the gateway, against one stack. */
function helpers(stack: Stack) {
  const tag = () => `${process.pid}-${Date.now()}-${++counter}`;
  const h = {
    /** Creates or updates a CRM account through the gateway (an upsert writes every field); returns its ID. */
    async upsertAccount(externalId: string, fields: Record<string, unknown>): Promise<string> {
      const { body } = await gql(
        stack.gatewayUrl,
        'mutation($input: UpsertAccountInput!) { upsertAccount(input: $input) { account { id } } }',
        { input: { externalId, industry: 'Retail', ...fields } },
      );
      expect(body.errors).toBeUndefined();
      return body.data!.upsertAccount.account.id;
    },
    /** A CRM account with every customer master field, under `parentAccountId` when given. */
    async account(name: string, parentAccountId: string | null = null) {
      const externalId = `master-${tag()}`;
      const fields = {
        name: `${name} ${tag()}`,
        legalName: `${name} Holdings Limited`,
        billingCountry: 'GB',
        billingAddress: `1 ${name} Street\nLondon EC1A 1BB`,
        parentAccountId,
      };
      const id = await h.upsertAccount(externalId, fields);
      return { id, externalId, fields };
    },
    /** Adds a contact to the account in the reference CRM (the CRM's API has no contact command) and returns its ID. */
    contact(accountId: string, firstName: string, lastName: string): string {
      const id = `CON-${tag()}`;
      const email = `${firstName}.${lastName}@client.example`.toLowerCase();
      stack.stores.crm.seed({
        accounts: [],
        opportunities: [],
        contacts: [{ id, accountId, firstName, lastName, title: 'Accounts Payable', email, phone: null }],
      });
      return id;
    },
    async converted(accountId: string): Promise<RunRecord> {
      const { opportunityId } = await createWonOpportunity(stack.gatewayUrl, { accountId });
      const run = await waitForRun(
        stack,
        (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id,
        ['SUCCEEDED', 'EXCEPTION'],
      );
      expect(run.status).toBe('SUCCEEDED');
      return run;
    },
    async sync(accountId: string): Promise<RunRecord> {
      const { body } = await gql(
        stack.gatewayUrl,
        'mutation($input: SyncCustomerInput!) { syncCustomer(input: $input) { id } }',
        { input: { accountId } },
      );
      return waitForRun(stack, body.data!.syncCustomer.id, ['SUCCEEDED', 'EXCEPTION']);
    },
    /** The account's ERP customer as the gateway shows it. */
    async customer(accountId: string) {
      const { body } = await gql(
        stack.gatewayUrl,
        `query($id: ID!) { account(id: $id) { customer { id customerNumber name legalName billingCountry billingAddress
          billingContact paymentTerms currency legalEntity { code } taxJurisdiction { code }
          parentCustomer { id externalCrmId name } } } }`,
        { id: accountId },
      );
      expect(body.errors).toBeUndefined();
      return body.data!.account.customer;
    },
    /** Someone edits fields of the customer in the ERP itself. */
    async editInErp(customerId: string, fields: Record<string, unknown>) {
      const { body } = await gql(
        stack.gatewayUrl,
        'mutation($input: UpdateCustomerFieldsInput!) { updateCustomerFields(input: $input) { changed } }',
        { input: { id: customerId, ...fields } },
      );
      expect(body).toEqual({ data: { updateCustomerFields: { changed: true } } });
    },
  };
  return h;
}

describe('customer master: every CRM-owned field, CRM → ERP', () => {
  let stack: Stack;
  let h: ReturnType<typeof helpers>;
  beforeAll(async () => {
    stack = await startTestStack({ workerOptions: { idlePollMs: 20 } });
    h = helpers(stack);
  });
  afterAll(() => stack.stop());

  it("creates a billed child account's parent customer first, exactly once, and the customer with every CRM-owned field", async () => {
    const parent = await h.account('Northwind Group');
    const first = await h.account('Northwind Retail', parent.id);
    const contact = h.contact(first.id, 'Ada', 'Lovelace');
    await h.upsertAccount(first.externalId, { ...first.fields, billingContactId: contact });
    const second = await h.account('Northwind Logistics', parent.id);

    const run = await h.converted(first.id);
    const customer = await h.customer(first.id);
    const parentCustomer = await h.customer(parent.id);
    expect(run.steps[1]!.output).toEqual({
      customerId: customer.id,
      created: true,
      parentsCreated: [parentCustomer.id],
      synced: {
        name: first.fields.name,
        legalName: 'Northwind Retail Holdings Limited',
        billingCountry: 'GB',
        billingAddress: '1 Northwind Retail Street\nLondon EC1A 1BB',
        parentAccount: parent.id,
        billingContact: 'Ada Lovelace <ada.lovelace@client.example>',
      },
    });
    expect(customer).toEqual({
      id: customer.id,
      customerNumber: expect.stringMatching(/^C\d+$/),
      name: first.fields.name,
      legalName: 'Northwind Retail Holdings Limited',
      billingCountry: 'GB',
      billingAddress: '1 Northwind Retail Street\nLondon EC1A 1BB',
      billingContact: 'Ada Lovelace <ada.lovelace@client.example>',
      paymentTerms: 'NET_30',
      currency: 'GBP',
      legalEntity: { code: 'MERIDIAN-UK' },
      taxJurisdiction: { code: 'GB' },
      parentCustomer: { id: parentCustomer.id, externalCrmId: parent.id, name: parent.fields.name },
    });
    // The parent customer carries the parent account's own fields, on the child's legal entity and terms.
    expect(parentCustomer).toMatchObject({
      name: parent.fields.name,
      legalName: 'Northwind Group Holdings Limited',
      billingAddress: '1 Northwind Group Street\nLondon EC1A 1BB',
      billingContact: null,
      legalEntity: { code: 'MERIDIAN-UK' },
      currency: 'GBP',
      parentCustomer: null,
    });

    // A second child of the same group finds the parent customer: not created again.
    const again = await h.converted(second.id);
    expect(again.steps[1]!.output).not.toHaveProperty('parentsCreated');
    expect((await h.customer(second.id)).parentCustomer).toEqual({
      id: parentCustomer.id,
      externalCrmId: parent.id,
      name: parent.fields.name,
    });
    expect(await stack.stores.erp.getCustomersByCrmAccount([parent.id])).toEqual([
      expect.objectContaining({ id: parentCustomer.id }),
    ]);
    const all = (await stack.stores.erp.getCustomersByCrmAccount([parent.id, first.id, second.id])).map((c) => c!.id);
    expect(new Set(all).size).toBe(3);
    // PSA and CRM: a project per deal, and the deals linked to the child customers.
    const [firstDeal] = (await stack.stores.crm.getOpportunitiesByAccount([first.id]))[0]!;
    const [project] = await stack.stores.psa.getProjectsByOpportunity([firstDeal!.id]);
    expect(project).toMatchObject({ accountId: first.id });
    expect(firstDeal).toMatchObject({ psaProjectId: project!.id, erpCustomerId: customer.id });
  });

  it('syncs a change of every CRM-owned field to the ERP, a new parent account getting its customer first, and leaves the ERP-owned ones', async () => {
    const account = await h.account('Contoso');
    await h.converted(account.id);
    const before = await h.customer(account.id);
    const [project] = (await stack.stores.psa.getProjectsByAccount([account.id]))[0]!;

    // In the CRM: a new group (no ERP customer yet), a new legal name, address, country and billing contact.
    const group = await h.account('Contoso Holdings');
    const contact = h.contact(account.id, 'Grace', 'Hopper');
    const changed = {
      ...account.fields,
      legalName: 'Contoso Europe B.V.',
      billingCountry: 'NL',
      billingAddress: 'Keizersgracht 1\n1015 CJ Amsterdam',
      billingContactId: contact,
      parentAccountId: group.id,
    };
    await h.upsertAccount(account.externalId, changed);

    const run = await h.sync(account.id);
    expect(run.status).toBe('SUCCEEDED');
    const groupCustomer = await h.customer(group.id);
    expect(run.steps[1]!.output).toEqual({
      accountId: account.id,
      customerId: before.id,
      synced: {
        name: account.fields.name,
        legalName: 'Contoso Europe B.V.',
        billingCountry: 'NL',
        billingAddress: 'Keizersgracht 1\n1015 CJ Amsterdam',
        parentAccount: group.id,
        billingContact: 'Grace Hopper <grace.hopper@client.example>',
      },
      updated: {
        legalName: {
          from: 'Contoso Holdings Limited',
          to: 'Contoso Europe B.V.',
          lastSynced: 'Contoso Holdings Limited',
        },
        billingCountry: { from: 'GB', to: 'NL', lastSynced: 'GB' },
        billingAddress: {
          from: '1 Contoso Street\nLondon EC1A 1BB',
          to: 'Keizersgracht 1\n1015 CJ Amsterdam',
          lastSynced: '1 Contoso Street\nLondon EC1A 1BB',
        },
        parentAccount: { from: null, to: group.id, lastSynced: null },
        billingContact: { from: null, to: 'Grace Hopper <grace.hopper@client.example>', lastSynced: null },
      },
      parentsCreated: [groupCustomer.id],
    });
    // ERP: every CRM-owned field moved; legal entity, tax jurisdiction, terms and currency as they were.
    expect(await h.customer(account.id)).toEqual({
      ...before,
      legalName: 'Contoso Europe B.V.',
      billingCountry: 'NL',
      billingAddress: 'Keizersgracht 1\n1015 CJ Amsterdam',
      billingContact: 'Grace Hopper <grace.hopper@client.example>',
      parentCustomer: { id: groupCustomer.id, externalCrmId: group.id, name: group.fields.name },
    });
    expect(groupCustomer).toMatchObject({ name: group.fields.name, legalEntity: { code: 'MERIDIAN-UK' } });
    // PSA untouched; the CRM account as changed.
    expect((await stack.stores.psa.getProjects([project!.id]))[0]).toEqual(project);
    expect((await stack.stores.crm.getAccounts([account.id]))[0]).toMatchObject({
      legalName: 'Contoso Europe B.V.',
      billingContactId: contact,
      parentAccountId: group.id,
    });

    // Nothing changed since: the next sync writes nothing and creates no second group customer.
    const again = await h.sync(account.id);
    expect(again.steps[1]!.output).toMatchObject({ updated: {} });
    expect(again.steps[1]!.output).not.toHaveProperty('parentsCreated');
    expect(await stack.stores.erp.getCustomersByCrmAccount([group.id])).toEqual([
      expect.objectContaining({ id: groupCustomer.id }),
    ]);

    // Leaving the group in the CRM clears the parent customer in the ERP.
    await h.upsertAccount(account.externalId, { ...changed, parentAccountId: null });
    expect((await h.sync(account.id)).status).toBe('SUCCEEDED');
    expect((await h.customer(account.id)).parentCustomer).toBeNull();
  });

  it('raises an ERP-side edit of CRM-owned fields as ONE CONFLICT naming each field and both values, and writes nothing', async () => {
    const account = await h.account('Fabrikam');
    await h.converted(account.id);
    const customer = await h.customer(account.id);
    await h.editInErp(customer.id, { billingAddress: 'PO Box 7\nLondon', legalName: 'Fabrikam Trading Ltd' });
    await h.upsertAccount(account.externalId, {
      ...account.fields,
      billingAddress: '9 New Street\nLondon EC2A 2BB',
      legalName: 'Fabrikam plc',
    });

    const run = await h.sync(account.id);
    const message =
      `Account ${account.id}, ERP customer ${customer.id} (${customer.customerNumber}): ` +
      "customer field 'legalName' was changed in the ERP to 'Fabrikam Trading Ltd' (Meridian last synced 'Fabrikam Holdings Limited'), and the CRM has 'Fabrikam plc'; " +
      "customer field 'billingAddress' was changed in the ERP to 'PO Box 7\nLondon' (Meridian last synced '1 Fabrikam Street\nLondon EC1A 1BB'), and the CRM has '9 New Street\nLondon EC2A 2BB'. " +
      'The CRM owns these fields (governance: sourceOfTruth.customer), so the ERP edit is not overwritten: make the ERP and the CRM agree, then retry';
    const { body } = await gql(
      stack.gatewayUrl,
      'query($id: ID!) { syncRun(id: $id) { status exception { step class system message } } }',
      { id: run.id },
    );
    expect(body.data.syncRun).toEqual({
      status: 'EXCEPTION',
      exception: { step: 'updateErpCustomer', class: 'CONFLICT', system: 'erp', message },
    });
    // Neither side overwritten.
    expect(await h.customer(account.id)).toEqual({
      ...customer,
      billingAddress: 'PO Box 7\nLondon',
      legalName: 'Fabrikam Trading Ltd',
    });
    expect((await stack.stores.crm.getAccounts([account.id]))[0]).toMatchObject({ legalName: 'Fabrikam plc' });
  });

  it('refuses bad customer master data with coded errors and changes nothing', async () => {
    const parent = await h.account('Tailspin');
    const child = await h.account('Tailspin Toys', parent.id);
    const stranger = await h.account('Woodgrove');
    const foreign = h.contact(stranger.id, 'Alan', 'Turing');
    const codes = (body: { errors?: { message: string; extensions?: Record<string, unknown> }[] }) =>
      body.errors?.map((e) => [e.extensions?.code, e.extensions?.field, e.message]);

    // CRM: a billing contact of another account, a parent loop.
    const upsert = (externalId: string, fields: Record<string, unknown>) =>
      gql(
        stack.gatewayUrl,
        'mutation($input: UpsertAccountInput!) { upsertAccount(input: $input) { account { id } } }',
        { input: { externalId, ...fields } },
      );
    expect(codes((await upsert(child.externalId, { ...child.fields, billingContactId: foreign })).body)).toEqual([
      [
        'VALIDATION_REJECTED',
        'billingContactId',
        `CRM rejected billing contact '${foreign}': not a contact of account '${child.id}'`,
      ],
    ]);
    expect(codes((await upsert(parent.externalId, { ...parent.fields, parentAccountId: child.id })).body)).toEqual([
      [
        'VALIDATION_REJECTED',
        'parentAccountId',
        `CRM rejected parent account '${child.id}' for account '${parent.id}': an account cannot be its own ancestor`,
      ],
    ]);
    expect(codes((await upsert(child.externalId, { ...child.fields, billingCountry: 'United Kingdom' })).body)).toEqual(
      [
        [
          'BAD_USER_INPUT',
          'billingCountry',
          "billingCountry must be an ISO 3166-1 alpha-2 code such as GB; got 'United Kingdom'",
        ],
      ],
    );
    expect((await stack.stores.crm.getAccounts([parent.id, child.id])).map((a) => a!.parentAccountId)).toEqual([
      null,
      parent.id,
    ]);

    // ERP: a country that is no ISO code, a parent loop, a cleared name.
    await h.converted(child.id);
    const customer = await h.customer(child.id);
    const parentCustomer = customer.parentCustomer;
    const update = (fields: Record<string, unknown>, id = customer.id) =>
      gql(
        stack.gatewayUrl,
        'mutation($input: UpdateCustomerFieldsInput!) { updateCustomerFields(input: $input) { changed } }',
        { input: { id, ...fields } },
      );
    expect(codes((await update({ billingCountry: 'GBR' })).body)).toEqual([
      ['VALIDATION_REJECTED', 'billingCountry', "ERP rejected billing country 'GBR': not an ISO 3166-1 alpha-2 code"],
    ]);
    expect(codes((await update({ parentCustomerId: customer.id }, parentCustomer.id)).body)).toEqual([
      [
        'VALIDATION_REJECTED',
        'parentCustomerId',
        `ERP rejected parent customer '${customer.id}' for customer '${parentCustomer.id}': a customer cannot be its own ancestor`,
      ],
    ]);
    expect(codes((await update({ name: null })).body)).toEqual([
      ['BAD_USER_INPUT', 'name', 'name cannot be cleared; omit it to leave it as it is'],
    ]);
    expect(await h.customer(child.id)).toEqual(customer);
    expect((await h.customer(parent.id)).parentCustomer).toBeNull();
  });
});

describe('customer master when governance gives the CRM the payment terms', () => {
  let stack: Stack;
  let h: ReturnType<typeof helpers>;
  beforeAll(async () => {
    const governance = loadGovernance();
    governance.sourceOfTruth.customer.paymentTerms = 'CRM';
    stack = await startTestStack({ governance, seedAccounts: 2, workerOptions: { idlePollMs: 20 } });
    h = helpers(stack);
  });
  afterAll(() => stack.stop());

  it("creates the customer on the CRM's terms rather than the region's, and syncs a change of them", async () => {
    const account = await h.account('Litware');
    await h.upsertAccount(account.externalId, { ...account.fields, paymentTerms: 'NET_45' });
    await h.converted(account.id);
    expect(await h.customer(account.id)).toMatchObject({
      paymentTerms: 'NET_45',
      legalEntity: { code: 'MERIDIAN-UK' },
    });

    await h.upsertAccount(account.externalId, { ...account.fields, paymentTerms: 'NET_60' });
    const run = await h.sync(account.id);
    expect(run.steps[1]!.output).toMatchObject({
      updated: { paymentTerms: { from: 'NET_45', to: 'NET_60', lastSynced: 'NET_45' } },
    });
    expect(await h.customer(account.id)).toMatchObject({ paymentTerms: 'NET_60', currency: 'GBP' });
  });
});
