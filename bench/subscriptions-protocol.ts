/*
 * What bench/subscriptions.ts says to its load-generating children (bench/subscriptions-clients.ts): commands as
 * JSON lines on the child's stdin, answers as JSON lines on its stdout. Apart, so importing them runs no child.
 */

/** The payload every subscriber selects: CRM and PSA fields make the gateway resolve three subgraphs per event. */
export const RUN_SELECTION = 'id status sequence updatedAt opportunity { name } project { code }';

/** `feed`: a `syncRunsUpdated` subscriber (every change of every run); `run`: a `syncRunUpdated(id)` one. */
export type SubscriberKind = 'feed' | 'run';

/** One socket: `feeds` `syncRunsUpdated` subscriptions and one `syncRunUpdated(id)` per entry of `runIds`. */
export interface SocketPlan {
  /** Index into the command's `gatewayUrls`. */
  gateway: number;
  feeds: number;
  runIds: string[];
}

/** What the outbox holds for one run once it settled: its SYNC_RUN_UPDATED events in order, and whether it ended. */
export interface ExpectedRun {
  sequences: number[];
  /** The run's status at each of `sequences`. */
  statuses: string[];
  /** SUCCEEDED, ABANDONED or COMPENSATION_FAILED: a `syncRunUpdated` on it must have completed. */
  final: boolean;
}

/** A command from the benchmark. */
export type ClientCommand =
  /** `authorization`: `Bearer <token>`, sent in every socket's `connection_init` payload. */
  | { cmd: 'subscribe'; gatewayUrls: string[]; sockets: SocketPlan[]; authorization: string }
  | { cmd: 'verify'; expected: Record<string, ExpectedRun>; releasedAtMs: number }
  | { cmd: 'close' };

/** What one gateway's subscribers in this process received after the release, and what was wrong. */
export interface GatewayReport {
  gateway: number;
  subscribers: number;
  /** Payloads received at or after the release (snapshots and earlier ones excluded). */
  delivered: number;
  firstAtMs: number | null;
  lastAtMs: number | null;
  /** Per subscription field, commit-to-arrival latency in whole ms → payloads, over payloads committed at or after the release. */
  latencyHistograms: Record<SubscriberKind, Record<string, number>>;
  violations: Violations;
}

/** Counts of what a subscriber got wrong against the outbox, and a few examples. */
export interface Violations {
  /** Subscribers with at least one violation. */
  subscribers: number;
  /** Outbox events a subscriber should have had and did not get. */
  missing: number;
  /** Events a subscriber got more than once. */
  duplicates: number;
  /** Payloads whose sequence was lower than the previous one of the same run. */
  outOfOrder: number;
  /** Consecutive payloads of a run whose sequences skipped one or more. */
  gaps: number;
  /** Payloads the subscriber should not have seen: another round's run, not the run it asked for, or a sequence the outbox lacks. */
  unexpected: number;
  /** `syncRunUpdated` subscriptions on a finished run that did not complete. */
  notCompleted: number;
  /** Payloads whose status is not the outbox's at their sequence. */
  wrongState: number;
  /** Payloads with errors, subscription errors and sockets closed under it. */
  errors: number;
  examples: string[];
}

/** A message to the benchmark. */
export type ClientMessage =
  | { event: 'ready' }
  | { event: 'subscribed'; subscriptions: number; sockets: number; elapsedMs: number; failures: string[] }
  | { event: 'progress'; received: number; errors: number }
  | { event: 'report'; gateways: GatewayReport[] }
  | { event: 'closed' }
  | { event: 'failed'; message: string };
