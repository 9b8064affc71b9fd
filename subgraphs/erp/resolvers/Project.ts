import { money } from '../../../lib/money';
import type { ErpContext } from '../context';
import { creditHoldOf } from './Customer';

export const Project = {
  // The PSA owns projects; the ERP only knows their IDs, so the representation is the whole stub. Under a tenant scope
  // the loaders drop another account's invoices, dimensions and billing lines, so such a project reads exactly as a
  // project the ERP has never heard of.
  __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
  invoices: (project: { id: string }, _args: unknown, ctx: ErpContext) =>
    ctx.loaders.invoicesByProject.load(project.id),
  dimensions: (project: { id: string }, _args: unknown, ctx: ErpContext) =>
    ctx.loaders.projectDimensions.load(project.id),
  billingLines: (project: { id: string }, _args: unknown, ctx: ErpContext) =>
    ctx.loaders.billingLinesByProject.load(project.id),
  retainer: async (project: { id: string }, _args: unknown, ctx: ErpContext) => {
    const terms = await ctx.loaders.retainerTerms.load(project.id);
    return terms && { fee: money(terms.feeMinor, terms.currency) };
  },
  billedToDate: async (project: { id: string }, _args: unknown, ctx: ErpContext) => {
    const [invoices, dimensions] = await Promise.all([
      ctx.loaders.invoicesByProject.load(project.id),
      ctx.loaders.projectDimensions.load(project.id),
    ]);
    // The project bills in its customer's currency; reading it whenever there are dimensions (not only when there are
    // no invoices) keeps the connector calls of a query the same whatever the data.
    const customer = dimensions ? await ctx.loaders.customer.load(dimensions.customerId) : null;
    const currency = customer?.currency ?? invoices[0]?.currency;
    if (currency === undefined) return null;
    const billed = invoices.filter((i) => i.status === 'POSTED' || i.status === 'OVERDUE' || i.status === 'PAID');
    return money(
      billed.reduce((sum, i) => sum + BigInt(i.subtotalMinor), 0n),
      currency,
    );
  },
  creditHold: async (project: { id: string }, _args: unknown, ctx: ErpContext) => {
    const dimensions = await ctx.loaders.projectDimensions.load(project.id);
    return dimensions ? creditHoldOf(await ctx.loaders.customer.load(dimensions.customerId), ctx) : null;
  },
};
