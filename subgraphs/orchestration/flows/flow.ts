import type { CorrectionField } from '../engine/corrections';
import type { Ledger, NewCrossReference } from '../engine/ledger';
import type { Governance, SystemKey } from '../governance/governance';
import type { Systems } from '../systems/systems';

/**
 * What a step gets: the run's input and earlier steps' outputs, its idempotency key, and the systems. `TResults` is
 * what the step may read of `results`: in a flow written with {@link flow}, the typed outputs of the steps before it.
 */
export interface StepContext<TInput, TResults = Readonly<Record<string, unknown>>> {
  runId: string;
  correlationId: string;
  input: TInput;
  /** Outputs of the run's completed steps, by step name. */
  results: TResults;
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

type RunField = 'accountId' | 'projectId';

/** The fields of output `O` a step may reveal: `accountId` or `projectId` where some shape of `O` holds a string (or null). */
export type Revealable<O> = O extends object
  ? { [K in RunField & keyof O]: O[K] extends string | null | undefined ? K : never }[RunField & keyof O]
  : never;

/**
 * A step as {@link flow} takes it, a {@link Step} without its name: `R` holds the outputs of the steps before it, `O` is
 * its own. A step shared by flows is a function returning one, generic in what it reads (`receivables.ts`).
 */
export interface StepSpec<TInput, R, O> {
  system: SystemKey;
  reveals?: readonly Revealable<O>[];
  run: (ctx: StepContext<TInput, R>) => Promise<O>;
  compensate?: (ctx: StepContext<TInput, R>, output: O) => Promise<void>;
  writes?: (output: O) => string | null;
}

/** A flow being written: each `step` adds its output, by name, to what the steps after it read in `ctx.results`. */
export interface FlowBuilder<TInput, R> {
  /** Appends a step. @throws Error for a name the flow has already (a type error too) */
  step<N extends string, O>(
    name: N extends keyof R ? never : N,
    spec: StepSpec<TInput, R, O>,
  ): FlowBuilder<TInput, R & { readonly [K in N]: O }>;
  /** The flow the engine runs: the steps in the order written. */
  build(): Flow<TInput>;
}

/**
 * Starts a flow from everything but its steps; `.step(name, spec)` appends each, `.build()` ends it. A step's `run`,
 * `compensate` and `writes` see the typed outputs of the steps before it and their own, never a cast.
 */
export function flow<TInput>(head: Omit<Flow<TInput>, 'steps'>): FlowBuilder<TInput, Record<never, never>> {
  const builder = (steps: readonly Step<TInput>[]): FlowBuilder<TInput, any> => ({
    step(name, spec) {
      if (steps.some((s) => s.name === name)) throw new Error(`Flow ${head.name} has two steps named '${name}'`);
      // Sound: the engine runs the steps in this order and hands each every completed step's output, so `ctx.results`
      // holds at least the earlier steps' (R), and `compensate` and `writes` get this step's own stored output (O).
      return builder([...steps, { name, ...spec } as Step<TInput>]);
    },
    build: () => ({ ...head, steps }),
  });
  return builder([]);
}
