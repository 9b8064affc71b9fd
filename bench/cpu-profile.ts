import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The parts of a V8 `.cpuprofile` (what `node --cpu-prof` writes) that the summary reads. */
interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  /** Microseconds on the host's monotonic clock (the one `process.hrtime` reads in every process). */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A closed window of the monotonic clock, in microseconds. */
export interface ClockWindow {
  fromUs: number;
  toUs: number;
}

/** One line of a profile summary: a function (or a package) and the CPU time sampled in it, self time only. */
export interface ProfileEntry {
  name: string;
  ms: number;
  /** Share of every sample inside the windows, idle and garbage collection included. */
  share: number;
}

/** The top entries of a profile by self time, by function and by package, over the chosen windows only. */
export interface ProfileSummary {
  /** Sampled milliseconds inside the windows, idle included. */
  totalMs: number;
  /** Sampled milliseconds inside the windows that were not idle. */
  busyMs: number;
  functions: ProfileEntry[];
  packages: ProfileEntry[];
}

/** Now, on the clock `.cpuprofile` timestamps use, in microseconds. */
export function monotonicNowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * Reads the single `.cpuprofile` in `dir` (written by `node --cpu-prof --cpu-prof-dir dir` when the process exits).
 * @throws Error when the folder holds none, or more than one.
 */
export function readCpuProfile(dir: string): CpuProfile {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length !== 1) throw new Error(`expected one .cpuprofile in ${dir}, found ${files.length}`);
  return JSON.parse(readFileSync(join(dir, files[0]!), 'utf8')) as CpuProfile;
}

/**
 * Self time per function and per package of the samples taken inside `windows` (the measured rounds, so start-up and
 * warm-up do not count), the `top` largest of each. A package is `node_modules/<name>`, or the project file the
 * function lives in, or a V8 pseudo-frame such as `(garbage collector)`.
 */
export function summarizeCpuProfile(
  profile: CpuProfile,
  windows: readonly ClockWindow[],
  root: string,
  top: number,
): ProfileSummary {
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i]!;
    // A sample's delta is the time since the previous one: attributed to this sample's frame, as DevTools does.
    const delta = profile.timeDeltas[i + 1] ?? 0;
    if (!windows.some((w) => at >= w.fromUs && at <= w.toUs)) continue;
    const frame = frames.get(profile.samples[i]!);
    if (!frame) continue;
    totalUs += delta;
    if (frame.functionName === '(idle)') {
      idleUs += delta;
      continue;
    }
    const where = placeOf(frame.url, root);
    const fn = `${frame.functionName || '(anonymous)'} ${where}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + delta);
    const pkg = where || frame.functionName;
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + delta);
  }
  const entries = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, share: totalUs ? us / totalUs : 0 }));
  return {
    totalMs: totalUs / 1000,
    busyMs: (totalUs - idleUs) / 1000,
    functions: entries(byFunction),
    packages: entries(byPackage),
  };
}

/** `node_modules/<package>` for a dependency, the project-relative file for ours, `node:<module>` for Node's own. */
function placeOf(url: string, root: string): string {
  if (!url) return '';
  const path = url.replace(/^file:\/\//, '');
  const inModules = path.lastIndexOf('/node_modules/');
  if (inModules >= 0) {
    const [first, second] = path.slice(inModules + '/node_modules/'.length).split('/');
    return `node_modules/${first?.startsWith('@') ? `${first}/${second}` : first}`;
  }
  if (path.startsWith('node:')) return path;
  return path.startsWith('/') ? relative(root, path) : path;
}
