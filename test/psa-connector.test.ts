import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../lib/logger';
import { money } from '../lib/money';
import { startSubgraph, type RunningSubgraph } from '../lib/subgraph';
import { generateAccounts } from '../seed/generate';
import { PROJECT_TEMPLATES, RATE_CARDS, RESOURCES } from '../seed/reference-data';
import { SqlitePsaConnector } from '../subgraphs/psa/connector/reference/sqlite-psa-connector';
import { createPsaSubgraph } from '../subgraphs/psa/index';
import { describePsaConnectorContract } from './contracts/psa-connector.contract';
import { signedGql } from './support/signed';
import { createTestClock } from './support/clock';

/** The secret the PSA subgraph under test shares with its (test) callers. */
const SECRET = 'psa-connector-test-secret';

/**
 * POSTs a GraphQL request over real HTTP, signed as the orchestration signs it; `locations` are dropped from errors,
 * as they only restate the document's layout.
 */
async function post(url: string, query: string, variables: Record<string, unknown> = {}): Promise<unknown> {
  const { body } = await signedGql<unknown>(url, SECRET, query, variables);
  for (const error of (body as { errors?: { locations?: unknown }[] }).errors ?? []) delete error.locations;
  return body;
}

describePsaConnectorContract('SqlitePsaConnector (file)', async (accounts) => {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-psa-'));
  const connector = new SqlitePsaConnector(join(dir, 'psa.db'));
  connector.seedReferenceData({ rateCards: RATE_CARDS, templates: PROJECT_TEMPLATES, resources: RESOURCES });
  connector.seed(generateAccounts(1, accounts + 1).psa);
  return {
    connector,
    close: () => {
      connector.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SqlitePsaConnector', () => {
  it('is empty until reference data is seeded', () => {
    const connector = new SqlitePsaConnector(':memory:');
    expect(connector.isEmpty()).toBe(true);
    connector.seedReferenceData({ rateCards: RATE_CARDS, templates: PROJECT_TEMPLATES, resources: RESOURCES });
    expect(connector.isEmpty()).toBe(false);
    connector.close();
  });

  it('throttles the configured share of calls with a retry-after, then behaves when switched off', async () => {
    const connector = new SqlitePsaConnector(':memory:', { throttleRate: 0.5, retryAfterMs: 250, seed: 7 });
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, () =>
        connector.getProjects(['PRJ-0000011']).then(
          () => 'ok',
          (e: { code: string; details: { retryAfterMs: number; system: string } }) =>
            `${e.code}:${e.details.system}:${e.details.retryAfterMs}`,
        ),
      ),
    );
    const throttled = outcomes.filter((o) => o === 'RATE_LIMITED:psa:250').length;
    expect(throttled + outcomes.filter((o) => o === 'ok').length).toBe(200);
    expect(throttled).toBeGreaterThan(70);
    expect(throttled).toBeLessThan(130);
    connector.faults.set({});
    await expect(connector.getProjects(['PRJ-0000011'])).resolves.toEqual([null]);
    connector.close();
  });

  it('refuses every call, commands included, during a maintenance window with the time left', async () => {
    const clock = createTestClock();
    const connector = new SqlitePsaConnector(':memory:');
    connector.faults.setClock(clock.now);
    connector.faults.set({ maintenanceUntil: clock.now() + 60_000 });
    for (const call of [
      () => connector.listProjects({ first: 1, afterKey: null }),
      () => connector.approveTimeEntries(['TE-0000011001']),
    ]) {
      const error = await call().then(
        () => null,
        (e: unknown) => e as { code: string; details: { retryAfterMs: number; system: string } },
      );
      expect(error).toMatchObject({ code: 'SYSTEM_MAINTENANCE', details: { system: 'psa' } });
      expect(error!.details.retryAfterMs).toBe(60_000);
    }
    clock.advanceBy(60_000);
    await expect(connector.listProjects({ first: 1, afterKey: null })).resolves.toMatchObject({ totalCount: 0 });
    connector.close();
  });
});

describe('PSA subgraph: billable work, milestones, project financials and project deletion over GraphQL', () => {
  const data = generateAccounts(1, 13).psa;
  let psa: SqlitePsaConnector;
  let subgraph: RunningSubgraph;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meridian-psa-subgraph-'));
    psa = new SqlitePsaConnector(join(dir, 'psa.db'));
    psa.seedReferenceData({ rateCards: RATE_CARDS, templates: PROJECT_TEMPLATES, resources: RESOURCES });
    psa.seed(data);
    subgraph = await startSubgraph(createPsaSubgraph({ psa, onClose: () => psa.close() }), {
      port: 0,
      logger: silentLogger(),
      signature: { secret: SECRET },
    });
  });
  afterAll(async () => {
    await subgraph.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const BILLABLE_WORK = `query($projectId: ID!, $first: Int, $until: String) {
    billableWork(projectId: $projectId, first: $first, until: $until) {
      project { id code }
      timeEntries { timeEntry { id date role hours status } rate { amount currency } amount { amount currency } }
      expenses { id date amount { amount currency } }
      hasMore
    }
  }`;

  it('returns billable work with each time entry priced as Money, and a null rate and amount where the rate card lacks the role', async () => {
    const [priced, unpriced] = await psa.submitTimeEntries('gql-bill-1', [
      {
        projectId: 'PRJ-0000101',
        resourceId: 'RES-000003',
        role: null,
        date: '2026-10-02',
        hoursHundredths: 750,
        billable: true,
        notes: null,
      },
      {
        projectId: 'PRJ-0000101',
        resourceId: 'RES-000003',
        role: 'Data Scientist',
        date: '2026-10-03',
        hoursHundredths: 200,
        billable: true,
        notes: null,
      },
    ]);
    await psa.approveTimeEntries([priced!.id, unpriced!.id]);
    const expenses = data.expenses.filter(
      (e) => e.projectId === 'PRJ-0000101' && e.status === 'APPROVED' && e.billable,
    );
    expect(expenses).toHaveLength(2);
    const expense = (i: number) => ({
      id: expenses[i]!.id,
      date: expenses[i]!.date,
      amount: money(expenses[i]!.amountMinor, 'GBP'),
    });
    expect(await post(subgraph.url, BILLABLE_WORK, { projectId: 'PRJ-0000101' })).toEqual({
      data: {
        billableWork: {
          project: { id: 'PRJ-0000101', code: 'CLD-0000101' },
          timeEntries: [
            {
              timeEntry: {
                id: priced!.id,
                date: '2026-10-02',
                role: 'Senior Consultant',
                hours: '7.50',
                status: 'APPROVED',
              },
              rate: { amount: '140.00', currency: 'GBP' },
              amount: { amount: '1050.00', currency: 'GBP' },
            },
            {
              timeEntry: {
                id: unpriced!.id,
                date: '2026-10-03',
                role: 'Data Scientist',
                hours: '2.00',
                status: 'APPROVED',
              },
              rate: null,
              amount: null,
            },
          ],
          expenses: [expense(0), expense(1)],
          hasMore: false,
        },
      },
    });
    expect(
      await post(subgraph.url, BILLABLE_WORK, { projectId: 'PRJ-0000101', first: 1, until: '2026-10-02' }),
    ).toEqual({
      data: {
        billableWork: {
          project: { id: 'PRJ-0000101', code: 'CLD-0000101' },
          timeEntries: [
            {
              timeEntry: {
                id: priced!.id,
                date: '2026-10-02',
                role: 'Senior Consultant',
                hours: '7.50',
                status: 'APPROVED',
              },
              rate: { amount: '140.00', currency: 'GBP' },
              amount: { amount: '1050.00', currency: 'GBP' },
            },
          ],
          expenses: [expense(0)],
          hasMore: true,
        },
      },
    });
  });

  it('refuses `first` outside 0–1000 and a malformed `until` with BAD_USER_INPUT, and an unknown project with NOT_FOUND', async () => {
    const refused = (message: string, extensions: object) => ({
      data: null,
      errors: [{ message, path: ['billableWork'], extensions }],
    });
    expect(await post(subgraph.url, BILLABLE_WORK, { projectId: 'PRJ-0000101', first: 1001 })).toEqual(
      refused('first must be between 0 and 1000; got 1001', { code: 'BAD_USER_INPUT', field: 'first', value: '1001' }),
    );
    expect(await post(subgraph.url, BILLABLE_WORK, { projectId: 'PRJ-0000101', first: -1 })).toEqual(
      refused('first must be between 0 and 1000; got -1', { code: 'BAD_USER_INPUT', field: 'first', value: '-1' }),
    );
    expect(await post(subgraph.url, BILLABLE_WORK, { projectId: 'PRJ-0000101', until: '2026-13-01' })).toEqual(
      refused("until must be a date written YYYY-MM-DD; got '2026-13-01'", {
        code: 'BAD_USER_INPUT',
        field: 'until',
        value: '2026-13-01',
      }),
    );
    expect(await post(subgraph.url, BILLABLE_WORK, { projectId: 'PRJ-9999999' })).toEqual(
      refused("PSA has no project 'PRJ-9999999' to bill", {
        code: 'NOT_FOUND',
        system: 'psa',
        field: 'projectId',
        value: 'PRJ-9999999',
      }),
    );
  });

  it('lists the projects with billable work a page at a time, with cursors bound to that list', async () => {
    const page =
      'query($after: String) { projectsWithBillableWork(first: 1, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id } } }';
    const first = (await post(subgraph.url, page)) as {
      data: { projectsWithBillableWork: { pageInfo: { endCursor: string } } };
    };
    const endCursor = first.data.projectsWithBillableWork.pageInfo.endCursor;
    expect(first).toEqual({
      data: {
        projectsWithBillableWork: {
          totalCount: 2,
          pageInfo: { hasNextPage: true, endCursor },
          nodes: [{ id: 'PRJ-0000023' }],
        },
      },
    });
    expect(await post(subgraph.url, page, { after: endCursor })).toEqual({
      data: {
        projectsWithBillableWork: {
          totalCount: 2,
          pageInfo: { hasNextPage: false, endCursor: expect.any(String) },
          nodes: [{ id: 'PRJ-0000101' }],
        },
      },
    });
    const foreign = (await post(subgraph.url, '{ projects(first: 1) { pageInfo { endCursor } } }')) as {
      data: { projects: { pageInfo: { endCursor: string } } };
    };
    expect(await post(subgraph.url, page, { after: foreign.data.projects.pageInfo.endCursor })).toMatchObject({
      data: null,
      errors: [{ extensions: { code: 'INVALID_CURSOR' } }],
    });
  });

  it('lists the milestones ready to invoice a page at a time, with their projects, and refuses a foreign cursor', async () => {
    const projects = new Map(data.projects.map((p) => [p.id, p]));
    const ready = data.milestones
      .filter(
        (m) => m.status === 'COMPLETED' && ['FIXED_FEE', 'MILESTONE'].includes(projects.get(m.projectId)!.billingModel),
      )
      .sort((a, b) => a.id.localeCompare(b.id));
    expect(ready.length).toBeGreaterThan(1);
    const page = `query($after: String) { milestones(first: 1, after: $after, filter: { status: COMPLETED, billingModels: [FIXED_FEE, MILESTONE] }) {
      totalCount pageInfo { hasNextPage endCursor } nodes { id status amount { amount currency } project { id billingModel } } } }`;
    const node = (i: number) => ({
      id: ready[i]!.id,
      status: 'COMPLETED',
      amount: money(ready[i]!.amountMinor, ready[i]!.currency),
      project: { id: ready[i]!.projectId, billingModel: projects.get(ready[i]!.projectId)!.billingModel },
    });
    const first = (await post(subgraph.url, page)) as { data: { milestones: { pageInfo: { endCursor: string } } } };
    const endCursor = first.data.milestones.pageInfo.endCursor;
    expect(first).toEqual({
      data: { milestones: { totalCount: ready.length, pageInfo: { hasNextPage: true, endCursor }, nodes: [node(0)] } },
    });
    expect(await post(subgraph.url, page, { after: endCursor })).toEqual({
      data: {
        milestones: {
          totalCount: ready.length,
          pageInfo: { hasNextPage: ready.length > 2, endCursor: expect.any(String) },
          nodes: [node(1)],
        },
      },
    });
    const foreign = (await post(subgraph.url, '{ projects(first: 1) { pageInfo { endCursor } } }')) as {
      data: { projects: { pageInfo: { endCursor: string } } };
    };
    const cursor = foreign.data.projects.pageInfo.endCursor;
    expect(await post(subgraph.url, page, { after: cursor })).toEqual({
      data: null,
      errors: [
        {
          message: `The cursor '${cursor}' does not belong to milestones; start again without 'after'.`,
          path: ['milestones'],
          extensions: { code: 'INVALID_CURSOR', field: 'after', value: cursor },
        },
      ],
    });
  });

  it('reads a milestone with its project, marks it invoiced once, and refuses a planned one or another invoice with INVALID_STATE', async () => {
    const completed = data.milestones.find((m) => m.id === 'MS-00000112')!;
    const read =
      'query($id: ID!) { milestone(id: $id) { id name status amount { amount currency } invoiceId invoice { id } project { id code billingModel account { id } } } }';
    const milestone = {
      id: completed.id,
      name: completed.name,
      amount: money(completed.amountMinor, completed.currency),
      project: { id: 'PRJ-0000011', code: 'ERP-0000011', billingModel: 'MILESTONE', account: { id: 'ACC-000001' } },
    };
    expect(await post(subgraph.url, read, { id: completed.id })).toEqual({
      data: { milestone: { ...milestone, status: 'COMPLETED', invoiceId: null, invoice: null } },
    });
    expect(await post(subgraph.url, read, { id: 'MS-99999999' })).toEqual({ data: { milestone: null } });
    const mark =
      'mutation($id: ID!, $invoiceId: ID!) { markMilestoneInvoiced(id: $id, invoiceId: $invoiceId) { id status invoiceId } }';
    const marked = {
      data: { markMilestoneInvoiced: { id: completed.id, status: 'INVOICED', invoiceId: 'INV-000009001' } },
    };
    expect(await post(subgraph.url, mark, { id: completed.id, invoiceId: 'INV-000009001' })).toEqual(marked);
    expect(await post(subgraph.url, mark, { id: completed.id, invoiceId: 'INV-000009001' })).toEqual(marked);
    expect(await post(subgraph.url, read, { id: completed.id })).toEqual({
      data: {
        milestone: { ...milestone, status: 'INVOICED', invoiceId: 'INV-000009001', invoice: { id: 'INV-000009001' } },
      },
    });
    const refused = (message: string, value: string) => ({
      data: null,
      errors: [
        { message, path: ['markMilestoneInvoiced'], extensions: { code: 'INVALID_STATE', system: 'psa', value } },
      ],
    });
    expect(await post(subgraph.url, mark, { id: completed.id, invoiceId: 'INV-000009002' })).toEqual(
      refused(
        `Milestone ${completed.id} (${completed.name}) of project PRJ-0000011 is already invoiced on INV-000009001; it cannot be invoiced again on INV-000009002`,
        completed.id,
      ),
    );
    const planned = data.milestones.find((m) => m.status === 'PLANNED')!;
    expect(await post(subgraph.url, mark, { id: planned.id, invoiceId: 'INV-000009002' })).toEqual(
      refused(
        `Milestone ${planned.id} (${planned.name}) of project ${planned.projectId} is not completed yet; only a completed milestone can be invoiced`,
        planned.id,
      ),
    );
  });

  it("records a project's billed and collected figures once, reports a repeat as unchanged, and refuses two currencies", async () => {
    const record =
      'mutation($input: RecordProjectFinancialsInput!) { recordProjectFinancials(input: $input) { project { id financials { billed { amount currency } collected { amount currency } asOf updatedAt } } changed } }';
    const input = {
      projectId: 'PRJ-0000023',
      billed: { amount: '2400', currency: 'GBP' },
      collected: { amount: '1200', currency: 'GBP' },
      asOf: '2026-11-02T10:00:00.250Z',
    };
    const first = (await post(subgraph.url, record, { input })) as {
      data: { recordProjectFinancials: { project: { financials: { updatedAt: string } } } };
    };
    const financials = {
      billed: { amount: '2400.00', currency: 'GBP' },
      collected: { amount: '1200.00', currency: 'GBP' },
      asOf: '2026-11-02T10:00:00.250Z',
      updatedAt: first.data.recordProjectFinancials.project.financials.updatedAt,
    };
    expect(first).toEqual({
      data: { recordProjectFinancials: { project: { id: 'PRJ-0000023', financials }, changed: true } },
    });
    expect(await post(subgraph.url, record, { input })).toEqual({
      data: { recordProjectFinancials: { project: { id: 'PRJ-0000023', financials }, changed: false } },
    });
    expect(
      await post(subgraph.url, record, { input: { ...input, collected: { amount: '1', currency: 'USD' } } }),
    ).toEqual({
      data: null,
      errors: [
        {
          message: 'collected must be in the currency of billed (GBP); got USD',
          path: ['recordProjectFinancials'],
          extensions: { code: 'BAD_USER_INPUT', field: 'collected.currency', value: 'USD' },
        },
      ],
    });
  });

  it('deletes a project once, then answers deleted: false, and refuses a project with booked time with INVALID_STATE', async () => {
    const { record } = await psa.createProjectFromTemplate({
      externalId: 'gql-run:create-project',
      templateId: 'TPL-000002',
      accountId: 'ACC-000003',
      opportunityId: null,
      name: 'Summit Retail — Data Platform',
      code: 'DAT-9000001',
      billingModel: 'MILESTONE',
      budgetMinor: 100_000_00,
      currency: 'USD',
      startDate: '2026-11-02',
    });
    const remove = 'mutation($id: ID!) { deleteProject(id: $id) { id deleted } }';
    expect(await post(subgraph.url, remove, { id: record.id })).toEqual({
      data: { deleteProject: { id: record.id, deleted: true } },
    });
    expect(await post(subgraph.url, remove, { id: record.id })).toEqual({
      data: { deleteProject: { id: record.id, deleted: false } },
    });
    const seeded = data.projects.find((p) => p.id === 'PRJ-0000024')!;
    const entries = data.timeEntries.filter((e) => e.projectId === seeded.id).length;
    const expenses = data.expenses.filter((e) => e.projectId === seeded.id).length;
    expect(await post(subgraph.url, remove, { id: seeded.id })).toEqual({
      data: null,
      errors: [
        {
          message: `Project PRJ-0000024 (CLD-0000024, ${seeded.name}) has ${entries} time entries and ${expenses} expenses; only a project with no booked time or expenses can be deleted`,
          path: ['deleteProject'],
          extensions: { code: 'INVALID_STATE', system: 'psa', value: 'PRJ-0000024' },
        },
      ],
    });
  });
});
