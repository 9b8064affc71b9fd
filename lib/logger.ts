import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * The JSON logger every process uses: one line per event on stdout.
 * @default level `LOG_LEVEL` is read by main files only; here it is a parameter (`info`).
 */
export function createLogger(name: string, level = 'info'): Logger {
  return pino({ name, level, base: { service: name } });
}

/** A logger that drops everything, for tests and benchmarks that do not read logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
