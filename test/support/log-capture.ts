import pino, { type Logger } from 'pino';
import { traceFields } from '../../lib/logger';
import { Writable } from 'node:stream';

/** A real pino logger (with the trace fields every process logs) whose JSON lines are kept in memory, for tests that read the logs. */
export function captureLogs(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info', mixin: traceFields }, stream), lines };
}
