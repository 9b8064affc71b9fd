import { MeridianError } from '../../../lib/errors';
import { changeFeedRequest, toChangeConnection } from '../../../lib/change-feed';
import { todayUtc } from '../../../lib/dates';
import { pageRequest, toConnection } from '../../../lib/pagination';
import type { InvoiceFilter, InvoiceStatus } from '../connector/erp-connector';
import type { ErpContext } from '../context';
import type { AccountScope } from '../../../lib/auth/account-scope';

interface InvoiceListArgs {
  first?: number | null;
  after?: string | null;
  filter?: {
    customerId?: string | null;
    accountId?: string | null;
    projectId?: string | null;
    status?: InvoiceStatus | null;
    overdue?: boolean | null;
  } | null;
}

/**
 * The connector filter for the GraphQL one; `overdue` is judged as of today (UTC). Under a tenant scope only the scope's
 * accounts' invoices match, whatever else the filter names, so `totalCount` counts only what the caller may see.
 */
function invoiceFilter(filter: InvoiceListArgs['filter'], scope: AccountScope, today: string): InvoiceFilter {
  const accountIds = scope === null ? null : [...scope];
  if (!filter) return { accountIds };
  return {
    accountIds,
    customerId: filter.customerId ?? null,
    accountId: filter.accountId ?? null,
    psaProjectId: filter.projectId ?? null,
    status: filter.status ?? null,
    overdueOn: filter.overdue === true ? today : null,
    notOverdueOn: filter.overdue === false ? today : null,
  };
}

/** Root reads: invoices, customers and finance reference data, through the per-request loaders. */
export const Query = {
  invoice: (_: unknown, args: { id: string }, ctx: ErpContext) => ctx.loaders.invoice.load(args.id),
  invoices: async (_: unknown, args: InvoiceListArgs, ctx: ErpContext) => {
    const page = await ctx.erp.listInvoices(
      pageRequest(args, 'invoices'),
      invoiceFilter(args.filter, ctx.scope, todayUtc(new Date(ctx.now()))),
    );
    for (const invoice of page.nodes) ctx.loaders.invoice.prime(invoice.id, invoice);
    return toConnection(page, 'invoices', (i) => i.id);
  },
  invoicesChangedSince: async (
    _: unknown,
    args: { since?: string | null; first?: number | null; after?: string | null },
    ctx: ErpContext,
  ) => {
    const page = await ctx.erp.listInvoicesChangedSince(changeFeedRequest(args, 'invoicesChangedSince'));
    for (const invoice of page.nodes) ctx.loaders.invoice.prime(invoice.id, invoice);
    return toChangeConnection(page, 'invoicesChangedSince');
  },
  customer: (_: unknown, args: { id: string }, ctx: ErpContext) => ctx.loaders.customer.load(args.id),
  customerByAccount: (_: unknown, args: { accountId: string }, ctx: ErpContext) =>
    ctx.loaders.customerByCrmAccount.load(args.accountId),
  legalEntities: (_: unknown, _args: unknown, ctx: ErpContext) => ctx.erp.listLegalEntities(),
  taxJurisdictions: (_: unknown, _args: unknown, ctx: ErpContext) => ctx.erp.listTaxJurisdictions(),
  accountingPeriods: (_: unknown, args: { periods: string[] }, ctx: ErpContext) => {
    if (args.periods.length > MAX_PERIODS)
      throw new MeridianError(
        'BAD_USER_INPUT',
        `periods takes at most ${MAX_PERIODS} periods; got ${args.periods.length}`,
        {
          field: 'periods',
        },
      );
    for (const period of args.periods)
      if (!PERIOD.test(period))
        throw new MeridianError(
          'BAD_USER_INPUT',
          `periods must be months written YYYY-MM; got '${period.slice(0, 16)}'`,
          {
            field: 'periods',
            value: period.slice(0, 16),
          },
        );
    return ctx.erp.getAccountingPeriods(args.periods);
  },
};

const MAX_PERIODS = 24;
/** A calendar month, YYYY-MM. */
const PERIOD = /^\d{4}-(0[1-9]|1[0-2])$/;
