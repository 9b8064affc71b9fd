import { recordId } from '../../../lib/input';
import type { RunRecord } from '../engine/ledger';
import { SystemError } from '../systems/system-error';
import type { CustomerSyncField, ErpCustomerField } from '../systems/systems';
import {
  CUSTOMER_FIELDS,
  crmOwnedFields,
  crmValues,
  ensureParentCustomer,
  type MasterValue,
  shown,
} from './customer-master';
import { type Flow, flow, type StepContext } from './flow';

/** Input of a customer sync: the CRM account whose changes go to its ERP customer. */
export interface SyncCustomerInput {
  accountId: string;
}

/** The values Meridian last wrote to (or confirmed on) the account's ERP customer, per field, and which run did. */
interface LastSynced {
  values: Partial<Record<CustomerSyncField, MasterValue>>;
  runId: string;
  at: string;
}

/** What `updateErpCustomer` returns when it synced: the values the ERP customer now holds, and what it changed. */
interface Synced {
  accountId: string;
  customerId: string;
  synced: Partial<Record<CustomerSyncField, MasterValue>>;
  updated: Partial<Record<CustomerSyncField, { from: MasterValue; to: MasterValue; lastSynced: MasterValue }>>;
  /** Parent customers this run created for the account's hierarchy (see `ensureParentCustomer`). */
  parentsCreated?: string[];
}

/**
 * What Meridian last synced for the account, from the ledger: the latest succeeded sync's `synced` values, or, if
 * later, the values the account's conversion gave the customer it created (`ensureErpCustomer`'s `synced`; from a
 * conversion before those were recorded, the name in its `validateOpportunity` output). Null when Meridian never
 * wrote the customer (one that existed before Meridian). A field missing from the values was never synced.
 */
async function lastSynced(ctx: StepContext<SyncCustomerInput>, accountId: string): Promise<LastSynced | null> {
  const [runs] = await ctx.ledger.getRunsBy('accountId', [accountId], ['syncCustomer', 'convertOpportunityToProject']);
  let latest: LastSynced | null = null;
  const consider = (run: RunRecord, step: string, values: LastSynced['values'] | undefined) => {
    const done = run.steps.find((s) => s.name === step);
    if (!values || !done || done.status !== 'SUCCEEDED' || done.finishedAt === null) return;
    if (!latest || done.finishedAt > latest.at) latest = { values, runId: run.id, at: done.finishedAt };
  };
  for (const run of runs ?? []) {
    if (run.id === ctx.runId) continue;
    if (run.flow === 'syncCustomer') {
      if (run.status === 'SUCCEEDED')
        consider(
          run,
          'updateErpCustomer',
          (run.steps.find((s) => s.name === 'updateErpCustomer')?.output as Partial<Synced> | null)?.synced,
        );
    } else {
      const ensured = run.steps.find((s) => s.name === 'ensureErpCustomer')?.output as
        | { customerId?: string; synced?: LastSynced['values'] }
        | null
        | undefined;
      const deal = run.steps.find((s) => s.name === 'validateOpportunity')?.output as
        | { accountName?: string }
        | null
        | undefined;
      if (ensured?.customerId && ensured.synced) consider(run, 'ensureErpCustomer', ensured.synced);
      else if (ensured?.customerId && deal?.accountName !== undefined)
        consider(run, 'ensureErpCustomer', { name: deal.accountName });
    }
  }
  return latest;
}

/**
 * CRM account → its ERP customer, field by field under governance's `sourceOfTruth.customer`: each CRM-owned field
 * (name, legal name, billing country, address and contact, parent account, payment terms: `customer-master.ts`) is
 * written to the ERP when the CRM changed it; ERP-owned fields are never written. A new parent account gets its ERP
 * customer first, exactly once (`ensureParentCustomer`), and becomes the customer's parent customer. An ERP-side edit
 * of a CRM-owned field is not overwritten but raised as a CONFLICT: when the ERP's value differs both from the value
 * Meridian last synced (see {@link lastSynced}) and from the CRM's, someone changed it in the ERP. With no sync on
 * record (a customer Meridian never wrote) there is no evidence of such an edit, and the CRM's value, which it owns,
 * is written. An account without an ERP customer has nothing to sync: conversion creates customers.
 */
export const syncCustomer: Flow<SyncCustomerInput> = flow<SyncCustomerInput>({
  name: 'syncCustomer',

  parseInput(raw) {
    const accountId = recordId(raw.accountId, 'accountId');
    return { accountId };
  },

  subject: (input) => ({
    subjectKey: `customer:${input.accountId}`,
    subjectReuse: 'active',
    accountId: input.accountId,
    opportunityId: null,
    projectId: null,
  }),
})
  .step('readCrmAccount', {
    system: 'crm',
    reveals: ['accountId'],
    async run(ctx) {
      const account = await ctx.systems.crm.getAccount(ctx.input.accountId, ctx.correlationId);
      if (!account)
        throw new SystemError(
          'MISSING_REFERENCE',
          `The CRM has no account '${ctx.input.accountId}'`,
          'crm',
          'NOT_FOUND',
        );
      const fields = crmOwnedFields(ctx.governance);
      return { accountId: account.id, crmOwnedFields: fields, values: crmValues(account, fields) };
    },
  })
  .step('updateErpCustomer', {
    system: 'erp',
    reveals: ['accountId'],
    async run(ctx): Promise<Synced | { accountId: string; skipped: string }> {
      const { accountId } = ctx.input;
      const fields = crmOwnedFields(ctx.governance);
      const customer = await ctx.systems.erp.getCustomerByAccount(accountId, ctx.correlationId);
      if (!customer) return { accountId, skipped: 'the account has no ERP customer yet' };
      // Read again rather than taking readCrmAccount's values: a retry hours later writes what the CRM holds then.
      const account = await ctx.systems.crm.getAccount(accountId, ctx.correlationId);
      if (!account)
        throw new SystemError('MISSING_REFERENCE', `The CRM has no account '${accountId}'`, 'crm', 'NOT_FOUND');
      const last = await lastSynced(ctx, accountId);
      const set: Partial<Record<CustomerSyncField, MasterValue>> = {};
      const updated: Synced['updated'] = {};
      const conflicts: string[] = [];
      for (const field of fields) {
        const crm = CUSTOMER_FIELDS[field].crm(account);
        const erp = CUSTOMER_FIELDS[field].erp(customer);
        if (erp === crm) continue;
        const recorded = last !== null && Object.hasOwn(last.values, field);
        const synced = recorded ? (last.values[field] ?? null) : null;
        if (recorded && erp !== synced) {
          conflicts.push(
            `customer field '${field}' was changed in the ERP to ${shown(erp)} (Meridian last synced ${shown(synced)}), and the CRM has ${shown(crm)}`,
          );
          continue;
        }
        set[field] = crm;
        updated[field] = { from: erp, to: crm, lastSynced: synced };
      }
      if (conflicts.length) {
        throw new SystemError(
          'CONFLICT',
          `Account ${accountId}, ERP customer ${customer.id} (${customer.customerNumber}): ${conflicts.join('; ')}. The CRM owns ${conflicts.length > 1 ? 'these fields' : 'this field'} (governance: sourceOfTruth.customer), so the ERP edit is not overwritten: make the ERP and the CRM agree, then retry`,
          'erp',
        );
      }
      // The ERP's own fields, and `expected`, which makes the ERP refuse (CONFLICT) a field someone edits between
      // this read and the write.
      const erpSet: Partial<Record<ErpCustomerField, MasterValue>> = {};
      const expected: Partial<Record<ErpCustomerField, MasterValue>> = {};
      let parentsCreated: string[] = [];
      for (const [field, value] of Object.entries(set) as [CustomerSyncField, MasterValue][]) {
        const { erpField } = CUSTOMER_FIELDS[field];
        if (field === 'parentAccount') {
          // A new parent account gets its ERP customer first, on this customer's legal entity, terms and currency.
          const parent = await ensureParentCustomer(ctx, account, fields, {
            legalEntityCode: customer.legalEntity.code,
            taxJurisdictionCode: customer.taxJurisdiction.code,
            paymentTerms: customer.paymentTerms,
            currency: customer.currency,
          });
          parentsCreated = parent.created.map((c) => c.customerId);
          erpSet.parentCustomerId = parent.parentCustomerId;
          expected.parentCustomerId = customer.parentCustomer?.id ?? null;
        } else {
          erpSet[erpField] = value;
          expected[erpField] = CUSTOMER_FIELDS[field].erp(customer);
        }
      }
      if (Object.keys(erpSet).length)
        await ctx.systems.erp.updateCustomerFields({ id: customer.id, set: erpSet, expected }, ctx.correlationId);
      return {
        accountId,
        customerId: customer.id,
        synced: crmValues(account, fields),
        updated,
        ...(parentsCreated.length ? { parentsCreated } : {}),
      };
    },
    writes: (output) => {
      if ('skipped' in output) return null;
      const changed = Object.keys(output.updated);
      if (changed.length === 0 && !output.parentsCreated) return null;
      const parents = output.parentsCreated?.length
        ? ` (creating parent customer ${output.parentsCreated.join(', ')})`
        : '';
      return `updated ${changed.join(', ')} of ERP customer ${output.customerId}${parents}`;
    },
  })
  .build();
