import { MeridianError } from './errors';

const DECIMAL_2 = /^(\d{1,9})(?:\.(\d{1,2}))?$/;

/**
 * Parses a non-negative decimal string with at most two decimals ("7.5", "1") into hundredths (750, 100):
 * hours and quantities travel as strings and are stored as integers.
 * @throws MeridianError BAD_USER_INPUT naming `field` for anything else (negative, more decimals, not a number).
 */
export function parseHundredths(value: string, field: string): number {
  const m = DECIMAL_2.exec(value.trim());
  if (!m) {
    throw new MeridianError(
      'BAD_USER_INPUT',
      `${field} must be a decimal with at most two decimals, such as "7.5"; got '${value}'`,
      { field, value },
    );
  }
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}

/** Formats hundredths as a two-decimal string (750 → "7.50"; basis points 2000 → "20.00"). */
export function formatHundredths(hundredths: number): string {
  const sign = hundredths < 0 ? '-' : '';
  const abs = Math.abs(hundredths);
  return `${sign}${Math.trunc(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}
