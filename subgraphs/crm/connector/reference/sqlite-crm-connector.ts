import type { ChangeFeedRequest } from '../../../../lib/change-feed';
import { MeridianError } from '../../../../lib/errors';
import { fromMinor } from '../../../../lib/money';
import type { Page, PageRequest } from '../../../../lib/pagination';
import { FaultInjector, type FaultSettings, type PortMethods, withFaults } from '../../../../lib/reference-faults';
import { byKey, groupByKey } from '../../../../lib/batch';
import {
  changesPage,
  hasColumn,
  inJson,
  keysetPage,
  migrate,
  type Migration,
  nextChangeStamp,
  nextId,
  openSqlite,
  type SqliteDatabase,
} from '../../../../lib/sqlite';
import type {
  AccountFilter,
  AccountFinanceRecord,
  AccountRecord,
  ContactRecord,
  CrmConnector,
  OpportunityFilter,
  OpportunityRecord,
  RecordAccountFinancials,
  UpsertAccount,
  UpsertOpportunity,
  Upserted,
} from '../crm-connector';
import type { ContractAmendmentCommands } from '../contract-amendments';
import { CONTRACT_AMENDMENTS_SCHEMA, SqliteContractAmendments } from './sqlite-contract-amendments';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS accounts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  industry TEXT,
  billing_country TEXT,
  parent_account_id TEXT REFERENCES accounts(id),
  owner TEXT,
  external_id TEXT UNIQUE,
  updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS contacts (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  first_name TEXT NOT NULL,
  last_name TEXT NOT NULL,
  title TEXT,
  email TEXT,
  phone TEXT
);
CREATE INDEX IF NOT EXISTS contacts_account ON contacts(account_id);
CREATE TABLE IF NOT EXISTS opportunities (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  name TEXT NOT NULL,
  stage TEXT NOT NULL,
  amount_minor INTEGER,
  currency TEXT,
  close_date TEXT,
  service_package TEXT,
  billing_model TEXT,
  delivery_region TEXT,
  expected_start_date TEXT,
  external_id TEXT UNIQUE,
  psa_project_id TEXT,
  erp_customer_id TEXT
);
CREATE INDEX IF NOT EXISTS opportunities_account ON opportunities(account_id, close_date);
CREATE TABLE IF NOT EXISTS account_finance (
  account_id TEXT PRIMARY KEY REFERENCES accounts(id),
  invoiced_to_date_minor INTEGER NOT NULL,
  outstanding_minor INTEGER NOT NULL,
  overdue_minor INTEGER NOT NULL,
  currency TEXT NOT NULL,
  as_of TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
`;

const ACCOUNT_COLUMNS = `id, name, industry, billing_country AS billingCountry, parent_account_id AS parentAccountId, owner, external_id AS externalId,
  updated_at AS updatedAt, legal_name AS legalName, billing_address AS billingAddress, billing_contact_id AS billingContactId,
  payment_terms AS paymentTerms`;
/**
 * The CRM's schema, step by step ({@link migrate}: append, never edit). Files from before the steps were counted are at
 * version 0 whatever they hold, hence `IF NOT EXISTS` and the column check.
 */
const MIGRATIONS: readonly Migration[] = [
  SCHEMA,
  // Files created before accounts kept `updated_at` get the column (appended last, as SCHEMA has it), stamped with the
  // Unix epoch: they changed at some unknown earlier time, so a change feed read from the start lists them first.
  (db) => {
    if (!hasColumn(db, 'accounts', 'updated_at'))
      db.exec(`ALTER TABLE accounts ADD COLUMN updated_at TEXT NOT NULL DEFAULT '1970-01-01T00:00:00.000Z'`);
  },
  `CREATE INDEX IF NOT EXISTS accounts_changes ON accounts(updated_at, id)`,
  CONTRACT_AMENDMENTS_SCHEMA,
  // The overdue sweep records how old the account's oldest unpaid invoice is (as its due date: the age grows by itself).
  `ALTER TABLE account_finance ADD COLUMN oldest_overdue_due_date TEXT`,
  // The customer master fields the ERP customer takes from the account (issue 11): none on accounts from before.
  (db) => {
    for (const column of ['legal_name', 'billing_address', 'billing_contact_id', 'payment_terms'])
      if (!hasColumn(db, 'accounts', column)) db.exec(`ALTER TABLE accounts ADD COLUMN ${column} TEXT`);
  },
];
/** Fields of an account an upsert writes: a change to any of them moves `updated_at`. */
const UPSERT_FIELDS = [
  'name',
  'industry',
  'billingCountry',
  'parentAccountId',
  'owner',
  'legalName',
  'billingAddress',
  'billingContactId',
  'paymentTerms',
] as const;
const FINANCE_COLUMNS = `account_id AS accountId, invoiced_to_date_minor AS invoicedToDateMinor, outstanding_minor AS outstandingMinor,
  overdue_minor AS overdueMinor, oldest_overdue_due_date AS oldestOverdueDueDate, currency, as_of AS asOf, updated_at AS updatedAt`;
const CONTACT_COLUMNS = `id, account_id AS accountId, first_name AS firstName, last_name AS lastName, title, email, phone`;
const OPPORTUNITY_COLUMNS = `id, account_id AS accountId, name, stage, amount_minor AS amountMinor, currency, close_date AS closeDate,
  service_package AS servicePackage, billing_model AS billingModel, delivery_region AS deliveryRegion,
  expected_start_date AS expectedStartDate, external_id AS externalId, psa_project_id AS psaProjectId, erp_customer_id AS erpCustomerId`;

/** Demo data for the CRM, as `seed()` takes it. */
export interface CrmSeed {
  accounts: readonly AccountRecord[];
  contacts: readonly ContactRecord[];
  opportunities: readonly OpportunityRecord[];
}

/** Every CrmConnector method: each call passes the fault switches first ({@link withFaults}). */
const CRM_CONNECTOR_METHODS: PortMethods<CrmConnector> = {
  getAccounts: true,
  listAccounts: true,
  listAccountsChangedSince: true,
  getAccountFinance: true,
  getContactsByAccount: true,
  getOpportunities: true,
  getOpportunitiesByAccount: true,
  listOpportunities: true,
  upsertAccount: true,
  recordAccountFinancials: true,
  upsertOpportunity: true,
  closeOpportunity: true,
  linkOpportunity: true,
  unlinkOpportunity: true,
  getContractAmendments: true,
  getContractAmendmentsByOpportunity: true,
  listContractAmendments: true,
  upsertContractAmendment: true,
  approveContractAmendment: true,
  markContractAmendmentApplied: true,
  unmarkContractAmendmentApplied: true,
};

/**
 * The embedded reference CRM: a {@link CrmConnector} on a SQLite file, behaving like the SaaS it stands for
 * (including the failures switched on through {@link SqliteCrmConnector.faults}).
 */
export class SqliteCrmConnector implements CrmConnector {
  /** Failures to show; all off by default. */
  readonly faults: FaultInjector;
  private readonly db: SqliteDatabase;
  /** Contract amendments (change orders), kept in their own module. */
  private readonly amendments: SqliteContractAmendments;

  /** Opens (creating on first use) the CRM database at `path`; `:memory:` for a private one. */
  constructor(path: string, faults: FaultSettings = {}) {
    this.db = openSqlite(path);
    migrate(this.db, MIGRATIONS);
    this.amendments = new SqliteContractAmendments(this.db);
    this.faults = new FaultInjector('crm', faults);
    // Every `new` hands out the connector behind its fault switches, so no caller can forget them; its own methods
    // run on the connector itself.
    // biome-ignore lint/correctness/noConstructorReturn: the proxy is this instance with the port methods wrapped
    return withFaults<CrmConnector, this>(this, this.faults, CRM_CONNECTOR_METHODS);
  }

  /** True when the CRM holds no account yet (so a development start seeds it). */
  isEmpty(): boolean {
    return this.db.prepare('SELECT 1 FROM accounts LIMIT 1').get() === undefined;
  }

  /** Inserts demo data in one transaction; IDs must be new. */
  seed(data: CrmSeed): void {
    const account = this.db.prepare(
      `INSERT INTO accounts (id, name, industry, billing_country, parent_account_id, owner, external_id, updated_at, legal_name,
         billing_address, billing_contact_id, payment_terms) VALUES (@id, @name, @industry, @billingCountry, @parentAccountId, @owner,
         @externalId, @updatedAt, @legalName, @billingAddress, @billingContactId, @paymentTerms)`,
    );
    const contact = this.db.prepare(
      `INSERT INTO contacts VALUES (@id, @accountId, @firstName, @lastName, @title, @email, @phone)`,
    );
    const opportunity =
      this.db.prepare(`INSERT INTO opportunities VALUES (@id, @accountId, @name, @stage, @amountMinor, @currency, @closeDate,
      @servicePackage, @billingModel, @deliveryRegion, @expectedStartDate, @externalId, @psaProjectId, @erpCustomerId)`);
    this.db.transaction(() => {
      for (const row of data.accounts) account.run(row);
      for (const row of data.contacts) contact.run(row);
      for (const row of data.opportunities) opportunity.run(row);
    })();
  }

  close(): void {
    this.db.close();
  }

  async getAccounts(ids: readonly string[]): Promise<(AccountRecord | null)[]> {
    const rows = this.db
      .prepare(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE ${inJson('id')}`)
      .all(JSON.stringify(ids)) as AccountRecord[];
    return byKey(ids, rows, (r) => r.id);
  }

  async listAccounts(page: PageRequest, filter: AccountFilter = {}): Promise<Page<AccountRecord>> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.nameContains) {
      where.push(`name LIKE ? ESCAPE '\\'`);
      params.push(`%${filter.nameContains.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    }
    if (filter.industry) {
      where.push('industry = ?');
      params.push(filter.industry);
    }
    if (filter.billingCountry) {
      where.push('billing_country = ?');
      params.push(filter.billingCountry);
    }
    if (filter.ids) {
      where.push(inJson('id'));
      params.push(JSON.stringify(filter.ids));
    }
    return keysetPage(this.db, { table: 'accounts', columns: ACCOUNT_COLUMNS, where, params }, page);
  }

  async listAccountsChangedSince(request: ChangeFeedRequest): Promise<Page<AccountRecord>> {
    return changesPage<AccountRecord>(this.db, { table: 'accounts', columns: ACCOUNT_COLUMNS }, request);
  }

  async getAccountFinance(accountIds: readonly string[]): Promise<(AccountFinanceRecord | null)[]> {
    const rows = this.db
      .prepare(`SELECT ${FINANCE_COLUMNS} FROM account_finance WHERE ${inJson('account_id')}`)
      .all(JSON.stringify(accountIds)) as AccountFinanceRecord[];
    return byKey(accountIds, rows, (r) => r.accountId);
  }

  async getContactsByAccount(accountIds: readonly string[]): Promise<ContactRecord[][]> {
    const rows = this.db
      .prepare(`SELECT ${CONTACT_COLUMNS} FROM contacts WHERE ${inJson('account_id')} ORDER BY id`)
      .all(JSON.stringify(accountIds)) as ContactRecord[];
    return groupByKey(accountIds, rows, (r) => r.accountId);
  }

  async getOpportunities(ids: readonly string[]): Promise<(OpportunityRecord | null)[]> {
    const rows = this.db
      .prepare(`SELECT ${OPPORTUNITY_COLUMNS} FROM opportunities WHERE ${inJson('id')}`)
      .all(JSON.stringify(ids)) as OpportunityRecord[];
    return byKey(ids, rows, (r) => r.id);
  }

  async getOpportunitiesByAccount(accountIds: readonly string[]): Promise<OpportunityRecord[][]> {
    const rows = this.db
      .prepare(
        `SELECT ${OPPORTUNITY_COLUMNS} FROM opportunities WHERE ${inJson('account_id')} ORDER BY close_date DESC, id`,
      )
      .all(JSON.stringify(accountIds)) as OpportunityRecord[];
    return groupByKey(accountIds, rows, (r) => r.accountId);
  }

  async listOpportunities(page: PageRequest, filter: OpportunityFilter = {}): Promise<Page<OpportunityRecord>> {
    const where: string[] = [];
    const params: unknown[] = [];
    const eq: [keyof OpportunityFilter, string][] = [
      ['accountId', 'account_id'],
      ['stage', 'stage'],
      ['billingModel', 'billing_model'],
    ];
    for (const [key, column] of eq) {
      if (filter[key]) {
        where.push(`${column} = ?`);
        params.push(filter[key]);
      }
    }
    if (filter.closeDateFrom) {
      where.push('close_date >= ?');
      params.push(filter.closeDateFrom);
    }
    if (filter.closeDateTo) {
      where.push('close_date <= ?');
      params.push(filter.closeDateTo);
    }
    if (filter.accountIds) {
      where.push(inJson('account_id'));
      params.push(JSON.stringify(filter.accountIds));
    }
    return keysetPage(this.db, { table: 'opportunities', columns: OPPORTUNITY_COLUMNS, where, params }, page);
  }

  async upsertAccount(upsert: UpsertAccount): Promise<Upserted<AccountRecord>> {
    // The master fields an upsert leaves out are none: an upsert writes the whole account, as it always has.
    const input = { legalName: null, billingAddress: null, billingContactId: null, paymentTerms: null, ...upsert };
    return this.db.transaction((): Upserted<AccountRecord> => {
      if (input.parentAccountId && !this.db.prepare('SELECT 1 FROM accounts WHERE id = ?').get(input.parentAccountId)) {
        throw new MeridianError('NOT_FOUND', `CRM has no parent account '${input.parentAccountId}'`, {
          system: 'crm',
          field: 'parentAccountId',
          value: input.parentAccountId,
        });
      }
      const existing = this.db
        .prepare(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE external_id = ?`)
        .get(input.externalId) as AccountRecord | undefined;
      if (
        input.billingContactId &&
        !this.db
          .prepare('SELECT 1 FROM contacts WHERE id = ? AND account_id = ?')
          .get(input.billingContactId, existing?.id ?? null)
      ) {
        throw new MeridianError(
          'VALIDATION_REJECTED',
          `CRM rejected billing contact '${input.billingContactId}': not a contact of ${existing ? `account '${existing.id}'` : 'the account (a new account has no contacts yet)'}`,
          { system: 'crm', field: 'billingContactId', value: input.billingContactId },
        );
      }
      if (input.parentAccountId && existing && this.isAncestorOrSelf(existing.id, input.parentAccountId)) {
        throw new MeridianError(
          'VALIDATION_REJECTED',
          `CRM rejected parent account '${input.parentAccountId}' for account '${existing.id}': an account cannot be its own ancestor`,
          { system: 'crm', field: 'parentAccountId', value: input.parentAccountId },
        );
      }
      // An upsert that changes nothing is no change: it leaves `updated_at`, so change feeds do not list the account again.
      if (existing && UPSERT_FIELDS.every((field) => existing[field] === input[field]))
        return { record: existing, created: false };
      const id = existing?.id ?? nextId(this.db, 'accounts', 'ACC');
      this.db
        .prepare(
          `INSERT INTO accounts (id, name, industry, billing_country, parent_account_id, owner, external_id, updated_at, legal_name,
             billing_address, billing_contact_id, payment_terms)
           VALUES (@id, @name, @industry, @billingCountry, @parentAccountId, @owner, @externalId, @updatedAt, @legalName,
             @billingAddress, @billingContactId, @paymentTerms)
           ON CONFLICT(id) DO UPDATE SET name = excluded.name, industry = excluded.industry, billing_country = excluded.billing_country,
             parent_account_id = excluded.parent_account_id, owner = excluded.owner, updated_at = excluded.updated_at,
             legal_name = excluded.legal_name, billing_address = excluded.billing_address,
             billing_contact_id = excluded.billing_contact_id, payment_terms = excluded.payment_terms`,
        )
        .run({ ...input, id, updatedAt: nextChangeStamp(this.db, 'accounts') });
      return { record: this.accountById(id), created: existing === undefined };
    })();
  }

  /** True when `candidate` is account `id` or lies below it: making `candidate` the parent of `id` would close a loop. */
  private isAncestorOrSelf(id: string, candidate: string): boolean {
    let cursor: string | null = candidate;
    for (let depth = 0; cursor !== null && depth < 32; depth++) {
      if (cursor === id) return true;
      const row = this.db.prepare('SELECT parent_account_id AS parent FROM accounts WHERE id = ?').get(cursor) as
        | { parent: string | null }
        | undefined;
      cursor = row?.parent ?? null;
    }
    return false;
  }

  async recordAccountFinancials(
    input: RecordAccountFinancials,
  ): Promise<{ record: AccountFinanceRecord; changed: boolean }> {
    return this.db.transaction((): { record: AccountFinanceRecord; changed: boolean } => {
      if (!this.db.prepare('SELECT 1 FROM accounts WHERE id = ?').get(input.accountId)) {
        throw new MeridianError('NOT_FOUND', `CRM has no account '${input.accountId}' to record financials on`, {
          system: 'crm',
          field: 'accountId',
          value: input.accountId,
        });
      }
      const amounts = [
        ['invoicedToDate', input.invoicedToDateMinor],
        ['outstanding', input.outstandingMinor],
        ['overdue', input.overdueMinor],
      ] as const;
      for (const [field, minor] of amounts) {
        if (minor < 0) {
          const shown = `${fromMinor(minor, input.currency)} ${input.currency}`;
          throw new MeridianError(
            'VALIDATION_REJECTED',
            `CRM rejected ${field} ${shown} for account '${input.accountId}': it must not be negative`,
            { system: 'crm', field, value: shown },
          );
        }
      }
      const read = () =>
        this.db.prepare(`SELECT ${FINANCE_COLUMNS} FROM account_finance WHERE account_id = ?`).get(input.accountId) as
          | AccountFinanceRecord
          | undefined;
      const current = read();
      if (current) {
        const same =
          current.invoicedToDateMinor === input.invoicedToDateMinor &&
          current.outstandingMinor === input.outstandingMinor &&
          current.overdueMinor === input.overdueMinor &&
          current.oldestOverdueDueDate === input.oldestOverdueDueDate &&
          current.currency === input.currency;
        // Figures read from the ERP before the ones held are stale: a late or replayed record must not win.
        if (same || input.asOf < current.asOf) return { record: current, changed: false };
      }
      this.db
        .prepare(
          `INSERT INTO account_finance VALUES (@accountId, @invoicedToDateMinor, @outstandingMinor, @overdueMinor, @currency, @asOf, @at,
             @oldestOverdueDueDate)
           ON CONFLICT(account_id) DO UPDATE SET invoiced_to_date_minor = excluded.invoiced_to_date_minor, outstanding_minor = excluded.outstanding_minor,
             overdue_minor = excluded.overdue_minor, oldest_overdue_due_date = excluded.oldest_overdue_due_date, currency = excluded.currency, as_of = excluded.as_of, updated_at = excluded.updated_at`,
        )
        .run(input);
      return { record: read()!, changed: true };
    })();
  }

  async upsertOpportunity(input: UpsertOpportunity): Promise<Upserted<OpportunityRecord>> {
    return this.db.transaction((): Upserted<OpportunityRecord> => {
      if (!this.db.prepare('SELECT 1 FROM accounts WHERE id = ?').get(input.accountId)) {
        throw new MeridianError('NOT_FOUND', `CRM has no account '${input.accountId}'`, {
          system: 'crm',
          field: 'accountId',
          value: input.accountId,
        });
      }
      const existing = this.db
        .prepare('SELECT id, stage FROM opportunities WHERE external_id = ?')
        .get(input.externalId) as { id: string; stage: string } | undefined;
      // The rule closeOpportunity keeps: a deal closed one way is not closed the other way (a won deal may be reopened).
      if (
        existing &&
        existing.stage !== input.stage &&
        (existing.stage === 'CLOSED_WON' || existing.stage === 'CLOSED_LOST') &&
        (input.stage === 'CLOSED_WON' || input.stage === 'CLOSED_LOST')
      ) {
        throw new MeridianError(
          'INVALID_STATE',
          `Opportunity '${existing.id}' is already ${existing.stage}; it cannot be closed ${input.stage === 'CLOSED_WON' ? 'WON' : 'LOST'}`,
          { system: 'crm', field: 'stage' },
        );
      }
      const id = existing?.id ?? nextId(this.db, 'opportunities', 'OPP');
      this.db
        .prepare(
          `INSERT INTO opportunities (id, account_id, name, stage, amount_minor, currency, close_date, service_package, billing_model,
             delivery_region, expected_start_date, external_id)
           VALUES (@id, @accountId, @name, @stage, @amountMinor, @currency, @closeDate, @servicePackage, @billingModel,
             @deliveryRegion, @expectedStartDate, @externalId)
           ON CONFLICT(id) DO UPDATE SET account_id = excluded.account_id, name = excluded.name, stage = excluded.stage,
             amount_minor = excluded.amount_minor, currency = excluded.currency, close_date = excluded.close_date,
             service_package = excluded.service_package, billing_model = excluded.billing_model,
             delivery_region = excluded.delivery_region, expected_start_date = excluded.expected_start_date`,
        )
        .run({ ...input, id });
      return { record: this.opportunityById(id), created: existing === undefined };
    })();
  }

  async closeOpportunity(id: string, outcome: 'WON' | 'LOST', closeDate: string): Promise<OpportunityRecord> {
    return this.db.transaction((): OpportunityRecord => {
      const current = this.findOpportunity(id);
      const stage = outcome === 'WON' ? 'CLOSED_WON' : 'CLOSED_LOST';
      if (current.stage === stage) return current;
      if (current.stage === 'CLOSED_WON' || current.stage === 'CLOSED_LOST') {
        throw new MeridianError(
          'INVALID_STATE',
          `Opportunity '${id}' is already ${current.stage}; it cannot be closed ${outcome}`,
          { system: 'crm' },
        );
      }
      this.db.prepare('UPDATE opportunities SET stage = ?, close_date = ? WHERE id = ?').run(stage, closeDate, id);
      return this.opportunityById(id);
    })();
  }

  async linkOpportunity(
    id: string,
    links: { psaProjectId?: string | null; erpCustomerId?: string | null },
  ): Promise<OpportunityRecord> {
    return this.db.transaction((): OpportunityRecord => {
      this.findOpportunity(id);
      this.db
        .prepare(
          'UPDATE opportunities SET psa_project_id = coalesce(?, psa_project_id), erp_customer_id = coalesce(?, erp_customer_id) WHERE id = ?',
        )
        .run(links.psaProjectId ?? null, links.erpCustomerId ?? null, id);
      return this.opportunityById(id);
    })();
  }

  async unlinkOpportunity(id: string): Promise<OpportunityRecord> {
    return this.db.transaction((): OpportunityRecord => {
      this.findOpportunity(id);
      this.db.prepare('UPDATE opportunities SET psa_project_id = NULL, erp_customer_id = NULL WHERE id = ?').run(id);
      return this.opportunityById(id);
    })();
  }

  getContractAmendments: ContractAmendmentCommands['getContractAmendments'] = (ids) =>
    this.amendments.getContractAmendments(ids);
  getContractAmendmentsByOpportunity: ContractAmendmentCommands['getContractAmendmentsByOpportunity'] = (ids) =>
    this.amendments.getContractAmendmentsByOpportunity(ids);
  listContractAmendments: ContractAmendmentCommands['listContractAmendments'] = (page, filter) =>
    this.amendments.listContractAmendments(page, filter);
  upsertContractAmendment: ContractAmendmentCommands['upsertContractAmendment'] = (input) =>
    this.amendments.upsertContractAmendment(input);
  approveContractAmendment: ContractAmendmentCommands['approveContractAmendment'] = (id, at) =>
    this.amendments.approveContractAmendment(id, at);
  markContractAmendmentApplied: ContractAmendmentCommands['markContractAmendmentApplied'] = (id, projectId, at) =>
    this.amendments.markContractAmendmentApplied(id, projectId, at);
  unmarkContractAmendmentApplied: ContractAmendmentCommands['unmarkContractAmendmentApplied'] = (id) =>
    this.amendments.unmarkContractAmendmentApplied(id);

  private findOpportunity(id: string): OpportunityRecord {
    const row = this.db.prepare(`SELECT ${OPPORTUNITY_COLUMNS} FROM opportunities WHERE id = ?`).get(id) as
      | OpportunityRecord
      | undefined;
    if (!row) throw new MeridianError('NOT_FOUND', `CRM has no opportunity '${id}'`, { system: 'crm', value: id });
    return row;
  }

  private opportunityById(id: string): OpportunityRecord {
    return this.db
      .prepare(`SELECT ${OPPORTUNITY_COLUMNS} FROM opportunities WHERE id = ?`)
      .get(id) as OpportunityRecord;
  }

  private accountById(id: string): AccountRecord {
    return this.db.prepare(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = ?`).get(id) as AccountRecord;
  }
}
