import { MeridianError } from './errors';

/** Money on the wire: a decimal string and an ISO 4217 currency code; never a float. */
export interface Money {
  amount: string;
  currency: string;
}

// ISO 4217 minor units for the currencies that are not 2-decimal.
const MINOR_UNITS: Record<string, number> = { JPY: 0, KRW: 0, CLP: 0, ISK: 0, BHD: 3, KWD: 3, OMR: 3, JOD: 3, TND: 3 };

/** Number of decimals of `currency` (2 unless ISO 4217 says otherwise). */
export function minorUnits(currency: string): number {
  return MINOR_UNITS[currency] ?? 2;
}

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;

/**
 * Parses a decimal string into integer minor units of `currency` ("12.5" USD → 1250n).
 * @throws MeridianError BAD_USER_INPUT when it is not a decimal or has more decimals than the currency.
 */
export function toMinor(amount: string, currency: string, field = 'amount'): bigint {
  const m = DECIMAL.exec(amount.trim());
  const digits = minorUnits(currency);
  if (!m || (m[3] ?? '').length > digits) {
    throw new MeridianError(
      'BAD_USER_INPUT',
      `'${amount}' is not a ${currency} amount (a decimal string with at most ${digits} decimals)`,
      { field, value: amount },
    );
  }
  const minor = BigInt((m[2] ?? '0') + (m[3] ?? '').padEnd(digits, '0'));
  return m[1] ? -minor : minor;
}

/** Formats integer minor units as a decimal string (1250n USD → "12.50"). */
export function fromMinor(minor: bigint | number, currency: string): string {
  const digits = minorUnits(currency);
  let v = BigInt(minor);
  const neg = v < 0n;
  if (neg) v = -v;
  const s = v.toString().padStart(digits + 1, '0');
  const body = digits === 0 ? s : `${s.slice(0, -digits)}.${s.slice(-digits)}`;
  return neg ? `-${body}` : body;
}

/** Builds a {@link Money} from minor units. */
export function money(minor: bigint | number, currency: string): Money {
  return { amount: fromMinor(minor, currency), currency };
}

/**
 * `quantityHundredths` (e.g. hours × 100) times a unit price in minor units, rounded half-up to a whole minor unit.
 * Integer arithmetic only, so 7.5 h × 182.50 is exactly 1368.75.
 */
export function extendMinor(quantityHundredths: bigint | number, unitMinor: bigint | number): bigint {
  return divideRoundHalfUp(BigInt(quantityHundredths) * BigInt(unitMinor), 100n);
}

/** `n / d` rounded half away from zero, for a positive `d` (`divideRoundHalfUp(-5n, 10n)` is -1n). */
export function divideRoundHalfUp(n: bigint, d: bigint): bigint {
  const q = n / d;
  const r = n % d;
  return r * 2n >= d ? q + 1n : r * 2n <= -d ? q - 1n : q;
}
