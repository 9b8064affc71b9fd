import { MeridianError } from './errors';

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Checks that `value` is a real calendar date written `YYYY-MM-DD`, returning it.
 * @throws MeridianError BAD_USER_INPUT naming `field`.
 */
export function isoDate(value: string, field: string): string {
  const parsed = new Date(`${value}T00:00:00Z`);
  if (!ISO_DATE.test(value) || Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== value) {
    throw new MeridianError('BAD_USER_INPUT', `${field} must be a date written YYYY-MM-DD; got '${value}'`, {
      field,
      value,
    });
  }
  return value;
}

/** Like {@link isoDate}, passing `null` and `undefined` through as `null`. */
export function optionalIsoDate(value: string | null | undefined, field: string): string | null {
  return value === null || value === undefined ? null : isoDate(value, field);
}

/** Today's date in UTC, `YYYY-MM-DD`. */
export function todayUtc(now = new Date()): string {
  return now.toISOString().slice(0, 10);
}

/** `date` plus `days` days, `YYYY-MM-DD`. */
export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/**
 * Checks that `value` is a UTC timestamp written `YYYY-MM-DDTHH:MM:SS[.sss]Z`, returning it as `toISOString()` writes
 * it (milliseconds always present), so stored timestamps compare correctly as text.
 * @throws MeridianError BAD_USER_INPUT naming `field`.
 */
export function isoTimestamp(value: string, field: string): string {
  const parsed = new Date(value);
  if (
    !ISO_TIMESTAMP.test(value) ||
    Number.isNaN(parsed.getTime()) ||
    parsed.toISOString().slice(0, 19) !== value.slice(0, 19)
  ) {
    throw new MeridianError(
      'BAD_USER_INPUT',
      `${field} must be a UTC timestamp written YYYY-MM-DDTHH:MM:SSZ; got '${value}'`,
      { field, value },
    );
  }
  return parsed.toISOString();
}
