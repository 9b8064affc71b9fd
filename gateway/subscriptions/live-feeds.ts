import type { ExecutionResult } from 'graphql';
import type { EventBus, RunEvent } from '../../lib/event-bus/event-bus';
import { MeridianError } from '../../lib/errors';
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
  unsubscribers.push(
    bus.subscribe((event) => {
      if (
        event.type === 'SYNC_RUN_UPDATED' &&
        (field === 'syncRunUpdated' ? event.runId === args.id : field === 'syncRunsUpdated' && matches(event, filter))
      ) {
        prefetch(operation.runAtQuery, { _id: event.runId, _sequence: event.sequence });
        items.push(event);
      }
      if (
        field === 'exceptionRaised' &&
        event.type === 'EXCEPTION_RAISED' &&
        event.exceptionId &&
        matches(event, { ...filter, status: null })
      ) {
        prefetch(operation.exceptionQuery, { _id: event.exceptionId });
        items.push(event);
      }
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
