import type { Governance } from '../governance/governance';
import { SystemError } from '../systems/system-error';
import type { AccountForSync, CustomerForSync, CustomerSyncField, ErpCustomerField } from '../systems/systems';
import type { StepContext } from './flow';

/**
 * The customer master: which customer fields the CRM holds, where each sits on a CRM account and on an ERP customer,
 * and how a billed account gets its parent customer first. Used by `syncCustomer` (every CRM-owned field, CRM → ERP)
 * and by `convertOpportunityToProject` (a new customer starts with the CRM's values and its parent).
 */

/** A field's value as the sync compares it: a string, or null for none. */
export type MasterValue = string | null;

/** `Ada Lovelace <ada@example.com>`: how the ERP holds whom invoices go to. */
function mailbox(contact: NonNullable<AccountForSync['billingContact']>): string {
  const name = `${contact.firstName} ${contact.lastName}`;
  return contact.email ? `${name} <${contact.email}>` : name;
}

/**
 * Each field the CRM may own: its value on a CRM account and on the ERP customer, and the ERP field that takes it.
 * `parentAccount` compares CRM account IDs (the ERP's parent customer by its external CRM ID).
 */
export const CUSTOMER_FIELDS: Readonly<
  Record<
    CustomerSyncField,
    { crm: (a: AccountForSync) => MasterValue; erp: (c: CustomerForSync) => MasterValue; erpField: ErpCustomerField }
  >
> = {
  name: { crm: (a) => a.name, erp: (c) => c.name, erpField: 'name' },
  legalName: { crm: (a) => a.legalName, erp: (c) => c.legalName, erpField: 'legalName' },
  billingCountry: { crm: (a) => a.billingCountry, erp: (c) => c.billingCountry, erpField: 'billingCountry' },
  billingAddress: { crm: (a) => a.billingAddress, erp: (c) => c.billingAddress, erpField: 'billingAddress' },
  billingContact: {
    crm: (a) => (a.billingContact ? mailbox(a.billingContact) : null),
    erp: (c) => c.billingContact,
    erpField: 'billingContact',
  },
  paymentTerms: { crm: (a) => a.paymentTerms, erp: (c) => c.paymentTerms, erpField: 'paymentTerms' },
  parentAccount: {
    crm: (a) => a.parentAccount?.id ?? null,
    erp: (c) => c.parentCustomer?.externalCrmId ?? null,
    erpField: 'parentCustomerId',
  },
};

type CustomerField = keyof Governance['sourceOfTruth']['customer'];

const isSyncField = (field: string): field is CustomerSyncField => Object.hasOwn(CUSTOMER_FIELDS, field);

/** The customer fields governance gives to the CRM, in governance order. @throws SystemError BAD_VALUE for one the CRM does not hold. */
export function crmOwnedFields(governance: Governance): CustomerSyncField[] {
  const owned = (Object.entries(governance.sourceOfTruth.customer) as [CustomerField, string][])
    .filter(([, owner]) => owner === 'CRM')
    .map(([field]) => field);
  const unheld = owned.filter((field) => !isSyncField(field));
  if (unheld.length) {
    throw new SystemError(
      'BAD_VALUE',
      `Governance makes the CRM the owner of customer field${unheld.length > 1 ? 's' : ''} ${unheld.map((f) => `'${f}'`).join(', ')}, which CRM accounts do not hold (governance: sourceOfTruth.customer)`,
      'crm',
    );
  }
  return owned as CustomerSyncField[];
}

/** The account's values of `fields`. */
export function crmValues(
  account: AccountForSync,
  fields: readonly CustomerSyncField[],
): Partial<Record<CustomerSyncField, MasterValue>> {
  return Object.fromEntries(fields.map((f) => [f, CUSTOMER_FIELDS[f].crm(account)]));
}

/** A value in a message: quoted, or `(none)`. */
export const shown = (value: MasterValue | undefined): string =>
  value === null || value === undefined ? '(none)' : `'${value}'`;

/** What a new ERP customer takes from the ERP's side: its legal entity, tax jurisdiction, terms and currency. */
export interface CustomerBasis {
  legalEntityCode: string;
  taxJurisdictionCode: string;
  paymentTerms: string;
  currency: string;
}

/** The fields an upsert of a new customer for `account` carries: the basis, and every CRM-owned field but the parent. */
export function newCustomer(account: AccountForSync, fields: readonly CustomerSyncField[], basis: CustomerBasis) {
  const values = crmValues(account, fields);
  const from = (f: 'legalName' | 'billingCountry' | 'billingAddress' | 'billingContact') =>
    fields.includes(f) ? (values[f] ?? null) : null;
  return {
    externalCrmId: account.id,
    name: account.name,
    ...basis,
    // Terms the CRM owns and holds win over the region's.
    paymentTerms: (fields.includes('paymentTerms') && values.paymentTerms) || basis.paymentTerms,
    legalName: from('legalName'),
    billingCountry: from('billingCountry'),
    billingAddress: from('billingAddress'),
    billingContact: from('billingContact'),
  };
}

/** The longest account hierarchy walked up from one account; deeper (or a loop) is bad CRM data. */
const MAX_DEPTH = 10;

/**
 * Makes sure the account's parent account (and its parents in turn) has an ERP customer, creating the missing ones
 * top-down from the CRM's values on `basis` (the child's legal entity, tax jurisdiction, terms and currency): the ERP
 * dedupes an upsert by CRM account ID, and an ancestor found in the ERP stops the walk, so each parent customer is
 * created exactly once however many children, runs or retries ask for it. Nothing to do when the account has no
 * parent. Returns the parent's ERP customer ID and the customers created, top first.
 * @throws SystemError MISSING_REFERENCE for a parent account the CRM does not have, BAD_VALUE for a hierarchy loop
 */
export async function ensureParentCustomer(
  ctx: StepContext<unknown>,
  account: AccountForSync,
  fields: readonly CustomerSyncField[],
  basis: CustomerBasis,
): Promise<{ parentCustomerId: string | null; created: { customerId: string; accountId: string }[] }> {
  const missing: AccountForSync[] = [];
  const seen = new Set([account.id]);
  let top: string | null = null;
  for (let cursor = account.parentAccount?.id ?? null; cursor !== null; ) {
    if (seen.has(cursor) || seen.size > MAX_DEPTH)
      throw new SystemError(
        'BAD_VALUE',
        `Account ${account.id}'s account hierarchy ${seen.has(cursor) ? `loops back to account '${cursor}'` : `is deeper than ${MAX_DEPTH} levels`}: fix the parent accounts in the CRM, then retry`,
        'crm',
      );
    seen.add(cursor);
    const existing = await ctx.systems.erp.getCustomerByAccount(cursor, ctx.correlationId);
    if (existing) {
      top = existing.id;
      break;
    }
    const parent = await ctx.systems.crm.getAccount(cursor, ctx.correlationId);
    if (!parent)
      throw new SystemError('MISSING_REFERENCE', `The CRM has no parent account '${cursor}'`, 'crm', 'NOT_FOUND');
    missing.push(parent);
    cursor = parent.parentAccount?.id ?? null;
  }
  const created: { customerId: string; accountId: string }[] = [];
  let parentCustomerId = top;
  for (const parent of missing.reverse()) {
    const result = await ctx.systems.erp.upsertCustomer(
      { ...newCustomer(parent, fields, basis), parentCustomerId },
      ctx.correlationId,
    );
    if (result.created) created.push({ customerId: result.id, accountId: parent.id });
    parentCustomerId = result.id;
  }
  return { parentCustomerId: account.parentAccount ? parentCustomerId : null, created };
}
