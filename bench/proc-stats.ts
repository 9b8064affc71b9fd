import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`). @default 100 when getconf is missing */
export function clockTicksPerSecond(): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}

/**
 * CPU time a process has used so far, user plus system, in milliseconds, from `/proc/<pid>/stat`
 * (resolution: one clock tick, usually 10 ms). Linux only.
 * @throws Error when the process is gone.
 */
export function cpuTimeMs(pid: number, ticksPerSecond: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses; the fields after its closing one do not.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 (utime) and 15 (stime), counted from field 3 (state) at index 0.
  const ticks = Number(fields[11]) + Number(fields[12]);
  if (!Number.isFinite(ticks)) throw new Error(`/proc/${pid}/stat has no CPU times: ${stat}`);
  return (ticks * 1000) / ticksPerSecond;
}

/**
 * Resident set size of a process in bytes, from `VmRSS` in `/proc/<pid>/status`. Linux only.
 * @throws Error when the process is gone.
 */
export function residentBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`/proc/${pid}/status has no VmRSS`);
  return Number(match[1]) * 1024;
}

/**
 * CPU time all processors have been busy since boot (user, nice, system, irq, softirq, steal), in milliseconds,
 * from the `cpu` line of `/proc/stat`. Linux only.
 * @throws Error when /proc/stat has no `cpu` line.
 */
export function hostBusyMs(ticksPerSecond: number): number {
  const line = /^cpu\s+(.*)$/m.exec(readFileSync('/proc/stat', 'utf8'));
  if (!line) throw new Error('/proc/stat has no cpu line');
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line[1]!
    .trim()
    .split(/\s+/)
    .map(Number);
  return ((user + nice + system + irq + softirq + steal) * 1000) / ticksPerSecond;
}
