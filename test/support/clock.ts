/**
 * A clock that stands still until the test moves it: hand `now` to the worker and the reference systems
 * (`startTestStack({ clock: clock.now })`), and a retry, a lease or a maintenance window ends when the test says,
 * not when the machine gets round to it.
 */
export interface TestClock {
  /** The time in epoch ms. */
  readonly now: () => number;
  /** Moves the clock forward to `at` (never back: an earlier `at` leaves it where it is). */
  advanceTo(at: number): void;
  /** Moves the clock forward by `ms`. */
  advanceBy(ms: number): void;
}

/** A {@link TestClock} standing at `start`. @default start the system time now */
export function createTestClock(start = Date.now()): TestClock {
  let current = start;
  return {
    now: () => current,
    advanceTo: (at) => {
      current = Math.max(current, at);
    },
    advanceBy: (ms) => {
      current += ms;
    },
  };
}
