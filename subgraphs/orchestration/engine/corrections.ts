import { MeridianError } from '../../../lib/errors';
import type { Flow } from '../flows/flow';
import type { Governance } from '../governance/governance';
import type { RunRecord } from './ledger';

/** A correction `retryRunWithInput` may make, as a flow declares it. */
export interface CorrectionField {
  /** Every step whose work depends on the field (reading it from the input, or from an earlier step's output). */
  readBy: readonly string[];
  /**
   * Checks a corrected value, returning it as it is stored; `governance` (when the caller has it) knows the mapped
   * codes. @throws MeridianError BAD_USER_INPUT naming the field.
   */
  check(value: string, field: string, governance: Governance | null): string;
}

/** What a correction comes to: the checked patch, and the completed steps that must run again. */
export interface CorrectionPlan {
  patch: Record<string, string>;
  /** Indexes of the completed steps that run again (their output dropped): they depend on what the patch changes. */
  rerun: number[];
}

/**
 * Plans a correction of `run` (pure: the run as read, the flow's declared corrections). Each patch field must be one
 * the run's flow takes, and its value valid; the fields whose value changes invalidate every completed step that
 * depends on one of them, which runs again (steps not yet done read the corrected input anyway). A completed step that
 * would run again and
 * that wrote to a system (its `writes` says what) makes the run uncorrectable: redoing it with other input would
 * leave the first write behind (an ERP customer with the old legal entity), so the correction is refused with what
 * to do instead.
 * @throws MeridianError BAD_USER_INPUT for a field the flow does not take, or a bad value; INVALID_STATE for a run
 * whose completed writes the correction would have to redo.
 */
export function planCorrection(
  flow: Flow<unknown>,
  run: RunRecord,
  raw: Record<string, unknown>,
  governance: Governance | null,
): CorrectionPlan {
  const fields = flow.corrections ?? {};
  const allowed = Object.keys(fields);
  const patch: Record<string, string> = {};
  for (const [field, value] of Object.entries(raw)) {
    const spec = fields[field];
    if (!spec)
      throw new MeridianError(
        'BAD_USER_INPUT',
        allowed.length
          ? `'${field}' is not an input of ${flow.name} runs; they take corrections of ${allowed.map((f) => `'${f}'`).join(', ')}`
          : `'${field}' is not an input of ${flow.name} runs, which take no corrections; retry the run as it is, resolve or abandon it`,
        { field, runId: run.id },
      );
    if (typeof value !== 'string')
      throw new MeridianError('BAD_USER_INPUT', `${field} must be a string`, { field, runId: run.id });
    patch[field] = spec.check(value, field, governance);
  }
  // A run not stopped is refused by the ledger (INVALID_STATE), whatever its steps did.
  if (run.status !== 'EXCEPTION') return { patch, rerun: [] };
  const changed = Object.keys(patch).filter((f) => run.input[f] !== patch[f]);
  const depends = new Set(changed.flatMap((f) => fields[f]!.readBy));
  const redo = run.steps.filter((s) => s.status === 'SUCCEEDED' && depends.has(s.name));
  for (const step of redo) {
    const wrote = flow.steps[step.index]!.writes?.(step.output) ?? null;
    if (wrote)
      throw new MeridianError(
        'INVALID_STATE',
        `Run ${run.id} cannot be corrected: its step '${step.name}' already ${wrote} from the input as it was, and the correction of ${changed.map((f) => `'${f}'`).join(', ')} would have to redo it. Abandon the run (its completed steps are undone, newest first), correct the value where it comes from (the CRM record, say), and start a new ${flow.name} run; or retry this run without the correction`,
        { runId: run.id, step: step.name },
      );
  }
  return { patch, rerun: redo.map((s) => s.index) };
}
