/** Timed waits that can be cut short: `sleep` resolves after `ms`, or as soon as `wakeAll` is called. */
export interface WakeableSleep {
  sleep(ms: number): Promise<void>;
  /** Ends every wait in progress now. */
  wakeAll(): void;
}

/** A fresh {@link WakeableSleep}, for loops that poll but should react at once when told there is work. */
export function createWakeableSleep(): WakeableSleep {
  const sleepers = new Set<() => void>();
  return {
    sleep: (ms) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          sleepers.delete(done);
          resolve();
        }
        sleepers.add(done);
      }),
    wakeAll: () => {
      for (const wake of [...sleepers]) wake();
    },
  };
}
