import { MeridianError } from './errors';

/**
 * Failures an embedded reference system can be told to show, as the SaaS it stands for would.
 * All off by default.
 */
export interface FaultSettings {
  /** Added before every call, in milliseconds. @default 0 */
  latencyMs?: number;
  /** Share of calls (0–1) refused with RATE_LIMITED, like an HTTP 429. @default 0 */
  throttleRate?: number;
  /** Retry-After sent with a throttled call. @default 1000 */
  retryAfterMs?: number;
  /** Epoch milliseconds until which every call gets SYSTEM_MAINTENANCE; `null` for none. @default null */
  maintenanceUntil?: number | null;
  /** ERP only: accounting periods (`YYYY-MM`) that refuse postings. @default [] */
  closedPeriods?: string[];
  /** Seed of the throttling dice, so a fault run repeats exactly. @default 1 */
  seed?: number;
}

/**
 * Applies {@link FaultSettings} in front of each connector call. One per reference system;
 * settings change at run time through {@link FaultInjector.set}.
 */
export class FaultInjector {
  private settings: FaultSettings = {};
  private rng = mulberry32(1);
  private now: () => number = Date.now;

  constructor(
    private readonly system: string,
    initial: FaultSettings = {},
  ) {
    this.set(initial);
  }

  /** Replaces the settings (an empty object switches every fault off). */
  set(settings: FaultSettings): void {
    const rate = settings.throttleRate ?? 0;
    if (!(rate >= 0 && rate <= 1)) throw new RangeError(`throttleRate must be within 0..1, got ${rate}`);
    this.settings = { ...settings };
    this.rng = mulberry32(settings.seed ?? 1);
  }

  /**
   * Reads the time for `maintenanceUntil` from `now` instead of the system clock, so a test can move a maintenance
   * window's end by hand, on the same clock as the worker that retries against it.
   */
  setClock(now: () => number): void {
    this.now = now;
  }

  /** The settings in force. */
  get(): Readonly<FaultSettings> {
    return this.settings;
  }

  /** True when `period` (`YYYY-MM`) is closed for posting. */
  isPeriodClosed(period: string): boolean {
    return (this.settings.closedPeriods ?? []).includes(period);
  }

  /**
   * Runs before each connector command ({@link withFaults} calls it): waits `latencyMs`, then refuses the call if a
   * maintenance window is open or the throttling dice say so.
   * @throws MeridianError SYSTEM_MAINTENANCE or RATE_LIMITED, each with `retryAfterMs`.
   */
  async before(operation: string): Promise<void> {
    const { latencyMs = 0, throttleRate = 0, retryAfterMs = 1000, maintenanceUntil = null } = this.settings;
    if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
    const now = this.now();
    if (maintenanceUntil !== null && now < maintenanceUntil) {
      throw new MeridianError(
        'SYSTEM_MAINTENANCE',
        `${this.system.toUpperCase()} is in a maintenance window until ${new Date(maintenanceUntil).toISOString()}`,
        {
          system: this.system,
          retryAfterMs: maintenanceUntil - now,
        },
      );
    }
    if (throttleRate > 0 && this.rng() < throttleRate) {
      throw new MeridianError(
        'RATE_LIMITED',
        `${this.system.toUpperCase()} throttled '${operation}'; retry after ${retryAfterMs} ms`,
        {
          system: this.system,
          retryAfterMs,
        },
      );
    }
  }
}

/**
 * Every method of a port, one key each: `{ getAccounts: true, … }` typed `PortMethods<CrmConnector>` fails to compile
 * when the port gains a method the list lacks, so {@link withFaults} never misses one.
 */
export type PortMethods<Port> = { readonly [K in keyof Port]-?: true };

/**
 * `connector` behind its fault switches: every call of a method `methods` lists first passes `faults.before(name)`
 * (latency, maintenance, throttling), then runs on `connector` itself; every other property passes through. The
 * switches are read on each call, so `faults.set()` takes effect at once.
 */
export function withFaults<Port extends object, T extends Port>(
  connector: T,
  faults: FaultInjector,
  methods: PortMethods<Port>,
): T {
  const wrapped = new Map<PropertyKey, (...args: unknown[]) => Promise<unknown>>();
  return new Proxy(connector, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function' || !Object.hasOwn(methods, property)) return value;
      let method = wrapped.get(property);
      if (!method) {
        const name = String(property);
        method = async (...args: unknown[]) => {
          await faults.before(name);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
        wrapped.set(property, method);
      }
      return method;
    },
  });
}

/** Parses fault settings from a JSON environment value such as `{"latencyMs":20}`. */
export function parseFaultSettings(json: string | undefined, variable: string): FaultSettings {
  if (!json) return {};
  try {
    const parsed: unknown = JSON.parse(json);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as FaultSettings;
  } catch (error) {
    throw new Error(`${variable} must be a JSON object of fault settings: ${(error as Error).message}`);
  }
}

/** A small deterministic PRNG (mulberry32), returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
