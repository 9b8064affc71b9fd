import type { Logger } from 'pino';
import type { Flow } from '../flows/flow';
import type { Governance } from '../governance/governance';
import { createSystemClient } from '../systems/graphql-client';
import type { Ledger } from './ledger';
import { queueRun } from './queue-run';

/** Where the trigger poller looks for work in the systems. */
export interface TriggerSources {
  /** Closed-won opportunities not linked to a project yet, a page at a time. */
  unconvertedWonOpportunities(after: string | null): Promise<{ ids: string[]; endCursor: string | null; hasNextPage: boolean }>;
  /** Projects with approved, billable, unbilled work, a page at a time. */
  projectsWithBillableWork(after: string | null): Promise<{ ids: string[]; endCursor: string | null; hasNextPage: boolean }>;
}

/** {@link TriggerSources} over the system subgraphs' GraphQL endpoints. */
export function createGraphQLTriggerSources(urls: { crm: string; psa: string }): TriggerSources {
  const crm = createSystemClient('crm', urls.crm);
  const psa = createSystemClient('psa', urls.psa);
  type Page = { nodes: { id: string; psaProjectId?: string | null }[]; pageInfo: { endCursor: string | null; hasNextPage: boolean } };
  return {
    async unconvertedWonOpportunities(after) {
      const data = await crm.request<{ opportunities: Page }>(
        `query WonDeals($after: String) { opportunities(first: 500, after: $after, filter: { stage: CLOSED_WON }) { nodes { id psaProjectId } pageInfo { endCursor hasNextPage } } }`,
        { after },
      );
      const page = data.opportunities;
      return { ids: page.nodes.filter((n) => !n.psaProjectId).map((n) => n.id), endCursor: page.pageInfo.endCursor, hasNextPage: page.pageInfo.hasNextPage };
    },
    async projectsWithBillableWork(after) {
      const data = await psa.request<{ projectsWithBillableWork: Page }>(
        `query ReadyToBill($after: String) { projectsWithBillableWork(first: 500, after: $after) { nodes { id } pageInfo { endCursor hasNextPage } } }`,
        { after },
      );
      const page = data.projectsWithBillableWork;
      return { ids: page.nodes.map((n) => n.id), endCursor: page.pageInfo.endCursor, hasNextPage: page.pageInfo.hasNextPage };
    },
  };
}

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
}

/** A running trigger poller. */
export interface TriggerPoller {
  /** Looks once now; resolves with the number of runs it queued. */
  pollOnce(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts the flows the systems' state calls for, as their upstream events would: a closed-won opportunity not yet
 * converted starts `convertOpportunityToProject`; approved, billable, unbilled time starts `billApprovedTime` for its
 * project. It looks every `intervalMs` instead of listening for events because a look never misses one: a trigger
 * lost while a process was down is found on the next look, and a run already standing for the same subject is
 * returned instead of a second one. Each trigger obeys `governance.triggers`.
 */
export function startTriggerPoller(options: TriggerOptions): TriggerPoller {
  const { ledger, sources, governance, logger } = options;
  const flows = new Map(options.flows.map((f) => [f.name, f as Flow<unknown>]));
  const intervalMs = options.intervalMs ?? 5000;

  async function queueAll(flowName: string, list: (after: string | null) => Promise<{ ids: string[]; endCursor: string | null; hasNextPage: boolean }>, input: (id: string) => Record<string, unknown>, actor: string): Promise<number> {
    const flow = flows.get(flowName);
    if (!flow || governance.triggers[flowName as keyof Governance['triggers']] === false) return 0;
    let queued = 0;
    let after: string | null = null;
    for (;;) {
      const page = await list(after);
      for (const id of page.ids) {
        const { created } = await queueRun(ledger, flow, input(id), actor);
        if (created) queued += 1;
      }
      if (!page.hasNextPage) return queued;
      after = page.endCursor;
    }
  }

  async function pollOnce(): Promise<number> {
    const results = await Promise.allSettled([
      queueAll('convertOpportunityToProject', sources.unconvertedWonOpportunities, (id) => ({ opportunityId: id }), 'event:opportunity.closed_won'),
      queueAll('billApprovedTime', sources.projectsWithBillableWork, (id) => ({ projectId: id }), 'event:time.approved'),
    ]);
    let queued = 0;
    for (const result of results) {
      if (result.status === 'fulfilled') queued += result.value;
      else logger.warn({ err: result.reason }, 'trigger look failed; the next look tries again');
    }
    if (queued > 0) {
      logger.info({ queued }, 'triggers queued runs');
      options.onQueued?.();
    }
    return queued;
  }

  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let current: Promise<unknown> = Promise.resolve();
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      current = pollOnce().finally(schedule);
    }, intervalMs);
  };
  current = pollOnce().finally(schedule);
  return {
    pollOnce,
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current.catch(() => undefined);
    },
  };
}
