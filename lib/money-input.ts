import { MeridianError } from './errors';
import { toMinor } from './money';

/** `MoneyInput` as GraphQL passes it. */
export interface MoneyInput {
  amount: string;
  currency: string;
}

/**
 * Validates a `MoneyInput` into minor units and an upper-case ISO currency.
 * @throws MeridianError BAD_USER_INPUT for a malformed currency or amount.
 */
export function parseMoneyInput(input: MoneyInput, field: string): { minor: bigint; currency: string } {
  const currency = input.currency.trim().toUpperCase();
  if (!/^[A-Z]{3}$/.test(currency)) {
    throw new MeridianError(
      'BAD_USER_INPUT',
      `${field}.currency must be an ISO 4217 code such as USD; got '${input.currency}'`,
      { field: `${field}.currency`, value: input.currency },
    );
  }
  return { minor: toMinor(input.amount, currency, `${field}.amount`), currency };
}
