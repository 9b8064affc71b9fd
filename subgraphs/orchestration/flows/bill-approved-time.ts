import { isoDate, todayUtc } from '../../../lib/dates';
import { MeridianError } from '../../../lib/errors';
import { recordId } from '../../../lib/input';
import { fromMinor, toMinor } from '../../../lib/money';
import { SystemError } from '../systems/system-error';
import type { NewBillingLine } from '../systems/systems';
import type { Flow } from './flow';

/** Input of a billing run: the project, and optionally the last date of work to bill. */
export interface BillInput {
  projectId: string;
  /** Only work dated on or before this day (ISO 8601); all approved work when absent. */
  until?: string;
}

/** Entries (and, separately, expenses) billed per batch: one ERP post and one PSA update each. */
export const BILLING_BATCH_SIZE = 500;

/** What `billWork` did, summed over its batches. */
export interface BillingSummary {
  projectId: string;
  batches: number;
  timeEntries: number;
  expenses: number;
  /** Total billed per currency, as decimal strings. */
  totals: Record<string, string>;
}

/**
 * Approved, billable, unbilled PSA time entries and expenses → ERP billing lines at rate-card rates → marked billed
 * in the PSA. Exactly once per entry: each line's external ID is the entry's own (`time:<id>`, `expense:<id>`), so
 * re-posting a batch after a crash returns the lines already posted, and billed entries never come back as billable.
 */
export const billApprovedTime: Flow<BillInput> = {
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

  steps: [
    {
      name: 'checkProject',
      system: 'psa',
      async run(ctx) {
        const work = await ctx.systems.psa.getBillableWork(
          ctx.input.projectId,
          0,
          ctx.input.until ?? null,
          ctx.correlationId,
        );
        return { projectId: work.project.id, accountId: work.project.account?.id ?? null };
      },
    },
    {
      name: 'billWork',
      system: 'erp',
      async run(ctx): Promise<BillingSummary> {
        const { projectId, until } = ctx.input;
        const summary: BillingSummary = { projectId, batches: 0, timeEntries: 0, expenses: 0, totals: {} };
        const totalsMinor = new Map<string, bigint>();
        const postingDate = todayUtc();
        for (;;) {
          const work = await ctx.systems.psa.getBillableWork(
            projectId,
            BILLING_BATCH_SIZE,
            until ?? null,
            ctx.correlationId,
          );
          if (work.timeEntries.length === 0 && work.expenses.length === 0) break;
          const lines: NewBillingLine[] = [];
          for (const { timeEntry, rate } of work.timeEntries) {
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
    },
  ],
};
