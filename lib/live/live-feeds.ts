import type { ExecutionResult } from 'graphql';
import type { EventBus, RunEvent } from '../event-bus/event-bus';
import { MeridianError } from '../errors';
import { Channel } from './channel';
import { SEQUENCE_ALIAS, STATUS_ALIAS, SYSTEM_ALIAS, type LiveOperation } from './live-operation';

/** Runs one GraphQL operation through the gateway (its query planner, its subgraph calls). */
export type ExecuteQuery = (query: string, variables: Record<string, unknown>) => Promise<ExecutionResult>;

/** Run states after which nothing changes any more: a run subscription completes on them. */
const TERMINAL = new Set(['SUCCEEDED', 'RESOLVED', 'ABANDONED', 'COMPENSATION_FAILED']);

type Item = RunEvent | 'resync';

/**
 * The payload stream of one subscription. `syncRunUpdated` first sends the run as it is, then each later change
 * in sequence order — read at exactly that sequence, so none is skipped or repeated — filling any gap (a missed
 * event, a bus outage) from the stored states, and completes on a final state. The other two stream every
 * matching change from when they start.
 */
export function liveFeed(
  operation: LiveOperation,
  bus: EventBus,
  execute: ExecuteQuery,
): AsyncIterableIterator<ExecutionResult> {
  const unsubscribers: (() => void)[] = [];
  const items = new Channel<Item>(() => {
    for (const u of unsubscribers) u();
  });
  const { field, args } = operation;
  const filter = (args.filter ?? {}) as {
    flow?: string | null;
    status?: string | null;
    accountId?: string | null;
    system?: string | null;
  };
  // Each change's payload query starts when its event arrives, not when the previous payload has been sent: results
  // are shared and kept, so the in-order loop below finds them ready, and a burst does not queue up behind one query.
  const prefetch = (query: string, variables: Record<string, unknown>) =>
    void execute(query, { ...operation.variables, ...variables }).catch(() => undefined);
  const deliver = (event: RunEvent) => {
    if (event.type === 'SYNC_RUN_UPDATED')
      prefetch(operation.runAtQuery, { _id: event.runId, _sequence: event.sequence });
    else prefetch(operation.exceptionQuery, { _id: event.exceptionId });
    items.push(event);
  };
  // Feeds decide what to send in arrival order, here, so each run's changes enter the channel in sequence order.
  const feed =
    field === 'syncRunsUpdated'
      ? createRunFeedOrder(filter, deliver)
      : field === 'exceptionRaised'
        ? createExceptionFeedOrder(filter, deliver)
        : null;
  unsubscribers.push(
    bus.subscribe((event) => {
      if (field === 'syncRunUpdated') {
        if (event.type === 'SYNC_RUN_UPDATED' && event.runId === args.id) {
          prefetch(operation.runAtQuery, { _id: event.runId, _sequence: event.sequence });
          items.push(event);
        }
      } else feed!(event);
    }),
    bus.onStatus((status) => {
      if (status === 'up') items.push('resync');
    }),
  );
  const generator =
    field === 'syncRunUpdated'
      ? runUpdates(operation, items, execute)
      : field === 'syncRunsUpdated'
        ? runsUpdates(operation, items, execute)
        : exceptions(operation, items, execute);
  // Ending the generator early (client completes) must also end the channel, which unsubscribes from the bus.
  const originalReturn = generator.return.bind(generator);
  generator.return = async (value) => {
    await items.return();
    return originalReturn(value);
  };
  return generator;
}

function matches(
  event: RunEvent,
  filter: { flow?: string | null; status?: string | null; accountId?: string | null },
): boolean {
  return (
    (!filter.flow || filter.flow === event.flow) &&
    (!filter.status || filter.status === event.status) &&
    (!filter.accountId || filter.accountId === event.accountId)
  );
}

/**
 * The payload without the gateway's own aliases, under the client's response key. Results are shared by every
 * subscriber of an event, so this copies rather than deletes.
 */
function payload(operation: LiveOperation, result: ExecutionResult, key: 'run' | 'exception'): ExecutionResult {
  const value = result.data?.[key] as Record<string, unknown> | null | undefined;
  let visible: Record<string, unknown> | null = null;
  if (value) {
    const { [SEQUENCE_ALIAS]: _sequence, [STATUS_ALIAS]: _status, [SYSTEM_ALIAS]: _system, ...rest } = value;
    visible = rest;
  }
  return {
    ...(result.errors ? { errors: result.errors } : {}),
    data: value === undefined ? null : { [operation.responseKey]: visible },
  };
}

async function* runUpdates(
  operation: LiveOperation,
  items: Channel<Item>,
  execute: ExecuteQuery,
): AsyncGenerator<ExecutionResult> {
  const id = operation.args.id as string;
  const current = await execute(operation.currentRunQuery, { ...operation.variables, _id: id });
  const run = current.data?.run as Record<string, unknown> | null | undefined;
  if (!run) {
    yield current.errors
      ? { errors: current.errors }
      : { errors: [new MeridianError('NOT_FOUND', `No sync run '${id}'`, { value: id })] };
    return;
  }
  let last = run[SEQUENCE_ALIAS] as number;
  const done = TERMINAL.has(run[STATUS_ALIAS] as string);
  yield payload(operation, current, 'run');
  if (done) return;
  for await (const item of items) {
    let target: number;
    if (item === 'resync') {
      // Events may have been lost while the bus was down: catch up to the run's sequence now.
      const now = await execute(operation.currentRunQuery, { ...operation.variables, _id: id });
      target = ((now.data?.run as Record<string, unknown> | null)?.[SEQUENCE_ALIAS] as number | undefined) ?? last;
    } else {
      target = item.sequence;
    }
    for (let sequence = last + 1; sequence <= target; sequence++) {
      const result = await execute(operation.runAtQuery, { ...operation.variables, _id: id, _sequence: sequence });
      const at = result.data?.run as Record<string, unknown> | null | undefined;
      if (!at) {
        if (result.errors) yield { errors: result.errors };
        continue;
      }
      last = sequence;
      const final = TERMINAL.has(at[STATUS_ALIAS] as string);
      yield payload(operation, result, 'run');
      if (final) return;
    }
  }
}

/** Runs a feed remembers (their last sequence, held changes) at most; the least recently changed are forgotten. */
export const FEED_RUNS_REMEMBERED = 10_000;

/** A map that forgets its least recently set entries beyond `limit`. */
class Recent<V> extends Map<string, V> {
  constructor(private readonly limit: number) {
    super();
  }
  override set(key: string, value: V): this {
    super.delete(key);
    super.set(key, value);
    if (this.size > this.limit) super.delete(this.keys().next().value!);
    return this;
  }
}

/**
 * Decides, in arrival order, which `syncRunsUpdated` events go out. Per run: only a sequence above the last one seen
 * goes out (the bus is at-least-once, and a late or repeated event would send the run back in time), so a subscriber
 * gets each change once, in sequence order. With an `accountId` filter, a run's changes from before it knew its
 * account (a conversion learns it in its first step) are held, and go out ahead of its first change that names the
 * account; those of a run that turns out to be another account's are dropped.
 */
export function createRunFeedOrder(
  filter: { flow?: string | null; status?: string | null; accountId?: string | null },
  deliver: (event: RunEvent) => void,
): (event: RunEvent) => void {
  const last = new Recent<number>(FEED_RUNS_REMEMBERED);
  const held = new Recent<RunEvent[]>(FEED_RUNS_REMEMBERED);
  const wanted = (e: RunEvent) => !filter.status || filter.status === e.status;
  return (event) => {
    if (event.type !== 'SYNC_RUN_UPDATED' || (filter.flow && filter.flow !== event.flow)) return;
    const seen = last.get(event.runId) ?? 0;
    if (event.sequence <= seen) return;
    if (filter.accountId && event.accountId === null) {
      // A run that ends without naming an account never matches: forget what was held for it.
      if (TERMINAL.has(event.status)) {
        held.delete(event.runId);
        return;
      }
      const waiting = held.get(event.runId) ?? [];
      if (!waiting.some((e) => e.sequence === event.sequence)) waiting.push(event);
      held.set(event.runId, waiting);
      return;
    }
    last.set(event.runId, event.sequence);
    const before = held.get(event.runId);
    held.delete(event.runId);
    if (filter.accountId && event.accountId !== filter.accountId) return;
    for (const e of (before ?? []).sort((a, b) => a.sequence - b.sequence))
      if (e.sequence > seen && e.sequence < event.sequence && wanted(e)) deliver(e);
    if (wanted(event)) deliver(event);
  };
}

/**
 * Decides, in arrival order, which `exceptionRaised` events go out: each exception once, and per run in sequence
 * order (a late or repeated event is dropped).
 */
export function createExceptionFeedOrder(
  filter: { flow?: string | null; accountId?: string | null },
  deliver: (event: RunEvent) => void,
): (event: RunEvent) => void {
  const last = new Recent<number>(FEED_RUNS_REMEMBERED);
  return (event) => {
    if (event.type !== 'EXCEPTION_RAISED' || !event.exceptionId || !matches(event, { ...filter, status: null })) return;
    if (event.sequence <= (last.get(event.runId) ?? 0)) return;
    last.set(event.runId, event.sequence);
    deliver(event);
  };
}

async function* runsUpdates(
  operation: LiveOperation,
  items: Channel<Item>,
  execute: ExecuteQuery,
): AsyncGenerator<ExecutionResult> {
  for await (const item of items) {
    if (item === 'resync') continue;
    yield payload(
      operation,
      await execute(operation.runAtQuery, { ...operation.variables, _id: item.runId, _sequence: item.sequence }),
      'run',
    );
  }
}

async function* exceptions(
  operation: LiveOperation,
  items: Channel<Item>,
  execute: ExecuteQuery,
): AsyncGenerator<ExecutionResult> {
  const system = (operation.args.filter as { system?: string | null } | undefined)?.system;
  for await (const item of items) {
    if (item === 'resync' || !item.exceptionId) continue;
    const result = await execute(operation.exceptionQuery, { ...operation.variables, _id: item.exceptionId });
    const exception = result.data?.exception as Record<string, unknown> | null | undefined;
    if (system && exception && exception[SYSTEM_ALIAS] !== system) continue;
    yield payload(operation, result, 'exception');
  }
}
