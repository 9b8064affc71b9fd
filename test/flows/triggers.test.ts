import { todayUtc } from '../../lib/dates';
import { money, toMinor } from '../../lib/money';
import { generateAccounts, type DatasetChunk } from '../../seed/generate';
import type { RunRecord } from '../../subgraphs/orchestration/engine/ledger';
import { loadGovernance, type Governance } from '../../subgraphs/orchestration/governance/governance';
import { convert, createWonOpportunity, waitForRun } from '../support/runs';
import { gql, startTestStack } from '../support/stack';

type Stack = Awaited<ReturnType<typeof startTestStack>>;
type FlowName = keyof Governance['triggers'];

const FLOW_NAMES: readonly FlowName[] = [
  'convertOpportunityToProject',
  'billApprovedTime',
  'billMilestone',
  'syncInvoiceStatus',
  'syncCustomer',
  'invoiceBilledWork',
  // applyContractAmendment is left out: the demo data holds no amendments (its trigger is tested in
  // apply-contract-amendment.test.ts).
  'flagOverdueInvoice',
];
const TIMESTAMP = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

/** The input field naming each flow's subject, and the event that starts the flow. */
const SUBJECT: Record<FlowName, { field: string; actor: string }> = {
  convertOpportunityToProject: { field: 'opportunityId', actor: 'event:opportunity.closed_won' },
  billApprovedTime: { field: 'projectId', actor: 'event:time.approved' },
  billMilestone: { field: 'milestoneId', actor: 'event:milestone.completed' },
  syncInvoiceStatus: { field: 'invoiceId', actor: 'event:invoice.changed' },
  syncCustomer: { field: 'accountId', actor: 'event:account.changed' },
  invoiceBilledWork: { field: 'projectId', actor: 'event:billing_period.due' },
  applyContractAmendment: { field: 'amendmentId', actor: 'event:contract_amendment.approved' },
  flagOverdueInvoice: { field: 'invoiceId', actor: 'event:invoice.overdue' },
};

/** What each trigger finds in freshly seeded demo data: the subjects its flow starts for, sorted. */
function seededWork(data: DatasetChunk): Record<FlowName, string[]> {
  const projects = new Map(data.psa.projects.map((p) => [p.id, p]));
  const ready = [...data.psa.timeEntries, ...data.psa.expenses].filter((w) => w.status === 'APPROVED' && w.billable);
  return {
    convertOpportunityToProject: data.crm.opportunities
      .filter((o) => o.stage === 'CLOSED_WON' && o.psaProjectId === null)
      .map((o) => o.id)
      .sort(),
    // Milestone-billed projects' work is not billed by rate card (governance `billedBy: MILESTONE`).
    billApprovedTime: [...new Set(ready.map((w) => w.projectId))]
      .filter((id) => !['FIXED_FEE', 'MILESTONE'].includes(projects.get(id)!.billingModel))
      .sort(),
    billMilestone: data.psa.milestones
      .filter(
        (m) => m.status === 'COMPLETED' && ['FIXED_FEE', 'MILESTONE'].includes(projects.get(m.projectId)!.billingModel),
      )
      .map((m) => m.id)
      .sort(),
    // Every seeded invoice was posted (and maybe paid) before the trigger first read the ERP's change feed.
    syncInvoiceStatus: data.erp.invoices.map((i) => i.id).sort(),
    // Every seeded account changed before the first read too; only those with an ERP customer have anything to sync.
    syncCustomer: data.erp.customers.map((c) => c.externalCrmId).sort(),
    // Every seeded billing line is invoiced, and no retainer has a fee in the ERP: no billing period is due
    // (test/flows/invoice-billed-work.test.ts covers this trigger).
    invoiceBilledWork: [],
    // The demo data holds no contract amendments.
    applyContractAmendment: [],
    // Posted, unpaid and past due today: the daily sweep marks them OVERDUE.
    flagOverdueInvoice: data.erp.invoices
      .filter((i) => i.status === 'POSTED' && i.balanceMinor > 0 && i.dueDate < todayUtc())
      .map((i) => i.id)
      .sort(),
  };
}

/** Governance with only the named triggers on. */
function triggersOn(...on: FlowName[]): Governance {
  const governance = loadGovernance();
  governance.triggers = Object.fromEntries(FLOW_NAMES.map((f) => [f, on.includes(f)]));
  return governance;
}

const allRuns = async (stack: Stack) => (await stack.stores.ledger.listRuns({ first: 1000, afterKey: null })).nodes;
/** Each run as [subject, triggeredBy], sorted, for the runs of `flow`. */
const subjects = (runs: readonly RunRecord[], flow: FlowName) =>
  runs
    .filter((r) => r.flow === flow)
    .map((r) => [r.input[SUBJECT[flow].field] as string, r.triggeredBy])
    .sort();
const expected = (ids: readonly string[], flow: FlowName) => ids.map((id) => [id, SUBJECT[flow].actor]).sort();
/** Waits until every run in the ledger has ended, and returns them all. */
async function settle(stack: Stack): Promise<RunRecord[]> {
  const runs = await allRuns(stack);
  return Promise.all(runs.map((r) => waitForRun(stack, r.id, ['SUCCEEDED', 'EXCEPTION', 'ABANDONED'])));
}
/** Runs not among `before`. */
const added = (runs: readonly RunRecord[], before: readonly RunRecord[]) =>
  runs.filter((r) => !before.some((b) => b.id === r.id));

describe('trigger poller', () => {
  let stack: Stack;
  afterEach(() => stack.stop());

  it('starts every flow for what the seeded systems hold, once, and after the runs settle a look starts nothing', async () => {
    const seeded = generateAccounts(1, 7);
    const work = seededWork(seeded);
    // The seeded invoices are paid or not yet due (the overdue sweep has its own test, overdue.test.ts); every seeded
    // billing line is invoiced (invoice-billed-work.test.ts covers that trigger).
    for (const flow of FLOW_NAMES)
      if (flow !== 'invoiceBilledWork' && flow !== 'flagOverdueInvoice') expect(work[flow].length).toBeGreaterThan(0);
    expect(work.invoiceBilledWork).toEqual([]);
    stack = await startTestStack({
      seedAccounts: 6,
      triggers: { intervalMs: 3_600_000 },
      workerOptions: { idlePollMs: 20 },
    });
    // The poller looked as it started; this look comes after that one.
    await stack.triggers!.pollOnce();
    const first = await allRuns(stack);
    for (const flow of [
      'convertOpportunityToProject',
      'billApprovedTime',
      'billMilestone',
      'syncCustomer',
      'flagOverdueInvoice',
    ] as const) {
      expect(subjects(first, flow)).toEqual(expected(work[flow], flow));
    }
    const settled = await settle(stack);
    expect(settled.map((r) => [r.flow, r.status])).toEqual(first.map((r) => [r.flow, 'SUCCEEDED']));

    // The milestone invoices those runs posted, and the invoices the sweep marked OVERDUE, are invoice changes: the next
    // look syncs their status, then all is quiet (the sweep looks once a day).
    await stack.triggers!.pollOnce();
    const runs = await settle(stack);
    expect(await stack.triggers!.pollOnce()).toBe(0);
    expect(runs.map((r) => r.status)).toEqual(runs.map(() => 'SUCCEEDED'));
    const postedByMilestones = runs
      .filter((r) => r.flow === 'billMilestone')
      .map((r) => (r.steps[2]!.output as { invoiceId: string }).invoiceId);
    expect(postedByMilestones).toHaveLength(work.billMilestone.length);
    expect(subjects(runs, 'syncInvoiceStatus')).toEqual(
      expected([...work.syncInvoiceStatus, ...postedByMilestones, ...work.flagOverdueInvoice], 'syncInvoiceStatus'),
    );
    expect(added(runs, first).filter((r) => r.flow !== 'syncInvoiceStatus')).toEqual([]);
    for (const flow of [
      'convertOpportunityToProject',
      'billApprovedTime',
      'billMilestone',
      'syncCustomer',
      'flagOverdueInvoice',
    ] as const) {
      expect(subjects(runs, flow)).toEqual(expected(work[flow], flow));
    }
    const [opportunity] = await stack.stores.crm.getOpportunities([work.convertOpportunityToProject[0]!]);
    expect(opportunity!.psaProjectId).toMatch(/^PRJ-/);
  });

  it('invoices a completed milestone exactly once across looks, and a milestone completed later on the next look', async () => {
    const seeded = generateAccounts(1, 7);
    const work = seededWork(seeded);
    stack = await startTestStack({
      seedAccounts: 6,
      governance: triggersOn('billMilestone'),
      triggers: { intervalMs: 3_600_000 },
      workerOptions: { idlePollMs: 20 },
    });
    await stack.triggers!.pollOnce();
    expect(subjects(await allRuns(stack), 'billMilestone')).toEqual(expected(work.billMilestone, 'billMilestone'));
    await settle(stack);
    expect(await stack.triggers!.pollOnce()).toBe(0);

    /** Each milestone as the PSA holds it, with the milestone invoices the ERP holds for its project. */
    const billed = async (ids: readonly string[]) => {
      const milestones = await stack.stores.psa.getMilestones(ids);
      const invoices = await stack.stores.erp.getInvoicesByProject(milestones.map((m) => m!.projectId));
      return milestones.map((m, i) => ({
        ...m,
        invoices: invoices[i]!.filter((inv) => inv.externalId === `milestone:${m!.id}`).map((inv) => inv.id),
      }));
    };
    const original = new Map(seeded.psa.milestones.map((m) => [m.id, m]));
    const now = await billed(work.billMilestone);
    expect(now).toEqual(
      work.billMilestone.map((id, i) => ({
        ...original.get(id),
        status: 'INVOICED',
        invoiceId: now[i]!.invoices[0],
        invoices: [expect.stringMatching(/^INV-/)],
      })),
    );

    // A milestone reached today is an event of its own: the next look invoices it, and only it.
    const next = seeded.psa.milestones.find(
      (m) => m.status === 'PLANNED' && work.billMilestone.some((id) => original.get(id)!.projectId === m.projectId),
    )!;
    const { body } = await gql(stack.gatewayUrl, 'mutation($id: ID!) { completeMilestone(id: $id) { id status } }', {
      id: next.id,
    });
    expect(body).toEqual({ data: { completeMilestone: { id: next.id, status: 'COMPLETED' } } });
    const before = await allRuns(stack);
    expect(await stack.triggers!.pollOnce()).toBe(1);
    const [run] = added(await allRuns(stack), before);
    expect([run!.flow, run!.input, run!.triggeredBy]).toEqual([
      'billMilestone',
      { milestoneId: next.id },
      'event:milestone.completed',
    ]);
    expect((await waitForRun(stack, run!.id, ['SUCCEEDED', 'EXCEPTION'])).status).toBe('SUCCEEDED');
    expect(await stack.triggers!.pollOnce()).toBe(0);
    const [invoiced] = await billed([next.id]);
    expect(invoiced).toEqual({
      ...next,
      status: 'INVOICED',
      completedOn: todayUtc(),
      invoiceId: invoiced!.invoices[0],
      invoices: [expect.stringMatching(/^INV-/)],
    });
  });

  it('brings a payment applied in the ERP to the CRM account finance and the PSA project financials on the next look', async () => {
    const seeded = generateAccounts(1, 13);
    stack = await startTestStack({
      seedAccounts: 12,
      governance: triggersOn('syncInvoiceStatus'),
      triggers: { intervalMs: 3_600_000 },
      workerOptions: { idlePollMs: 20 },
    });
    await stack.triggers!.pollOnce();
    expect(subjects(await allRuns(stack), 'syncInvoiceStatus')).toEqual(
      expected(seededWork(seeded).syncInvoiceStatus, 'syncInvoiceStatus'),
    );
    expect((await settle(stack)).every((r) => r.status === 'SUCCEEDED')).toBe(true);
    expect(await stack.triggers!.pollOnce()).toBe(0);

    const open = seeded.erp.invoices.find((i) => i.status === 'POSTED' && i.psaProjectId !== null)!;
    const accountId = seeded.erp.customers.find((c) => c.id === open.customerId)!.externalCrmId;
    /** The figures the ERP's invoices add up to for the account and the project, as the CRM and PSA should show them. */
    const fromErp = async () => {
      const [[ofAccount], [ofProject]] = [
        await stack.stores.erp.getInvoicesByCrmAccount([accountId]),
        await stack.stores.erp.getInvoicesByProject([open.psaProjectId!]),
      ];
      const billed = (invoices: typeof ofAccount) =>
        invoices!.filter((i) => i.status === 'POSTED' || i.status === 'PAID');
      const sum = (invoices: typeof ofAccount, minor: (i: NonNullable<typeof ofAccount>[number]) => number) =>
        money(
          invoices!.reduce((s, i) => s + minor(i), 0),
          open.currency,
        );
      const posted = (invoices: typeof ofAccount) => invoices!.filter((i) => i.status === 'POSTED');
      return {
        account: {
          finance: {
            invoicedToDate: sum(billed(ofAccount), (i) => i.totalMinor),
            outstanding: sum(posted(ofAccount), (i) => i.balanceMinor),
            overdue: sum(
              posted(ofAccount).filter((i) => i.balanceMinor > 0 && i.dueDate < todayUtc()),
              (i) => i.balanceMinor,
            ),
            asOf: TIMESTAMP,
          },
        },
        project: {
          financials: {
            billed: sum(billed(ofProject), (i) => i.totalMinor),
            collected: sum(billed(ofProject), (i) => i.totalMinor - i.balanceMinor),
            asOf: TIMESTAMP,
          },
        },
      };
    };
    const figures = async () =>
      (
        await gql(
          stack.gatewayUrl,
          `query($account: ID!, $project: ID!) {
            account(id: $account) { finance { invoicedToDate { amount currency } outstanding { amount currency } overdue { amount currency } asOf } }
            project(id: $project) { financials { billed { amount currency } collected { amount currency } asOf } }
          }`,
          { account: accountId, project: open.psaProjectId },
        )
      ).body;
    const before = await fromErp();
    expect(await figures()).toEqual({ data: before });

    const paid = await gql(
      stack.gatewayUrl,
      'mutation($input: ApplyPaymentInput!) { applyPayment(input: $input) { payment { invoice { id status balance { amount } } } created } }',
      {
        input: {
          externalId: `remit-${open.id}`,
          invoiceId: open.id,
          amount: money(open.balanceMinor, open.currency),
          receivedOn: todayUtc(),
        },
      },
    );
    expect(paid.body).toEqual({
      data: {
        applyPayment: {
          payment: { invoice: { id: open.id, status: 'PAID', balance: { amount: money(0, open.currency).amount } } },
          created: true,
        },
      },
    });
    // Nothing changes in the CRM or PSA until a look sees the payment.
    expect(await figures()).toEqual({ data: before });

    const runsBefore = await allRuns(stack);
    expect(await stack.triggers!.pollOnce()).toBe(1);
    const [run] = added(await allRuns(stack), runsBefore);
    expect([run!.flow, run!.input, run!.triggeredBy]).toEqual([
      'syncInvoiceStatus',
      { invoiceId: open.id },
      'event:invoice.changed',
    ]);
    expect((await waitForRun(stack, run!.id, ['SUCCEEDED', 'EXCEPTION'])).status).toBe('SUCCEEDED');
    const after = await fromErp();
    expect(await figures()).toEqual({ data: after });
    const moved = (m: { amount: string }, by: number) =>
      money(toMinor(m.amount, open.currency) + BigInt(by), open.currency);
    expect([after.account.finance.outstanding, after.project.financials.collected]).toEqual([
      moved(before.account.finance.outstanding, -open.balanceMinor),
      moved(before.project.financials.collected, open.balanceMinor),
    ]);
    expect(await stack.triggers!.pollOnce()).toBe(0);
  });

  it('brings a CRM account rename to its ERP customer on the next look, and starts nothing for an account without a customer', async () => {
    const seeded = generateAccounts(1, 7);
    stack = await startTestStack({
      seedAccounts: 6,
      governance: triggersOn('syncCustomer'),
      triggers: { intervalMs: 3_600_000 },
      workerOptions: { idlePollMs: 20 },
    });
    await stack.triggers!.pollOnce();
    expect(subjects(await allRuns(stack), 'syncCustomer')).toEqual(
      expected(seededWork(seeded).syncCustomer, 'syncCustomer'),
    );
    expect((await settle(stack)).every((r) => r.status === 'SUCCEEDED')).toBe(true);

    // A deal converted by hand: a new account (a change the next look sees) and its ERP customer under the same name.
    const { accountId, opportunityId } = await createWonOpportunity(stack.gatewayUrl);
    await waitForRun(stack, (await convert(stack.gatewayUrl, opportunityId)).data!.convertOpportunityToProject.id, [
      'SUCCEEDED',
    ]);
    const upsert = async (externalId: string, name: string) =>
      (
        await gql(
          stack.gatewayUrl,
          'mutation($input: UpsertAccountInput!) { upsertAccount(input: $input) { account { id name } } }',
          { input: { externalId, name, industry: 'Retail', billingCountry: 'GB' } },
        )
      ).body.data!.upsertAccount.account as { id: string; name: string };
    const bare = await upsert(`no-customer-${accountId}`, 'Prospect Only Ltd');
    let before = await allRuns(stack);
    expect(await stack.triggers!.pollOnce()).toBe(1);
    expect(added(await allRuns(stack), before).map((r) => [r.flow, r.input, r.triggeredBy])).toEqual([
      ['syncCustomer', { accountId }, 'event:account.changed'],
    ]);
    await settle(stack);

    const [account] = await stack.stores.crm.getAccounts([accountId]);
    const [customer] = await stack.stores.erp.getCustomersByCrmAccount([accountId]);
    expect(customer!.name).toBe(account!.name);
    const renamed = `${account!.name} Group`;
    expect(await upsert(account!.externalId!, renamed)).toEqual({ id: accountId, name: renamed });
    await upsert(`no-customer-${accountId}`, 'Prospect Only Group Ltd');
    before = await allRuns(stack);
    expect(await stack.triggers!.pollOnce()).toBe(1);
    const [run] = added(await allRuns(stack), before);
    expect([run!.flow, run!.input, run!.triggeredBy]).toEqual(['syncCustomer', { accountId }, 'event:account.changed']);
    const done = await waitForRun(stack, run!.id, ['SUCCEEDED', 'EXCEPTION']);
    expect(done.steps.map((s) => [s.name, s.status, s.output])).toEqual([
      // Only the name changed of the customer master fields (customer-master.test.ts has the others).
      [
        'readCrmAccount',
        'SUCCEEDED',
        expect.objectContaining({ accountId, values: expect.objectContaining({ name: renamed }) }),
      ],
      [
        'updateErpCustomer',
        'SUCCEEDED',
        {
          accountId,
          customerId: customer!.id,
          synced: expect.objectContaining({ name: renamed }),
          updated: { name: { from: account!.name, to: renamed, lastSynced: account!.name } },
        },
      ],
    ]);
    expect(await stack.stores.erp.getCustomersByCrmAccount([accountId, bare.id])).toEqual([
      { ...customer, name: renamed },
      null,
    ]);
    expect(await stack.triggers!.pollOnce()).toBe(0);
    expect((await allRuns(stack)).filter((r) => r.accountId === bare.id)).toEqual([]);
  });

  it('queues nothing for a trigger switched off in governance, and its own flow only for a trigger switched on', async () => {
    const work = seededWork(generateAccounts(1, 7));
    const governance = triggersOn();
    stack = await startTestStack({ seedAccounts: 6, governance, worker: false, triggers: { intervalMs: 3_600_000 } });
    expect(await stack.triggers!.pollOnce()).toBe(0);
    expect((await stack.stores.ledger.listRuns({ first: 0, afterKey: null })).totalCount).toBe(0);
    // Switched on one at a time (governance is read at every look); no run executes, so what each finds stays put.
    for (const flow of FLOW_NAMES) {
      const before = await allRuns(stack);
      governance.triggers[flow] = true;
      expect(await stack.triggers!.pollOnce()).toBe(work[flow].length);
      const now = added(await allRuns(stack), before);
      expect(now.map((r) => r.flow)).toEqual(now.map(() => flow));
      expect(subjects(now, flow)).toEqual(expected(work[flow], flow));
      governance.triggers[flow] = false;
    }
    const total =
      work.convertOpportunityToProject.length +
      work.billApprovedTime.length +
      work.billMilestone.length +
      work.syncInvoiceStatus.length +
      work.syncCustomer.length;
    expect(await stack.triggers!.pollOnce()).toBe(0);
    expect((await stack.stores.ledger.listRuns({ first: 0, afterKey: null })).totalCount).toBe(total);
  });
});
