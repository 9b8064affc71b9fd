import { MeridianError } from '../../../lib/errors';
import type { CorrectionField } from '../engine/corrections';
import { SystemError } from '../systems/system-error';
import type { CustomerForSync } from '../systems/systems';
import type { StepContext } from './flow';

/** The input field a person sets (through `retryRunWithInput`) to let one run go on past a credit hold. */
export const CREDIT_HOLD_OVERRIDE = 'creditHoldOverride';

/** Input of a flow that honours credit holds: the override note, when a person gave one. */
export interface CreditHoldInput {
  /** A person's note overriding the customer's credit hold for this run (audited with the correction). */
  creditHoldOverride?: string;
}

/** What the check found, for the step's output: nothing on hold, or the hold this run was let past. */
export type CreditHoldOutcome =
  | { onHold: false }
  | { onHold: true; reason: string; since: string; overriddenWith: string };

/**
 * The correction that overrides a credit hold: a note (1–500 characters, not blank), read by the step that checks the
 * hold (`readBy`, the step's name in its flow).
 */
export function creditHoldOverrideCorrection(readBy: string): CorrectionField {
  return {
    readBy: [readBy],
    check: (value, field) => {
      const note = value.trim();
      if (note === '' || note.length > 500)
        throw new MeridianError(
          'BAD_USER_INPUT',
          `${field} must be a note of 1 to 500 characters saying why the credit hold is overridden for this run`,
          { field },
        );
      return note;
    },
  };
}

/**
 * The credit-hold check every flow that converts or invoices for a customer makes before it writes: a customer on hold
 * stops the run with a `CREDIT_HOLD` exception (never retried by itself) that a person resolves by releasing the hold
 * in the ERP and retrying the run, or by overriding it for this run with a note (`retryRunWithInput(id, {
 * creditHoldOverride: "…" })`, which the run's audit trail records). Call it in the step that reads the ERP customer,
 * or make it a step of its own (any step whose input extends {@link CreditHoldInput}).
 * @param what the run's business action, for the message ("Milestone MS-1 (Design) cannot be invoiced")
 * @throws SystemError CREDIT_HOLD when the customer is on hold and no override was given
 */
export function checkCreditHold(
  ctx: Pick<StepContext<CreditHoldInput>, 'input'>,
  customer: Pick<CustomerForSync, 'id' | 'customerNumber' | 'name' | 'externalCrmId' | 'creditHold'>,
  what: string,
): CreditHoldOutcome {
  const hold = customer.creditHold;
  if (!hold) return { onHold: false };
  const override = ctx.input.creditHoldOverride;
  if (override) return { onHold: true, reason: hold.reason, since: hold.since, overriddenWith: override };
  throw new SystemError(
    'CREDIT_HOLD',
    `${what}: ERP customer ${customer.id} (${customer.customerNumber}, ${customer.name}) of account ${customer.externalCrmId} is on credit hold since ${hold.since.slice(0, 10)} ('${hold.reason}'). Release the hold in the ERP and retry the run, or override it for this run with a note (retryRunWithInput with creditHoldOverride)`,
    'erp',
  );
}

/** Reads the input's override note, when present. @throws MeridianError BAD_USER_INPUT for a non-string or blank note */
export function parseCreditHoldOverride(raw: Record<string, unknown>): CreditHoldInput {
  const value = raw[CREDIT_HOLD_OVERRIDE];
  if (value === undefined || value === null) return {};
  if (typeof value !== 'string')
    throw new MeridianError('BAD_USER_INPUT', `${CREDIT_HOLD_OVERRIDE} must be a string`, {
      field: CREDIT_HOLD_OVERRIDE,
    });
  return { creditHoldOverride: creditHoldOverrideCorrection('').check(value, CREDIT_HOLD_OVERRIDE, null) };
}
