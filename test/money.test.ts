import { divideRoundHalfUp, extendMinor, fromMinor, money, toMinor } from '../lib/money';
import { parseMoneyInput } from '../lib/money-input';

describe('money', () => {
  it('parses decimal strings into minor units and back without floats', () => {
    expect([
      toMinor('12.5', 'USD'),
      toMinor('0.01', 'EUR'),
      toMinor('-3', 'GBP'),
      toMinor('1500', 'JPY'),
      toMinor('1.234', 'KWD'),
    ]).toEqual([1250n, 1n, -300n, 1500n, 1234n]);
    expect([
      fromMinor(1250n, 'USD'),
      fromMinor(5, 'USD'),
      fromMinor(-300, 'GBP'),
      fromMinor(1500, 'JPY'),
      fromMinor(1234, 'KWD'),
    ]).toEqual(['12.50', '0.05', '-3.00', '1500', '1.234']);
    expect(money(90071992547409931n, 'USD')).toEqual({ amount: '900719925474099.31', currency: 'USD' });
  });

  it('refuses amounts that are not decimals or have more decimals than the currency, with BAD_USER_INPUT', () => {
    for (const [amount, currency] of [
      ['1.001', 'USD'],
      ['1e3', 'USD'],
      ['abc', 'EUR'],
      ['1.5', 'JPY'],
      ['', 'USD'],
    ] as const) {
      expect(() => toMinor(amount, currency)).toThrow(
        expect.objectContaining({ code: 'BAD_USER_INPUT', details: { field: 'amount', value: amount } }),
      );
    }
    expect(() => parseMoneyInput({ amount: '1', currency: 'dollars' }, 'budget')).toThrow(
      expect.objectContaining({ code: 'BAD_USER_INPUT', details: { field: 'budget.currency', value: 'dollars' } }),
    );
    expect(parseMoneyInput({ amount: '10.10', currency: 'usd' }, 'budget')).toEqual({ minor: 1010n, currency: 'USD' });
  });

  it('extends hours by a rate exactly, rounding half up to the minor unit', () => {
    expect(extendMinor(750, 18250)).toBe(136875n); // 7.5 h × 182.50 = 1368.75
    expect(extendMinor(25, 33)).toBe(8n); // 0.25 × 0.33 = 0.0825 → 0.08
    expect(extendMinor(50, 1)).toBe(1n); // 0.5 × 0.01 = 0.005 → 0.01
    expect(extendMinor(-50, 1)).toBe(-1n);
  });

  it('divides rounding half away from zero, as tax on a subtotal is rounded', () => {
    expect([14n, 15n, 16n, -14n, -15n, -16n, 0n, 20n].map((n) => divideRoundHalfUp(n, 10n))).toEqual([
      1n,
      2n,
      2n,
      -1n,
      -2n,
      -2n,
      0n,
      2n,
    ]);
    // 1234.56 at 20% (2000 basis points): 24691.2 minor units → 24691
    expect(divideRoundHalfUp(123456n * 2000n, 10_000n)).toBe(24691n);
  });
});
