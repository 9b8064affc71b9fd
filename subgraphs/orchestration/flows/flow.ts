import type { CorrectionField } from '../engine/corrections';
import type { Ledger, NewCrossReference } from '../engine/ledger';
import type { Governance, SystemKey } from '../governance/governance';
import type { Systems } from '../systems/systems';

/** What a step gets: the run's input and earlier steps' outputs, its idempotency key, and the systems. */
export interface StepContext<TInput> {
  runId: string;
  correlationId: string;
  input: TInput;
  /** Outputs of the run's completed steps, by step name. */
  results: Record<string, unknown>;
  /** `<runId>:<step>`: the key every system write of this step carries, so a retried step never writes twice. */
  key: string;
  systems: Systems;
  governance: Governance;
  /** Reads earlier runs (what Meridian last synced for an entity, say); a step never writes the ledger through it. */
  ledger: Pick<Ledger, 'getRunsBy'>;
  /** Records cross-references in the orchestration's registry (idempotent). */
  recordCrossReferences(links: readonly NewCrossReference[]): Promise<void>;
  /** Extends the run's lease during a long step; throws when another worker took the run over. */
  heartbeat(): Promise<void>;
  /** The worker's clock, epoch ms (tests hand in their own). Read it through {@link StepContext.fixFacts} when what it
   * gives is written to a system, so that a retry writes the same. */
  now(): number;
  /**
   * Fixes facts at the step's first attempt (a posting date from the clock, rates from a rate card that may change):
   * stores each key of `facts` not stored yet for this step and returns every stored value, the first attempt's
   * winning, so a retry (the next day, on another worker, after a crash) writes byte-identical data. `{}` reads them.
   * Throws when another worker took the run over.
   */
  fixFacts(facts: Readonly<Record<string, unknown>>): Promise<Record<string, unknown>>;
}

/**
 * One step of a flow. `run` returns JSON-able output (the IDs it created or found) or throws a SystemError;
 * `compensate` undoes it when the run is abandoned. `system` picks the retry policy.
 */
export interface Step<TInput> {
  name: string;
  system: SystemKey;
  /**
   * Which fields of this step's output name the run's CRM account and PSA project (the run records them, so it can be
   * found by them and a portal user sees it): declared, never guessed from whatever the output holds.
   */
  reveals?: readonly ('accountId' | 'projectId')[];
  run(ctx: StepContext<TInput>): Promise<unknown>;
  compensate?(ctx: StepContext<TInput>, output: unknown): Promise<void>;
  /**
   * What this step, completed with `output`, wrote to a system, in words (`created ERP customer CUS-…`), or null when
   * it wrote nothing. Omitted for a step that only reads. A correction that would have to run a step that wrote again
   * is refused (see `engine/corrections.ts`).
   */
  writes?(output: unknown): string | null;
}

/** The business entities a run is about: one live run per subject; the IDs make the run findable. */
export interface RunSubject {
  subjectKey: string | null;
  /** Whether a finished run still stands for its subject (`ever`) or a new one may start (`active`). */
  subjectReuse: 'ever' | 'active';
  accountId: string | null;
  opportunityId: string | null;
  projectId: string | null;
}

/** A flow: an ordered list of steps that reads top to bottom. */
export interface Flow<TInput> {
  name: string;
  /** Validates a run's stored input. @throws MeridianError BAD_USER_INPUT */
  parseInput(raw: Record<string, unknown>): TInput;
  subject(input: TInput): RunSubject;
  /** The input fields `retryRunWithInput` may correct, each with its check and the step that reads it; none when omitted. */
  corrections?: Readonly<Record<string, CorrectionField>>;
  /**
   * What must already hold in the systems before a person's call starts a run (a deal won, a milestone completed).
   * Checked by the mutation, before anything is stored: a call made too early is refused, holds no subject, and the
   * trigger starts the run once the systems show the precondition (it lists only such subjects). A record that does
   * not exist at all is left to the first step, which stops the run with a MISSING_REFERENCE exception.
   * @throws MeridianError INVALID_STATE naming the input field, with what to do.
   */
  precondition?(input: TInput, systems: Systems, correlationId: string, governance: Governance | null): Promise<void>;
  steps: readonly Step<TInput>[];
}
