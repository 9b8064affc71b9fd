import { describeProjectAmendmentCases } from './project-amendments.cases';
import { MeridianError } from '../../lib/errors';
import type { Page, PageRequest } from '../../lib/pagination';
import { generateAccounts } from '../../seed/generate';
import { PROJECT_TEMPLATES, RATE_CARDS, RESOURCES } from '../../seed/reference-data';
import type {
  CreateProjectFromTemplate,
  ExpenseRecord,
  NewTimeEntry,
  PricedTimeEntryRecord,
  PsaConnector,
  TimeEntryRecord,
} from '../../subgraphs/psa/connector/psa-connector';

/** An adapter under test, holding the reference data and the first `accounts` demo accounts, and how to dispose of it. */
export type PsaAdapterFactory = (
  accounts: number,
) => Promise<{ connector: PsaConnector; close(): Promise<void> | void }>;

/** The rejection of `promise`, failing the test when it resolves. */
async function failure(promise: Promise<unknown>): Promise<MeridianError> {
  const outcome = await promise.then(
    () => new Error('expected the call to fail'),
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(MeridianError);
  return outcome as MeridianError;
}

/** Code and details of a MeridianError, for whole-value assertions. */
function coded(error: MeridianError): { code: string; details: object } {
  return { code: error.code, details: error.details };
}

/** Code, message and details of a MeridianError, for whole-value assertions where the message matters. */
function described(error: MeridianError): { code: string; message: string; details: object } {
  return { code: error.code, message: error.message, details: error.details };
}

/** Oldest date first, then ID: the order billable work comes in. */
function byDateThenId(a: { date: string; id: string }, b: { date: string; id: string }): number {
  return a.date.localeCompare(b.date) || a.id.localeCompare(b.id);
}

/** Every row of a paged list, following `afterKey` from page to page. */
async function allPages<T extends { id: string }>(
  list: (page: PageRequest) => Promise<Page<T>>,
  first: number,
): Promise<{ ids: string[]; totals: number[] }> {
  const ids: string[] = [];
  const totals: number[] = [];
  let afterKey: string | null = null;
  for (;;) {
    const page: Page<T> = await list({ first, afterKey });
    expect(page.nodes.length).toBeLessThanOrEqual(first);
    totals.push(page.totalCount);
    ids.push(...page.nodes.map((n) => n.id));
    if (!page.hasNextPage) return { ids, totals };
    afterKey = page.nodes[page.nodes.length - 1]!.id;
  }
}

/** The behaviour every {@link PsaConnector} adapter must show. */
export function describePsaConnectorContract(adapter: string, make: PsaAdapterFactory): void {
  describe(`PsaConnector contract: ${adapter}`, () => {
    const data = generateAccounts(1, 13).psa;
    const byId = <T extends { id: string }>(rows: readonly T[], id: string): T => rows.find((r) => r.id === id)!;
    let connector: PsaConnector;
    let close: () => Promise<void> | void;
    beforeEach(async () => {
      ({ connector, close } = await make(12));
    });
    afterEach(async () => {
      await close();
    });

    /** The time entries as the connector holds them now, by ID. */
    const timeEntriesNow = async (projectId: string, ids: string[]): Promise<TimeEntryRecord[]> => {
      const { nodes } = await connector.listTimeEntries(projectId, { first: 1000, afterKey: null });
      return ids.map((id) => byId(nodes, id));
    };

    it('returns batch reads in the order of the keys, with null for unknown IDs', async () => {
      expect(await connector.getProjects(['PRJ-0000082', 'PRJ-9999999', 'PRJ-0000011'])).toEqual([
        byId(data.projects, 'PRJ-0000082'),
        null,
        byId(data.projects, 'PRJ-0000011'),
      ]);
      expect(await connector.getRateCards(['RC-000003', 'RC-999999', 'RC-000001'])).toEqual([
        RATE_CARDS[2],
        null,
        RATE_CARDS[0],
      ]);
      expect(await connector.getTemplates(['TPL-000004', 'TPL-999999', 'TPL-000001'])).toEqual([
        PROJECT_TEMPLATES[3],
        null,
        PROJECT_TEMPLATES[0],
      ]);
      expect(await connector.getResources(['RES-000030', 'RES-999999', 'RES-000001'])).toEqual([
        RESOURCES[29],
        null,
        RESOURCES[0],
      ]);
      expect(await connector.getProjects([])).toEqual([]);
    });

    it('lists every project template in ID order', async () => {
      expect(await connector.listTemplates()).toEqual(PROJECT_TEMPLATES);
    });

    it('groups projects per account and milestones per project, one array per key, empty for unknown keys', async () => {
      const [eight, none, one] = await connector.getProjectsByAccount(['ACC-000008', 'ACC-999999', 'ACC-000001']);
      expect(eight).toEqual(data.projects.filter((p) => p.accountId === 'ACC-000008'));
      expect(none).toEqual([]);
      expect(one).toEqual(data.projects.filter((p) => p.accountId === 'ACC-000001'));
      const [milestones, empty, noneAtAll] = await connector.getMilestonesByProject([
        'PRJ-0000024',
        'PRJ-0000023',
        'PRJ-9999999',
      ]);
      expect(milestones).toEqual(
        data.milestones.filter((m) => m.projectId === 'PRJ-0000024').sort((a, b) => a.sequence - b.sequence),
      );
      expect(milestones!.map((m) => m.sequence)).toEqual([1, 2, 3]);
      expect([empty, noneAtAll]).toEqual([[], []]);
    });

    it('finds the project converted from each opportunity, null for an opportunity without one', async () => {
      expect(await connector.getProjectsByOpportunity(['OPP-0000082', 'OPP-0000012', 'OPP-0000011'])).toEqual([
        byId(data.projects, 'PRJ-0000082'),
        null,
        byId(data.projects, 'PRJ-0000011'),
      ]);
    });

    it('pages through every project exactly once, in ID order, with a stable total', async () => {
      const { ids, totals } = await allPages((page) => connector.listProjects(page), 4);
      expect(ids).toEqual(data.projects.map((p) => p.id));
      expect(new Set(totals)).toEqual(new Set([data.projects.length]));
    });

    it('filters listed projects and counts only the matches', async () => {
      const active = await connector.listProjects({ first: 1000, afterKey: null }, { status: 'ACTIVE' });
      expect(active).toEqual({
        nodes: data.projects.filter((p) => p.status === 'ACTIVE'),
        hasNextPage: false,
        totalCount: data.projects.filter((p) => p.status === 'ACTIVE').length,
      });
      const milestoneBilled = await connector.listProjects(
        { first: 1, afterKey: null },
        { accountId: 'ACC-000008', billingModel: 'MILESTONE' },
      );
      expect(milestoneBilled).toEqual({
        nodes: [byId(data.projects, 'PRJ-0000082')],
        hasNextPage: false,
        totalCount: 1,
      });
      expect(await connector.listProjects({ first: 0, afterKey: null }, { accountId: 'ACC-000002' })).toEqual({
        nodes: [],
        hasNextPage: true,
        totalCount: 2,
      });
    });

    it("scopes listed projects and milestones to the given accounts (a portal user's), counting only those", async () => {
      const accounts = ['ACC-000001', 'ACC-000002'];
      const projects = data.projects.filter((p) => accounts.includes(p.accountId));
      expect(projects.length).toBeGreaterThan(1);
      expect(await connector.listProjects({ first: 1000, afterKey: null }, { accountIds: accounts })).toEqual({
        nodes: projects,
        hasNextPage: false,
        totalCount: projects.length,
      });
      expect(
        await connector.listProjects({ first: 1, afterKey: null }, { accountIds: accounts, billingModel: 'FIXED_FEE' }),
      ).toEqual({
        nodes: [byId(data.projects, 'PRJ-0000024')],
        hasNextPage: false,
        totalCount: 1,
      });
      // Another account named in the filter, or no account at all, matches nothing.
      expect(
        await connector.listProjects(
          { first: 1000, afterKey: null },
          { accountIds: ['ACC-000001'], accountId: 'ACC-000008' },
        ),
      ).toEqual({ nodes: [], hasNextPage: false, totalCount: 0 });
      expect(await connector.listProjects({ first: 1000, afterKey: null }, { accountIds: [] })).toEqual({
        nodes: [],
        hasNextPage: false,
        totalCount: 0,
      });
      const projectIds = new Set(projects.map((p) => p.id));
      const milestones = data.milestones
        .filter((m) => projectIds.has(m.projectId))
        .sort((a, b) => a.id.localeCompare(b.id));
      expect(milestones.length).toBeGreaterThan(1);
      const { ids, totals } = await allPages((page) => connector.listMilestones(page, { accountIds: accounts }), 2);
      expect(ids).toEqual(milestones.map((m) => m.id));
      expect(new Set(totals)).toEqual(new Set([milestones.length]));
      const completed = milestones.filter((m) => m.status === 'COMPLETED');
      expect(
        await connector.listMilestones(
          { first: 1000, afterKey: null },
          { accountIds: accounts, status: 'COMPLETED', billingModels: ['MILESTONE', 'FIXED_FEE'] },
        ),
      ).toEqual({
        nodes: completed,
        hasNextPage: false,
        totalCount: completed.length,
      });
      expect(await connector.listMilestones({ first: 1000, afterKey: null }, { accountIds: [] })).toEqual({
        nodes: [],
        hasNextPage: false,
        totalCount: 0,
      });
    });

    it("pages through a project's time entries and expenses exactly once, in ID order", async () => {
      const entries = await allPages((page) => connector.listTimeEntries('PRJ-0000024', page), 25);
      const seeded = data.timeEntries.filter((e) => e.projectId === 'PRJ-0000024');
      expect(entries.ids).toEqual(seeded.map((e) => e.id));
      expect(new Set(entries.totals)).toEqual(new Set([seeded.length]));
      const first = await connector.listTimeEntries('PRJ-0000024', { first: 2, afterKey: null });
      expect(first).toEqual({ nodes: seeded.slice(0, 2), hasNextPage: true, totalCount: seeded.length });
      const expenses = await connector.listExpenses('PRJ-0000011', { first: 1000, afterKey: null });
      const seededExpenses = data.expenses.filter((e) => e.projectId === 'PRJ-0000011');
      expect(expenses).toEqual({ nodes: seededExpenses, hasNextPage: false, totalCount: seededExpenses.length });
      expect(await connector.listTimeEntries('PRJ-9999999', { first: 10, afterKey: null })).toEqual({
        nodes: [],
        hasNextPage: false,
        totalCount: 0,
      });
    });

    it('filters time entries and expenses by status, billability and date range', async () => {
      const filter = { status: 'BILLED', billable: true, dateFrom: '2026-01-15', dateTo: '2026-02-15' } as const;
      const expected = data.timeEntries.filter(
        (e) =>
          e.projectId === 'PRJ-0000023' &&
          e.status === 'BILLED' &&
          e.billable &&
          e.date >= filter.dateFrom &&
          e.date <= filter.dateTo,
      );
      const page = await connector.listTimeEntries('PRJ-0000023', { first: 1000, afterKey: null }, filter);
      expect(page).toEqual({ nodes: expected, hasNextPage: false, totalCount: expected.length });
      expect(expected.length).toBeGreaterThan(0);
      expect(expected.length).toBeLessThan(
        data.timeEntries.filter((e) => e.projectId === 'PRJ-0000023' && e.status === 'BILLED').length,
      );
      const notBillable = await connector.listTimeEntries(
        'PRJ-0000011',
        { first: 0, afterKey: null },
        { billable: false },
      );
      expect(notBillable.totalCount).toBe(
        data.timeEntries.filter((e) => e.projectId === 'PRJ-0000011' && !e.billable).length,
      );
      const billableExpenses = await connector.listExpenses(
        'PRJ-0000023',
        { first: 1000, afterKey: null },
        { billable: true, status: 'APPROVED' },
      );
      const seeded = data.expenses.filter((e) => e.projectId === 'PRJ-0000023' && e.billable);
      expect(billableExpenses).toEqual({ nodes: seeded, hasNextPage: false, totalCount: seeded.length });
      expect(seeded.length).toBeGreaterThan(0);
    });

    describe('createProjectFromTemplate', () => {
      const input: CreateProjectFromTemplate = {
        externalId: 'run-1:create-project',
        templateId: 'TPL-000001',
        accountId: 'ACC-000003',
        opportunityId: 'OPP-0000031',
        name: 'Cobalt Foods Ltd — ERP Implementation',
        code: 'ERP-9000001',
        billingModel: 'FIXED_FEE',
        budgetMinor: 1_000_001,
        currency: 'GBP',
        startDate: '2026-11-02',
      };
      const created = {
        id: 'PRJ-0000102',
        code: 'ERP-9000001',
        name: 'Cobalt Foods Ltd — ERP Implementation',
        status: 'PLANNED',
        billingModel: 'FIXED_FEE',
        budgetMinor: 1_000_001,
        currency: 'GBP',
        startDate: '2026-11-02',
        endDate: '2027-05-01',
        templateId: 'TPL-000001',
        rateCardId: 'RC-000002',
        accountId: 'ACC-000003',
        opportunityId: 'OPP-0000031',
        externalId: 'run-1:create-project',
      };

      it("creates a planned project with the template's milestones, the last taking the rounding remainder", async () => {
        expect(await connector.createProjectFromTemplate(input)).toEqual({ record: created, created: true });
        const milestone = (n: number, name: string, dueDate: string, amountMinor: number) => ({
          id: `MS-0000082${3 + n}`,
          projectId: 'PRJ-0000102',
          name,
          sequence: n,
          dueDate,
          amountMinor,
          currency: 'GBP',
          status: 'PLANNED',
          completedOn: null,
          invoiceId: null,
        });
        const [milestones] = await connector.getMilestonesByProject(['PRJ-0000102']);
        expect(milestones).toEqual([
          milestone(1, 'Discovery and design signed off', '2026-12-02', 200_000),
          milestone(2, 'Build complete', '2027-02-10', 400_000),
          milestone(3, 'User acceptance passed', '2027-04-01', 250_000),
          milestone(4, 'Go-live and hypercare', '2027-05-01', 150_001),
        ]);
        expect(await connector.getProjectsByOpportunity(['OPP-0000031'])).toEqual([created]);
      });

      it('returns the first project, not a second one, when the same request is repeated', async () => {
        await connector.createProjectFromTemplate(input);
        expect(await connector.createProjectFromTemplate({ ...input })).toEqual({ record: created, created: false });
        expect((await connector.listProjects({ first: 0, afterKey: null })).totalCount).toBe(data.projects.length + 1);
        expect((await connector.getMilestonesByProject(['PRJ-0000102']))[0]).toHaveLength(4);
        const seeded = byId(data.projects, 'PRJ-0000011');
        const repeat = await connector.createProjectFromTemplate({ ...seeded, externalId: seeded.externalId! });
        expect(repeat).toEqual({ record: seeded, created: false });
      });

      it('refuses other input under a used external ID with DUPLICATE_EXTERNAL_ID', async () => {
        await connector.createProjectFromTemplate(input);
        const error = await failure(connector.createProjectFromTemplate({ ...input, budgetMinor: 2_000_000 }));
        expect(coded(error)).toEqual({
          code: 'DUPLICATE_EXTERNAL_ID',
          details: { system: 'psa', field: 'externalId', value: 'run-1:create-project' },
        });
        expect(error.message).toContain('PRJ-0000102');
      });

      it('refuses an unknown template with NOT_FOUND and a code in use with VALIDATION_REJECTED, creating nothing', async () => {
        const unknown = await failure(connector.createProjectFromTemplate({ ...input, templateId: 'TPL-999999' }));
        expect(coded(unknown)).toEqual({
          code: 'NOT_FOUND',
          details: { system: 'psa', field: 'templateId', value: 'TPL-999999' },
        });
        const clash = await failure(connector.createProjectFromTemplate({ ...input, code: 'ERP-0000011' }));
        expect(coded(clash)).toEqual({
          code: 'VALIDATION_REJECTED',
          details: { system: 'psa', field: 'code', value: 'ERP-0000011' },
        });
        expect((await connector.listProjects({ first: 0, afterKey: null })).totalCount).toBe(data.projects.length);
      });

      it("gives time-and-materials projects no milestones and falls back to the template's rate card for other currencies", async () => {
        const tm = await connector.createProjectFromTemplate({
          ...input,
          externalId: 'run-2',
          code: 'CLD-9000002',
          templateId: 'TPL-000003',
          billingModel: 'TIME_AND_MATERIALS',
          currency: 'CHF',
          opportunityId: null,
        });
        expect(tm).toEqual({
          record: {
            ...created,
            externalId: 'run-2',
            code: 'CLD-9000002',
            templateId: 'TPL-000003',
            billingModel: 'TIME_AND_MATERIALS',
            currency: 'CHF',
            opportunityId: null,
            rateCardId: 'RC-000001',
            endDate: '2027-01-31',
          },
          created: true,
        });
        expect(await connector.getMilestonesByProject(['PRJ-0000102'])).toEqual([[]]);
      });
    });

    describe('submitTimeEntries', () => {
      const entries: NewTimeEntry[] = [
        {
          projectId: 'PRJ-0000011',
          resourceId: 'RES-000001',
          role: null,
          date: '2026-10-01',
          hoursHundredths: 750,
          billable: true,
          notes: 'Steering committee',
        },
        {
          projectId: 'PRJ-0000082',
          resourceId: 'RES-000005',
          role: 'Consultant',
          date: '2026-10-02',
          hoursHundredths: 24_00,
          billable: false,
          notes: null,
        },
      ];
      const booked: TimeEntryRecord[] = [
        {
          id: 'TE-0000101074',
          projectId: 'PRJ-0000011',
          resourceId: 'RES-000001',
          role: 'Engagement Manager',
          date: '2026-10-01',
          hoursHundredths: 750,
          billable: true,
          status: 'SUBMITTED',
          notes: 'Steering committee',
          billingReference: null,
        },
        {
          id: 'TE-0000101075',
          projectId: 'PRJ-0000082',
          resourceId: 'RES-000005',
          role: 'Consultant',
          date: '2026-10-02',
          hoursHundredths: 24_00,
          billable: false,
          status: 'SUBMITTED',
          notes: null,
          billingReference: null,
        },
      ];

      it("books the entries as submitted, taking the resource's role when none is given", async () => {
        expect(await connector.submitTimeEntries('key-1', entries)).toEqual(booked);
        expect(await timeEntriesNow('PRJ-0000011', ['TE-0000101074'])).toEqual([booked[0]]);
      });

      it('returns the same entries, booking nothing more, when the key and entries are repeated', async () => {
        await connector.submitTimeEntries('key-1', entries);
        await connector.approveTimeEntries(['TE-0000101074']);
        expect(
          await connector.submitTimeEntries(
            'key-1',
            entries.map((e) => ({ ...e })),
          ),
        ).toEqual([{ ...booked[0], status: 'APPROVED' }, booked[1]]);
        const total = (await connector.listTimeEntries('PRJ-0000011', { first: 0, afterKey: null })).totalCount;
        expect(total).toBe(data.timeEntries.filter((e) => e.projectId === 'PRJ-0000011').length + 1);
      });

      it('refuses other entries under a used key with IDEMPOTENCY_KEY_REUSED', async () => {
        await connector.submitTimeEntries('key-1', entries);
        const error = await failure(connector.submitTimeEntries('key-1', [{ ...entries[0]!, hoursHundredths: 800 }]));
        expect(coded(error)).toEqual({
          code: 'IDEMPOTENCY_KEY_REUSED',
          details: { system: 'psa', field: 'idempotencyKey', value: 'key-1' },
        });
      });

      it('refuses the whole batch for an unknown project or resource (NOT_FOUND) or hours outside 0–24 (BAD_USER_INPUT)', async () => {
        const cases: [NewTimeEntry, object][] = [
          [
            { ...entries[1]!, projectId: 'PRJ-9999999' },
            { code: 'NOT_FOUND', details: { system: 'psa', field: 'entries[1].projectId', value: 'PRJ-9999999' } },
          ],
          [
            { ...entries[1]!, resourceId: 'RES-999999' },
            { code: 'NOT_FOUND', details: { system: 'psa', field: 'entries[1].resourceId', value: 'RES-999999' } },
          ],
          [
            { ...entries[1]!, hoursHundredths: 0 },
            { code: 'BAD_USER_INPUT', details: { system: 'psa', field: 'entries[1].hours', value: '0.00' } },
          ],
          [
            { ...entries[1]!, hoursHundredths: 24_01 },
            { code: 'BAD_USER_INPUT', details: { system: 'psa', field: 'entries[1].hours', value: '24.01' } },
          ],
        ];
        for (const [bad, expected] of cases) {
          expect(coded(await failure(connector.submitTimeEntries('key-2', [entries[0]!, bad])))).toEqual(expected);
        }
        expect((await connector.listTimeEntries('PRJ-0000011', { first: 0, afterKey: null })).totalCount).toBe(
          data.timeEntries.filter((e) => e.projectId === 'PRJ-0000011').length,
        );
        expect(await connector.submitTimeEntries('key-2', entries)).toEqual(booked);
      });
    });

    describe('approveTimeEntries', () => {
      const inStatus = (status: TimeEntryRecord['status'], skip = 0) =>
        data.timeEntries.filter((e) => e.projectId === 'PRJ-0000082' && e.status === status)[skip]!;

      it('approves submitted entries and returns approved ones unchanged, in the order given', async () => {
        const submitted = inStatus('SUBMITTED');
        const approved = inStatus('APPROVED');
        const result = await connector.approveTimeEntries([submitted.id, approved.id]);
        expect(result).toEqual([{ ...submitted, status: 'APPROVED' }, approved]);
        expect(await connector.approveTimeEntries([submitted.id])).toEqual([{ ...submitted, status: 'APPROVED' }]);
      });

      it('refuses the whole call for a billed entry (INVALID_STATE) or an unknown one (NOT_FOUND)', async () => {
        const submitted = inStatus('SUBMITTED');
        const billed = data.timeEntries.find((e) => e.status === 'BILLED')!;
        expect(coded(await failure(connector.approveTimeEntries([submitted.id, billed.id])))).toEqual({
          code: 'INVALID_STATE',
          details: { system: 'psa', value: billed.id },
        });
        expect(coded(await failure(connector.approveTimeEntries([submitted.id, 'TE-9999999999'])))).toEqual({
          code: 'NOT_FOUND',
          details: { system: 'psa', value: 'TE-9999999999' },
        });
        expect(await timeEntriesNow('PRJ-0000082', [submitted.id])).toEqual([submitted]);
      });
    });

    describe('completeMilestone', () => {
      it('completes a planned milestone once; later calls return it unchanged', async () => {
        const planned = data.milestones.find((m) => m.status === 'PLANNED')!;
        expect(await connector.completeMilestone(planned.id, '2026-10-05')).toEqual({
          ...planned,
          status: 'COMPLETED',
          completedOn: '2026-10-05',
        });
        expect(await connector.completeMilestone(planned.id, '2026-10-06')).toEqual({
          ...planned,
          status: 'COMPLETED',
          completedOn: '2026-10-05',
        });
        const invoiced = data.milestones.find((m) => m.status === 'INVOICED')!;
        expect(await connector.completeMilestone(invoiced.id, '2026-10-06')).toEqual(invoiced);
      });

      it('refuses an unknown milestone with NOT_FOUND', async () => {
        expect(coded(await failure(connector.completeMilestone('MS-99999999', '2026-10-05')))).toEqual({
          code: 'NOT_FOUND',
          details: { system: 'psa', value: 'MS-99999999' },
        });
      });
    });

    describe('getMilestones', () => {
      it('returns milestones in the order of the keys, with null for unknown IDs', async () => {
        expect(await connector.getMilestones(['MS-00000112', 'MS-99999999', 'MS-00000111'])).toEqual([
          byId(data.milestones, 'MS-00000112'),
          null,
          byId(data.milestones, 'MS-00000111'),
        ]);
        expect(await connector.getMilestones([])).toEqual([]);
      });
    });

    describe('listMilestones', () => {
      const modelOf = (projectId: string) => byId(data.projects, projectId).billingModel;
      const ready = () => ({
        status: 'COMPLETED' as const,
        billingModels: ['FIXED_FEE' as const, 'MILESTONE' as const],
      });

      it('pages through every milestone exactly once, in ID order, with a stable total', async () => {
        const { ids, totals } = await allPages((page) => connector.listMilestones(page), 4);
        expect(ids).toEqual(data.milestones.map((m) => m.id).sort());
        expect(new Set(totals)).toEqual(new Set([data.milestones.length]));
      });

      it('filters by status and by the billing models of their projects, counting only the matches', async () => {
        const completed = data.milestones.filter((m) => m.status === 'COMPLETED');
        const expected = (keep: (m: (typeof data.milestones)[number]) => boolean) =>
          data.milestones
            .filter(keep)
            .map((m) => m.id)
            .sort();
        const { ids, totals } = await allPages((page) => connector.listMilestones(page, ready()), 2);
        expect(ids).toEqual(
          expected((m) => m.status === 'COMPLETED' && ['FIXED_FEE', 'MILESTONE'].includes(modelOf(m.projectId))),
        );
        expect(ids.length).toBeGreaterThan(1);
        expect(new Set(totals)).toEqual(new Set([ids.length]));
        const fixedFee = await connector.listMilestones(
          { first: 100, afterKey: null },
          { status: 'COMPLETED', billingModels: ['FIXED_FEE'] },
        );
        expect(fixedFee.nodes).toEqual(
          completed.filter((m) => modelOf(m.projectId) === 'FIXED_FEE').sort((a, b) => a.id.localeCompare(b.id)),
        );
        expect(fixedFee.nodes.length).toBeGreaterThan(0);
        expect(fixedFee.nodes.length).toBeLessThan(completed.length);
        expect(await connector.listMilestones({ first: 100, afterKey: null }, { status: 'INVOICED' })).toMatchObject({
          totalCount: expected((m) => m.status === 'INVOICED').length,
          hasNextPage: false,
        });
        expect(
          await connector.listMilestones(
            { first: 100, afterKey: null },
            { billingModels: ['TIME_AND_MATERIALS', 'RETAINER'] },
          ),
        ).toEqual({ nodes: [], hasNextPage: false, totalCount: 0 });
        expect(await connector.listMilestones({ first: 100, afterKey: null }, { billingModels: [] })).toEqual({
          nodes: [],
          hasNextPage: false,
          totalCount: 0,
        });
      });

      it('lists a milestone as ready to invoice once it is completed, and no longer once it is invoiced', async () => {
        const readyIds = async () =>
          (await connector.listMilestones({ first: 1000, afterKey: null }, ready())).nodes.map((m) => m.id);
        const before = await readyIds();
        const planned = data.milestones.find((m) => m.status === 'PLANNED')!;
        await connector.completeMilestone(planned.id, '2026-10-05');
        expect(await readyIds()).toEqual([...before, planned.id].sort());
        await connector.markMilestoneInvoiced(planned.id, 'INV-000009001');
        expect(await readyIds()).toEqual(before);
      });
    });

    describe('markMilestoneInvoiced', () => {
      const completed = byId(data.milestones, 'MS-00000112');
      const invoiced = byId(data.milestones, 'MS-00000111');

      it('marks a completed milestone invoiced on the invoice; repeating it with the same invoice changes nothing', async () => {
        expect(completed).toMatchObject({ status: 'COMPLETED', invoiceId: null });
        const marked = { ...completed, status: 'INVOICED', invoiceId: 'INV-000009001' };
        expect(await connector.markMilestoneInvoiced(completed.id, 'INV-000009001')).toEqual(marked);
        expect(await connector.markMilestoneInvoiced(completed.id, 'INV-000009001')).toEqual(marked);
        expect(await connector.getMilestones([completed.id])).toEqual([marked]);
        expect(await connector.markMilestoneInvoiced(invoiced.id, invoiced.invoiceId!)).toEqual(invoiced);
      });

      it('refuses, changing nothing, a planned milestone or one invoiced on another invoice (INVALID_STATE) and an unknown one (NOT_FOUND)', async () => {
        const planned = data.milestones.find((m) => m.status === 'PLANNED')!;
        expect(described(await failure(connector.markMilestoneInvoiced(planned.id, 'INV-000009001')))).toEqual({
          code: 'INVALID_STATE',
          message: `Milestone ${planned.id} (${planned.name}) of project ${planned.projectId} is not completed yet; only a completed milestone can be invoiced`,
          details: { system: 'psa', value: planned.id },
        });
        expect(described(await failure(connector.markMilestoneInvoiced(invoiced.id, 'INV-000009001')))).toEqual({
          code: 'INVALID_STATE',
          message:
            'Milestone MS-00000111 (Discovery and design signed off) of project PRJ-0000011 is already invoiced on INV-000001101; it cannot be invoiced again on INV-000009001',
          details: { system: 'psa', value: invoiced.id },
        });
        expect(described(await failure(connector.markMilestoneInvoiced('MS-99999999', 'INV-000009001')))).toEqual({
          code: 'NOT_FOUND',
          message: "PSA has no milestone 'MS-99999999'",
          details: { system: 'psa', value: 'MS-99999999' },
        });
        expect(await connector.getMilestones([planned.id, invoiced.id])).toEqual([planned, invoiced]);
      });
    });

    describe('recordProjectFinancials', () => {
      const figures = {
        projectId: 'PRJ-0000023',
        billedMinor: 1_200_00,
        collectedMinor: 600_00,
        overdueMinor: 0,
        currency: 'GBP',
        asOf: '2026-11-02T10:00:00.000Z',
        at: '2026-11-02T10:00:01.000Z',
      };
      const recorded = {
        projectId: 'PRJ-0000023',
        billedMinor: 1_200_00,
        collectedMinor: 600_00,
        overdueMinor: 0,
        currency: 'GBP',
        asOf: '2026-11-02T10:00:00.000Z',
        updatedAt: '2026-11-02T10:00:01.000Z',
      };

      it('records the figures once; the same figures again, even read later, change nothing', async () => {
        expect(await connector.getProjectFinancials(['PRJ-0000023', 'PRJ-9999999'])).toEqual([null, null]);
        expect(await connector.recordProjectFinancials(figures)).toEqual({ record: recorded, changed: true });
        expect(
          await connector.recordProjectFinancials({
            ...figures,
            asOf: '2026-11-03T10:00:00.000Z',
            at: '2026-11-03T10:00:01.000Z',
          }),
        ).toEqual({ record: recorded, changed: false });
        expect(await connector.getProjectFinancials(['PRJ-0000023'])).toEqual([recorded]);
      });

      it('takes newer figures and ignores figures read before the recorded ones', async () => {
        await connector.recordProjectFinancials(figures);
        const paid = {
          ...figures,
          collectedMinor: 1_200_00,
          asOf: '2026-11-04T10:00:00.000Z',
          at: '2026-11-04T10:00:01.000Z',
        };
        const updated = { ...recorded, collectedMinor: 1_200_00, asOf: paid.asOf, updatedAt: paid.at };
        expect(await connector.recordProjectFinancials(paid)).toEqual({ record: updated, changed: true });
        expect(
          await connector.recordProjectFinancials({
            ...figures,
            collectedMinor: 0,
            asOf: '2026-11-03T10:00:00.000Z',
            at: '2026-11-05T10:00:00.000Z',
          }),
        ).toEqual({ record: updated, changed: false });
        expect(await connector.getProjectFinancials(['PRJ-0000023'])).toEqual([updated]);
      });

      it('refuses an unknown project (NOT_FOUND) and a negative amount (VALIDATION_REJECTED), recording nothing', async () => {
        expect(
          described(await failure(connector.recordProjectFinancials({ ...figures, projectId: 'PRJ-9999999' }))),
        ).toEqual({
          code: 'NOT_FOUND',
          message: "PSA has no project 'PRJ-9999999' to record financials on",
          details: { system: 'psa', field: 'projectId', value: 'PRJ-9999999' },
        });
        expect(described(await failure(connector.recordProjectFinancials({ ...figures, collectedMinor: -1 })))).toEqual(
          {
            code: 'VALIDATION_REJECTED',
            message: "PSA rejected collected -0.01 GBP for project 'PRJ-0000023': it must not be negative",
            details: { system: 'psa', field: 'collected', value: '-0.01 GBP' },
          },
        );
        expect(await connector.getProjectFinancials(['PRJ-0000023'])).toEqual([null]);
      });
    });

    describe('markBilled', () => {
      const project = 'PRJ-0000023';
      const approved = data.timeEntries.filter((e) => e.projectId === project && e.status === 'APPROVED').slice(0, 2);
      const expense = data.expenses.find((e) => e.projectId === project && e.status === 'APPROVED')!;

      it('marks approved time and expenses billed under the reference; repeating it changes nothing', async () => {
        expect(approved).toHaveLength(2);
        const input = {
          timeEntryIds: approved.map((e) => e.id),
          expenseIds: [expense.id],
          billingReference: 'BL-0000999001',
        };
        const billed = {
          timeEntries: approved.map((e) => ({ ...e, status: 'BILLED', billingReference: 'BL-0000999001' })),
          expenses: [{ ...expense, status: 'BILLED', billingReference: 'BL-0000999001' }],
        };
        expect(await connector.markBilled(input)).toEqual(billed);
        expect(await connector.markBilled(input)).toEqual(billed);
        expect(await timeEntriesNow(project, input.timeEntryIds)).toEqual(billed.timeEntries);
      });

      it('refuses, changing nothing, entries billed under another reference or not yet approved (INVALID_STATE) and unknown ones (NOT_FOUND)', async () => {
        const billedElsewhere = data.timeEntries.find((e) => e.status === 'BILLED')!;
        const submitted = data.timeEntries.find((e) => e.status === 'SUBMITTED')!;
        const attempt = (timeEntryIds: string[], expenseIds: string[] = []) =>
          failure(connector.markBilled({ timeEntryIds, expenseIds, billingReference: 'BL-0000999002' }));
        expect(coded(await attempt([approved[0]!.id, billedElsewhere.id]))).toEqual({
          code: 'INVALID_STATE',
          details: { system: 'psa', value: billedElsewhere.id },
        });
        expect(coded(await attempt([approved[0]!.id, submitted.id]))).toEqual({
          code: 'INVALID_STATE',
          details: { system: 'psa', value: submitted.id },
        });
        expect(coded(await attempt([approved[0]!.id], ['EXP-999999999']))).toEqual({
          code: 'NOT_FOUND',
          details: { system: 'psa', value: 'EXP-999999999' },
        });
        expect(await timeEntriesNow(project, [approved[0]!.id])).toEqual([approved[0]]);
        const [unbilled] = (await connector.listExpenses(project, { first: 1000, afterKey: null })).nodes.filter(
          (e) => e.id === expense.id,
        );
        expect(unbilled).toEqual(expense);
      });

      it('returns entries already billed under the same reference unchanged', async () => {
        const billed = data.timeEntries.find((e) => e.status === 'BILLED')!;
        expect(
          await connector.markBilled({
            timeEntryIds: [billed.id],
            expenseIds: [],
            billingReference: billed.billingReference!,
          }),
        ).toEqual({ timeEntries: [billed], expenses: [] });
      });
    });

    /** Seeded expenses ready to bill (approved, billable) on `projectId`, oldest first. */
    const readyExpenses = (projectId: string): ExpenseRecord[] =>
      data.expenses
        .filter((e) => e.projectId === projectId && e.status === 'APPROVED' && e.billable)
        .sort(byDateThenId);

    describe('getBillableWork', () => {
      const project = 'PRJ-0000023'; // time and materials, GBP rate card RC-000002
      const entry = (
        resourceId: string,
        date: string,
        hoursHundredths: number,
        billable = true,
        role: string | null = null,
      ): NewTimeEntry => ({
        projectId: project,
        resourceId,
        role,
        date,
        hoursHundredths,
        billable,
        notes: null,
      });
      let booked: TimeEntryRecord[];
      /** Booked entry `i` as approved, priced at `rateMinor` per hour to `amountMinor`. */
      const priced = (i: number, rateMinor: number | null, amountMinor: number | null): PricedTimeEntryRecord => ({
        entry: { ...booked[i]!, status: 'APPROVED' },
        rateMinor,
        amountMinor,
        currency: 'GBP',
      });
      beforeEach(async () => {
        booked = await connector.submitTimeEntries('bill-1', [
          entry('RES-000001', '2026-10-05', 750), // Engagement Manager, 200.00 GBP/h
          entry('RES-000004', '2026-10-02', 800), // Consultant, 112.00 GBP/h
          entry('RES-000003', '2026-10-05', 125), // Senior Consultant, 140.00 GBP/h
          entry('RES-000002', '2026-10-01', 400, false), // not billable
          entry('RES-000005', '2026-10-01', 300), // stays submitted
          entry('RES-000005', '2026-10-03', 233, true, 'Data Scientist'), // a role the rate card lacks
        ]);
        await connector.approveTimeEntries([0, 1, 2, 3, 5].map((i) => booked[i]!.id));
      });

      it("returns approved, billable, unbilled time priced from the project's rate card, and expenses, oldest date first, then ID", async () => {
        expect(readyExpenses(project).length).toBeGreaterThan(1);
        expect(await connector.getBillableWork(project, { first: 500, until: null })).toEqual({
          projectId: project,
          timeEntries: [
            priced(1, 112_00, 896_00),
            priced(5, null, null),
            priced(0, 200_00, 1500_00),
            priced(2, 140_00, 175_00),
          ],
          expenses: readyExpenses(project),
          hasMore: false,
        });
      });

      it('returns at most `first` of each, says when more remain, and keeps only work dated on or before `until`', async () => {
        const expenses = readyExpenses(project);
        expect(await connector.getBillableWork(project, { first: 1, until: null })).toEqual({
          projectId: project,
          timeEntries: [priced(1, 112_00, 896_00)],
          expenses: expenses.slice(0, 1),
          hasMore: true,
        });
        expect(await connector.getBillableWork(project, { first: 0, until: null })).toEqual({
          projectId: project,
          timeEntries: [],
          expenses: [],
          hasMore: true,
        });
        expect(await connector.getBillableWork(project, { first: expenses.length, until: '2026-10-03' })).toEqual({
          projectId: project,
          timeEntries: [priced(1, 112_00, 896_00), priced(5, null, null)],
          expenses,
          hasMore: false,
        });
        const until = expenses[0]!.date;
        expect(await connector.getBillableWork(project, { first: 10, until })).toEqual({
          projectId: project,
          timeEntries: [],
          expenses: expenses.filter((e) => e.date <= until),
          hasMore: false,
        });
      });

      it('leaves out time and expenses once they are billed', async () => {
        const [expense, ...rest] = readyExpenses(project);
        await connector.markBilled({
          timeEntryIds: [booked[1]!.id, booked[0]!.id],
          expenseIds: [expense!.id],
          billingReference: 'BL-0000999001',
        });
        expect(await connector.getBillableWork(project, { first: 500, until: null })).toEqual({
          projectId: project,
          timeEntries: [priced(5, null, null), priced(2, 140_00, 175_00)],
          expenses: rest,
          hasMore: false,
        });
      });

      it('refuses an unknown project with NOT_FOUND', async () => {
        expect(described(await failure(connector.getBillableWork('PRJ-9999999', { first: 500, until: null })))).toEqual(
          {
            code: 'NOT_FOUND',
            message: "PSA has no project 'PRJ-9999999' to bill",
            details: { system: 'psa', field: 'projectId', value: 'PRJ-9999999' },
          },
        );
      });
    });

    describe('listProjectsWithBillableWork', () => {
      const ready = (until: string | null) =>
        data.projects.filter((p) =>
          [...data.timeEntries, ...data.expenses].some(
            (w) => w.projectId === p.id && w.status === 'APPROVED' && w.billable && (until === null || w.date <= until),
          ),
        );

      it('lists, in ID order, the projects with approved, billable, unbilled time or expenses', async () => {
        expect(ready(null).length).toBeGreaterThan(0);
        expect(await connector.listProjectsWithBillableWork({ first: 1000, afterKey: null })).toEqual({
          nodes: ready(null),
          hasNextPage: false,
          totalCount: ready(null).length,
        });
        // Approved billable time makes PRJ-0000082 ready; approved non-billable time and submitted billable time do not.
        const [billable, notBillable] = await connector.submitTimeEntries('ready-1', [
          {
            projectId: 'PRJ-0000082',
            resourceId: 'RES-000003',
            role: null,
            date: '2026-10-02',
            hoursHundredths: 600,
            billable: true,
            notes: null,
          },
          {
            projectId: 'PRJ-0000011',
            resourceId: 'RES-000003',
            role: null,
            date: '2026-10-02',
            hoursHundredths: 600,
            billable: false,
            notes: null,
          },
          {
            projectId: 'PRJ-0000024',
            resourceId: 'RES-000003',
            role: null,
            date: '2026-10-02',
            hoursHundredths: 600,
            billable: true,
            notes: null,
          },
        ]);
        await connector.approveTimeEntries([billable!.id, notBillable!.id]);
        const withNew = [...ready(null), byId(data.projects, 'PRJ-0000082')].sort((a, b) => a.id.localeCompare(b.id));
        const { ids, totals } = await allPages((page) => connector.listProjectsWithBillableWork(page), 1);
        expect(ids).toEqual(withNew.map((p) => p.id));
        expect(new Set(totals)).toEqual(new Set([withNew.length]));
        await connector.markBilled({ timeEntryIds: [billable!.id], expenseIds: [], billingReference: 'BL-0000999001' });
        expect(await connector.listProjectsWithBillableWork({ first: 1000, afterKey: null })).toEqual({
          nodes: ready(null),
          hasNextPage: false,
          totalCount: ready(null).length,
        });
      });

      it('lists only the projects of the given accounts when asked, none for an empty list', async () => {
        const of = (accounts: string[]) => ready(null).filter((p) => accounts.includes(p.accountId));
        expect(of(['ACC-000002'])).toEqual([byId(data.projects, 'PRJ-0000023')]);
        expect(
          await connector.listProjectsWithBillableWork({ first: 1000, afterKey: null }, null, [
            'ACC-000002',
            'ACC-000001',
          ]),
        ).toEqual({ nodes: of(['ACC-000002']), hasNextPage: false, totalCount: 1 });
        expect(
          await connector.listProjectsWithBillableWork({ first: 1000, afterKey: null }, null, ['ACC-000001']),
        ).toEqual({ nodes: [], hasNextPage: false, totalCount: 0 });
        expect(await connector.listProjectsWithBillableWork({ first: 1000, afterKey: null }, null, [])).toEqual({
          nodes: [],
          hasNextPage: false,
          totalCount: 0,
        });
      });

      it('counts only work dated on or before `until` when given', async () => {
        const until = readyExpenses('PRJ-0000023')[0]!.date;
        expect(ready(until).length).toBeGreaterThan(0);
        expect(ready(until).length).toBeLessThan(ready(null).length);
        expect(await connector.listProjectsWithBillableWork({ first: 1000, afterKey: null }, until)).toEqual({
          nodes: ready(until),
          hasNextPage: false,
          totalCount: ready(until).length,
        });
      });
    });

    describe('deleteProject', () => {
      const input: CreateProjectFromTemplate = {
        externalId: 'run-9:create-project',
        templateId: 'TPL-000001',
        accountId: 'ACC-000003',
        opportunityId: 'OPP-0000031',
        name: 'Cobalt Foods Ltd — ERP Implementation',
        code: 'ERP-9000001',
        billingModel: 'FIXED_FEE',
        budgetMinor: 1_000_000,
        currency: 'GBP',
        startDate: '2026-11-02',
      };

      it('deletes a project with its milestones; deleting it again, or an unknown ID, returns deleted: false', async () => {
        const { record } = await connector.createProjectFromTemplate(input);
        expect(await connector.deleteProject(record.id)).toEqual({ id: record.id, deleted: true });
        expect(await connector.getProjects([record.id])).toEqual([null]);
        expect(await connector.getMilestonesByProject([record.id])).toEqual([[]]);
        expect(await connector.getProjectsByOpportunity(['OPP-0000031'])).toEqual([null]);
        expect(await connector.deleteProject(record.id)).toEqual({ id: record.id, deleted: false });
        expect(await connector.deleteProject('PRJ-9999999')).toEqual({ id: 'PRJ-9999999', deleted: false });
        const withFinancials = await connector.createProjectFromTemplate({
          ...input,
          externalId: 'run-9:financials',
          code: 'ERP-9000002',
        });
        await connector.recordProjectFinancials({
          projectId: withFinancials.record.id,
          billedMinor: 0,
          collectedMinor: 0,
          overdueMinor: 0,
          currency: 'GBP',
          asOf: '2026-11-02T10:00:00.000Z',
          at: '2026-11-02T10:00:00.000Z',
        });
        expect(await connector.deleteProject(withFinancials.record.id)).toEqual({
          id: withFinancials.record.id,
          deleted: true,
        });
        expect(await connector.getProjectFinancials([withFinancials.record.id])).toEqual([null]);
        expect((await connector.listProjects({ first: 0, afterKey: null })).totalCount).toBe(data.projects.length);
      });

      it("never issues a deleted project's IDs again: the same external ID then creates a new project", async () => {
        const first = await connector.createProjectFromTemplate(input);
        const [deletedMilestones] = await connector.getMilestonesByProject([first.record.id]);
        await connector.deleteProject(first.record.id);
        const again = await connector.createProjectFromTemplate(input);
        expect(again).toEqual({ record: { ...first.record, id: 'PRJ-0000103' }, created: true });
        const [milestones] = await connector.getMilestonesByProject(['PRJ-0000103']);
        expect(milestones!.map((m) => m.id)).toEqual(['MS-00000828', 'MS-00000829', 'MS-00000830', 'MS-00000831']);
        expect(deletedMilestones!.map((m) => m.id)).toEqual([
          'MS-00000824',
          'MS-00000825',
          'MS-00000826',
          'MS-00000827',
        ]);
      });

      it('refuses, naming the project and keeping it, a project with time, expenses or a completed milestone (INVALID_STATE)', async () => {
        const seeded = byId(data.projects, 'PRJ-0000011');
        const entries = data.timeEntries.filter((e) => e.projectId === seeded.id).length;
        const expenses = data.expenses.filter((e) => e.projectId === seeded.id).length;
        expect(described(await failure(connector.deleteProject(seeded.id)))).toEqual({
          code: 'INVALID_STATE',
          message: `Project PRJ-0000011 (ERP-0000011, ${seeded.name}) has ${entries} time entries and ${expenses} expenses; only a project with no booked time or expenses can be deleted`,
          details: { system: 'psa', value: 'PRJ-0000011' },
        });
        expect(await connector.getProjects([seeded.id])).toEqual([seeded]);

        const { record } = await connector.createProjectFromTemplate(input);
        const [planned] = await connector.getMilestonesByProject([record.id]);
        await connector.completeMilestone(planned![0]!.id, '2026-12-01');
        expect(described(await failure(connector.deleteProject(record.id)))).toEqual({
          code: 'INVALID_STATE',
          message:
            'Project PRJ-0000102 (ERP-9000001, Cobalt Foods Ltd — ERP Implementation) has 1 milestone completed or invoiced; it cannot be deleted',
          details: { system: 'psa', value: 'PRJ-0000102' },
        });
        await connector.submitTimeEntries('del-1', [
          {
            projectId: record.id,
            resourceId: 'RES-000001',
            role: null,
            date: '2026-11-03',
            hoursHundredths: 100,
            billable: true,
            notes: null,
          },
        ]);
        expect(described(await failure(connector.deleteProject(record.id)))).toEqual({
          code: 'INVALID_STATE',
          message:
            'Project PRJ-0000102 (ERP-9000001, Cobalt Foods Ltd — ERP Implementation) has 1 time entry; only a project with no booked time or expenses can be deleted',
          details: { system: 'psa', value: 'PRJ-0000102' },
        });
        expect(await connector.getProjects([record.id])).toEqual([record]);
        expect((await connector.getMilestonesByProject([record.id]))[0]).toHaveLength(4);
      });
    });

    describeProjectAmendmentCases(() => connector);
  });
}
