import { gql, startTestStack } from './support/stack';

/*
 * Issue 15, "Why" 6, through the gateway: blank, control-character and oversized input is refused at the API with
 * BAD_USER_INPUT naming the field, nothing is written, and no error echoes a huge value back.
 */
describe('input hygiene at the APIs', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack({ worker: false });
  });
  afterAll(() => stack.stop());

  const runCount = async () =>
    (await gql(stack.gatewayUrl, '{ syncRuns(first: 1) { totalCount } }')).body.data!.syncRuns.totalCount as number;
  const accountCount = async () =>
    (await gql(stack.gatewayUrl, '{ accounts(first: 1) { totalCount } }')).body.data!.accounts.totalCount as number;
  const codeAndField = (body: { errors?: { message: string; extensions?: Record<string, unknown> }[] }) =>
    body.errors?.map((e) => [e.extensions?.code, e.extensions?.field]);

  it('refuses a run for an ID of spaces, of 10 KB, or of control characters, and stores no run', async () => {
    const before = await runCount();
    const convert =
      'mutation($input: ConvertOpportunityToProjectInput!) { convertOpportunityToProject(input: $input) { id } }';
    for (const opportunityId of ['   ', 'O'.repeat(10_000), 'OPP-1\u0000', 'OPP 1']) {
      const { body } = await gql(stack.gatewayUrl, convert, { input: { opportunityId } });
      expect(codeAndField(body)).toEqual([['BAD_USER_INPUT', 'opportunityId']]);
      expect(body.errors![0]!.message.length).toBeLessThan(200);
    }
    const bill = 'mutation($input: BillApprovedTimeInput!) { billApprovedTime(input: $input) { id } }';
    const { body } = await gql(stack.gatewayUrl, bill, { input: { projectId: 'PRJ-0000001', until: '' } });
    expect(codeAndField(body)).toEqual([['BAD_USER_INPUT', 'until']]);
    expect(await runCount()).toBe(before);
  });

  it('refuses a blank name, a name with a NUL, and an overlong one, and creates no account', async () => {
    const before = await accountCount();
    const upsert = 'mutation($input: UpsertAccountInput!) { upsertAccount(input: $input) { account { id } } }';
    for (const [i, name] of ['   ', 'Acme\u0000 Ltd', 'Tab\tLtd', 'N'.repeat(256)].entries()) {
      const { body } = await gql(stack.gatewayUrl, upsert, { input: { externalId: `hygiene-${i}`, name } });
      expect(codeAndField(body)).toEqual([['BAD_USER_INPUT', 'name']]);
    }
    const parent = await gql(stack.gatewayUrl, upsert, {
      input: { externalId: 'hygiene-parent', name: 'Acme Ltd', parentAccountId: 'ACC 1' },
    });
    expect(codeAndField(parent.body)).toEqual([['BAD_USER_INPUT', 'parentAccountId']]);
    expect(await accountCount()).toBe(before);
    // A good name still goes through.
    const ok = await gql(stack.gatewayUrl, upsert, { input: { externalId: 'hygiene-ok', name: 'Ærø & Søn A/S' } });
    expect(ok.body.errors).toBeUndefined();
    expect(await accountCount()).toBe(before + 1);
  });

  it('refuses a milestone invoiced on something that is not an invoice ID, and leaves the milestone as it was', async () => {
    const { milestones } = (
      await gql(stack.gatewayUrl, '{ projects(first: 1) { nodes { milestones { id status } } } }')
    ).body.data!.projects.nodes[0];
    const milestone = milestones[0];
    const { body } = await gql(
      stack.gatewayUrl,
      'mutation($id: ID!, $invoiceId: ID!) { markMilestoneInvoiced(id: $id, invoiceId: $invoiceId) { status } }',
      { id: milestone.id, invoiceId: ' ' },
    );
    expect(codeAndField(body)).toEqual([['BAD_USER_INPUT', 'invoiceId']]);
    const after = await gql(stack.gatewayUrl, 'query($id: ID!) { milestone(id: $id) { status } }', {
      id: milestone.id,
    });
    expect(after.body.data!.milestone.status).toBe(milestone.status);
  });

  it("refuses a milestone invoiced on an invoice the ERP does not have, or on another account's, and marks it on its own", async () => {
    const projects = (
      await gql(stack.gatewayUrl, '{ projects(first: 100) { nodes { id account { id } milestones { id status } } } }')
    ).body.data!.projects.nodes as {
      id: string;
      account: { id: string };
      milestones: { id: string; status: string }[];
    }[];
    const invoices = (await gql(stack.gatewayUrl, '{ invoices(first: 200) { nodes { id account { id } } } }')).body
      .data!.invoices.nodes as { id: string; account: { id: string } | null }[];
    // A completed milestone not invoiced yet, an invoice of its own account and one of another account.
    const project = projects.find(
      (p) => p.milestones.some((m) => m.status === 'COMPLETED') && invoices.some((i) => i.account?.id === p.account.id),
    )!;
    const milestone = project.milestones.find((m) => m.status === 'COMPLETED')!;
    const own = invoices.find((i) => i.account?.id === project.account.id)!;
    const foreign = invoices.find((i) => i.account && i.account.id !== project.account.id)!;
    const mark = async (invoiceId: string) =>
      (
        await gql(
          stack.gatewayUrl,
          'mutation($id: ID!, $invoiceId: ID!) { markMilestoneInvoiced(id: $id, invoiceId: $invoiceId) { status invoiceId } }',
          { id: milestone.id, invoiceId },
        )
      ).body;
    expect(codeAndField(await mark('INV-999999999'))).toEqual([['NOT_FOUND', 'invoiceId']]);
    const theirs = await mark(foreign.id);
    expect(codeAndField(theirs)).toEqual([['INVALID_STATE', 'invoiceId']]);
    expect(theirs.errors![0]!.message).toContain(`bills account ${foreign.account!.id}, not ${project.account.id}`);
    const after = await gql(stack.gatewayUrl, 'query($id: ID!) { milestone(id: $id) { status } }', {
      id: milestone.id,
    });
    expect(after.body.data!.milestone.status).toBe('COMPLETED');
    expect((await mark(own.id)).data).toEqual({ markMilestoneInvoiced: { status: 'INVOICED', invoiceId: own.id } });
  });
});
