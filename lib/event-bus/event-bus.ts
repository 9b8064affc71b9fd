/** What a run event reports: a run changed, or it raised an exception for a person. */
export type RunEventType = 'SYNC_RUN_UPDATED' | 'EXCEPTION_RAISED';

/**
 * One outbox event as the bus carries it. The same fields as the orchestration ledger's `OutboxEvent`, declared
 * here because `lib/` imports no subgraph; an `OutboxEvent` is assignable to it.
 */
export interface RunEvent {
  /** Position in the outbox: increases across all runs; unique per event. */
  seq: number;
  runId: string;
  type: RunEventType;
  /** The run's sequence number after the change (an exception's two events share it). */
  sequence: number;
  /** The run's status after the change (`RunStatus` in the orchestration). */
  status: string;
  flow: string;
  accountId: string | null;
  /** The exception raised, for EXCEPTION_RAISED; null otherwise. */
  exceptionId: string | null;
  createdAt: string;
}

/** Whether the bus can carry events now. */
export type EventBusStatus = 'up' | 'down';

/**
 * Carries run events from the outbox relay to every process that watches them (each gateway replica).
 *
 * Delivery contract: **at-least-once**, and **in publish order per publisher**. An event may arrive twice (a relay
 * that restarts re-publishes what it had not yet acknowledged), and none arrives while the bus is down: a subscriber
 * de-duplicates by `(runId, sequence)` for each `type` (an exception's SYNC_RUN_UPDATED and EXCEPTION_RAISED share a
 * sequence; `seq` alone identifies an event too) and re-reads current state from a snapshot when `onStatus` reports
 * `'up'` after `'down'`. Every subscriber of every instance on the same backend gets every event published on any.
 */
export interface EventBus {
  /**
   * Sends `event` to every subscriber. Resolves once the backend accepted it.
   * @throws Error when the backend is unreachable or does not answer within the adapter's bound; never hangs.
   */
  publish(event: RunEvent): Promise<void>;
  /**
   * Calls `listener` with each event published from now on. A listener that throws is logged and does not stop
   * delivery to the others. Returns the unsubscribe function (idempotent).
   */
  subscribe(listener: (event: RunEvent) => void): () => void;
  /**
   * Calls `listener` when the bus goes `'down'` (a connection lost) or comes `'up'` again (delivery resumed; events
   * published meanwhile were not delivered). Reports changes only, not the current state. Returns the unsubscribe function.
   */
  onStatus(listener: (status: EventBusStatus) => void): () => void;
  /** Stops delivery and releases connections; later `publish` calls reject. */
  close(): Promise<void>;
}
