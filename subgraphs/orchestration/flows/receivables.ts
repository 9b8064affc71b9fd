import { fromMinor, toMinor, type Money } from '../../../lib/money';
import { SystemError } from '../systems/system-error';
import type { AccountFinancials, InvoiceStatusView } from '../systems/systems';
import type { StepSpec } from './flow';

/** The invoice a receivables step recomputes around: whom it bills, in what currency. */
export interface InvoiceSubject {
  invoiceId: string;
  number: string;
  status: InvoiceStatusView['status'];
  currency: string;
  accountId: string;
  /** Null when the invoice bills no project; the PSA then has nothing to record. */
  projectId: string | null;
}

/** Invoices that count as billed: booked and sent, overdue or paid (drafts are not yet billed, void ones no longer). */
const BILLED: ReadonlySet<InvoiceStatusView['status']> = new Set(['POSTED', 'OVERDUE', 'PAID']);
/** Invoices whose balance is still open. */
const OPEN: ReadonlySet<InvoiceStatusView['status']> = new Set(['POSTED', 'OVERDUE']);

/**
 * Sums, in minor units of `currency`, of what `invoices` billed, what is open and overdue, and what was paid, and the
 * due date of the oldest overdue one. An invoice counts as overdue by the ERP's `overdue` (past due with a balance as
 * of the ERP's today), so one the daily sweep has not marked yet counts too: the figures are the ERP's truth.
 */
export function receivableTotals(invoices: readonly InvoiceStatusView[], currency: string, owner: string) {
  let billed = 0n;
  let open = 0n;
  let overdue = 0n;
  let oldestOverdueDueDate: string | null = null;
  for (const invoice of invoices) {
    if (!BILLED.has(invoice.status)) continue;
    if (invoice.total.currency !== currency) {
      throw new SystemError(
        'BAD_VALUE',
        `${owner} has invoice ${invoice.number} in ${invoice.total.currency} besides invoices in ${currency}; its totals cannot be added up`,
        'erp',
      );
    }
    billed += toMinor(invoice.total.amount, currency);
    const balance = toMinor(invoice.balance.amount, currency);
    if (OPEN.has(invoice.status)) open += balance;
    if (invoice.overdue) {
      overdue += balance;
      if (oldestOverdueDueDate === null || invoice.dueDate < oldestOverdueDueDate)
        oldestOverdueDueDate = invoice.dueDate;
    }
  }
  const money = (minor: bigint): Money => ({ amount: fromMinor(minor, currency), currency });
  return {
    billed: money(billed),
    outstanding: money(open),
    overdue: money(overdue),
    collected: money(billed - open),
    oldestOverdueDueDate,
  };
}

/** What `updateAccountFinance` recorded on the CRM account, and whether it changed the figures held. */
export interface AccountFinance extends AccountFinancials {
  invoices: number;
  changed: boolean;
}

/** What `updateProjectFinancials` recorded on the PSA project, and whether it changed the figures held. */
export interface ProjectFinancials {
  projectId: string;
  billed: Money;
  collected: Money;
  overdue: Money;
  asOf: string;
  invoices: number;
  changed: boolean;
}

/** The results a receivables step reads: the invoice's subject, as the earlier step `from` found it. */
type FoundBy<S extends string> = { readonly [K in S]: InvoiceSubject };

/**
 * The step that recomputes the CRM account's finance summary (invoiced, outstanding, overdue, oldest overdue due date)
 * from all the account's ERP invoices, around the invoice step `from` found. It reads the ERP and writes the CRM in one
 * step, so that every attempt (a retry, a replay) records fresh figures; the CRM ignores figures older than the ones
 * it holds.
 */
export function updateAccountFinanceStep<S extends string>(from: S): StepSpec<unknown, FoundBy<S>, AccountFinance> {
  return {
    system: 'crm',
    reveals: ['accountId'],
    async run(ctx) {
      const { accountId, currency } = ctx.results[from];
      const asOf = new Date().toISOString();
      const invoices = await ctx.systems.erp.listInvoices({ accountId }, ctx.correlationId);
      const sum = receivableTotals(invoices, currency, `Account ${accountId}`);
      const figures = {
        accountId,
        invoicedToDate: sum.billed,
        outstanding: sum.outstanding,
        overdue: sum.overdue,
        oldestOverdueDueDate: sum.oldestOverdueDueDate,
        asOf,
      };
      const { changed } = await ctx.systems.crm.recordAccountFinancials(figures, ctx.correlationId);
      return { ...figures, invoices: invoices.length, changed };
    },
  };
}

/** The step that recomputes the PSA project's financials (billed, collected, overdue → collections status). */
export function updateProjectFinancialsStep<S extends string>(
  from: S,
): StepSpec<unknown, FoundBy<S>, ProjectFinancials | { skipped: string }> {
  return {
    system: 'psa',
    reveals: ['projectId'],
    async run(ctx) {
      const { projectId, currency } = ctx.results[from];
      if (projectId === null) return { skipped: 'the invoice bills no project' };
      const asOf = new Date().toISOString();
      const invoices = await ctx.systems.erp.listInvoices({ projectId }, ctx.correlationId);
      const sum = receivableTotals(invoices, currency, `Project ${projectId}`);
      const figures = { projectId, billed: sum.billed, collected: sum.collected, overdue: sum.overdue, asOf };
      const { changed } = await ctx.systems.psa.recordProjectFinancials(figures, ctx.correlationId);
      return { ...figures, invoices: invoices.length, changed };
    },
  };
}

/** The subject of `invoice`, as the receivables steps read it. */
export function invoiceSubject(invoice: InvoiceStatusView): InvoiceSubject {
  return {
    invoiceId: invoice.id,
    number: invoice.number,
    status: invoice.status,
    currency: invoice.total.currency,
    accountId: invoice.customer.externalCrmId,
    projectId: invoice.project?.id ?? null,
  };
}
