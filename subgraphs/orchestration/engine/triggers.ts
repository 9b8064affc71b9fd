import type { Logger } from 'pino';
import { todayUtc } from '../../../lib/dates';
import type { Flow } from '../flows/flow';
import type { Governance } from '../governance/governance';
import type { Ledger, RunRecord } from './ledger';
import { withTriggerSpan } from '../../../lib/telemetry/spans';
import { queueRun } from './queue-run';
import { ABANDONED_STATES } from './run-transitions';
import type { TriggerPage, TriggerSources } from './trigger-sources';

export type { TriggerPage, TriggerSources } from './trigger-sources';

/** What the trigger poller needs. */
export interface TriggerOptions {
  ledger: Ledger;
  flows: readonly Flow<any>[];
  sources: TriggerSources;
  governance: Governance;
  logger: Logger;
  /** Time between looks. @default 5000 */
  intervalMs?: number;
  /** Called after runs were queued, to wake a worker. */
  onQueued?: () => void;
  /** The clock (epoch ms): which billing periods are due, and whose UTC date the daily sweep goes by. @default Date.now */
  now?: () => number;
}

/** A running trigger poller. */
export interface TriggerPoller {
  /** Looks once, after any look under way; resolves with the number of runs it queued. */
  pollOnce(): Promise<number>;
  stop(): Promise<void>;
}

type FlowName = keyof Governance['triggers'];

/**
 * One trigger. A `state` trigger lists what the systems hold now (a won deal not converted, a milestone completed and
 * not invoiced) and starts a flow per subject: each look lists the same subjects until their run changes the state,
 * and queueRun's subject dedupe returns the run already standing. A `changes` trigger reads a system's change feed
 * from a watermark: the state (an invoice's status, an account's name) says nothing about whether it was synced.
 */
interface Trigger {
  flow: FlowName;
  actor: string;
  reads: 'state' | 'changes' | 'daily';
  list: (sources: TriggerSources, after: string | null, governance: Governance, today: string) => Promise<TriggerPage>;
  input: (id: string) => Record<string, unknown>;
}

const TRIGGERS: readonly Trigger[] = [
  {
    flow: 'convertOpportunityToProject',
    actor: 'event:opportunity.closed_won',
    reads: 'state',
    list: (s, after) => s.unconvertedWonOpportunities(after),
    input: (id) => ({ opportunityId: id }),
  },
  {
    flow: 'billApprovedTime',
    actor: 'event:time.approved',
    reads: 'state',
    // Only the billing models that bill time by rate card or against a retainer: a milestone-billed project's work
    // stays unbilled on purpose (billApprovedTime skips it), so listing it would start a run at every look.
    list: (s, after, g) =>
      s.projectsWithBillableWork(
        after,
        (Object.keys(g.billingModels) as (keyof Governance['billingModels'])[]).filter(
          (m) => g.billingModels[m].billedBy !== 'MILESTONE',
        ),
      ),
    input: (id) => ({ projectId: id }),
  },
  {
    flow: 'billMilestone',
    actor: 'event:milestone.completed',
    reads: 'state',
    list: (s, after) => s.milestonesReadyToInvoice(after),
    input: (id) => ({ milestoneId: id }),
  },
  {
    flow: 'syncInvoiceStatus',
    actor: 'event:invoice.changed',
    reads: 'changes',
    list: (s, after) => s.invoicesChanged(after),
    input: (id) => ({ invoiceId: id }),
  },
  {
    flow: 'syncCustomer',
    actor: 'event:account.changed',
    reads: 'changes',
    list: (s, after) => s.accountsChanged(after),
    input: (id) => ({ accountId: id }),
  },
  {
    // Per project and billing period, as governance's billing schedule says: a month in arrears once it has ended (with
    // billed work to invoice), a retainer's month in advance from its first day.
    flow: 'invoiceBilledWork',
    actor: 'event:billing_period.due',
    reads: 'state',
    list: (s, after, g, today) => {
      const models = (schedule: string) =>
        (Object.keys(g.billingModels) as (keyof Governance['billingModels'])[]).filter(
          (m) => g.billingModels[m].billedBy !== 'MILESTONE' && g.billingModels[m].billingSchedule === schedule,
        );
      return s.billingPeriodsDue(after, {
        today,
        inArrears: models('MONTHLY_IN_ARREARS'),
        inAdvance: models('MONTHLY_IN_ADVANCE'),
      });
    },
    input: (id) => {
      const [projectId, period] = id.split('|');
      return { projectId, period };
    },
  },
  {
    flow: 'applyContractAmendment',
    actor: 'event:contract_amendment.approved',
    reads: 'state',
    list: (s, after) => s.approvedContractAmendments(after),
    input: (id) => ({ amendmentId: id }),
  },
  {
    flow: 'flagOverdueInvoice',
    actor: 'event:invoice.overdue',
    reads: 'daily',
    list: (s, after) => s.invoicesPastDue(after),
    input: (id) => ({ invoiceId: id }),
  },
];

/** What a `changes` trigger keeps in the ledger between looks (as JSON, under `trigger:<flow>`). */
interface ChangeWatermark {
  /** The change-feed position read up to; null to read from the start of the feed. */
  after: string | null;
  /** Subjects that changed while a run for them was under way, offered again at every look until a new run starts. */
  pending: string[];
}

/**
 * True when no worker has taken the run up yet (or it waits to retry its first step): it has read nothing, so every
 * step reads the systems after the change that was just seen, and the run covers that change. (queueRun answers from
 * a ledger transaction, and a worker takes a run up in another one, so this cannot be stale.)
 */
function notStarted(run: RunRecord): boolean {
  return (run.status === 'QUEUED' || run.status === 'WAITING_RETRY') && run.steps.every((s) => s.status === 'PENDING');
}

/**
 * Starts the flows the systems' state calls for, as their upstream events would: a closed-won opportunity not yet
 * converted starts `convertOpportunityToProject`; approved, billable, unbilled time starts `billApprovedTime` for its
 * project; a completed milestone of a fixed-fee or milestone project starts `billMilestone`; an ERP invoice posted or
 * paid starts `syncInvoiceStatus`; a CRM account changed (that has an ERP customer) starts `syncCustomer`; a CRM contract amendment
 * approved (not yet applied) starts `applyContractAmendment`. It looks
 * every `intervalMs` instead of listening for events because a look never misses one: a trigger lost while a process
 * was down is found on the next look, and a run already standing for the same subject is returned instead of a second
 * one. Each trigger obeys `governance.triggers`, read at every look; one switched off queues nothing and keeps its
 * watermark, so switched on again it starts the flows for what changed meanwhile.
 */
export function startTriggerPoller(options: TriggerOptions): TriggerPoller {
  const { ledger, sources, governance, logger } = options;
  const flows = new Map(options.flows.map((f) => [f.name, f as Flow<unknown>]));
  const intervalMs = options.intervalMs ?? 5000;
  const now = options.now ?? Date.now;

  /** Queues a run of `trigger`'s flow for `id`, or finds the run standing for it; `onCreated` counts the new ones. */
  async function queue(
    trigger: Trigger,
    flow: Flow<unknown>,
    id: string,
    onCreated: () => void,
  ): Promise<{ run: RunRecord; created: boolean }> {
    // A run a trigger creates starts its own trace, which its steps join.
    const queued = await withTriggerSpan(trigger.flow, trigger.actor, async () => {
      const result = await queueRun(ledger, flow, trigger.input(id), {
        actor: { subject: trigger.actor, role: 'service', correlationId: null },
      });
      return { value: result, keep: result.created };
    });
    if (queued.created) onCreated();
    return queued;
  }

  async function queueState(trigger: Trigger, flow: Flow<unknown>, onCreated: () => void): Promise<void> {
    let after: string | null = null;
    for (;;) {
      const page = await trigger.list(sources, after, governance, todayUtc(new Date(now())));
      for (const id of page.ids) await queue(trigger, flow, id, onCreated);
      if (!page.hasNextPage) return;
      after = page.endCursor;
    }
  }

  // Why a change feed read this way misses nothing. The invoice and account triggers read the system's change feed
  // (records in order of `updatedAt`, then ID, stamps strictly increasing in commit order; a change moves a record to
  // the end) from a watermark kept in the ledger: the `endCursor` of the last page read. The watermark moves only after
  // the runs for a page were queued, so a look that fails, or a process that dies, re-reads the page (queueRun returns
  // the runs already queued) rather than skipping it.
  // Both flows may run again for a subject once its last run ended (`subjectReuse: 'active'`), so a change seen while
  // a run for the subject stands gets that run back. The run covers the change only if it has not started: its steps
  // then read the systems afterwards (both flows read fresh figures in every step). A started run may have read the
  // figures from before the change, so the subject goes on the watermark's `pending` list, offered again at every look
  // until a new run starts for it (once the standing run ended, or was abandoned). Holding the watermark back instead
  // would re-list every later change at every look and, once their runs ended, start them all over again.
  // The watermark is written compare-and-set: two pollers on one ledger never move it back or drop each other's pending.
  async function queueChanges(trigger: Trigger, flow: Flow<unknown>, onCreated: () => void): Promise<void> {
    const name = `trigger:${trigger.flow}`;
    let stored = await ledger.getWatermark(name);
    let mark: ChangeWatermark =
      stored === null ? { after: null, pending: [] } : (JSON.parse(stored) as ChangeWatermark);
    /**
     * Queues a run for `id`; true when the change is dealt with (a new run, or one not started yet, covers it; or a
     * person abandoned the subject, which a trigger never restarts), false when it must be offered again.
     */
    const offer = async (id: string): Promise<boolean> => {
      const { run, created } = await queue(trigger, flow, id, onCreated);
      return created || notStarted(run) || ABANDONED_STATES.includes(run.status);
    };
    /** Saves `next` unless another poller moved the watermark since it was read; false then, ending this look. */
    const save = async (next: ChangeWatermark): Promise<boolean> => {
      const value = JSON.stringify(next);
      if (value !== stored && !(await ledger.setWatermark(name, value, stored))) {
        logger.debug({ trigger: trigger.flow }, 'another poller moved the trigger watermark; it carries on from there');
        return false;
      }
      stored = value;
      mark = next;
      return true;
    };

    const pending = new Set<string>();
    for (const id of mark.pending) if (!(await offer(id))) pending.add(id);
    if (!(await save({ after: mark.after, pending: [...pending] }))) return;
    for (;;) {
      const page = await trigger.list(sources, mark.after, governance, todayUtc(new Date(now())));
      for (const id of page.ids) {
        if (await offer(id)) pending.delete(id);
        else pending.add(id);
      }
      if (!(await save({ after: page.endCursor ?? mark.after, pending: [...pending] }))) return;
      if (!page.hasNextPage) return;
    }
  }

  // The daily sweep lists the invoices past due once per UTC day of `now`, with the day swept kept in the ledger as its
  // watermark (written compare-and-set, after the runs of every page were queued: a failed look sweeps the day again).
  // It lists only invoices not marked OVERDUE yet, and a run stands for each invoice for ever, so a day on which
  // nothing fell due starts no run, and an invoice that stays unpaid is not flagged again day after day.
  async function queueDaily(trigger: Trigger, flow: Flow<unknown>, onCreated: () => void): Promise<void> {
    const name = `trigger:${trigger.flow}`;
    const today = todayUtc(new Date(now()));
    const stored = await ledger.getWatermark(name);
    if (stored !== null && (JSON.parse(stored) as { sweptOn: string }).sweptOn >= today) return;
    await queueState(trigger, flow, onCreated);
    if (!(await ledger.setWatermark(name, JSON.stringify({ sweptOn: today }), stored)))
      logger.debug({ trigger: trigger.flow }, 'another poller swept today too; its runs are the same ones');
  }

  async function look(): Promise<number> {
    // Counted as they are created, so runs a failed trigger queued before failing still count, and wake a worker.
    let queued = 0;
    const onCreated = () => {
      queued += 1;
    };
    const results = await Promise.allSettled(
      TRIGGERS.map(async (trigger) => {
        const flow = flows.get(trigger.flow);
        if (!flow || governance.triggers[trigger.flow] === false) return;
        if (trigger.reads === 'daily') return queueDaily(trigger, flow, onCreated);
        await (trigger.reads === 'state'
          ? queueState(trigger, flow, onCreated)
          : queueChanges(trigger, flow, onCreated));
      }),
    );
    results.forEach((result, i) => {
      if (result.status === 'rejected')
        logger.warn(
          { err: result.reason, trigger: TRIGGERS[i]!.flow },
          'trigger look failed; the next look tries again',
        );
    });
    if (queued > 0) {
      logger.info({ queued }, 'triggers queued runs');
      options.onQueued?.();
    }
    return queued;
  }

  // One look at a time in this process: a second would only repeat the first's work.
  let looking: Promise<unknown> = Promise.resolve();
  function pollOnce(): Promise<number> {
    const next = looking.then(look, look);
    looking = next.catch(() => undefined);
    return next;
  }

  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      void pollOnce().catch(failed).finally(schedule);
    }, intervalMs);
  };
  const failed = (err: unknown) => logger.error({ err }, 'trigger look failed');
  // The first look waits one interval too, so a process that just started answers queries before it takes on the
  // backlog a first look can find (on a fresh demo store, every seeded invoice and account counts as changed).
  schedule();
  return {
    pollOnce,
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await looking;
    },
  };
}
