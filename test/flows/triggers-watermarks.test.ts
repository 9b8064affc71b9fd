import { SqliteLedger } from '../../subgraphs/orchestration/engine/sqlite-ledger';
import {
  startTriggerPoller,
  type TriggerPage,
  type TriggerPoller,
  type TriggerSources,
} from '../../subgraphs/orchestration/engine/triggers';
import { FLOWS } from '../../subgraphs/orchestration/flows/index';
import { loadGovernance, type Governance } from '../../subgraphs/orchestration/governance/governance';
import { captureLogs } from '../support/log-capture';

/**
 * A system's change feed held in memory, as the ERP's `invoicesChangedSince` behaves: a change moves the record to
 * the end; a position is the stamp of the last record read. `failAt` makes that read (counting from 1) throw, the
 * way a system that goes down part-way through a look would.
 */
class ChangeFeed {
  private stamp = 0;
  private readonly stamps = new Map<string, number>();
  failAt: number | null = null;
  reads = 0;

  constructor(private readonly pageSize: number) {}

  change(...ids: string[]): void {
    for (const id of ids) this.stamps.set(id, ++this.stamp);
  }

  async read(after: string | null): Promise<TriggerPage> {
    this.reads += 1;
    if (this.reads === this.failAt) throw new Error('ERP could not be reached');
    const from = after === null ? 0 : Number(after);
    const rows = [...this.stamps].filter(([, s]) => s > from).sort(([, a], [, b]) => a - b);
    const page = rows.slice(0, this.pageSize);
    const last = page[page.length - 1];
    return {
      ids: page.map(([id]) => id),
      endCursor: last ? String(last[1]) : null,
      hasNextPage: rows.length > this.pageSize,
    };
  }
}

const nothing = async (): Promise<TriggerPage> => ({ ids: [], endCursor: null, hasNextPage: false });

/** Governance with only the invoice-status trigger on. */
function invoiceTriggerOnly(): Governance {
  const governance = loadGovernance();
  governance.triggers = {
    convertOpportunityToProject: false,
    billApprovedTime: false,
    billMilestone: false,
    syncInvoiceStatus: true,
    syncCustomer: false,
  };
  return governance;
}

describe('trigger poller: change-feed watermarks', () => {
  let ledger: SqliteLedger;
  let feed: ChangeFeed;
  let poller: TriggerPoller;
  let governance: Governance;
  let logs: ReturnType<typeof captureLogs>;

  const runs = async () =>
    (await ledger.listRuns({ first: 1000, afterKey: null }, { flow: 'syncInvoiceStatus' })).nodes;
  /** The invoice each run is for, who started it and where it stands, in the order the runs were created (their first outbox event). */
  const queued = async () => {
    const byId = new Map((await runs()).map((r) => [r.id, r]));
    const created = (await ledger.eventsAfter(0, 10_000))
      .filter((e) => e.sequence === 1)
      .map((e) => byId.get(e.runId)!);
    return created.map((r) => [r.input.invoiceId, r.triggeredBy, r.status]);
  };
  const watermark = async () =>
    JSON.parse((await ledger.getWatermark('trigger:syncInvoiceStatus')) ?? 'null') as unknown;

  beforeEach(async () => {
    ledger = new SqliteLedger(':memory:');
    feed = new ChangeFeed(2);
    governance = invoiceTriggerOnly();
    logs = captureLogs();
    const sources: TriggerSources = {
      unconvertedWonOpportunities: nothing,
      projectsWithBillableWork: nothing,
      milestonesReadyToInvoice: nothing,
      invoicesChanged: (after) => feed.read(after),
      accountsChanged: nothing,
      billingPeriodsDue: nothing,
      approvedContractAmendments: nothing,
      invoicesPastDue: nothing,
    };
    poller = startTriggerPoller({
      ledger,
      flows: FLOWS,
      sources,
      governance,
      logger: logs.logger,
      intervalMs: 3_600_000,
    });
    // The poller looks once as it starts; this waits for that look (on an empty feed) to end.
    expect(await poller.pollOnce()).toBe(0);
  });
  afterEach(async () => {
    await poller.stop();
    ledger.close();
  });

  it('starts a run per changed invoice, page by page, then only for invoices changed since the watermark', async () => {
    feed.change('INV-1', 'INV-2', 'INV-3');
    expect(await poller.pollOnce()).toBe(3);
    expect(await queued()).toEqual([
      ['INV-1', 'event:invoice.changed', 'QUEUED'],
      ['INV-2', 'event:invoice.changed', 'QUEUED'],
      ['INV-3', 'event:invoice.changed', 'QUEUED'],
    ]);
    expect(await watermark()).toEqual({ after: '3', pending: [] });
    expect(await poller.pollOnce()).toBe(0);

    // INV-2 changes again before its run started: the queued run reads the ERP afterwards, so it covers the change.
    feed.change('INV-2');
    feed.change('INV-4');
    expect(await poller.pollOnce()).toBe(1);
    expect(await queued()).toEqual(
      ['INV-1', 'INV-2', 'INV-3', 'INV-4'].map((id) => [id, 'event:invoice.changed', 'QUEUED']),
    );
    expect(await watermark()).toEqual({ after: '5', pending: [] });
  });

  it('offers a change seen while the invoice’s run is under way again at every look, and starts a new run once that run ended', async () => {
    feed.change('INV-1');
    await poller.pollOnce();
    const [first] = await runs();
    // A worker takes the run up: it may read the ERP before the next change.
    expect((await ledger.claimRun('test-worker', 60_000, Date.now()))?.id).toBe(first!.id);
    feed.change('INV-1', 'INV-2');
    expect(await poller.pollOnce()).toBe(1);
    expect(await watermark()).toEqual({ after: '3', pending: ['INV-1'] });
    expect(await poller.pollOnce()).toBe(0);
    expect(await watermark()).toEqual({ after: '3', pending: ['INV-1'] });

    for (const step of first!.steps)
      await ledger.completeStep(first!.id, 'test-worker', step.index, { done: step.name });
    expect(await poller.pollOnce()).toBe(1);
    expect(await queued()).toEqual([
      ['INV-1', 'event:invoice.changed', 'SUCCEEDED'],
      ['INV-2', 'event:invoice.changed', 'QUEUED'],
      ['INV-1', 'event:invoice.changed', 'QUEUED'],
    ]);
    expect(await watermark()).toEqual({ after: '3', pending: [] });
    expect(await poller.pollOnce()).toBe(0);
  });

  it('keeps what a look that fails part-way queued, and reads on from the last page it finished, skipping nothing', async () => {
    feed.change('INV-1', 'INV-2', 'INV-3', 'INV-4', 'INV-5');
    // The first page is read and its runs queued; reading the second fails.
    feed.failAt = feed.reads + 2;
    expect(await poller.pollOnce()).toBe(2);
    expect(await watermark()).toEqual({ after: '2', pending: [] });
    expect(
      logs.lines
        .filter((l) => l.msg === 'trigger look failed; the next look tries again')
        .map((l) => [l.trigger, (l.err as { message: string }).message]),
    ).toEqual([['syncInvoiceStatus', 'ERP could not be reached']]);
    expect(await poller.pollOnce()).toBe(3);
    expect((await queued()).map(([id]) => id)).toEqual(['INV-1', 'INV-2', 'INV-3', 'INV-4', 'INV-5']);
  });

  it('re-reads a page whose runs were queued when the watermark could not be saved, starting no run twice', async () => {
    feed.change('INV-1', 'INV-2', 'INV-3');
    const setWatermark = ledger.setWatermark.bind(ledger);
    let refusals = 1;
    // The process dies between queuing a page's runs and saving the watermark past them.
    ledger.setWatermark = async (name, value, expected) => {
      if (JSON.parse(value).after !== null && refusals-- > 0) throw new Error('the process died');
      return setWatermark(name, value, expected);
    };
    expect(await poller.pollOnce()).toBe(2);
    expect(await watermark()).toEqual({ after: null, pending: [] });
    expect(await poller.pollOnce()).toBe(1);
    expect(await watermark()).toEqual({ after: '3', pending: [] });
    expect((await queued()).map(([id]) => id)).toEqual(['INV-1', 'INV-2', 'INV-3']);
  });

  it('queues nothing and keeps the watermark while the trigger is switched off, then starts runs for what changed meanwhile', async () => {
    feed.change('INV-1');
    await poller.pollOnce();
    governance.triggers.syncInvoiceStatus = false;
    feed.change('INV-2', 'INV-3');
    const reads = feed.reads;
    expect(await poller.pollOnce()).toBe(0);
    expect(feed.reads).toBe(reads);
    expect(await watermark()).toEqual({ after: '1', pending: [] });
    governance.triggers.syncInvoiceStatus = true;
    expect(await poller.pollOnce()).toBe(2);
    expect((await queued()).map(([id]) => id)).toEqual(['INV-1', 'INV-2', 'INV-3']);
  });
});

describe('SqliteLedger trigger watermarks', () => {
  it('moves a watermark only from the value the caller read, so two pollers never move it back', async () => {
    const ledger = new SqliteLedger(':memory:');
    expect(await ledger.getWatermark('trigger:x')).toBeNull();
    expect(await ledger.setWatermark('trigger:x', 'a', null)).toBe(true);
    expect(await ledger.setWatermark('trigger:x', 'b', null)).toBe(false);
    expect(await ledger.setWatermark('trigger:x', 'b', 'a')).toBe(true);
    expect(await ledger.setWatermark('trigger:x', 'c', 'a')).toBe(false);
    expect([await ledger.getWatermark('trigger:x'), await ledger.getWatermark('trigger:y')]).toEqual(['b', null]);
    ledger.close();
  });
});
