import { recordId } from '../../../lib/input';
import type { RunRecord } from '../engine/ledger';
import type { Governance } from '../governance/governance';
import { SystemError } from '../systems/system-error';
import type { AccountForSync, CustomerForSync, CustomerSyncField } from '../systems/systems';
import type { Flow, StepContext } from './flow';

/** Input of a customer sync: the CRM account whose changes go to its ERP customer. */
export interface SyncCustomerInput {
  accountId: string;
}

type CustomerField = keyof Governance['sourceOfTruth']['customer'];

/** Where the CRM holds each customer field it may own; a field not listed here the CRM cannot own. */
const CRM_VALUE: Record<CustomerSyncField, (account: AccountForSync) => string> = {
  name: (account) => account.name,
};

/** Where the ERP customer holds the same fields. */
const ERP_VALUE: Record<CustomerSyncField, (customer: CustomerForSync) => string> = {
  name: (customer) => customer.name,
};

const isSyncField = (field: string): field is CustomerSyncField => Object.hasOwn(CRM_VALUE, field);

/** The customer fields governance gives to the CRM, in governance order. @throws SystemError BAD_VALUE for one the CRM does not hold. */
function crmOwnedFields(governance: Governance): CustomerSyncField[] {
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

/** The values Meridian last wrote to (or confirmed on) the account's ERP customer, per field, and which run did. */
interface LastSynced {
  values: Partial<Record<CustomerSyncField, string>>;
  runId: string;
  at: string;
}

/** What `updateErpCustomer` returns when it synced: the values the ERP customer now holds, and what it changed. */
interface Synced {
  accountId: string;
  customerId: string;
  synced: Partial<Record<CustomerSyncField, string>>;
  updated: Partial<Record<CustomerSyncField, { from: string; to: string; lastSynced: string | null }>>;
}

/**
 * What Meridian last synced for the account, from the ledger: the latest succeeded sync's `synced` values, or, if
 * later, the name the account's conversion gave the customer it ensured (its `validateOpportunity` output, written by
 * `ensureErpCustomer`). Null when Meridian never wrote the customer (one that existed before Meridian).
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
        | { customerId?: string }
        | null
        | undefined;
      const deal = run.steps.find((s) => s.name === 'validateOpportunity')?.output as
        | { accountName?: string }
        | null
        | undefined;
      if (ensured?.customerId && deal?.accountName !== undefined)
        consider(run, 'ensureErpCustomer', { name: deal.accountName });
    }
  }
  return latest;
}

/**
 * CRM account → its ERP customer, field by field under governance's `sourceOfTruth.customer`: each CRM-owned field
 * (today the name) is written to the ERP when the CRM changed it; ERP-owned fields are never written. An ERP-side edit
 * of a CRM-owned field is not overwritten but raised as a CONFLICT: when the ERP's value differs both from the value
 * Meridian last synced (see {@link lastSynced}) and from the CRM's, someone changed it in the ERP. With no sync on
 * record (a customer Meridian never wrote) there is no evidence of such an edit, and the CRM's value, which it owns,
 * is written. An account without an ERP customer has nothing to sync: conversion creates customers.
 */
export const syncCustomer: Flow<SyncCustomerInput> = {
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

  steps: [
    {
      name: 'readCrmAccount',
      system: 'crm',
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
        return {
          accountId: account.id,
          crmOwnedFields: fields,
          values: Object.fromEntries(fields.map((f) => [f, CRM_VALUE[f](account)])),
        };
      },
    },
    {
      name: 'updateErpCustomer',
      system: 'erp',
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
        const set: Partial<Record<CustomerSyncField, string>> = {};
        const expected: Partial<Record<CustomerSyncField, string>> = {};
        const updated: Synced['updated'] = {};
        const conflicts: string[] = [];
        for (const field of fields) {
          const crm = CRM_VALUE[field](account);
          const erp = ERP_VALUE[field](customer);
          if (erp === crm) continue;
          const synced = last?.values[field];
          if (synced !== undefined && erp !== synced) {
            conflicts.push(
              `customer field '${field}' was changed in the ERP to '${erp}' (Meridian last synced '${synced}'), and the CRM has '${crm}'`,
            );
            continue;
          }
          set[field] = crm;
          expected[field] = erp;
          updated[field] = { from: erp, to: crm, lastSynced: synced ?? null };
        }
        if (conflicts.length) {
          throw new SystemError(
            'CONFLICT',
            `Account ${accountId}, ERP customer ${customer.id} (${customer.customerNumber}): ${conflicts.join('; ')}. The CRM owns ${conflicts.length > 1 ? 'these fields' : 'this field'} (governance: sourceOfTruth.customer), so the ERP edit is not overwritten: make the ERP and the CRM agree, then retry`,
            'erp',
          );
        }
        // `expected` makes the ERP refuse (CONFLICT) a field someone edits between this read and the write.
        if (Object.keys(set).length)
          await ctx.systems.erp.updateCustomerFields({ id: customer.id, set, expected }, ctx.correlationId);
        return {
          accountId,
          customerId: customer.id,
          synced: Object.fromEntries(fields.map((f) => [f, CRM_VALUE[f](account)])),
          updated,
        };
      },
    },
  ],
};
