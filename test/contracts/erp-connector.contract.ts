import { describeProjectContractCases } from './project-contracts.cases';
import { MeridianError, type ErrorDetails } from '../../lib/errors';
import { formatId, type IdPrefix } from '../../lib/ids';
import type { ChangePosition } from '../../lib/change-feed';
import type { FaultSettings } from '../../lib/reference-faults';
import { generateAccounts } from '../../seed/generate';
import { LEGAL_ENTITIES, TAX_JURISDICTIONS } from '../../seed/reference-data';
import type {
  ErpConnector,
  InvoiceRecord,
  NewBillingLine,
  PostInvoice,
  UpsertCustomer,
} from '../../subgraphs/erp/connector/erp-connector';

/**
 * An adapter under test, holding the reference data and the first `accounts` demo accounts; `faults.set` closes
 * accounting periods (`closedPeriods`) the way the system's own period close would; `close` disposes of it.
 */
export type ErpAdapterFactory = (accounts: number) => Promise<{
  connector: ErpConnector;
  faults: { set(settings: FaultSettings): void };
  close(): Promise<void> | void;
}>;

/** The outcome of a rejected call, as a whole value to assert. */
interface Failure {
  code: string;
  message: string;
  details: ErrorDetails;
}

async function failure(promise: Promise<unknown>): Promise<Failure> {
  const error = await promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MeridianError);
  const { code, message, details } = error as MeridianError;
  return { code, message, details };
}

/** The ID a system hands out after `ids`: one above the highest. */
function nextAfter(ids: readonly string[], prefix: IdPrefix): string {
  return formatId(prefix, Math.max(0, ...ids.map((id) => Number(id.slice(prefix.length + 1)))) + 1);
}

/** Every invoice of `connector`'s change feed from `after` on (a `first`-sized page at a time), and the position it ends at. */
async function readFeed(
  connector: ErpConnector,
  after: ChangePosition | null,
  since: string | null = null,
  first = 7,
): Promise<{ invoices: InvoiceRecord[]; end: ChangePosition | null; totals: number[] }> {
  const invoices: InvoiceRecord[] = [];
  const totals: number[] = [];
  let position = after;
  for (;;) {
    const page = await connector.listInvoicesChangedSince({ since, after: position, first });
    invoices.push(...page.nodes);
    totals.push(page.totalCount);
    const last = page.nodes[page.nodes.length - 1];
    if (last) position = { updatedAt: last.updatedAt, id: last.id };
    if (!page.hasNextPage) return { invoices, end: position, totals };
  }
}

/** Orders records as a change feed does: by `updatedAt`, then ID. */
const byChange = (a: ChangePosition, b: ChangePosition) =>
  a.updatedAt.localeCompare(b.updatedAt) || a.id.localeCompare(b.id);

/** The behaviour every {@link ErpConnector} adapter must show. */
export function describeErpConnectorContract(adapter: string, make: ErpAdapterFactory): void {
  describe(`ErpConnector contract: ${adapter}`, () => {
    const data = generateAccounts(1, 13).erp;
    const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1);
    let connector: ErpConnector;
    let faults: { set(settings: FaultSettings): void };
    let close: () => Promise<void> | void;
    beforeEach(async () => {
      ({ connector, faults, close } = await make(12));
    });
    afterEach(async () => {
      await close();
    });

    // A GBP customer (MERIDIAN-UK, GB VAT 20%, NET_30) with a time-and-materials project.
    const gbpCustomer = data.customers.find((c) => c.id === 'CUS-000002')!;
    const gbpProject = 'PRJ-0000023';
    const line = (externalId: string, overrides: Partial<NewBillingLine> = {}): NewBillingLine => ({
      externalId,
      psaProjectId: gbpProject,
      sourceType: 'TIME',
      sourceId: `TE-${externalId}`,
      description: 'Senior Consultant, 2026-11-02',
      quantityHundredths: 750,
      unitPriceMinor: 182_50,
      currency: 'GBP',
      postingDate: '2026-11-02',
      ...overrides,
    });
    const newCustomer: UpsertCustomer = {
      externalCrmId: 'ACC-000003',
      name: 'Summit Retail Ltd',
      legalEntityCode: 'MERIDIAN-UK',
      taxJurisdictionCode: 'GB',
      paymentTerms: 'NET_45',
      currency: 'GBP',
      legalName: 'Summit Retail Holdings Ltd',
      billingCountry: 'GB',
      billingAddress: '1 Market Street\nLeeds LS1 6DT',
      billingContact: 'Ada Lovelace <ada@summit.example>',
      parentCustomerId: null,
    };

    it('returns batch reads in the order of the keys, with null for unknown keys', async () => {
      const [c1, c2, c5] = [data.customers[0]!, data.customers[1]!, data.customers[2]!];
      expect(await connector.getCustomers([c5.id, 'CUS-999999', c1.id, c5.id])).toEqual([c5, null, c1, c5]);
      expect(await connector.getCustomersByCrmAccount(['ACC-000002', 'ACC-000003', 'ACC-000001'])).toEqual([
        c2,
        null,
        c1,
      ]);
      expect(await connector.getLegalEntities(['MERIDIAN-UK', 'MERIDIAN-XX', 'MERIDIAN-US'])).toEqual([
        LEGAL_ENTITIES[1],
        null,
        LEGAL_ENTITIES[0],
      ]);
      expect(await connector.getTaxJurisdictions(['XX', 'GB'])).toEqual([
        null,
        TAX_JURISDICTIONS.find((t) => t.code === 'GB'),
      ]);
      const [i1, i2] = [data.invoices[3]!, data.invoices[20]!];
      expect(await connector.getInvoices([i2.id, 'INV-nope', i1.id])).toEqual([i2, null, i1]);
      expect(await connector.getProjectDimensions(['PRJ-nope', gbpProject])).toEqual([
        null,
        data.projectDimensions.find((d) => d.psaProjectId === gbpProject),
      ]);
      expect(await connector.getCustomers([])).toEqual([]);
    });

    it('lists legal entities and tax jurisdictions in code order', async () => {
      const byCode = (a: { code: string }, b: { code: string }) => (a.code < b.code ? -1 : 1);
      expect(await connector.listLegalEntities()).toEqual([...LEGAL_ENTITIES].sort(byCode));
      expect(await connector.listTaxJurisdictions()).toEqual([...TAX_JURISDICTIONS].sort(byCode));
    });

    it('groups invoices per CRM account and per project in ID order, one array per key, empty for unknown keys', async () => {
      const ofCustomer = (id: string) => data.invoices.filter((i) => i.customerId === id).sort(byId);
      expect(await connector.getInvoicesByCrmAccount(['ACC-000008', 'ACC-000003', 'ACC-000002'])).toEqual([
        ofCustomer('CUS-000008'),
        [],
        ofCustomer('CUS-000002'),
      ]);
      const ofProject = (id: string) => data.invoices.filter((i) => i.psaProjectId === id).sort(byId);
      expect(await connector.getInvoicesByProject(['PRJ-0000024', 'PRJ-nope', gbpProject])).toEqual([
        ofProject('PRJ-0000024'),
        [],
        ofProject(gbpProject),
      ]);
    });

    it('groups billing lines per project, oldest posting first, one array per key', async () => {
      const ofProject = (id: string) =>
        data.billingLines
          .filter((l) => l.psaProjectId === id)
          .sort((a, b) => a.postingDate.localeCompare(b.postingDate) || byId(a, b));
      const withLines = data.billingLines[0]!.psaProjectId;
      const lines = await connector.getBillingLinesByProject([withLines, 'PRJ-nope']);
      expect(lines).toEqual([ofProject(withLines), []]);
      expect(lines[0]!.length).toBeGreaterThan(0);
    });

    it('groups invoice lines in line order and payments per invoice, empty for unknown invoices', async () => {
      const [a, b] = [data.invoices[1]!.id, data.invoices[31]!.id];
      const linesOf = (id: string) =>
        data.invoiceLines.filter((l) => l.invoiceId === id).sort((x, y) => x.lineNumber - y.lineNumber);
      expect(await connector.getInvoiceLines([b, 'INV-nope', a])).toEqual([linesOf(b), [], linesOf(a)]);
      const open = data.invoices.find((i) => i.balanceMinor === i.totalMinor)!;
      expect(await connector.getPaymentsByInvoice([a, open.id])).toEqual([
        data.payments.filter((p) => p.invoiceId === a),
        [],
      ]);
    });

    it('pages through every invoice exactly once, in ID order, with a stable total', async () => {
      const seen: string[] = [];
      let afterKey: string | null = null;
      for (;;) {
        const page = await connector.listInvoices({ first: 7, afterKey });
        expect(page.totalCount).toBe(data.invoices.length);
        seen.push(...page.nodes.map((i) => i.id));
        if (!page.hasNextPage) break;
        afterKey = page.nodes[page.nodes.length - 1]!.id;
      }
      expect(seen).toEqual(data.invoices.map((i) => i.id).sort());
    });

    it('filters listed invoices and counts only the matches', async () => {
      const list = async (filter: Parameters<ErpConnector['listInvoices']>[1]) => {
        const page = await connector.listInvoices({ first: 1000, afterKey: null }, filter);
        expect(page.totalCount).toBe(page.nodes.length);
        return page.nodes;
      };
      const expected = (keep: (i: InvoiceRecord) => boolean) => data.invoices.filter(keep).sort(byId);
      const overdue = (i: InvoiceRecord) => i.status === 'POSTED' && i.balanceMinor > 0 && i.dueDate < '2026-09-30';
      expect(await list({ status: 'POSTED' })).toEqual(expected((i) => i.status === 'POSTED'));
      expect(await list({ customerId: 'CUS-000007' })).toEqual(expected((i) => i.customerId === 'CUS-000007'));
      expect(await list({ accountId: 'ACC-000007', status: 'PAID' })).toEqual(
        expected((i) => i.customerId === 'CUS-000007' && i.status === 'PAID'),
      );
      expect(await list({ psaProjectId: gbpProject })).toEqual(expected((i) => i.psaProjectId === gbpProject));
      expect(await list({ overdueOn: '2026-09-30' })).toEqual(expected(overdue));
      expect((await list({ overdueOn: '2026-09-30' })).length).toBeGreaterThan(0);
      expect(await list({ notOverdueOn: '2026-09-30' })).toEqual(expected((i) => !overdue(i)));
      expect(await connector.listInvoices({ first: 0, afterKey: null }, { accountId: 'ACC-000002' })).toEqual({
        nodes: [],
        hasNextPage: true,
        totalCount: data.invoices.filter((i) => i.customerId === 'CUS-000002').length,
      });
    });

    it('restricts listed invoices to the customers of the given CRM accounts (a tenant scope), none for an empty list, with other filters and the count', async () => {
      const list = (filter: Parameters<ErpConnector['listInvoices']>[1], first = 1000) =>
        connector.listInvoices({ first, afterKey: null }, filter);
      const ofCustomers = (...ids: string[]) => data.invoices.filter((i) => ids.includes(i.customerId)).sort(byId);
      const scoped = ofCustomers('CUS-000007', 'CUS-000002');
      expect(scoped.length).toBeGreaterThan(1);
      // ACC-000003 has no ERP customer: it adds nothing.
      expect(await list({ accountIds: ['ACC-000007', 'ACC-000003', 'ACC-000002'] })).toEqual({
        nodes: scoped,
        hasNextPage: false,
        totalCount: scoped.length,
      });
      expect(await list({ accountIds: ['ACC-000007', 'ACC-000002'] }, 1)).toEqual({
        nodes: scoped.slice(0, 1),
        hasNextPage: true,
        totalCount: scoped.length,
      });
      const paid = scoped.filter((i) => i.status === 'PAID');
      expect(await list({ accountIds: ['ACC-000007', 'ACC-000002'], status: 'PAID' })).toEqual({
        nodes: paid,
        hasNextPage: false,
        totalCount: paid.length,
      });
      // A filter naming a customer, account or project outside the scope matches nothing.
      const outside = data.invoices.find((i) => i.customerId === 'CUS-000008')!;
      for (const filter of [
        { customerId: 'CUS-000008' },
        { accountId: 'ACC-000008' },
        { psaProjectId: outside.psaProjectId },
      ]) {
        expect(await list({ accountIds: ['ACC-000007'], ...filter })).toEqual({
          nodes: [],
          hasNextPage: false,
          totalCount: 0,
        });
      }
      expect(await list({ accountIds: [] })).toEqual({ nodes: [], hasNextPage: false, totalCount: 0 });
      expect((await list({ accountIds: null })).totalCount).toBe(data.invoices.length);
    });

    it('creates a customer once per CRM account and updates it on repeat', async () => {
      const id = nextAfter(
        data.customers.map((c) => c.id),
        'CUS',
      );
      const first = await connector.upsertCustomer(newCustomer);
      expect(first).toEqual({
        record: { ...newCustomer, id, customerNumber: `C${100000 + Number(id.slice(4))}` },
        created: true,
      });
      expect(await connector.upsertCustomer(newCustomer)).toEqual({ record: first.record, created: false });
      const moved = await connector.upsertCustomer({
        ...newCustomer,
        name: 'Summit Retail Group Ltd',
        paymentTerms: 'NET_60',
        currency: 'EUR',
      });
      expect(moved).toEqual({
        record: { ...first.record, name: 'Summit Retail Group Ltd', paymentTerms: 'NET_60', currency: 'EUR' },
        created: false,
      });
      expect(await connector.getCustomersByCrmAccount(['ACC-000003'])).toEqual([moved.record]);
    });

    it('rejects an unknown tax jurisdiction or legal entity, naming the value', async () => {
      expect(await failure(connector.upsertCustomer({ ...newCustomer, taxJurisdictionCode: 'XX' }))).toEqual({
        code: 'VALIDATION_REJECTED',
        message: "ERP rejected tax jurisdiction 'XX' for legal entity 'MERIDIAN-UK': no such jurisdiction",
        details: { system: 'erp', field: 'taxJurisdictionCode', value: 'XX' },
      });
      expect(await failure(connector.upsertCustomer({ ...newCustomer, legalEntityCode: 'MERIDIAN-FR' }))).toEqual({
        code: 'VALIDATION_REJECTED',
        message: "ERP rejected legal entity 'MERIDIAN-FR': no such legal entity",
        details: { system: 'erp', field: 'legalEntityCode', value: 'MERIDIAN-FR' },
      });
      expect(await connector.getCustomersByCrmAccount(['ACC-000003'])).toEqual([null]);
    });

    it('refuses to change the currency of a customer that has invoices', async () => {
      const { id, externalCrmId, customerNumber: _, ...fields } = gbpCustomer;
      expect(await failure(connector.upsertCustomer({ ...fields, externalCrmId, currency: 'USD' }))).toEqual({
        code: 'VALIDATION_REJECTED',
        message: `ERP rejected currency 'USD' for customer '${id}': it already has invoices in GBP`,
        details: { system: 'erp', field: 'currency', value: 'USD' },
      });
    });

    describe('updateCustomerFields', () => {
      it('changes the name and no other field; the same name again changes nothing', async () => {
        const renamed = { ...gbpCustomer, name: 'Renamed Holdings Ltd' };
        expect(
          await connector.updateCustomerFields({
            id: gbpCustomer.id,
            set: { name: renamed.name },
            expected: { name: gbpCustomer.name },
          }),
        ).toEqual({ record: renamed, changed: true });
        expect(
          await connector.updateCustomerFields({
            id: gbpCustomer.id,
            set: { name: renamed.name },
            expected: { name: gbpCustomer.name },
          }),
        ).toEqual({ record: renamed, changed: false });
        expect(await connector.updateCustomerFields({ id: gbpCustomer.id, set: {}, expected: {} })).toEqual({
          record: renamed,
          changed: false,
        });
        expect(await connector.getCustomers([gbpCustomer.id])).toEqual([renamed]);
      });

      it('refuses, changing nothing, a name that is no longer the expected one (INVALID_STATE), a blank name (VALIDATION_REJECTED) and an unknown customer (NOT_FOUND)', async () => {
        expect(
          await failure(
            connector.updateCustomerFields({
              id: gbpCustomer.id,
              set: { name: 'Renamed Holdings Ltd' },
              expected: { name: 'Someone Else Ltd' },
            }),
          ),
        ).toEqual({
          code: 'INVALID_STATE',
          message: `Customer ${gbpCustomer.id} (${gbpCustomer.customerNumber}) is named '${gbpCustomer.name}', not 'Someone Else Ltd' as expected: it changed since it was read`,
          details: { system: 'erp', field: 'name', value: gbpCustomer.name },
        });
        expect(
          await failure(connector.updateCustomerFields({ id: gbpCustomer.id, set: { name: '  ' }, expected: {} })),
        ).toEqual({
          code: 'VALIDATION_REJECTED',
          message: `ERP rejected the name of customer '${gbpCustomer.id}': a name is required`,
          details: { system: 'erp', field: 'name', value: '  ' },
        });
        expect(
          await failure(connector.updateCustomerFields({ id: 'CUS-999999', set: { name: 'X Ltd' }, expected: {} })),
        ).toEqual({
          code: 'NOT_FOUND',
          message: "ERP has no customer 'CUS-999999'",
          details: { system: 'erp', field: 'id', value: 'CUS-999999' },
        });
        expect(await connector.getCustomers([gbpCustomer.id])).toEqual([gbpCustomer]);
      });
    });

    it("sets a project's retainer fee once per project, updates it on repeat, and refuses a fee in another currency, not positive, or for an unknown project", async () => {
      expect(await connector.getRetainerTerms([gbpProject, 'PRJ-nope'])).toEqual([null, null]);
      const terms = { psaProjectId: gbpProject, feeMinor: 2000_00, currency: 'GBP' };
      expect(await connector.upsertRetainerTerms(terms)).toEqual({ record: terms, created: true });
      const changed = { ...terms, feeMinor: 2500_00 };
      expect(await connector.upsertRetainerTerms(changed)).toEqual({ record: changed, created: false });
      expect(await connector.getRetainerTerms([gbpProject])).toEqual([changed]);
      expect(await failure(connector.upsertRetainerTerms({ ...terms, currency: 'EUR' }))).toMatchObject({
        code: 'VALIDATION_REJECTED',
        details: { field: 'fee', value: '2000.00 EUR' },
      });
      expect(await failure(connector.upsertRetainerTerms({ ...terms, feeMinor: 0 }))).toMatchObject({
        code: 'VALIDATION_REJECTED',
        details: { field: 'fee' },
      });
      expect(await failure(connector.upsertRetainerTerms({ ...terms, psaProjectId: 'PRJ-nope' }))).toMatchObject({
        code: 'NOT_FOUND',
        details: { field: 'projectId', value: 'PRJ-nope' },
      });
      expect(await connector.getRetainerTerms([gbpProject])).toEqual([changed]);
    });

    it('creates project dimensions once per PSA project, updates them on repeat, and refuses an unknown customer', async () => {
      const dims = {
        psaProjectId: 'PRJ-0000031',
        customerId: 'CUS-000005',
        projectCode: 'DAT-0000031',
        billingSchedule: 'ON_MILESTONE',
        revenueTreatment: 'PERCENT_COMPLETE',
      };
      expect(await connector.upsertProjectDimensions(dims)).toEqual({ record: dims, created: true });
      expect(await connector.upsertProjectDimensions(dims)).toEqual({ record: dims, created: false });
      const changed = { ...dims, billingSchedule: 'MONTHLY_IN_ARREARS' };
      expect(await connector.upsertProjectDimensions(changed)).toEqual({ record: changed, created: false });
      expect(await connector.getProjectDimensions([dims.psaProjectId])).toEqual([changed]);
      expect(
        await failure(
          connector.upsertProjectDimensions({ ...dims, psaProjectId: 'PRJ-0000032', customerId: 'CUS-999999' }),
        ),
      ).toEqual({
        code: 'NOT_FOUND',
        message: "ERP has no customer 'CUS-999999'",
        details: { system: 'erp', field: 'customerId', value: 'CUS-999999' },
      });
    });

    it('posts billing lines priced quantity times unit price, once per external ID', async () => {
      const firstId = nextAfter(
        data.billingLines.map((l) => l.id),
        'BL',
      );
      const posted = await connector.postBillingLines([
        line('k1'),
        line('k2', { quantityHundredths: 100, unitPriceMinor: 12_345, sourceType: 'EXPENSE' }),
      ]);
      expect(posted).toEqual([
        { ...line('k1'), id: firstId, amountMinor: 1368_75, invoiceId: null },
        {
          ...line('k2', { quantityHundredths: 100, unitPriceMinor: 12_345, sourceType: 'EXPENSE' }),
          id: posted[1]!.id,
          amountMinor: 123_45,
          invoiceId: null,
        },
      ]);
      expect(posted[1]!.id > firstId).toBe(true);
      const again = await connector.postBillingLines([
        line('k2', { quantityHundredths: 100, unitPriceMinor: 12_345, sourceType: 'EXPENSE' }),
        line('k3'),
      ]);
      expect(again[0]).toEqual(posted[1]);
      expect(again[1]!.id > posted[1]!.id).toBe(true);
      expect(await failure(connector.postBillingLines([line('k1', { quantityHundredths: 800 })]))).toEqual({
        code: 'DUPLICATE_EXTERNAL_ID',
        message: `ERP already holds billing line '${firstId}' under external ID 'k1', with other data`,
        details: { system: 'erp', field: 'externalId', value: 'k1' },
      });
    });

    it('posts a batch of billing lines all or none', async () => {
      expect(
        await failure(connector.postBillingLines([line('fresh'), line('stray', { psaProjectId: 'PRJ-nope' })])),
      ).toEqual({
        code: 'NOT_FOUND',
        message: "ERP has no project 'PRJ-nope': push its financial dimensions first",
        details: { system: 'erp', field: 'projectId', value: 'PRJ-nope' },
      });
      // Had 'fresh' been kept, other data under its key would be a duplicate.
      const [fresh] = await connector.postBillingLines([line('fresh', { description: 'Re-sent after the fix' })]);
      expect(fresh).toMatchObject({ externalId: 'fresh', description: 'Re-sent after the fix' });
      expect(await failure(connector.postBillingLines([line('usd', { currency: 'USD' })]))).toEqual({
        code: 'VALIDATION_REJECTED',
        message: "ERP rejected a unit price of 182.50 USD on billing line 'usd': project 'PRJ-0000023' bills in GBP",
        details: { system: 'erp', field: 'unitPrice', value: '182.50 USD' },
      });
    });

    it('reports each accounting period open until it is closed, in the order asked', async () => {
      expect(await connector.getAccountingPeriods(['2026-11', '2026-10'])).toEqual([
        { period: '2026-11', status: 'OPEN' },
        { period: '2026-10', status: 'OPEN' },
      ]);
      faults.set({ closedPeriods: ['2026-10'] });
      expect(await connector.getAccountingPeriods(['2026-11', '2026-10', '2026-10'])).toEqual([
        { period: '2026-11', status: 'OPEN' },
        { period: '2026-10', status: 'CLOSED' },
        { period: '2026-10', status: 'CLOSED' },
      ]);
      faults.set({});
    });

    it('refuses postings into a closed period, but still answers a repeat of an earlier posting', async () => {
      const [before] = await connector.postBillingLines([line('oct-1', { postingDate: '2026-10-14' })]);
      faults.set({ closedPeriods: ['2026-10'] });
      expect(await failure(connector.postBillingLines([line('oct-2', { postingDate: '2026-10-15' })]))).toEqual({
        code: 'VALIDATION_REJECTED',
        message: "ERP rejected posting date '2026-10-15': accounting period 2026-10 is closed",
        details: { system: 'erp', field: 'postingDate', value: '2026-10-15' },
      });
      expect(await connector.postBillingLines([line('oct-1', { postingDate: '2026-10-14' })])).toEqual([before]);
      expect(
        await failure(
          connector.postInvoice({
            externalId: 'inv-oct',
            customerId: gbpCustomer.id,
            psaProjectId: gbpProject,
            issueDate: '2026-10-31',
            billingLineIds: [before!.id],
            lines: [],
          }),
        ),
      ).toEqual({
        code: 'VALIDATION_REJECTED',
        message: "ERP rejected issue date '2026-10-31': accounting period 2026-10 is closed",
        details: { system: 'erp', field: 'issueDate', value: '2026-10-31' },
      });
      faults.set({});
      await expect(connector.postBillingLines([line('oct-2', { postingDate: '2026-10-15' })])).resolves.toHaveLength(1);
    });

    describe('customer master fields', () => {
      it('changes the fields given and no other; null clears one; expected values guard each; a parent joins a group', async () => {
        const { record } = await connector.upsertCustomer(newCustomer);
        const changed = await connector.updateCustomerFields({
          id: gbpCustomer.id,
          set: { billingAddress: '2 Quay Street\nBristol BS1 4DJ', billingContact: null, parentCustomerId: record.id },
          expected: { billingAddress: gbpCustomer.billingAddress, parentCustomerId: null },
        });
        const moved = {
          ...gbpCustomer,
          billingAddress: '2 Quay Street\nBristol BS1 4DJ',
          billingContact: null,
          parentCustomerId: record.id,
        };
        expect(changed).toEqual({ record: moved, changed: true });
        expect(
          await failure(
            connector.updateCustomerFields({
              id: gbpCustomer.id,
              set: { legalName: 'Other Ltd' },
              expected: { legalName: 'Someone Else Ltd' },
            }),
          ),
        ).toEqual({
          code: 'INVALID_STATE',
          message: `Customer ${gbpCustomer.id} (${gbpCustomer.customerNumber}) has legalName ${gbpCustomer.legalName === null ? '(none)' : `'${gbpCustomer.legalName}'`}, not 'Someone Else Ltd' as expected: it changed since it was read`,
          details: { system: 'erp', field: 'legalName', value: gbpCustomer.legalName ?? '' },
        });
        // A loop, an unknown parent, a malformed country, unknown terms: refused, nothing changed.
        const refused = async (set: Parameters<ErpConnector['updateCustomerFields']>[0]['set'], id = record.id) =>
          (await failure(connector.updateCustomerFields({ id, set, expected: {} }))) as {
            code: string;
            message: string;
          };
        expect(await refused({ parentCustomerId: gbpCustomer.id })).toMatchObject({
          code: 'VALIDATION_REJECTED',
          message: `ERP rejected parent customer '${gbpCustomer.id}' for customer '${record.id}': a customer cannot be its own ancestor`,
        });
        expect(await refused({ parentCustomerId: 'CUS-999999' })).toMatchObject({
          code: 'NOT_FOUND',
          message: "ERP has no parent customer 'CUS-999999'",
        });
        expect(await refused({ billingCountry: 'GBR' })).toMatchObject({ code: 'VALIDATION_REJECTED' });
        expect(await refused({ paymentTerms: 'NET_90' })).toMatchObject({ code: 'VALIDATION_REJECTED' });
        expect(await connector.getCustomers([gbpCustomer.id, record.id])).toEqual([moved, record]);
        // A parent with a child customer is not deleted.
        expect(await failure(connector.deleteCustomer(record.id))).toMatchObject({
          code: 'INVALID_STATE',
          message: `Customer ${record.id} (${record.customerNumber}, ${record.name}) has 1 child customer; only a customer with no invoices, billing lines, projects or child customers can be deleted`,
        });
      });
    });

    describe('deleteCustomer', () => {
      it('deletes a customer it created; deleting it again, or an unknown ID, returns deleted: false', async () => {
        const { record } = await connector.upsertCustomer(newCustomer);
        expect(await connector.deleteCustomer(record.id)).toEqual({ id: record.id, deleted: true });
        expect(await connector.getCustomers([record.id])).toEqual([null]);
        expect(await connector.getCustomersByCrmAccount(['ACC-000003'])).toEqual([null]);
        expect(await connector.deleteCustomer(record.id)).toEqual({ id: record.id, deleted: false });
        expect(await connector.deleteCustomer('CUS-999999')).toEqual({ id: 'CUS-999999', deleted: false });
      });

      it("never issues a deleted customer's ID again: the same account then creates a new customer", async () => {
        const first = await connector.upsertCustomer(newCustomer);
        await connector.deleteCustomer(first.record.id);
        const id = formatId('CUS', Number(first.record.id.slice(4)) + 1);
        expect(await connector.upsertCustomer(newCustomer)).toEqual({
          record: { ...first.record, id, customerNumber: `C${100000 + Number(id.slice(4))}` },
          created: true,
        });
      });

      it('refuses, naming the customer and keeping it, a customer with invoices, billing lines or projects (INVALID_STATE)', async () => {
        const projects = data.projectDimensions
          .filter((d) => d.customerId === gbpCustomer.id)
          .map((d) => d.psaProjectId);
        const invoices = data.invoices.filter((i) => i.customerId === gbpCustomer.id).length;
        const lines = data.billingLines.filter((l) => projects.includes(l.psaProjectId)).length;
        expect([invoices, lines, projects.length].every((n) => n > 1)).toBe(true);
        expect(await failure(connector.deleteCustomer(gbpCustomer.id))).toEqual({
          code: 'INVALID_STATE',
          message: `Customer CUS-000002 (C100002, ${gbpCustomer.name}) has ${invoices} invoices, ${lines} billing lines and ${projects.length} projects; only a customer with no invoices, billing lines, projects or child customers can be deleted`,
          details: { system: 'erp', field: 'id', value: 'CUS-000002' },
        });
        expect(await connector.getCustomers([gbpCustomer.id])).toEqual([gbpCustomer]);

        const { record } = await connector.upsertCustomer(newCustomer);
        const dims = {
          psaProjectId: 'PRJ-0000031',
          customerId: record.id,
          projectCode: 'ERP-0000031',
          billingSchedule: 'ON_MILESTONE',
          revenueTreatment: 'PERCENT_COMPLETE',
        };
        await connector.upsertProjectDimensions(dims);
        expect(await failure(connector.deleteCustomer(record.id))).toEqual({
          code: 'INVALID_STATE',
          message: `Customer ${record.id} (${record.customerNumber}, Summit Retail Ltd) has 1 project; only a customer with no invoices, billing lines, projects or child customers can be deleted`,
          details: { system: 'erp', field: 'id', value: record.id },
        });
        // Compensating newest first: the dimensions, then the customer.
        expect(await connector.deleteProjectDimensions(dims.psaProjectId)).toEqual({
          id: dims.psaProjectId,
          deleted: true,
        });
        expect(await connector.deleteCustomer(record.id)).toEqual({ id: record.id, deleted: true });
      });
    });

    describe('deleteProjectDimensions', () => {
      it("deletes a project's dimensions; deleting them again, or a project without any, returns deleted: false", async () => {
        const project = 'PRJ-0000082';
        expect(
          data.billingLines.some((l) => l.psaProjectId === project) ||
            data.invoices.some((i) => i.psaProjectId === project),
        ).toBe(false);
        expect(await connector.deleteProjectDimensions(project)).toEqual({ id: project, deleted: true });
        expect(await connector.getProjectDimensions([project])).toEqual([null]);
        expect(await connector.deleteProjectDimensions(project)).toEqual({ id: project, deleted: false });
        expect(await connector.deleteProjectDimensions('PRJ-nope')).toEqual({ id: 'PRJ-nope', deleted: false });
      });

      it('refuses, naming the project and keeping the dimensions, a project with billing lines or invoices (INVALID_STATE)', async () => {
        const lines = data.billingLines.filter((l) => l.psaProjectId === gbpProject).length;
        const invoices = data.invoices.filter((i) => i.psaProjectId === gbpProject).length;
        expect(await failure(connector.deleteProjectDimensions(gbpProject))).toEqual({
          code: 'INVALID_STATE',
          message: `Project PRJ-0000023 (CLD-0000023) has ${lines} billing lines and ${invoices} invoices in ERP; only the dimensions of a project with none can be deleted`,
          details: { system: 'erp', field: 'projectId', value: gbpProject },
        });
        const dims = {
          psaProjectId: 'PRJ-0000031',
          customerId: gbpCustomer.id,
          projectCode: 'ERP-0000031',
          billingSchedule: 'MONTHLY_IN_ARREARS',
          revenueTreatment: 'AS_DELIVERED',
        };
        await connector.upsertProjectDimensions(dims);
        await connector.postBillingLines([line('only', { psaProjectId: dims.psaProjectId })]);
        expect(await failure(connector.deleteProjectDimensions(dims.psaProjectId))).toEqual({
          code: 'INVALID_STATE',
          message:
            'Project PRJ-0000031 (ERP-0000031) has 1 billing line in ERP; only the dimensions of a project with none can be deleted',
          details: { system: 'erp', field: 'projectId', value: 'PRJ-0000031' },
        });
        expect(await connector.getProjectDimensions([gbpProject, dims.psaProjectId])).toEqual([
          data.projectDimensions.find((d) => d.psaProjectId === gbpProject),
          dims,
        ]);
      });
    });

    describe("the invoices' change feed", () => {
      it('lists every invoice once, oldest change first, seeded ones as of their last change, with a stable total', async () => {
        const { invoices, end, totals } = await readFeed(connector, null);
        const expected = [...data.invoices].sort(byChange);
        expect(invoices).toEqual(expected);
        expect(totals.every((n) => n === data.invoices.length)).toBe(true);
        expect(end).toEqual({
          updatedAt: expected[expected.length - 1]!.updatedAt,
          id: expected[expected.length - 1]!.id,
        });
        expect(await connector.listInvoicesChangedSince({ since: null, after: end, first: 50 })).toEqual({
          nodes: [],
          hasNextPage: false,
          totalCount: data.invoices.length,
        });
      });

      it('moves an invoice to the end when it is posted or paid, so reading on from the last position returns exactly what changed since', async () => {
        const { end } = await readFeed(connector, null);
        const open = data.invoices.find((i) => i.status === 'POSTED' && i.balanceMinor > 0)!;
        const { record: posted } = await connector.postInvoice({
          externalId: 'fee-feed',
          customerId: gbpCustomer.id,
          psaProjectId: null,
          issueDate: '2026-11-30',
          billingLineIds: [],
          lines: [
            {
              description: 'Workshop',
              quantityHundredths: 100,
              unitPriceMinor: 900_00,
              currency: gbpCustomer.currency,
            },
          ],
        });
        const payment = {
          externalId: 'remit-feed',
          invoiceId: open.id,
          amountMinor: 1_00,
          currency: open.currency,
          receivedOn: '2026-11-30',
        };
        await connector.applyPayment(payment);
        // Neither a repeated post or payment nor a refused payment is a change.
        await connector.postInvoice({
          externalId: 'fee-feed',
          customerId: gbpCustomer.id,
          psaProjectId: null,
          issueDate: '2026-11-30',
          billingLineIds: [],
          lines: [
            {
              description: 'Workshop',
              quantityHundredths: 100,
              unitPriceMinor: 900_00,
              currency: gbpCustomer.currency,
            },
          ],
        });
        await connector.applyPayment(payment);
        await failure(
          connector.applyPayment({ ...payment, externalId: 'remit-too-much', amountMinor: open.totalMinor }),
        );
        const [paid] = await connector.getInvoices([open.id]);
        const since = await readFeed(connector, end, null, 1);
        expect(since.invoices).toEqual([
          posted,
          { ...open, balanceMinor: open.balanceMinor - 1_00, updatedAt: paid!.updatedAt },
        ]);
        expect(posted.updatedAt > end!.updatedAt && paid!.updatedAt > posted.updatedAt).toBe(true);
        expect((await readFeed(connector, since.end)).invoices).toEqual([]);
        // From the start, the paid invoice is listed once, at its new place.
        const all = (await readFeed(connector, null)).invoices.map((i) => i.id);
        expect(all.slice(-2)).toEqual([posted.id, open.id]);
        expect(all.filter((id) => id === open.id)).toEqual([open.id]);
      });

      it('starts at `since`, inclusively, and counts only the invoices changed since', async () => {
        const expected = [...data.invoices].sort(byChange);
        const since = expected[Math.floor(expected.length / 2)]!.updatedAt;
        const changed = expected.filter((i) => i.updatedAt >= since);
        expect(changed.length).toBeGreaterThan(1);
        expect(changed.length).toBeLessThan(expected.length);
        const { invoices, totals } = await readFeed(connector, null, since, 2);
        expect(invoices).toEqual(changed);
        expect(totals.every((n) => n === changed.length)).toBe(true);
        const first = changed[0]!;
        expect((await readFeed(connector, { updatedAt: first.updatedAt, id: first.id }, since)).invoices).toEqual(
          changed.slice(1),
        );
        expect(
          await connector.listInvoicesChangedSince({ since: '2999-01-01T00:00:00.000Z', after: null, first: 10 }),
        ).toEqual({ nodes: [], hasNextPage: false, totalCount: 0 });
      });
    });

    describe('invoices and payments', () => {
      let billed: string[];
      let request: PostInvoice;
      beforeEach(async () => {
        billed = (
          await connector.postBillingLines([
            line('b1'),
            line('b2', { quantityHundredths: 425, unitPriceMinor: 140_00 }),
          ])
        ).map((l) => l.id);
        request = {
          externalId: 'run-1:invoice',
          customerId: gbpCustomer.id,
          psaProjectId: gbpProject,
          issueDate: '2026-11-30',
          billingLineIds: billed,
          lines: [
            { description: 'Project management fee', quantityHundredths: 100, unitPriceMinor: 500_00, currency: 'GBP' },
          ],
        };
      });

      it('posts an invoice from billing lines and typed lines, with tax, terms and a number', async () => {
        const id = nextAfter(
          data.invoices.map((i) => i.id),
          'INV',
        );
        const subtotal = 1368_75 + 595_00 + 500_00;
        const { record, created } = await connector.postInvoice(request);
        // Stamped when posted, after every earlier change.
        expect(
          record.updatedAt >
            data.invoices
              .map((i) => i.updatedAt)
              .sort()
              .pop()!,
        ).toBe(true);
        expect({ record, created }).toEqual({
          record: {
            id,
            number: `UK-2026-${id.slice(4)}`,
            customerId: gbpCustomer.id,
            psaProjectId: gbpProject,
            status: 'POSTED',
            issueDate: '2026-11-30',
            dueDate: '2026-12-30',
            currency: 'GBP',
            subtotalMinor: subtotal,
            taxMinor: 492_75,
            totalMinor: subtotal + 492_75,
            balanceMinor: subtotal + 492_75,
            externalId: 'run-1:invoice',
            updatedAt: record.updatedAt,
          },
          created: true,
        });
        expect(await connector.getInvoiceLines([id])).toEqual([
          [
            {
              invoiceId: id,
              lineNumber: 1,
              description: 'Senior Consultant, 2026-11-02',
              quantityHundredths: 750,
              unitPriceMinor: 182_50,
              amountMinor: 1368_75,
            },
            {
              invoiceId: id,
              lineNumber: 2,
              description: 'Senior Consultant, 2026-11-02',
              quantityHundredths: 425,
              unitPriceMinor: 140_00,
              amountMinor: 595_00,
            },
            {
              invoiceId: id,
              lineNumber: 3,
              description: 'Project management fee',
              quantityHundredths: 100,
              unitPriceMinor: 500_00,
              amountMinor: 500_00,
            },
          ],
        ]);
        expect(await connector.postBillingLines([line('b1')])).toEqual([
          expect.objectContaining({ id: billed[0], invoiceId: id }),
        ]);
        const [ofProject] = await connector.getInvoicesByProject([gbpProject]);
        expect(ofProject![ofProject!.length - 1]).toEqual(record);
      });

      it('returns the first invoice for a repeated external ID and refuses the key with other data', async () => {
        const first = await connector.postInvoice(request);
        expect(await connector.postInvoice(request)).toEqual({ record: first.record, created: false });
        expect(await failure(connector.postInvoice({ ...request, issueDate: '2026-11-29' }))).toEqual({
          code: 'DUPLICATE_EXTERNAL_ID',
          message: `ERP already posted invoice '${first.record.id}' under external ID 'run-1:invoice', with other data`,
          details: { system: 'erp', field: 'externalId', value: 'run-1:invoice' },
        });
      });

      it('refuses billing lines that are unknown, on another project or already invoiced', async () => {
        const other = { ...request, externalId: 'run-2:invoice', lines: [] };
        expect(await failure(connector.postInvoice({ ...other, billingLineIds: ['BL-9999999999'] }))).toEqual({
          code: 'NOT_FOUND',
          message: "ERP has no billing line 'BL-9999999999' on project 'PRJ-0000023'",
          details: { system: 'erp', field: 'billingLineIds', value: 'BL-9999999999' },
        });
        const elsewhere = data.billingLines.find((l) => l.psaProjectId !== gbpProject)!;
        expect(await failure(connector.postInvoice({ ...other, billingLineIds: [elsewhere.id] }))).toMatchObject({
          code: 'NOT_FOUND',
          details: { value: elsewhere.id },
        });
        const invoiced = data.billingLines.find((l) => l.psaProjectId === gbpProject)!;
        expect(await failure(connector.postInvoice({ ...other, billingLineIds: [billed[0]!, invoiced.id] }))).toEqual({
          code: 'INVALID_STATE',
          message: `Billing line '${invoiced.id}' is already billed on invoice '${invoiced.invoiceId}'`,
          details: { system: 'erp', field: 'billingLineIds', value: invoiced.id },
        });
        // Nothing of a refused invoice stays: its first line can still be invoiced.
        await expect(connector.postInvoice({ ...other, billingLineIds: [billed[0]!] })).resolves.toMatchObject({
          created: true,
        });
        expect(
          await failure(connector.postInvoice({ ...other, externalId: 'run-3:invoice', customerId: 'CUS-999999' })),
        ).toMatchObject({ code: 'NOT_FOUND', details: { field: 'customerId' } });
      });

      it('settles covered billing lines on an invoice without charging them: a retainer fee drawn down by time', async () => {
        const fee = {
          description: 'Retainer fee, 2026-12',
          quantityHundredths: 100,
          unitPriceMinor: 1500_00,
          currency: 'GBP',
        };
        const retainer = { ...request, externalId: 'run-r:invoice', billingLineIds: [], lines: [fee] };
        const { record } = await connector.postInvoice({ ...retainer, coveredBillingLineIds: billed });
        expect([record.subtotalMinor, record.taxMinor]).toEqual([1500_00, 300_00]);
        expect((await connector.getInvoiceLines([record.id]))[0]!.map((l) => l.amountMinor)).toEqual([1500_00]);
        const [lines] = await connector.getBillingLinesByProject([gbpProject]);
        expect(lines!.filter((l) => billed.includes(l.id)).map((l) => l.invoiceId)).toEqual([record.id, record.id]);
        // The same request again returns the invoice; the covered lines are part of the request.
        expect(await connector.postInvoice({ ...retainer, coveredBillingLineIds: billed })).toEqual({
          record,
          created: false,
        });
        expect(await failure(connector.postInvoice(retainer))).toMatchObject({ code: 'DUPLICATE_EXTERNAL_ID' });
        // A covered line is settled once, like a charged one.
        expect(
          await failure(
            connector.postInvoice({ ...retainer, externalId: 'run-r2:invoice', coveredBillingLineIds: [billed[0]!] }),
          ),
        ).toMatchObject({ code: 'INVALID_STATE', details: { value: billed[0] } });
      });

      it('rounds tax half-up to the minor unit', async () => {
        // Germany USt is 19%: 0.50 EUR of tax base is 0.095 EUR of tax, which rounds up to 0.10.
        const { record } = await connector.postInvoice({
          externalId: 'fee-1',
          customerId: 'CUS-000007',
          psaProjectId: null,
          issueDate: '2026-11-30',
          billingLineIds: [],
          lines: [{ description: 'Courier', quantityHundredths: 50, unitPriceMinor: 1_00, currency: 'EUR' }],
        });
        expect(record).toMatchObject({
          number: `DE-2026-${record.id.slice(4)}`,
          currency: 'EUR',
          subtotalMinor: 50,
          taxMinor: 10,
          totalMinor: 60,
          dueDate: '2026-12-30',
        });
      });

      it('applies payments once per external ID, down to a PAID invoice', async () => {
        const { record: invoice } = await connector.postInvoice(request);
        const payment = {
          externalId: 'remit-1',
          invoiceId: invoice.id,
          amountMinor: 1000_00,
          currency: 'GBP',
          receivedOn: '2026-12-10',
        };
        const first = await connector.applyPayment(payment);
        expect(first).toEqual({
          record: {
            ...payment,
            id: nextAfter(
              data.payments.map((p) => p.id),
              'PAY',
            ),
          },
          created: true,
        });
        const [partPaid] = await connector.getInvoices([invoice.id]);
        // A payment is a change to the invoice: it is stamped again, later; repeating the payment changes nothing.
        expect(partPaid!.updatedAt > invoice.updatedAt).toBe(true);
        expect(await connector.applyPayment(payment)).toEqual({ record: first.record, created: false });
        expect(await connector.getInvoices([invoice.id])).toEqual([
          { ...invoice, balanceMinor: invoice.balanceMinor - 1000_00, updatedAt: partPaid!.updatedAt },
        ]);
        expect(await failure(connector.applyPayment({ ...payment, amountMinor: 999_00 }))).toMatchObject({
          code: 'DUPLICATE_EXTERNAL_ID',
          details: { value: 'remit-1' },
        });
        const rest = { ...payment, externalId: 'remit-2', amountMinor: invoice.balanceMinor - 1000_00 };
        await connector.applyPayment(rest);
        const [paid] = await connector.getInvoices([invoice.id]);
        expect(paid!.updatedAt > partPaid!.updatedAt).toBe(true);
        expect(paid).toEqual({ ...invoice, balanceMinor: 0, status: 'PAID', updatedAt: paid!.updatedAt });
        expect((await connector.getPaymentsByInvoice([invoice.id]))[0]!.map((p) => p.externalId)).toEqual([
          'remit-1',
          'remit-2',
        ]);
        expect(await failure(connector.applyPayment({ ...payment, externalId: 'remit-3', amountMinor: 1 }))).toEqual({
          code: 'INVALID_STATE',
          message: `Invoice '${invoice.number}' is PAID; only a POSTED or OVERDUE invoice takes payments`,
          details: { system: 'erp', field: 'invoiceId', value: invoice.id },
        });
      });

      it('marks a POSTED invoice past its due date OVERDUE once; a part payment keeps it OVERDUE, one in full makes it PAID', async () => {
        const { record: invoice } = await connector.postInvoice(request);
        expect(invoice.dueDate).toBe('2026-12-30');
        // Not past due on its due date: refused, and nothing changes.
        expect(await failure(connector.markInvoiceOverdue({ invoiceId: invoice.id, asOf: '2026-12-30' }))).toEqual({
          code: 'INVALID_STATE',
          message: `Invoice '${invoice.number}' is POSTED, due 2026-12-30: it is not past due on 2026-12-30`,
          details: { system: 'erp', field: 'invoiceId', value: invoice.id },
        });
        expect(await connector.getInvoices([invoice.id])).toEqual([invoice]);
        const marked = await connector.markInvoiceOverdue({ invoiceId: invoice.id, asOf: '2026-12-31' });
        // Marking is a change: stamped again, later (so the change feed lists the invoice).
        expect(marked.record.updatedAt > invoice.updatedAt).toBe(true);
        expect(marked).toEqual({
          record: { ...invoice, status: 'OVERDUE', updatedAt: marked.record.updatedAt },
          changed: true,
        });
        expect(await connector.markInvoiceOverdue({ invoiceId: invoice.id, asOf: '2027-01-05' })).toEqual({
          record: marked.record,
          changed: false,
        });
        const overdue = await connector.listInvoices(
          { first: 1000, afterKey: null },
          {
            customerId: gbpCustomer.id,
            overdueOn: '2026-12-31',
          },
        );
        expect(overdue.nodes.map((i) => i.id)).toContain(invoice.id);

        const payment = { invoiceId: invoice.id, currency: 'GBP', receivedOn: '2027-01-02' };
        await connector.applyPayment({ ...payment, externalId: 'late-1', amountMinor: 1000_00 });
        expect((await connector.getInvoices([invoice.id]))[0]).toMatchObject({
          status: 'OVERDUE',
          balanceMinor: invoice.balanceMinor - 1000_00,
        });
        await connector.applyPayment({ ...payment, externalId: 'late-2', amountMinor: invoice.balanceMinor - 1000_00 });
        const [paid] = await connector.getInvoices([invoice.id]);
        expect(paid).toMatchObject({ status: 'PAID', balanceMinor: 0 });
        expect(await connector.markInvoiceOverdue({ invoiceId: invoice.id, asOf: '2027-01-05' })).toEqual({
          record: paid,
          changed: false,
        });
        expect(await failure(connector.markInvoiceOverdue({ invoiceId: 'INV-nope', asOf: '2027-01-05' }))).toEqual({
          code: 'NOT_FOUND',
          message: "ERP has no invoice 'INV-nope'",
          details: { system: 'erp', field: 'invoiceId', value: 'INV-nope' },
        });
      });

      it('places a credit hold with a reason, keeps its first date when the reason changes, and releases it', async () => {
        expect(await connector.getCreditHolds([gbpCustomer.id, 'CUS-nope'])).toEqual([null, null]);
        const placed = {
          customerId: gbpCustomer.id,
          reason: 'Payments 90 days late',
          since: '2026-12-01T09:00:00.000Z',
        };
        expect(
          await connector.setCreditHold({ customerId: gbpCustomer.id, reason: placed.reason, at: placed.since }),
        ).toEqual({ record: placed, changed: true });
        expect(
          await connector.setCreditHold({
            customerId: gbpCustomer.id,
            reason: placed.reason,
            at: '2026-12-02T09:00:00.000Z',
          }),
        ).toEqual({ record: placed, changed: false });
        const changed = { ...placed, reason: 'Disputed invoices' };
        expect(
          await connector.setCreditHold({
            customerId: gbpCustomer.id,
            reason: changed.reason,
            at: '2026-12-03T09:00:00.000Z',
          }),
        ).toEqual({ record: changed, changed: true });
        expect(await connector.getCreditHolds([gbpCustomer.id])).toEqual([changed]);
        expect(
          await failure(connector.setCreditHold({ customerId: gbpCustomer.id, reason: '  ', at: placed.since })),
        ).toEqual({
          code: 'VALIDATION_REJECTED',
          message: `ERP rejected a credit hold on customer '${gbpCustomer.id}': a reason is required`,
          details: { system: 'erp', field: 'reason', value: '  ' },
        });
        expect(
          await failure(connector.setCreditHold({ customerId: 'CUS-nope', reason: 'Late', at: placed.since })),
        ).toEqual({
          code: 'NOT_FOUND',
          message: "ERP has no customer 'CUS-nope'",
          details: { system: 'erp', field: 'customerId', value: 'CUS-nope' },
        });
        expect(await connector.getCreditHolds([gbpCustomer.id])).toEqual([changed]);
        const release = { customerId: gbpCustomer.id, reason: null, at: '2026-12-04T09:00:00.000Z' };
        expect(await connector.setCreditHold(release)).toEqual({ record: null, changed: true });
        expect(await connector.setCreditHold(release)).toEqual({ record: null, changed: false });
        expect(await connector.getCreditHolds([gbpCustomer.id])).toEqual([null]);
        // The hold is its own record: the customer reads as it did.
        expect(await connector.getCustomers([gbpCustomer.id])).toEqual([gbpCustomer]);
      });

      it('rejects a payment over the balance, in another currency or for an unknown invoice, naming the amount', async () => {
        const { record: invoice } = await connector.postInvoice(request);
        const payment = {
          externalId: 'remit-x',
          invoiceId: invoice.id,
          amountMinor: invoice.balanceMinor + 1,
          currency: 'GBP',
          receivedOn: '2026-12-10',
        };
        const due = `${(invoice.balanceMinor / 100).toFixed(2)} GBP`;
        const over = `${((invoice.balanceMinor + 1) / 100).toFixed(2)} GBP`;
        expect(await failure(connector.applyPayment(payment))).toEqual({
          code: 'VALIDATION_REJECTED',
          message: `ERP rejected a payment of ${over} on invoice '${invoice.number}': it exceeds the balance due of ${due}`,
          details: { system: 'erp', field: 'amount', value: over },
        });
        expect(await failure(connector.applyPayment({ ...payment, amountMinor: 100_00, currency: 'USD' }))).toEqual({
          code: 'VALIDATION_REJECTED',
          message: `ERP rejected a payment of 100.00 USD on invoice '${invoice.number}': the invoice is in GBP`,
          details: { system: 'erp', field: 'amount', value: '100.00 USD' },
        });
        expect(await failure(connector.applyPayment({ ...payment, invoiceId: 'INV-nope' }))).toEqual({
          code: 'NOT_FOUND',
          message: "ERP has no invoice 'INV-nope'",
          details: { system: 'erp', field: 'invoiceId', value: 'INV-nope' },
        });
        faults.set({ closedPeriods: ['2026-12'] });
        expect(await failure(connector.applyPayment({ ...payment, amountMinor: 1 }))).toMatchObject({
          code: 'VALIDATION_REJECTED',
          details: { field: 'receivedOn', value: '2026-12-10' },
        });
        expect(await connector.getInvoices([invoice.id])).toEqual([invoice]);
      });
    });

    describeProjectContractCases(() => connector);
  });
}
