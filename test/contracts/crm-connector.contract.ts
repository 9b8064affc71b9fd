import { describeContractAmendmentCases } from './contract-amendments.cases';
import type { ChangePosition } from '../../lib/change-feed';
import { MeridianError } from '../../lib/errors';
import type { AccountRecord, CrmConnector, OpportunityRecord } from '../../subgraphs/crm/connector/crm-connector';
import { generateAccounts } from '../../seed/generate';

/** An adapter under test, seeded with the first `accounts` demo accounts, and how to dispose of it. */
export type CrmAdapterFactory = (
  accounts: number,
) => Promise<{ connector: CrmConnector; close(): Promise<void> | void }>;

/** Every account of `connector`'s change feed from `after` on (a `first`-sized page at a time), and the position it ends at. */
async function readFeed(
  connector: CrmConnector,
  after: ChangePosition | null,
  since: string | null = null,
  first = 5,
): Promise<{ accounts: AccountRecord[]; end: ChangePosition | null; totals: number[] }> {
  const accounts: AccountRecord[] = [];
  const totals: number[] = [];
  let position = after;
  for (;;) {
    const page = await connector.listAccountsChangedSince({ since, after: position, first });
    accounts.push(...page.nodes);
    totals.push(page.totalCount);
    const last = page.nodes[page.nodes.length - 1];
    if (last) position = { updatedAt: last.updatedAt, id: last.id };
    if (!page.hasNextPage) return { accounts, end: position, totals };
  }
}

/** The behaviour every {@link CrmConnector} adapter must show. */
export function describeCrmConnectorContract(adapter: string, make: CrmAdapterFactory): void {
  describe(`CrmConnector contract: ${adapter}`, () => {
    const data = generateAccounts(1, 13);
    let connector: CrmConnector;
    let close: () => Promise<void> | void;
    beforeEach(async () => {
      ({ connector, close } = await make(12));
    });
    afterEach(async () => {
      await close();
    });

    it('returns batch reads in the order of the keys, with null for unknown IDs', async () => {
      const [a, missing, b] = await connector.getAccounts(['ACC-000003', 'ACC-999999', 'ACC-000001']);
      expect([a?.id, missing, b?.id]).toEqual(['ACC-000003', null, 'ACC-000001']);
      expect(a).toEqual(data.crm.accounts[2]);
      const opps = await connector.getOpportunities([data.crm.opportunities[1]!.id, 'OPP-nope']);
      expect(opps).toEqual([data.crm.opportunities[1], null]);
    });

    it('groups contacts and opportunities per account, one array per key, empty for unknown accounts', async () => {
      const [contacts, none] = await connector.getContactsByAccount(['ACC-000002', 'ACC-999999']);
      expect(contacts).toEqual(data.crm.contacts.filter((c) => c.accountId === 'ACC-000002'));
      expect(none).toEqual([]);
      const [opps] = await connector.getOpportunitiesByAccount(['ACC-000002']);
      expect(new Set(opps!.map((o) => o.id))).toEqual(
        new Set(data.crm.opportunities.filter((o) => o.accountId === 'ACC-000002').map((o) => o.id)),
      );
      const dates = opps!.map((o) => o.closeDate ?? '');
      expect(dates).toEqual([...dates].sort().reverse());
    });

    it('pages through every account exactly once, in ID order, with a stable total', async () => {
      const seen: string[] = [];
      let afterKey: string | null = null;
      for (;;) {
        const page = await connector.listAccounts({ first: 5, afterKey });
        expect(page.totalCount).toBe(12);
        seen.push(...page.nodes.map((a) => a.id));
        if (!page.hasNextPage) break;
        afterKey = page.nodes[page.nodes.length - 1]!.id;
      }
      expect(seen).toEqual(data.crm.accounts.map((a) => a.id));
    });

    it('filters listed opportunities and counts only the matches', async () => {
      const won = data.crm.opportunities.filter((o) => o.stage === 'CLOSED_WON');
      const page = await connector.listOpportunities({ first: 1000, afterKey: null }, { stage: 'CLOSED_WON' });
      expect(page.nodes.map((o) => o.id)).toEqual(won.map((o) => o.id).sort());
      expect(page.totalCount).toBe(won.length);
      const empty = await connector.listOpportunities({ first: 0, afterKey: null }, { accountId: 'ACC-000001' });
      expect(empty).toEqual({
        nodes: [],
        hasNextPage: true,
        totalCount: data.crm.opportunities.filter((o) => o.accountId === 'ACC-000001').length,
      });
    });

    it('lists only the accounts with the given IDs, with the other conditions, none for an empty list, counting only the matches', async () => {
      const [third, fifth] = [data.crm.accounts[2]!, data.crm.accounts[4]!];
      const page = await connector.listAccounts(
        { first: 1, afterKey: null },
        { ids: [fifth.id, 'ACC-999999', third.id] },
      );
      expect(page).toEqual({ nodes: [third], hasNextPage: true, totalCount: 2 });
      expect(
        await connector.listAccounts({ first: 10, afterKey: third.id }, { ids: [fifth.id, 'ACC-999999', third.id] }),
      ).toEqual({ nodes: [fifth], hasNextPage: false, totalCount: 2 });
      expect(
        await connector.listAccounts(
          { first: 10, afterKey: null },
          { ids: [third.id, fifth.id], billingCountry: fifth.billingCountry },
        ),
      ).toEqual({
        nodes: [third, fifth].filter((a) => a.billingCountry === fifth.billingCountry),
        hasNextPage: false,
        totalCount: [third, fifth].filter((a) => a.billingCountry === fifth.billingCountry).length,
      });
      expect(await connector.listAccounts({ first: 10, afterKey: null }, { ids: [] })).toEqual({
        nodes: [],
        hasNextPage: false,
        totalCount: 0,
      });
    });

    it('lists only the opportunities of the given accounts, with the other conditions, none for an empty list', async () => {
      const accountIds = ['ACC-000002', 'ACC-000005', 'ACC-999999'];
      const theirs = data.crm.opportunities.filter((o) => accountIds.includes(o.accountId));
      const page = await connector.listOpportunities({ first: 1000, afterKey: null }, { accountIds });
      expect(page).toEqual({
        nodes: [...theirs].sort((a, b) => (a.id < b.id ? -1 : 1)),
        hasNextPage: false,
        totalCount: theirs.length,
      });
      const one = await connector.listOpportunities(
        { first: 1000, afterKey: null },
        { accountIds, accountId: 'ACC-000005' },
      );
      expect(one.nodes.map((o) => o.id)).toEqual(
        theirs
          .filter((o) => o.accountId === 'ACC-000005')
          .map((o) => o.id)
          .sort(),
      );
      expect(
        await connector.listOpportunities({ first: 1000, afterKey: null }, { accountIds, accountId: 'ACC-000001' }),
      ).toEqual({ nodes: [], hasNextPage: false, totalCount: 0 });
      expect(await connector.listOpportunities({ first: 10, afterKey: null }, { accountIds: [] })).toEqual({
        nodes: [],
        hasNextPage: false,
        totalCount: 0,
      });
    });

    it('creates an account once per external ID and updates it on repeat', async () => {
      const input = {
        externalId: 'ext-1',
        name: 'Acme Ltd',
        industry: 'Retail',
        billingCountry: 'GB',
        parentAccountId: null,
        owner: 'Sam',
      };
      const first = await connector.upsertAccount(input);
      const again = await connector.upsertAccount(input);
      const renamed = await connector.upsertAccount({ ...input, name: 'Acme Group Ltd' });
      expect(first.created).toBe(true);
      // A repeat changes nothing, so `updatedAt` stays; a rename is a change, stamped later.
      expect(again).toEqual({ record: first.record, created: false });
      expect(renamed).toEqual({
        record: { ...first.record, name: 'Acme Group Ltd', updatedAt: renamed.record.updatedAt },
        created: false,
      });
      expect(
        first.record.updatedAt > data.crm.accounts[0]!.updatedAt && renamed.record.updatedAt > first.record.updatedAt,
      ).toBe(true);
      expect(first.record.id).toBe('ACC-000013');
      expect((await connector.listAccounts({ first: 0, afterKey: null })).totalCount).toBe(13);
    });

    it('keeps the customer master fields an upsert gives, and refuses a billing contact of another account and a parent loop', async () => {
      // ACC-000002's first contact, and ACC-000010, a child of ACC-000009 in the demo data.
      const [seeded] = await connector.getAccounts(['ACC-000002']);
      const [contacts] = await connector.getContactsByAccount(['ACC-000002']);
      expect(seeded!.billingContactId).toBe(contacts![0]!.id);
      const input = {
        externalId: 'ext-master',
        name: 'Acme Ltd',
        industry: 'Retail',
        billingCountry: 'GB',
        parentAccountId: 'ACC-000009',
        owner: null,
        legalName: 'Acme Holdings Limited',
        billingAddress: '1 Acme Street\nLondon EC1A 1BB',
        paymentTerms: 'NET_45' as const,
      };
      const { record } = await connector.upsertAccount(input);
      expect(record).toMatchObject({ ...input, billingContactId: null, id: 'ACC-000013' });
      const refusal = (promise: Promise<unknown>) =>
        promise.then(
          () => null,
          (e: { code: string; message: string }) => [e.code, e.message],
        );
      expect(await refusal(connector.upsertAccount({ ...input, billingContactId: contacts![0]!.id }))).toEqual([
        'VALIDATION_REJECTED',
        `CRM rejected billing contact '${contacts![0]!.id}': not a contact of account 'ACC-000013'`,
      ]);
      // ACC-000014 under ACC-000013: making ACC-000013 a child of ACC-000014 would close a loop.
      const child = await connector.upsertAccount({ ...input, externalId: 'ext-child', parentAccountId: record.id });
      expect(await refusal(connector.upsertAccount({ ...input, parentAccountId: child.record.id }))).toEqual([
        'VALIDATION_REJECTED',
        `CRM rejected parent account '${child.record.id}' for account '${record.id}': an account cannot be its own ancestor`,
      ]);
      expect(await connector.getAccounts(['ACC-000013'])).toEqual([record]);
    });

    describe("the accounts' change feed", () => {
      const byChange = (a: ChangePosition, b: ChangePosition) =>
        a.updatedAt.localeCompare(b.updatedAt) || a.id.localeCompare(b.id);

      it('lists every account once, oldest change first, with a stable total, and nothing after its end', async () => {
        const { accounts, end, totals } = await readFeed(connector, null);
        expect(accounts).toEqual([...data.crm.accounts].sort(byChange));
        expect(totals).toEqual([12, 12, 12]);
        expect(await connector.listAccountsChangedSince({ since: null, after: end, first: 10 })).toEqual({
          nodes: [],
          hasNextPage: false,
          totalCount: 12,
        });
      });

      it('moves an account to the end when an upsert creates or changes it, not when it changes nothing, nor when its finance is recorded', async () => {
        const { end } = await readFeed(connector, null);
        const input = {
          externalId: 'ext-feed',
          name: 'Feed Ltd',
          industry: null,
          billingCountry: 'GB',
          parentAccountId: null,
          owner: null,
        };
        const created = await connector.upsertAccount(input);
        const other = await connector.upsertAccount({ ...input, externalId: 'ext-other', name: 'Other Ltd' });
        await connector.upsertAccount(input);
        await connector.recordAccountFinancials({
          accountId: created.record.id,
          invoicedToDateMinor: 0,
          outstandingMinor: 0,
          overdueMinor: 0,
          oldestOverdueDueDate: null,
          currency: 'GBP',
          asOf: '2026-11-02T10:00:00.000Z',
          at: '2026-11-02T10:00:01.000Z',
        });
        const changed = await connector.upsertAccount({ ...input, owner: 'Sam' });
        const since = await readFeed(connector, end, null, 1);
        expect(since.accounts).toEqual([other.record, changed.record]);
        expect(
          changed.record.updatedAt > other.record.updatedAt && other.record.updatedAt > created.record.updatedAt,
        ).toBe(true);
        expect((await readFeed(connector, since.end)).accounts).toEqual([]);
      });

      it('starts at `since`, inclusively, and counts only the accounts changed since', async () => {
        const { record } = await connector.upsertAccount({
          externalId: 'ext-since',
          name: 'Since Ltd',
          industry: null,
          billingCountry: null,
          parentAccountId: null,
          owner: null,
        });
        expect(await connector.listAccountsChangedSince({ since: record.updatedAt, after: null, first: 10 })).toEqual({
          nodes: [record],
          hasNextPage: false,
          totalCount: 1,
        });
        expect(
          await connector.listAccountsChangedSince({ since: data.crm.accounts[0]!.updatedAt, after: null, first: 0 }),
        ).toEqual({ nodes: [], hasNextPage: true, totalCount: 13 });
      });
    });

    describe('recordAccountFinancials', () => {
      const figures = {
        accountId: 'ACC-000002',
        invoicedToDateMinor: 12_000_00,
        outstandingMinor: 4_000_00,
        overdueMinor: 1_000_00,
        oldestOverdueDueDate: '2026-10-01' as string | null,
        currency: 'GBP',
        asOf: '2026-11-02T10:00:00.000Z',
        at: '2026-11-02T10:00:01.000Z',
      };
      const { at: _, ...rest } = figures;
      const recorded = { ...rest, updatedAt: figures.at };

      /** Code, message and details of the rejection of `promise`. */
      const refusal = async (promise: Promise<unknown>) => {
        const error = await promise.then(
          () => new Error('expected the call to fail'),
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(MeridianError);
        const { code, message, details } = error as MeridianError;
        return { code, message, details };
      };

      it('records the figures once; the same figures again, even read later, change nothing', async () => {
        expect(await connector.getAccountFinance(['ACC-000002', 'ACC-999999'])).toEqual([null, null]);
        expect(await connector.recordAccountFinancials(figures)).toEqual({ record: recorded, changed: true });
        expect(
          await connector.recordAccountFinancials({
            ...figures,
            asOf: '2026-11-03T10:00:00.000Z',
            at: '2026-11-03T10:00:01.000Z',
          }),
        ).toEqual({ record: recorded, changed: false });
        expect(await connector.getAccountFinance(['ACC-000002'])).toEqual([recorded]);
      });

      it('takes newer figures and ignores figures read before the recorded ones', async () => {
        await connector.recordAccountFinancials(figures);
        const paid = {
          ...figures,
          outstandingMinor: 0,
          overdueMinor: 0,
          asOf: '2026-11-04T10:00:00.000Z',
          at: '2026-11-04T10:00:01.000Z',
        };
        const updated = { ...recorded, outstandingMinor: 0, overdueMinor: 0, asOf: paid.asOf, updatedAt: paid.at };
        expect(await connector.recordAccountFinancials(paid)).toEqual({ record: updated, changed: true });
        expect(
          await connector.recordAccountFinancials({
            ...figures,
            asOf: '2026-11-03T10:00:00.000Z',
            at: '2026-11-05T10:00:00.000Z',
          }),
        ).toEqual({ record: updated, changed: false });
        expect(await connector.getAccountFinance(['ACC-000002'])).toEqual([updated]);
      });

      it('refuses an unknown account (NOT_FOUND) and a negative amount (VALIDATION_REJECTED), recording nothing', async () => {
        expect(await refusal(connector.recordAccountFinancials({ ...figures, accountId: 'ACC-999999' }))).toEqual({
          code: 'NOT_FOUND',
          message: "CRM has no account 'ACC-999999' to record financials on",
          details: { system: 'crm', field: 'accountId', value: 'ACC-999999' },
        });
        expect(await refusal(connector.recordAccountFinancials({ ...figures, overdueMinor: -250 }))).toEqual({
          code: 'VALIDATION_REJECTED',
          message: "CRM rejected overdue -2.50 GBP for account 'ACC-000002': it must not be negative",
          details: { system: 'crm', field: 'overdue', value: '-2.50 GBP' },
        });
        expect(await connector.getAccountFinance(['ACC-000002'])).toEqual([null]);
      });
    });

    it('refuses an opportunity for an unknown account with NOT_FOUND', async () => {
      const error = await connector
        .upsertOpportunity({
          externalId: 'x',
          accountId: 'ACC-999999',
          name: 'n',
          stage: 'PROSPECTING',
          amountMinor: null,
          currency: null,
          closeDate: null,
          servicePackage: null,
          billingModel: null,
          deliveryRegion: null,
          expectedStartDate: null,
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MeridianError);
      expect((error as MeridianError).code).toBe('NOT_FOUND');
    });

    it('closes an opportunity idempotently and refuses to close it the other way', async () => {
      const open = data.crm.opportunities.find((o) => o.stage === 'NEGOTIATION' || o.stage === 'PROPOSAL')!;
      const won = await connector.closeOpportunity(open.id, 'WON', '2026-11-01');
      expect(won).toEqual({ ...open, stage: 'CLOSED_WON', closeDate: '2026-11-01' });
      expect(await connector.closeOpportunity(open.id, 'WON', '2026-11-02')).toEqual(won);
      await expect(connector.closeOpportunity(open.id, 'LOST', '2026-11-02')).rejects.toMatchObject({
        code: 'INVALID_STATE',
      });
      await expect(connector.closeOpportunity('OPP-nope', 'WON', '2026-11-02')).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
    });

    it('refuses an upsert that closes a closed opportunity the other way, as closeOpportunity does; reopening is allowed', async () => {
      const account = data.crm.accounts[0]!;
      const upsert = (stage: string) =>
        connector.upsertOpportunity({
          externalId: 'contract-closed-deal',
          accountId: account.id,
          name: 'Closed deal',
          stage: stage as OpportunityRecord['stage'],
          amountMinor: 100_00,
          currency: 'GBP',
          closeDate: '2026-11-01',
          servicePackage: null,
          billingModel: null,
          deliveryRegion: null,
          expectedStartDate: null,
        });
      const won = (await upsert('CLOSED_WON')).record;
      await expect(upsert('CLOSED_LOST')).rejects.toMatchObject({
        code: 'INVALID_STATE',
        message: `Opportunity '${won.id}' is already CLOSED_WON; it cannot be closed LOST`,
      });
      expect((await connector.getOpportunities([won.id]))[0]!.stage).toBe('CLOSED_WON');
      expect((await upsert('CLOSED_WON')).record.stage).toBe('CLOSED_WON');
      expect((await upsert('NEGOTIATION')).record.stage).toBe('NEGOTIATION');
      expect((await connector.closeOpportunity(won.id, 'LOST', '2026-11-03')).stage).toBe('CLOSED_LOST');
      await expect(upsert('CLOSED_WON')).rejects.toMatchObject({ code: 'INVALID_STATE' });
    });

    it('links PSA and ERP IDs on an opportunity, keeping one when only the other is given', async () => {
      const opp = data.crm.opportunities[0]!;
      await connector.linkOpportunity(opp.id, { psaProjectId: 'PRJ-1', erpCustomerId: 'CUS-1' });
      const linked = await connector.linkOpportunity(opp.id, { erpCustomerId: 'CUS-2' });
      expect(linked).toEqual({ ...opp, psaProjectId: 'PRJ-1', erpCustomerId: 'CUS-2' });
    });

    it('clears both links of an opportunity, again and again, and refuses an unknown opportunity with NOT_FOUND', async () => {
      const linked = data.crm.opportunities.find((o) => o.psaProjectId !== null && o.erpCustomerId !== null)!;
      const unlinked = { ...linked, psaProjectId: null, erpCustomerId: null };
      expect(await connector.unlinkOpportunity(linked.id)).toEqual(unlinked);
      expect(await connector.unlinkOpportunity(linked.id)).toEqual(unlinked);
      expect(await connector.getOpportunities([linked.id])).toEqual([unlinked]);
      const error = await connector.unlinkOpportunity('OPP-nope').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MeridianError);
      const { code, message, details } = error as MeridianError;
      expect({ code, message, details }).toEqual({
        code: 'NOT_FOUND',
        message: "CRM has no opportunity 'OPP-nope'",
        details: { system: 'crm', value: 'OPP-nope' },
      });
    });

    describeContractAmendmentCases(() => connector);
  });
}
