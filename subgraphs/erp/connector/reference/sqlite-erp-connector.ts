import { byKey, groupByKey } from '../../../../lib/batch';
import type { ChangeFeedRequest } from '../../../../lib/change-feed';
import { addDays } from '../../../../lib/dates';
import { MeridianError } from '../../../../lib/errors';
import { count } from '../../../../lib/count';
import { divideRoundHalfUp, extendMinor, fromMinor } from '../../../../lib/money';
import type { Page, PageRequest } from '../../../../lib/pagination';
import { FaultInjector, type FaultSettings, type PortMethods, withFaults } from '../../../../lib/reference-faults';
import {
  changesPage,
  inJson,
  keysetPage,
  hasColumn,
  issueId,
  migrate,
  type Migration,
  nextChangeStamp,
  nextId,
  openSqlite,
  type SqliteDatabase,
} from '../../../../lib/sqlite';
import {
  type AccountingPeriodRecord,
  CUSTOMER_MASTER_FIELDS,
  type CustomerMasterField,
  type BillingLineRecord,
  type CreditHoldRecord,
  type CustomerRecord,
  type DeleteOutcome,
  type ErpConnector,
  type InvoiceFilter,
  type InvoiceLineRecord,
  type InvoiceRecord,
  type LegalEntityRecord,
  type NewBillingLine,
  type PaymentRecord,
  type PaymentTerms,
  type PostInvoice,
  type ProjectDimensionsRecord,
  type RetainerTermsRecord,
  type TaxJurisdictionRecord,
  type UpdateCustomerFields,
  type UpsertCustomer,
} from '../erp-connector';
import type { ProjectContractCommands } from '../project-contracts';
import { PROJECT_CONTRACTS_SCHEMA, SqliteProjectContracts } from './sqlite-project-contracts';
import { noProjectDimensions, PROJECT_CURRENCY_SQL } from './project-dimensions';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS legal_entities (
  code TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  country TEXT NOT NULL,
  currency TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tax_jurisdictions (
  code TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  country TEXT NOT NULL,
  rate_basis_points INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS customers (
  id TEXT PRIMARY KEY,
  customer_number TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  legal_entity_code TEXT NOT NULL REFERENCES legal_entities(code),
  tax_jurisdiction_code TEXT NOT NULL REFERENCES tax_jurisdictions(code),
  payment_terms TEXT NOT NULL,
  currency TEXT NOT NULL,
  external_crm_id TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS project_dimensions (
  psa_project_id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(id),
  project_code TEXT NOT NULL,
  billing_schedule TEXT NOT NULL,
  revenue_treatment TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS invoices (
  id TEXT PRIMARY KEY,
  number TEXT NOT NULL UNIQUE,
  customer_id TEXT NOT NULL REFERENCES customers(id),
  psa_project_id TEXT,
  status TEXT NOT NULL,
  issue_date TEXT NOT NULL,
  due_date TEXT NOT NULL,
  currency TEXT NOT NULL,
  subtotal_minor INTEGER NOT NULL,
  tax_minor INTEGER NOT NULL,
  total_minor INTEGER NOT NULL,
  balance_minor INTEGER NOT NULL,
  external_id TEXT UNIQUE,
  request TEXT,
  updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS invoices_customer ON invoices(customer_id);
CREATE INDEX IF NOT EXISTS invoices_project ON invoices(psa_project_id);
CREATE TABLE IF NOT EXISTS invoice_lines (
  invoice_id TEXT NOT NULL REFERENCES invoices(id),
  line_number INTEGER NOT NULL,
  description TEXT NOT NULL,
  quantity_hundredths INTEGER NOT NULL,
  unit_price_minor INTEGER NOT NULL,
  amount_minor INTEGER NOT NULL,
  PRIMARY KEY (invoice_id, line_number)
);
CREATE TABLE IF NOT EXISTS billing_lines (
  id TEXT PRIMARY KEY,
  external_id TEXT NOT NULL UNIQUE,
  psa_project_id TEXT NOT NULL,
  source_type TEXT NOT NULL,
  source_id TEXT NOT NULL,
  description TEXT NOT NULL,
  quantity_hundredths INTEGER NOT NULL,
  unit_price_minor INTEGER NOT NULL,
  amount_minor INTEGER NOT NULL,
  currency TEXT NOT NULL,
  posting_date TEXT NOT NULL,
  invoice_id TEXT REFERENCES invoices(id)
);
CREATE INDEX IF NOT EXISTS billing_lines_project ON billing_lines(psa_project_id);
CREATE TABLE IF NOT EXISTS payments (
  id TEXT PRIMARY KEY,
  invoice_id TEXT NOT NULL REFERENCES invoices(id),
  amount_minor INTEGER NOT NULL,
  currency TEXT NOT NULL,
  received_on TEXT NOT NULL,
  external_id TEXT UNIQUE
);
CREATE INDEX IF NOT EXISTS payments_invoice ON payments(invoice_id);
CREATE INDEX IF NOT EXISTS project_dimensions_customer ON project_dimensions(customer_id);
CREATE TABLE IF NOT EXISTS deleted_ids (
  id TEXT PRIMARY KEY
);
`;

/**
 * The ERP's schema, step by step ({@link migrate}: append, never edit). Files from before the steps were counted are at
 * version 0 whatever they hold, hence `IF NOT EXISTS` and the column check.
 */
const MIGRATIONS: readonly Migration[] = [
  SCHEMA,
  // Files created before invoices kept `updated_at` get the column (appended last, as SCHEMA has it), stamped with
  // the issue date: the change each invoice is known to have had.
  (db) => {
    if (hasColumn(db, 'invoices', 'updated_at')) return;
    db.exec(`ALTER TABLE invoices ADD COLUMN updated_at TEXT NOT NULL DEFAULT ''`);
    db.exec(`UPDATE invoices SET updated_at = issue_date || 'T00:00:00.000Z'`);
  },
  `CREATE INDEX IF NOT EXISTS invoices_changes ON invoices(updated_at, id)`,
  `CREATE TABLE retainer_terms (psa_project_id TEXT PRIMARY KEY, fee_minor INTEGER NOT NULL, currency TEXT NOT NULL)`,
  PROJECT_CONTRACTS_SCHEMA,
  // Credit hold: ERP-owned, set and released by finance; null when the customer is not on hold.
  `ALTER TABLE customers ADD COLUMN credit_hold_reason TEXT;
   ALTER TABLE customers ADD COLUMN credit_hold_since TEXT;`,
  // The customer master fields the CRM may own (issue 11): none on customers from before.
  (db) => {
    for (const column of ['legal_name', 'billing_country', 'billing_address', 'billing_contact', 'parent_customer_id'])
      if (!hasColumn(db, 'customers', column)) db.exec(`ALTER TABLE customers ADD COLUMN ${column} TEXT`);
    db.exec('CREATE INDEX IF NOT EXISTS customers_parent ON customers(parent_customer_id)');
  },
];

const LEGAL_ENTITY_COLUMNS = `code, name, country, currency`;
const TAX_JURISDICTION_COLUMNS = `code, name, country, rate_basis_points AS rateBasisPoints`;
const CUSTOMER_COLUMNS = `id, customer_number AS customerNumber, name, legal_entity_code AS legalEntityCode,
  tax_jurisdiction_code AS taxJurisdictionCode, payment_terms AS paymentTerms, currency, external_crm_id AS externalCrmId,
  legal_name AS legalName, billing_country AS billingCountry, billing_address AS billingAddress, billing_contact AS billingContact,
  parent_customer_id AS parentCustomerId`;
/** Each customer master field's column. */
const MASTER_COLUMN: Record<CustomerMasterField, string> = {
  name: 'name',
  legalName: 'legal_name',
  billingCountry: 'billing_country',
  billingAddress: 'billing_address',
  billingContact: 'billing_contact',
  paymentTerms: 'payment_terms',
  parentCustomerId: 'parent_customer_id',
};
const DIMENSIONS_COLUMNS = `psa_project_id AS psaProjectId, customer_id AS customerId, project_code AS projectCode,
  billing_schedule AS billingSchedule, revenue_treatment AS revenueTreatment`;
const INVOICE_COLUMNS = `id, number, customer_id AS customerId, psa_project_id AS psaProjectId, status, issue_date AS issueDate,
  due_date AS dueDate, currency, subtotal_minor AS subtotalMinor, tax_minor AS taxMinor, total_minor AS totalMinor,
  balance_minor AS balanceMinor, external_id AS externalId, updated_at AS updatedAt`;
const INVOICE_LINE_COLUMNS = `invoice_id AS invoiceId, line_number AS lineNumber, description, quantity_hundredths AS quantityHundredths,
  unit_price_minor AS unitPriceMinor, amount_minor AS amountMinor`;
const BILLING_LINE_COLUMNS = `id, external_id AS externalId, psa_project_id AS psaProjectId, source_type AS sourceType, source_id AS sourceId,
  description, quantity_hundredths AS quantityHundredths, unit_price_minor AS unitPriceMinor, amount_minor AS amountMinor, currency,
  posting_date AS postingDate, invoice_id AS invoiceId`;
const PAYMENT_COLUMNS = `id, invoice_id AS invoiceId, amount_minor AS amountMinor, currency, received_on AS receivedOn, external_id AS externalId`;

const TERMS_DAYS: Record<PaymentTerms, number> = { NET_15: 15, NET_30: 30, NET_45: 45, NET_60: 60 };
const OVERDUE = `(status IN ('POSTED', 'OVERDUE') AND balance_minor > 0 AND due_date < ?)`;

/** Demo data for the ERP, as `seed()` takes it (a `DatasetChunk['erp']`). */
export interface ErpSeed {
  customers: readonly CustomerRecord[];
  projectDimensions: readonly ProjectDimensionsRecord[];
  billingLines: readonly BillingLineRecord[];
  invoices: readonly InvoiceRecord[];
  invoiceLines: readonly InvoiceLineRecord[];
  payments: readonly PaymentRecord[];
}

/** The ERP's reference lists, as `seedReferenceData()` takes them. */
export interface ErpReferenceData {
  legalEntities: readonly LegalEntityRecord[];
  taxJurisdictions: readonly TaxJurisdictionRecord[];
}

/** Every ErpConnector method: each call passes the fault switches first ({@link withFaults}). */
const ERP_CONNECTOR_METHODS: PortMethods<ErpConnector> = {
  getCustomers: true,
  getCustomersByCrmAccount: true,
  getCreditHolds: true,
  getLegalEntities: true,
  getTaxJurisdictions: true,
  listLegalEntities: true,
  listTaxJurisdictions: true,
  getAccountingPeriods: true,
  getInvoices: true,
  listInvoices: true,
  listInvoicesChangedSince: true,
  getInvoicesByCrmAccount: true,
  getBillingLinesByProject: true,
  getInvoicesByProject: true,
  getInvoiceLines: true,
  getPaymentsByInvoice: true,
  getProjectDimensions: true,
  upsertCustomer: true,
  updateCustomerFields: true,
  upsertProjectDimensions: true,
  postBillingLines: true,
  postInvoice: true,
  getRetainerTerms: true,
  upsertRetainerTerms: true,
  applyPayment: true,
  markInvoiceOverdue: true,
  setCreditHold: true,
  deleteCustomer: true,
  deleteProjectDimensions: true,
  getProjectContracts: true,
  amendProjectContract: true,
  revertProjectContractAmendment: true,
};

/**
 * The embedded reference ERP: an {@link ErpConnector} on a SQLite file, behaving like the ERP it stands for,
 * with its validations always on (unknown legal entity or tax jurisdiction, closed period, over-payment) and the
 * failures switched on through {@link SqliteErpConnector.faults}.
 */
export class SqliteErpConnector implements ErpConnector {
  /** Failures to show, and the closed accounting periods; all off by default. */
  readonly faults: FaultInjector;
  private readonly db: SqliteDatabase;
  /** Project contracts set by amendments, kept in their own module. */
  private readonly contracts: SqliteProjectContracts;

  /** Opens (creating on first use) the ERP database at `path`; `:memory:` for a private one. */
  constructor(path: string, faults: FaultSettings = {}) {
    this.db = openSqlite(path);
    migrate(this.db, MIGRATIONS);
    this.contracts = new SqliteProjectContracts(this.db);
    this.faults = new FaultInjector('erp', faults);
    // Every `new` hands out the connector behind its fault switches, so no caller can forget them; its own methods
    // run on the connector itself.
    // biome-ignore lint/correctness/noConstructorReturn: the proxy is this instance with the port methods wrapped
    return withFaults<ErpConnector, this>(this, this.faults, ERP_CONNECTOR_METHODS);
  }

  /** True when the ERP holds no customer yet (so a development start seeds it). */
  isEmpty(): boolean {
    return this.db.prepare('SELECT 1 FROM customers LIMIT 1').get() === undefined;
  }

  /** Creates or replaces the legal entities and tax jurisdictions, in one transaction; safe to repeat. */
  seedReferenceData(data: ErpReferenceData): void {
    const entity = this.db.prepare(`INSERT INTO legal_entities VALUES (@code, @name, @country, @currency)
      ON CONFLICT(code) DO UPDATE SET name = excluded.name, country = excluded.country, currency = excluded.currency`);
    const jurisdiction =
      this.db.prepare(`INSERT INTO tax_jurisdictions VALUES (@code, @name, @country, @rateBasisPoints)
      ON CONFLICT(code) DO UPDATE SET name = excluded.name, country = excluded.country, rate_basis_points = excluded.rate_basis_points`);
    this.db.transaction(() => {
      for (const row of data.legalEntities) entity.run(row);
      for (const row of data.taxJurisdictions) jurisdiction.run(row);
    })();
  }

  /** Inserts demo data in one transaction; IDs must be new and the reference data seeded first. */
  seed(data: ErpSeed): void {
    const customer = this.db.prepare(`INSERT INTO customers (id, customer_number, name, legal_entity_code,
      tax_jurisdiction_code, payment_terms, currency, external_crm_id, legal_name, billing_country, billing_address,
      billing_contact, parent_customer_id) VALUES (@id, @customerNumber, @name, @legalEntityCode, @taxJurisdictionCode,
      @paymentTerms, @currency, @externalCrmId, @legalName, @billingCountry, @billingAddress, @billingContact, @parentCustomerId)`);
    const dimensions = this.db.prepare(
      `INSERT INTO project_dimensions VALUES (@psaProjectId, @customerId, @projectCode, @billingSchedule, @revenueTreatment)`,
    );
    const invoice =
      this.db.prepare(`INSERT INTO invoices VALUES (@id, @number, @customerId, @psaProjectId, @status, @issueDate, @dueDate, @currency,
      @subtotalMinor, @taxMinor, @totalMinor, @balanceMinor, @externalId, NULL, @updatedAt)`);
    const invoiceLine = this.db.prepare(
      `INSERT INTO invoice_lines VALUES (@invoiceId, @lineNumber, @description, @quantityHundredths, @unitPriceMinor, @amountMinor)`,
    );
    const billingLine =
      this.db.prepare(`INSERT INTO billing_lines VALUES (@id, @externalId, @psaProjectId, @sourceType, @sourceId, @description,
      @quantityHundredths, @unitPriceMinor, @amountMinor, @currency, @postingDate, @invoiceId)`);
    const payment = this.db.prepare(
      `INSERT INTO payments VALUES (@id, @invoiceId, @amountMinor, @currency, @receivedOn, @externalId)`,
    );
    this.db.transaction(() => {
      for (const row of data.customers) customer.run({ ...NO_MASTER_FIELDS, ...row });
      for (const row of data.projectDimensions) dimensions.run(row);
      for (const row of data.invoices) invoice.run(row);
      for (const row of data.invoiceLines) invoiceLine.run(row);
      for (const row of data.billingLines) billingLine.run(row);
      for (const row of data.payments) payment.run(row);
    })();
  }

  /**
   * Closes an accounting period (`YYYY-MM`), as finance's period close would: postings dated in it are refused and
   * `getAccountingPeriods` shows it CLOSED. Kept with the other switches (`faults.closedPeriods`), which it leaves as
   * they are. Not on the port: closing periods is the ERP's business, never Meridian's.
   */
  closePeriod(period: string): void {
    const settings = this.faults.get();
    const closed = settings.closedPeriods ?? [];
    if (!closed.includes(period)) this.faults.set({ ...settings, closedPeriods: [...closed, period] });
  }

  /** Reopens a period {@link SqliteErpConnector.closePeriod} closed. */
  reopenPeriod(period: string): void {
    const settings = this.faults.get();
    this.faults.set({ ...settings, closedPeriods: (settings.closedPeriods ?? []).filter((p) => p !== period) });
  }

  /** Closes the database file; the connector is unusable afterwards. */
  close(): void {
    this.db.close();
  }

  async getCustomers(ids: readonly string[]): Promise<(CustomerRecord | null)[]> {
    const rows = this.db
      .prepare(`SELECT ${CUSTOMER_COLUMNS} FROM customers WHERE ${inJson('id')}`)
      .all(JSON.stringify(ids)) as CustomerRecord[];
    return byKey(ids, rows, (r) => r.id);
  }

  async getCustomersByCrmAccount(accountIds: readonly string[]): Promise<(CustomerRecord | null)[]> {
    const rows = this.db
      .prepare(`SELECT ${CUSTOMER_COLUMNS} FROM customers WHERE ${inJson('external_crm_id')}`)
      .all(JSON.stringify(accountIds)) as CustomerRecord[];
    return byKey(accountIds, rows, (r) => r.externalCrmId);
  }

  async getCreditHolds(customerIds: readonly string[]): Promise<(CreditHoldRecord | null)[]> {
    const rows = this.db
      .prepare(
        `SELECT id AS customerId, credit_hold_reason AS reason, credit_hold_since AS since FROM customers
         WHERE ${inJson('id')} AND credit_hold_reason IS NOT NULL`,
      )
      .all(JSON.stringify(customerIds)) as CreditHoldRecord[];
    return byKey(customerIds, rows, (r) => r.customerId);
  }

  async getLegalEntities(codes: readonly string[]): Promise<(LegalEntityRecord | null)[]> {
    const rows = this.db
      .prepare(`SELECT ${LEGAL_ENTITY_COLUMNS} FROM legal_entities WHERE ${inJson('code')}`)
      .all(JSON.stringify(codes)) as LegalEntityRecord[];
    return byKey(codes, rows, (r) => r.code);
  }

  async getTaxJurisdictions(codes: readonly string[]): Promise<(TaxJurisdictionRecord | null)[]> {
    const rows = this.db
      .prepare(`SELECT ${TAX_JURISDICTION_COLUMNS} FROM tax_jurisdictions WHERE ${inJson('code')}`)
      .all(JSON.stringify(codes)) as TaxJurisdictionRecord[];
    return byKey(codes, rows, (r) => r.code);
  }

  async listLegalEntities(): Promise<LegalEntityRecord[]> {
    return this.db
      .prepare(`SELECT ${LEGAL_ENTITY_COLUMNS} FROM legal_entities ORDER BY code`)
      .all() as LegalEntityRecord[];
  }

  async listTaxJurisdictions(): Promise<TaxJurisdictionRecord[]> {
    return this.db
      .prepare(`SELECT ${TAX_JURISDICTION_COLUMNS} FROM tax_jurisdictions ORDER BY code`)
      .all() as TaxJurisdictionRecord[];
  }

  /** Periods are closed through the fault switches (`faults.set({ closedPeriods })`), as a period close would. */
  async getAccountingPeriods(periods: readonly string[]): Promise<AccountingPeriodRecord[]> {
    return periods.map((period) => ({ period, status: this.faults.isPeriodClosed(period) ? 'CLOSED' : 'OPEN' }));
  }

  async getInvoices(ids: readonly string[]): Promise<(InvoiceRecord | null)[]> {
    const rows = this.db
      .prepare(`SELECT ${INVOICE_COLUMNS} FROM invoices WHERE ${inJson('id')}`)
      .all(JSON.stringify(ids)) as InvoiceRecord[];
    return byKey(ids, rows, (r) => r.id);
  }

  async listInvoices(page: PageRequest, filter: InvoiceFilter = {}): Promise<Page<InvoiceRecord>> {
    const where: string[] = [];
    const params: unknown[] = [];
    const eq: [keyof InvoiceFilter, string][] = [
      ['customerId', 'customer_id'],
      ['psaProjectId', 'psa_project_id'],
      ['status', 'status'],
    ];
    for (const [key, column] of eq) {
      if (filter[key]) {
        where.push(`${column} = ?`);
        params.push(filter[key]);
      }
    }
    if (filter.accountId) {
      where.push('customer_id IN (SELECT id FROM customers WHERE external_crm_id = ?)');
      params.push(filter.accountId);
    }
    if (filter.accountIds) {
      where.push(`customer_id IN (SELECT id FROM customers WHERE ${inJson('external_crm_id')})`);
      params.push(JSON.stringify(filter.accountIds));
    }
    if (filter.overdueOn) {
      where.push(OVERDUE);
      params.push(filter.overdueOn);
    }
    if (filter.notOverdueOn) {
      where.push(`NOT ${OVERDUE}`);
      params.push(filter.notOverdueOn);
    }
    return keysetPage(this.db, { table: 'invoices', columns: INVOICE_COLUMNS, where, params }, page);
  }

  async listInvoicesChangedSince(request: ChangeFeedRequest): Promise<Page<InvoiceRecord>> {
    return changesPage<InvoiceRecord>(this.db, { table: 'invoices', columns: INVOICE_COLUMNS }, request);
  }

  async getInvoicesByCrmAccount(accountIds: readonly string[]): Promise<InvoiceRecord[][]> {
    const rows = this.db
      .prepare(
        `SELECT ${INVOICE_COLUMNS}, (SELECT external_crm_id FROM customers c WHERE c.id = invoices.customer_id) AS accountId FROM invoices
         WHERE customer_id IN (SELECT id FROM customers WHERE ${inJson('external_crm_id')}) ORDER BY id`,
      )
      .all(JSON.stringify(accountIds)) as (InvoiceRecord & { accountId: string })[];
    return groupByKey(accountIds, rows, (r) => r.accountId).map((group) =>
      group.map(({ accountId: _, ...invoice }) => invoice),
    );
  }

  async getBillingLinesByProject(psaProjectIds: readonly string[]): Promise<BillingLineRecord[][]> {
    const rows = this.db
      .prepare(
        `SELECT ${BILLING_LINE_COLUMNS} FROM billing_lines WHERE ${inJson('psa_project_id')} ORDER BY posting_date, id`,
      )
      .all(JSON.stringify(psaProjectIds)) as BillingLineRecord[];
    return groupByKey(psaProjectIds, rows, (r) => r.psaProjectId);
  }

  async getInvoicesByProject(psaProjectIds: readonly string[]): Promise<InvoiceRecord[][]> {
    const rows = this.db
      .prepare(`SELECT ${INVOICE_COLUMNS} FROM invoices WHERE ${inJson('psa_project_id')} ORDER BY id`)
      .all(JSON.stringify(psaProjectIds)) as InvoiceRecord[];
    return groupByKey(psaProjectIds, rows, (r) => r.psaProjectId);
  }

  async getInvoiceLines(invoiceIds: readonly string[]): Promise<InvoiceLineRecord[][]> {
    const rows = this.db
      .prepare(
        `SELECT ${INVOICE_LINE_COLUMNS} FROM invoice_lines WHERE ${inJson('invoice_id')} ORDER BY invoice_id, line_number`,
      )
      .all(JSON.stringify(invoiceIds)) as InvoiceLineRecord[];
    return groupByKey(invoiceIds, rows, (r) => r.invoiceId);
  }

  async getPaymentsByInvoice(invoiceIds: readonly string[]): Promise<PaymentRecord[][]> {
    const rows = this.db
      .prepare(`SELECT ${PAYMENT_COLUMNS} FROM payments WHERE ${inJson('invoice_id')} ORDER BY received_on, id`)
      .all(JSON.stringify(invoiceIds)) as PaymentRecord[];
    return groupByKey(invoiceIds, rows, (r) => r.invoiceId);
  }

  async getProjectDimensions(psaProjectIds: readonly string[]): Promise<(ProjectDimensionsRecord | null)[]> {
    const rows = this.db
      .prepare(`SELECT ${DIMENSIONS_COLUMNS} FROM project_dimensions WHERE ${inJson('psa_project_id')}`)
      .all(JSON.stringify(psaProjectIds)) as ProjectDimensionsRecord[];
    return byKey(psaProjectIds, rows, (r) => r.psaProjectId);
  }

  async upsertCustomer(input: UpsertCustomer): Promise<{ record: CustomerRecord; created: boolean }> {
    return this.db.transaction((): { record: CustomerRecord; created: boolean } => {
      if (!this.db.prepare('SELECT 1 FROM legal_entities WHERE code = ?').get(input.legalEntityCode)) {
        throw rejected(
          `ERP rejected legal entity '${input.legalEntityCode}': no such legal entity`,
          'legalEntityCode',
          input.legalEntityCode,
        );
      }
      if (!this.db.prepare('SELECT 1 FROM tax_jurisdictions WHERE code = ?').get(input.taxJurisdictionCode)) {
        throw rejected(
          `ERP rejected tax jurisdiction '${input.taxJurisdictionCode}' for legal entity '${input.legalEntityCode}': no such jurisdiction`,
          'taxJurisdictionCode',
          input.taxJurisdictionCode,
        );
      }
      if (!/^[A-Z]{3}$/.test(input.currency)) {
        throw rejected(
          `ERP rejected currency '${input.currency}' for customer '${input.name}': not an ISO 4217 code`,
          'currency',
          input.currency,
        );
      }
      if (input.name.trim() === '')
        throw rejected(
          `ERP rejected the customer of account '${input.externalCrmId}': a name is required`,
          'name',
          input.name,
        );
      const existing = this.db
        .prepare(`SELECT ${CUSTOMER_COLUMNS} FROM customers WHERE external_crm_id = ?`)
        .get(input.externalCrmId) as CustomerRecord | undefined;
      const master = { ...NO_MASTER_FIELDS, ...pickMaster(input) };
      this.assertMasterFields(master, existing?.id ?? null);
      if (existing && existing.currency !== input.currency) {
        const invoiced = this.db
          .prepare('SELECT 1 FROM invoices WHERE customer_id = ? AND currency <> ? LIMIT 1')
          .get(existing.id, input.currency);
        if (invoiced) {
          throw rejected(
            `ERP rejected currency '${input.currency}' for customer '${existing.id}': it already has invoices in ${existing.currency}`,
            'currency',
            input.currency,
          );
        }
      }
      const id = existing?.id ?? issueId(this.db, 'customers', 'CUS');
      this.db
        .prepare(
          `INSERT INTO customers (id, customer_number, name, legal_entity_code, tax_jurisdiction_code, payment_terms, currency, external_crm_id,
             legal_name, billing_country, billing_address, billing_contact, parent_customer_id)
           VALUES (@id, @customerNumber, @name, @legalEntityCode, @taxJurisdictionCode, @paymentTerms, @currency, @externalCrmId,
             @legalName, @billingCountry, @billingAddress, @billingContact, @parentCustomerId)
           ON CONFLICT(id) DO UPDATE SET name = excluded.name, legal_entity_code = excluded.legal_entity_code,
             tax_jurisdiction_code = excluded.tax_jurisdiction_code, payment_terms = excluded.payment_terms, currency = excluded.currency,
             legal_name = excluded.legal_name, billing_country = excluded.billing_country, billing_address = excluded.billing_address,
             billing_contact = excluded.billing_contact, parent_customer_id = excluded.parent_customer_id`,
        )
        .run({
          ...input,
          ...master,
          id,
          customerNumber: `C${100000 + Number(id.slice(4))}`,
        });
      return { record: this.customerById(id)!, created: existing === undefined };
    })();
  }

  async updateCustomerFields(input: UpdateCustomerFields): Promise<{ record: CustomerRecord; changed: boolean }> {
    return this.db.transaction((): { record: CustomerRecord; changed: boolean } => {
      const current = this.customerById(input.id);
      if (!current)
        throw new MeridianError('NOT_FOUND', `ERP has no customer '${input.id}'`, {
          system: 'erp',
          field: 'id',
          value: input.id,
        });
      const changes = CUSTOMER_MASTER_FIELDS.filter(
        (f) => input.set[f] !== undefined && input.set[f] !== (current[f] as string | null),
      );
      if (changes.length === 0) return { record: current, changed: false };
      const next = { ...current, ...pick(input.set, changes) } as CustomerRecord;
      if (changes.includes('name') && (next.name ?? '').trim() === '')
        throw rejected(
          `ERP rejected the name of customer '${current.id}': a name is required`,
          'name',
          next.name ?? '',
        );
      if (changes.includes('paymentTerms') && !Object.hasOwn(TERMS_DAYS, next.paymentTerms ?? ''))
        throw rejected(
          `ERP rejected payment terms '${next.paymentTerms}' for customer '${current.id}': one of ${Object.keys(TERMS_DAYS).join(', ')}`,
          'paymentTerms',
          String(next.paymentTerms),
        );
      this.assertMasterFields(pickMaster(next), current.id);
      for (const field of changes) {
        const expected = input.expected[field];
        const held = current[field] as string | null;
        if (expected === undefined || expected === held) continue;
        throw new MeridianError(
          'INVALID_STATE',
          field === 'name'
            ? `Customer ${current.id} (${current.customerNumber}) is named '${held}', not '${expected}' as expected: it changed since it was read`
            : `Customer ${current.id} (${current.customerNumber}) has ${field} ${shownValue(held)}, not ${shownValue(expected)} as expected: it changed since it was read`,
          { system: 'erp', field, value: held ?? '' },
        );
      }
      this.db
        .prepare(`UPDATE customers SET ${changes.map((f) => `${MASTER_COLUMN[f]} = @${f}`).join(', ')} WHERE id = @id`)
        .run({ ...pick(next, changes), id: current.id });
      return { record: this.customerById(current.id)!, changed: true };
    })();
  }

  /** @throws MeridianError VALIDATION_REJECTED for a malformed billing country, an unknown parent or a parent cycle. */
  private assertMasterFields(master: MasterExtras, id: string | null): void {
    if (master.billingCountry != null && !/^[A-Z]{2}$/.test(master.billingCountry))
      throw rejected(
        `ERP rejected billing country '${master.billingCountry}': not an ISO 3166-1 alpha-2 code`,
        'billingCountry',
        master.billingCountry,
      );
    if (master.parentCustomerId == null) return;
    // Walk up from the new parent: the customer itself on the way is a cycle.
    let cursor: string | null = master.parentCustomerId;
    for (let depth = 0; cursor !== null && depth < 32; depth++) {
      if (cursor === id)
        throw rejected(
          `ERP rejected parent customer '${master.parentCustomerId}' for customer '${id}': a customer cannot be its own ancestor`,
          'parentCustomerId',
          master.parentCustomerId,
        );
      const row = this.db.prepare('SELECT parent_customer_id AS parent FROM customers WHERE id = ?').get(cursor) as
        | { parent: string | null }
        | undefined;
      if (!row) {
        if (cursor === master.parentCustomerId)
          throw new MeridianError('NOT_FOUND', `ERP has no parent customer '${cursor}'`, {
            system: 'erp',
            field: 'parentCustomerId',
            value: cursor,
          });
        return;
      }
      cursor = row.parent;
    }
  }

  async upsertProjectDimensions(
    input: ProjectDimensionsRecord,
  ): Promise<{ record: ProjectDimensionsRecord; created: boolean }> {
    return this.db.transaction((): { record: ProjectDimensionsRecord; created: boolean } => {
      if (!this.customerById(input.customerId)) throw noCustomer(input.customerId);
      const existing = this.db
        .prepare('SELECT 1 FROM project_dimensions WHERE psa_project_id = ?')
        .get(input.psaProjectId);
      this.db
        .prepare(
          `INSERT INTO project_dimensions (psa_project_id, customer_id, project_code, billing_schedule, revenue_treatment)
           VALUES (@psaProjectId, @customerId, @projectCode, @billingSchedule, @revenueTreatment)
           ON CONFLICT(psa_project_id) DO UPDATE SET customer_id = excluded.customer_id, project_code = excluded.project_code,
             billing_schedule = excluded.billing_schedule, revenue_treatment = excluded.revenue_treatment`,
        )
        .run(input);
      const record = this.db
        .prepare(`SELECT ${DIMENSIONS_COLUMNS} FROM project_dimensions WHERE psa_project_id = ?`)
        .get(input.psaProjectId) as ProjectDimensionsRecord;
      return { record, created: existing === undefined };
    })();
  }

  async postBillingLines(lines: readonly NewBillingLine[]): Promise<BillingLineRecord[]> {
    const byExternalId = this.db.prepare(`SELECT ${BILLING_LINE_COLUMNS} FROM billing_lines WHERE external_id = ?`);
    const projectCurrency = this.db.prepare(PROJECT_CURRENCY_SQL);
    const insert = this.db.prepare(
      `INSERT INTO billing_lines (id, external_id, psa_project_id, source_type, source_id, description, quantity_hundredths, unit_price_minor,
         amount_minor, currency, posting_date, invoice_id)
       VALUES (@id, @externalId, @psaProjectId, @sourceType, @sourceId, @description, @quantityHundredths, @unitPriceMinor,
         @amountMinor, @currency, @postingDate, NULL)`,
    );
    return this.db.transaction((): BillingLineRecord[] =>
      lines.map((line) => {
        const existing = byExternalId.get(line.externalId) as BillingLineRecord | undefined;
        if (existing) {
          if (!sameBillingLine(existing, line)) {
            throw new MeridianError(
              'DUPLICATE_EXTERNAL_ID',
              `ERP already holds billing line '${existing.id}' under external ID '${line.externalId}', with other data`,
              { system: 'erp', field: 'externalId', value: line.externalId },
            );
          }
          return existing;
        }
        const project = projectCurrency.get(line.psaProjectId) as { currency: string } | undefined;
        if (!project) throw noProjectDimensions(line.psaProjectId);
        if (line.currency !== project.currency) {
          const shown = `${fromMinor(line.unitPriceMinor, line.currency)} ${line.currency}`;
          throw rejected(
            `ERP rejected a unit price of ${shown} on billing line '${line.externalId}': project '${line.psaProjectId}' bills in ${project.currency}`,
            'unitPrice',
            shown,
          );
        }
        this.assertPeriodOpen(line.postingDate, 'posting date', 'postingDate');
        const id = nextId(this.db, 'billing_lines', 'BL');
        insert.run({ ...line, id, amountMinor: Number(extendMinor(line.quantityHundredths, line.unitPriceMinor)) });
        return byExternalId.get(line.externalId) as BillingLineRecord;
      }),
    )();
  }

  async postInvoice(input: PostInvoice): Promise<{ record: InvoiceRecord; created: boolean }> {
    // The request as stored, to tell a repeat (same key, same data) from a conflicting reuse of the key.
    const request = JSON.stringify({
      customerId: input.customerId,
      psaProjectId: input.psaProjectId,
      issueDate: input.issueDate,
      billingLineIds: input.billingLineIds,
      lines: input.lines.map((l) => ({
        description: l.description,
        quantityHundredths: l.quantityHundredths,
        unitPriceMinor: l.unitPriceMinor,
        currency: l.currency,
      })),
      // Only when given, so the request stored for an invoice posted before covered lines existed still matches.
      ...(input.coveredBillingLineIds?.length ? { coveredBillingLineIds: input.coveredBillingLineIds } : {}),
    });
    return this.db.transaction((): { record: InvoiceRecord; created: boolean } => {
      const existing = this.db
        .prepare('SELECT id, request FROM invoices WHERE external_id = ?')
        .get(input.externalId) as { id: string; request: string | null } | undefined;
      if (existing) {
        if (existing.request !== request) {
          throw new MeridianError(
            'DUPLICATE_EXTERNAL_ID',
            `ERP already posted invoice '${existing.id}' under external ID '${input.externalId}', with other data`,
            {
              system: 'erp',
              field: 'externalId',
              value: input.externalId,
            },
          );
        }
        return { record: this.invoiceById(existing.id)!, created: false };
      }
      const customer = this.customerById(input.customerId);
      if (!customer) throw noCustomer(input.customerId);
      if (input.psaProjectId !== null) {
        const dimensions = this.db
          .prepare('SELECT customer_id AS customerId FROM project_dimensions WHERE psa_project_id = ?')
          .get(input.psaProjectId) as { customerId: string } | undefined;
        if (!dimensions) throw noProjectDimensions(input.psaProjectId);
        if (dimensions.customerId !== customer.id) {
          throw rejected(
            `ERP rejected project '${input.psaProjectId}' on an invoice to '${customer.id}': the project bills customer '${dimensions.customerId}'`,
            'projectId',
            input.psaProjectId,
          );
        }
      }
      const billed = this.billableLines(input, customer);
      const covered = input.coveredBillingLineIds ?? [];
      this.billableLines({ ...input, billingLineIds: [...input.billingLineIds, ...covered] }, customer);
      const typed = input.lines.map((l, i) => {
        if (l.currency !== customer.currency) {
          const shown = `${fromMinor(l.unitPriceMinor, l.currency)} ${l.currency}`;
          throw rejected(
            `ERP rejected a unit price of ${shown} on invoice '${input.externalId}': customer '${customer.id}' is billed in ${customer.currency}`,
            `lines[${i}].unitPrice`,
            shown,
          );
        }
        return { ...l, amountMinor: Number(extendMinor(l.quantityHundredths, l.unitPriceMinor)) };
      });
      const lines = [...billed, ...typed];
      if (lines.length === 0)
        throw rejected(`ERP rejected invoice '${input.externalId}': an invoice needs at least one line`, 'lines', '[]');
      this.assertPeriodOpen(input.issueDate, 'issue date', 'issueDate');
      const rate = this.db
        .prepare('SELECT rate_basis_points AS bp FROM tax_jurisdictions WHERE code = ?')
        .get(customer.taxJurisdictionCode) as { bp: number };
      const subtotal = lines.reduce((sum, l) => sum + BigInt(l.amountMinor), 0n);
      const tax = divideRoundHalfUp(subtotal * BigInt(rate.bp), 10_000n);
      const total = subtotal + tax;
      const id = nextId(this.db, 'invoices', 'INV');
      this.db
        .prepare(
          `INSERT INTO invoices (id, number, customer_id, psa_project_id, status, issue_date, due_date, currency, subtotal_minor, tax_minor,
             total_minor, balance_minor, external_id, request, updated_at)
           VALUES (?, ?, ?, ?, 'POSTED', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          id,
          `${customer.legalEntityCode.slice(-2)}-${input.issueDate.slice(0, 4)}-${id.slice(4)}`,
          customer.id,
          input.psaProjectId,
          input.issueDate,
          addDays(input.issueDate, TERMS_DAYS[customer.paymentTerms]),
          customer.currency,
          subtotal,
          tax,
          total,
          total,
          input.externalId,
          request,
          nextChangeStamp(this.db, 'invoices'),
        );
      const insertLine = this.db.prepare(`INSERT INTO invoice_lines VALUES (?, ?, ?, ?, ?, ?)`);
      for (const [i, l] of lines.entries()) {
        insertLine.run(id, i + 1, l.description, l.quantityHundredths, l.unitPriceMinor, l.amountMinor);
      }
      this.db
        .prepare(`UPDATE billing_lines SET invoice_id = ? WHERE ${inJson('id')}`)
        .run(id, JSON.stringify([...input.billingLineIds, ...covered]));
      return { record: this.invoiceById(id)!, created: true };
    })();
  }

  async getRetainerTerms(psaProjectIds: readonly string[]): Promise<(RetainerTermsRecord | null)[]> {
    const rows = this.db
      .prepare(
        `SELECT psa_project_id AS psaProjectId, fee_minor AS feeMinor, currency FROM retainer_terms WHERE ${inJson('psa_project_id')}`,
      )
      .all(JSON.stringify(psaProjectIds)) as RetainerTermsRecord[];
    return byKey(psaProjectIds, rows, (r) => r.psaProjectId);
  }

  async upsertRetainerTerms(input: RetainerTermsRecord): Promise<{ record: RetainerTermsRecord; created: boolean }> {
    return this.db.transaction((): { record: RetainerTermsRecord; created: boolean } => {
      const project = this.db.prepare(PROJECT_CURRENCY_SQL).get(input.psaProjectId) as { currency: string } | undefined;
      if (!project) throw noProjectDimensions(input.psaProjectId);
      const shown = `${fromMinor(input.feeMinor, input.currency)} ${input.currency}`;
      if (input.currency !== project.currency)
        throw rejected(
          `ERP rejected a retainer fee of ${shown} for project '${input.psaProjectId}': the project bills in ${project.currency}`,
          'fee',
          shown,
        );
      if (input.feeMinor <= 0)
        throw rejected(
          `ERP rejected a retainer fee of ${shown} for project '${input.psaProjectId}': a fee must be positive`,
          'fee',
          shown,
        );
      const existing = this.db.prepare('SELECT 1 FROM retainer_terms WHERE psa_project_id = ?').get(input.psaProjectId);
      this.db
        .prepare(
          `INSERT INTO retainer_terms (psa_project_id, fee_minor, currency) VALUES (@psaProjectId, @feeMinor, @currency)
           ON CONFLICT(psa_project_id) DO UPDATE SET fee_minor = excluded.fee_minor, currency = excluded.currency`,
        )
        .run(input);
      return { record: { ...input }, created: existing === undefined };
    })();
  }

  async applyPayment(input: {
    externalId: string;
    invoiceId: string;
    amountMinor: number;
    currency: string;
    receivedOn: string;
  }): Promise<{ record: PaymentRecord; created: boolean }> {
    return this.db.transaction((): { record: PaymentRecord; created: boolean } => {
      const existing = this.db
        .prepare(`SELECT ${PAYMENT_COLUMNS} FROM payments WHERE external_id = ?`)
        .get(input.externalId) as PaymentRecord | undefined;
      if (existing) {
        const same =
          existing.invoiceId === input.invoiceId &&
          existing.amountMinor === input.amountMinor &&
          existing.currency === input.currency &&
          existing.receivedOn === input.receivedOn;
        if (!same) {
          throw new MeridianError(
            'DUPLICATE_EXTERNAL_ID',
            `ERP already applied payment '${existing.id}' under external ID '${input.externalId}', with other data`,
            {
              system: 'erp',
              field: 'externalId',
              value: input.externalId,
            },
          );
        }
        return { record: existing, created: false };
      }
      const invoice = this.invoiceById(input.invoiceId);
      if (!invoice)
        throw new MeridianError('NOT_FOUND', `ERP has no invoice '${input.invoiceId}'`, {
          system: 'erp',
          field: 'invoiceId',
          value: input.invoiceId,
        });
      if (invoice.status !== 'POSTED' && invoice.status !== 'OVERDUE') {
        throw new MeridianError(
          'INVALID_STATE',
          `Invoice '${invoice.number}' is ${invoice.status}; only a POSTED or OVERDUE invoice takes payments`,
          {
            system: 'erp',
            field: 'invoiceId',
            value: invoice.id,
          },
        );
      }
      const shown = `${fromMinor(input.amountMinor, input.currency)} ${input.currency}`;
      if (input.currency !== invoice.currency) {
        throw rejected(
          `ERP rejected a payment of ${shown} on invoice '${invoice.number}': the invoice is in ${invoice.currency}`,
          'amount',
          shown,
        );
      }
      if (input.amountMinor <= 0)
        throw rejected(
          `ERP rejected a payment of ${shown} on invoice '${invoice.number}': a payment must be positive`,
          'amount',
          shown,
        );
      if (input.amountMinor > invoice.balanceMinor) {
        throw rejected(
          `ERP rejected a payment of ${shown} on invoice '${invoice.number}': it exceeds the balance due of ${fromMinor(invoice.balanceMinor, invoice.currency)} ${invoice.currency}`,
          'amount',
          shown,
        );
      }
      this.assertPeriodOpen(input.receivedOn, 'receipt date', 'receivedOn');
      const id = nextId(this.db, 'payments', 'PAY');
      this.db
        .prepare(`INSERT INTO payments VALUES (?, ?, ?, ?, ?, ?)`)
        .run(id, invoice.id, input.amountMinor, input.currency, input.receivedOn, input.externalId);
      const balance = invoice.balanceMinor - input.amountMinor;
      this.db
        .prepare('UPDATE invoices SET balance_minor = ?, status = ?, updated_at = ? WHERE id = ?')
        // A part payment of an OVERDUE invoice leaves it OVERDUE: what is left of it is still past due.
        .run(balance, balance === 0 ? 'PAID' : invoice.status, nextChangeStamp(this.db, 'invoices'), invoice.id);
      return {
        record: this.db.prepare(`SELECT ${PAYMENT_COLUMNS} FROM payments WHERE id = ?`).get(id) as PaymentRecord,
        created: true,
      };
    })();
  }

  async markInvoiceOverdue(input: {
    invoiceId: string;
    asOf: string;
  }): Promise<{ record: InvoiceRecord; changed: boolean }> {
    return this.db.transaction((): { record: InvoiceRecord; changed: boolean } => {
      const invoice = this.invoiceById(input.invoiceId);
      if (!invoice)
        throw new MeridianError('NOT_FOUND', `ERP has no invoice '${input.invoiceId}'`, {
          system: 'erp',
          field: 'invoiceId',
          value: input.invoiceId,
        });
      // Already marked, or paid meanwhile: nothing to do, and saying so lets a repeated sweep step pass.
      if (invoice.status === 'OVERDUE' || invoice.status === 'PAID') return { record: invoice, changed: false };
      if (invoice.status !== 'POSTED' || invoice.balanceMinor <= 0 || !(invoice.dueDate < input.asOf)) {
        throw new MeridianError(
          'INVALID_STATE',
          `Invoice '${invoice.number}' is ${invoice.status}, due ${invoice.dueDate}: it is not past due on ${input.asOf}`,
          { system: 'erp', field: 'invoiceId', value: invoice.id },
        );
      }
      this.db
        .prepare(`UPDATE invoices SET status = 'OVERDUE', updated_at = ? WHERE id = ?`)
        .run(nextChangeStamp(this.db, 'invoices'), invoice.id);
      return { record: this.invoiceById(invoice.id)!, changed: true };
    })();
  }

  async setCreditHold(input: {
    customerId: string;
    reason: string | null;
    at: string;
  }): Promise<{ record: CreditHoldRecord | null; changed: boolean }> {
    return this.db.transaction((): { record: CreditHoldRecord | null; changed: boolean } => {
      const customer = this.customerById(input.customerId);
      if (!customer) throw noCustomer(input.customerId);
      const reason = input.reason?.trim() ?? null;
      if (reason === '')
        throw rejected(
          `ERP rejected a credit hold on customer '${customer.id}': a reason is required`,
          'reason',
          input.reason ?? '',
        );
      const hold = () =>
        this.db
          .prepare(
            'SELECT id AS customerId, credit_hold_reason AS reason, credit_hold_since AS since FROM customers WHERE id = ? AND credit_hold_reason IS NOT NULL',
          )
          .get(customer.id) as CreditHoldRecord | undefined;
      const current = hold();
      if (reason === (current?.reason ?? null)) return { record: current ?? null, changed: false };
      // A changed reason keeps the hold's first date: the customer has been on hold since then.
      const since = reason === null ? null : (current?.since ?? input.at);
      this.db
        .prepare('UPDATE customers SET credit_hold_reason = ?, credit_hold_since = ? WHERE id = ?')
        .run(reason, since, customer.id);
      return { record: hold() ?? null, changed: true };
    })();
  }

  async deleteCustomer(id: string): Promise<DeleteOutcome> {
    return this.db.transaction((): DeleteOutcome => {
      const customer = this.customerById(id);
      if (!customer) return { id, deleted: false };
      const held = this.db
        .prepare(
          `SELECT (SELECT count(*) FROM invoices WHERE customer_id = @id) AS invoices,
             (SELECT count(*) FROM billing_lines WHERE psa_project_id IN (SELECT psa_project_id FROM project_dimensions WHERE customer_id = @id)) AS billingLines,
             (SELECT count(*) FROM project_dimensions WHERE customer_id = @id) AS projects,
             (SELECT count(*) FROM customers WHERE parent_customer_id = @id) AS children`,
        )
        .get({ id }) as { invoices: number; billingLines: number; projects: number; children: number };
      const parts = [
        count(held.invoices, 'invoice', 'invoices'),
        count(held.billingLines, 'billing line', 'billing lines'),
        count(held.projects, 'project', 'projects'),
        count(held.children, 'child customer', 'child customers'),
      ].filter((p) => p !== null);
      if (parts.length > 0) {
        throw new MeridianError(
          'INVALID_STATE',
          `Customer ${customer.id} (${customer.customerNumber}, ${customer.name}) has ${andList(parts)}; only a customer with no invoices, billing lines, projects or child customers can be deleted`,
          { system: 'erp', field: 'id', value: id },
        );
      }
      this.db.prepare('INSERT OR IGNORE INTO deleted_ids VALUES (?)').run(id);
      this.db.prepare('DELETE FROM customers WHERE id = ?').run(id);
      return { id, deleted: true };
    })();
  }

  getProjectContracts: ProjectContractCommands['getProjectContracts'] = (ids) =>
    this.contracts.getProjectContracts(ids);
  amendProjectContract: ProjectContractCommands['amendProjectContract'] = (input) =>
    this.contracts.amendProjectContract(input);
  revertProjectContractAmendment: ProjectContractCommands['revertProjectContractAmendment'] = (externalId) =>
    this.contracts.revertProjectContractAmendment(externalId);

  async deleteProjectDimensions(psaProjectId: string): Promise<DeleteOutcome> {
    return this.db.transaction((): DeleteOutcome => {
      const dimensions = this.db
        .prepare('SELECT project_code AS projectCode FROM project_dimensions WHERE psa_project_id = ?')
        .get(psaProjectId) as { projectCode: string } | undefined;
      if (!dimensions) return { id: psaProjectId, deleted: false };
      const held = this.db
        .prepare(
          `SELECT (SELECT count(*) FROM billing_lines WHERE psa_project_id = @id) AS billingLines, (SELECT count(*) FROM invoices WHERE psa_project_id = @id) AS invoices`,
        )
        .get({ id: psaProjectId }) as { billingLines: number; invoices: number };
      const parts = [
        count(held.billingLines, 'billing line', 'billing lines'),
        count(held.invoices, 'invoice', 'invoices'),
      ].filter((p) => p !== null);
      if (parts.length > 0) {
        throw new MeridianError(
          'INVALID_STATE',
          `Project ${psaProjectId} (${dimensions.projectCode}) has ${andList(parts)} in ERP; only the dimensions of a project with none can be deleted`,
          { system: 'erp', field: 'projectId', value: psaProjectId },
        );
      }
      this.db.prepare('DELETE FROM project_dimensions WHERE psa_project_id = ?').run(psaProjectId);
      return { id: psaProjectId, deleted: true };
    })();
  }

  /** The billing lines an invoice takes, checked: they exist on its project, are unbilled and in the customer's currency. */
  private billableLines(input: PostInvoice, customer: CustomerRecord): BillingLineRecord[] {
    if (new Set(input.billingLineIds).size !== input.billingLineIds.length) {
      throw rejected(
        `ERP rejected invoice '${input.externalId}': a billing line is listed twice`,
        'billingLineIds',
        input.billingLineIds.join(','),
      );
    }
    const rows = this.db
      .prepare(`SELECT ${BILLING_LINE_COLUMNS} FROM billing_lines WHERE ${inJson('id')}`)
      .all(JSON.stringify(input.billingLineIds)) as BillingLineRecord[];
    return byKey(input.billingLineIds, rows, (r) => r.id).map((line, i) => {
      const id = input.billingLineIds[i]!;
      if (!line || line.psaProjectId !== input.psaProjectId) {
        throw new MeridianError(
          'NOT_FOUND',
          `ERP has no billing line '${id}' on project '${input.psaProjectId ?? '(none)'}'`,
          { system: 'erp', field: 'billingLineIds', value: id },
        );
      }
      if (line.invoiceId !== null) {
        throw new MeridianError(
          'INVALID_STATE',
          `Billing line '${id}' is already billed on invoice '${line.invoiceId}'`,
          { system: 'erp', field: 'billingLineIds', value: id },
        );
      }
      if (line.currency !== customer.currency) {
        throw rejected(
          `ERP rejected billing line '${id}' in ${line.currency} on an invoice to '${customer.id}', who is billed in ${customer.currency}`,
          'billingLineIds',
          id,
        );
      }
      return line;
    });
  }

  /** @throws MeridianError VALIDATION_REJECTED when the accounting period of `date` is closed. */
  private assertPeriodOpen(date: string, what: string, field: string): void {
    const period = date.slice(0, 7);
    if (this.faults.isPeriodClosed(period))
      throw rejected(`ERP rejected ${what} '${date}': accounting period ${period} is closed`, field, date);
  }

  private customerById(id: string): CustomerRecord | undefined {
    return this.db.prepare(`SELECT ${CUSTOMER_COLUMNS} FROM customers WHERE id = ?`).get(id) as
      | CustomerRecord
      | undefined;
  }

  private invoiceById(id: string): InvoiceRecord | undefined {
    return this.db.prepare(`SELECT ${INVOICE_COLUMNS} FROM invoices WHERE id = ?`).get(id) as InvoiceRecord | undefined;
  }
}

/** A customer's master fields besides its name and terms. */
type MasterExtras = Pick<
  CustomerRecord,
  'legalName' | 'billingCountry' | 'billingAddress' | 'billingContact' | 'parentCustomerId'
>;

/** Every {@link MasterExtras} field empty (the defaults of seed rows and upserts). */
const NO_MASTER_FIELDS: MasterExtras = {
  legalName: null,
  billingCountry: null,
  billingAddress: null,
  billingContact: null,
  parentCustomerId: null,
};

/** The {@link MasterExtras} of a customer or an upsert (absent ones as null). */
function pickMaster(from: Partial<Record<keyof MasterExtras, string | null>>): MasterExtras {
  return {
    legalName: from.legalName ?? null,
    billingCountry: from.billingCountry ?? null,
    billingAddress: from.billingAddress ?? null,
    billingContact: from.billingContact ?? null,
    parentCustomerId: from.parentCustomerId ?? null,
  };
}

function pick<T extends object, K extends keyof T>(from: T, keys: readonly K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, from[k]])) as Pick<T, K>;
}

/** A value in a message: quoted, or `(none)`. */
function shownValue(value: string | null): string {
  return value === null ? '(none)' : `'${value}'`;
}

function rejected(message: string, field: string, value: string): MeridianError {
  return new MeridianError('VALIDATION_REJECTED', message, { system: 'erp', field, value });
}

/** "a", "a and b", "a, b and c". */
function andList(parts: readonly string[]): string {
  return parts.length < 2 ? parts.join('') : `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}

function noCustomer(id: string): MeridianError {
  return new MeridianError('NOT_FOUND', `ERP has no customer '${id}'`, {
    system: 'erp',
    field: 'customerId',
    value: id,
  });
}

function sameBillingLine(stored: BillingLineRecord, line: NewBillingLine): boolean {
  return (
    stored.psaProjectId === line.psaProjectId &&
    stored.sourceType === line.sourceType &&
    stored.sourceId === line.sourceId &&
    stored.description === line.description &&
    stored.quantityHundredths === line.quantityHundredths &&
    stored.unitPriceMinor === line.unitPriceMinor &&
    stored.currency === line.currency &&
    stored.postingDate === line.postingDate
  );
}
