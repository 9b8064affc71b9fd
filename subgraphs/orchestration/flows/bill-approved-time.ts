import { isoDate, todayUtc } from '../../../lib/dates';
import { MeridianError } from '../../../lib/errors';
import { recordId } from '../../../lib/input';
import { fromMinor, toMinor, type Money } from '../../../lib/money';
import { SystemError } from '../systems/system-error';
import type { NewBillingLine } from '../systems/systems';
import { type Flow, flow } from './flow';

/** Input of a billing run: the project, and optionally the last date of work to bill. */
export interface BillInput {
  projectId: string;
  /** Only work dated on or before this day (ISO 8601); all approved work when absent. */
  until?: string;
}

/** Entries (and, separately, expenses) billed per batch: one ERP post and one PSA update each. */
export const BILLING_BATCH_SIZE = 500;

/** Why `billWork` left work unbilled (not an error): the project's billing model does not bill it by rate card. */
export type SkipReason = 'BILLED_BY_MILESTONE';

/** What `billWork` did, summed over its batches. */
export interface BillingSummary {
  projectId: string;
  batches: number;
  timeEntries: number;
  expenses: number;
  /** Total billed per currency, as decimal strings. */
  totals: Record<string, string>;
  /** The date every line of the run was posted on, fixed at the step's first attempt; null when nothing was billed. */
  postingDate: string | null;
  /** Approved work left unbilled, counted per reason (at most 1,000 time entries and 1,000 expenses are counted). */
  skipped: { reason: SkipReason; timeEntries: number; expenses: number }[];
}

/** Key of a role's rate among the step's first-attempt facts. */
const rateFact = (role: string) => `rate:${role}`;

/**
 * Approved, billable, unbilled PSA time entries and expenses → ERP billing lines at rate-card rates → marked billed
 * in the PSA; on a project whose billing model governance bills by milestone (`billedBy: MILESTONE`), nothing: the
 * milestone price bills that work, and the run counts it as skipped. Exactly once per entry: each line's external ID is the entry's own (`time:<id>`, `expense:<id>`), so
 * re-posting a batch after a crash returns the lines already posted, and billed entries never come back as billable.
 */
export const billApprovedTime: Flow<BillInput> = flow<BillInput>({
  name: 'billApprovedTime',

  parseInput(raw) {
    const projectId = recordId(raw.projectId, 'projectId');
    const until = raw.until;
    if (until !== undefined && until !== null && typeof until !== 'string')
      throw new MeridianError('BAD_USER_INPUT', 'until must be a date', { field: 'until' });
    return { projectId, ...(typeof until === 'string' ? { until: isoDate(until, 'until') } : {}) };
  },

  subject: (input) => ({
    subjectKey: `billing:${input.projectId}`,
    subjectReuse: 'active',
    accountId: null,
    opportunityId: null,
    projectId: input.projectId,
  }),
})
  .step('checkProject', {
    system: 'psa',
    reveals: ['accountId', 'projectId'],
    async run(ctx) {
      const work = await ctx.systems.psa.getBillableWork(
        ctx.input.projectId,
        0,
        ctx.input.until ?? null,
        ctx.correlationId,
      );
      return {
        projectId: work.project.id,
        accountId: work.project.account?.id ?? null,
        billingModel: work.project.billingModel,
      };
    },
  })
  .step('billWork', {
    system: 'erp',
    reveals: ['projectId'],
    async run(ctx): Promise<BillingSummary> {
      const { projectId, until } = ctx.input;
      const summary: BillingSummary = {
        projectId,
        batches: 0,
        timeEntries: 0,
        expenses: 0,
        totals: {},
        postingDate: null,
        skipped: [],
      };
      const totalsMinor = new Map<string, bigint>();
      // The posting date and the rates are fixed at the step's first attempt and stored with the step: a retry after
      // a crash (the next day, after the rate card changed) posts byte-identical lines, which the ERP dedupes by their
      // external IDs instead of refusing them as DUPLICATE_EXTERNAL_ID.
      let facts = await ctx.fixFacts({});
      for (;;) {
        const work = await ctx.systems.psa.getBillableWork(
          projectId,
          BILLING_BATCH_SIZE,
          until ?? null,
          ctx.correlationId,
        );
        const billedBy = ctx.governance.billingModels[work.project.billingModel].billedBy;
        if (billedBy === 'MILESTONE') {
          // Milestone-billed work is in the milestone price (billMilestone): billing it by rate card would bill it twice.
          const all = await ctx.systems.psa.getBillableWork(projectId, 1000, until ?? null, ctx.correlationId);
          if (all.timeEntries.length + all.expenses.length > 0)
            summary.skipped.push({
              reason: 'BILLED_BY_MILESTONE',
              timeEntries: all.timeEntries.length,
              expenses: all.expenses.length,
            });
          break;
        }
        if (work.timeEntries.length === 0 && work.expenses.length === 0) break;
        // The first attempt fixes the date and the whole rate card; a role the card gains later (a missing rate put
        // right before a retry) is fixed when first billed. Whatever was fixed first wins.
        const unfixed = new Map<string, unknown>();
        if (!('postingDate' in facts)) {
          unfixed.set('postingDate', todayUtc(new Date(ctx.now())));
          for (const { role, rate } of work.project.rateCard.rates) unfixed.set(rateFact(role), rate);
        }
        for (const { timeEntry, rate } of work.timeEntries)
          if (rate && !(rateFact(timeEntry.role) in facts)) unfixed.set(rateFact(timeEntry.role), rate);
        if ([...unfixed.keys()].some((key) => !(key in facts))) facts = await ctx.fixFacts(Object.fromEntries(unfixed));
        const postingDate = facts.postingDate as string;
        summary.postingDate = postingDate;
        const lines: NewBillingLine[] = [];
        for (const { timeEntry } of work.timeEntries) {
          const rate = facts[rateFact(timeEntry.role)] as Money | undefined;
          if (!rate) {
            throw new SystemError(
              'BAD_VALUE',
              `Time entry ${timeEntry.id} (${timeEntry.role}, ${timeEntry.date}) on project ${projectId} cannot be billed: the project's rate card has no rate for '${timeEntry.role}'`,
              'psa',
            );
          }
          lines.push({
            externalId: `time:${timeEntry.id}`,
            projectId,
            sourceType: 'TIME',
            sourceId: timeEntry.id,
            description: `${timeEntry.role} — ${timeEntry.resource.name}, ${timeEntry.date}, ${timeEntry.hours} h`,
            quantity: timeEntry.hours,
            unitPrice: rate,
            postingDate,
          });
        }
        for (const expense of work.expenses) {
          lines.push({
            externalId: `expense:${expense.id}`,
            projectId,
            sourceType: 'EXPENSE',
            sourceId: expense.id,
            description: `${expense.category}, ${expense.date}`,
            quantity: '1',
            unitPrice: expense.amount,
            postingDate,
          });
        }
        const posted = await ctx.systems.erp.postBillingLines(lines, ctx.correlationId);
        await ctx.systems.psa.markTimeEntriesBilled(
          // One reference per run, not per batch: a worker that resumes the step counts batches from 1 again.
          {
            timeEntryIds: work.timeEntries.map((t) => t.timeEntry.id),
            expenseIds: work.expenses.map((e) => e.id),
            billingReference: ctx.key,
          },
          ctx.correlationId,
        );
        summary.batches += 1;
        summary.timeEntries += work.timeEntries.length;
        summary.expenses += work.expenses.length;
        for (const { amount } of posted)
          totalsMinor.set(
            amount.currency,
            (totalsMinor.get(amount.currency) ?? 0n) + toMinor(amount.amount, amount.currency),
          );
        await ctx.heartbeat();
        if (!work.hasMore) break;
      }
      for (const [currency, minor] of totalsMinor) summary.totals[currency] = fromMinor(minor, currency);
      return summary;
    },
  })
  .build();
