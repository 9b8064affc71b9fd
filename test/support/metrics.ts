/** One sample line: its full name (`x_bucket`, `x_sum`…), labels and value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A metric family: its HELP, TYPE and samples (a histogram's `_bucket`, `_sum` and `_count` lines included). */
export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;
const SUFFIXES: Record<MetricFamily['type'], readonly string[]> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

/**
 * Parses Prometheus text exposition (format 0.0.4) strictly: every sample belongs to a family declared by `# TYPE`
 * before it, names and labels are well formed, values are numbers. Throws naming the line otherwise.
 * (parse-prometheus-text-format drops a histogram's labels, so the tests read the format themselves.)
 */
export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const fail = (n: number, why: string): never => {
    throw new Error(`line ${n + 1}: ${why}`);
  };
  text.split('\n').forEach((line, n) => {
    if (line.trim() === '') return;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!NAME.test(name)) fail(n, `bad metric name ${name}`);
      const family = families.get(name) ?? { name, help: '', type: 'untyped' as const, samples: [] };
      families.set(name, family);
      if (kind === 'HELP') family.help = rest;
      else if (rest in SUFFIXES) family.type = rest as MetricFamily['type'];
      else fail(n, `unknown type ${rest}`);
      return;
    }
    if (line.startsWith('#')) return;
    const m =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/.exec(line) ?? fail(n, `not a sample: ${line}`);
    const [, name, labelText = '', raw] = m as unknown as [string, string, string | undefined, string];
    const labels: Record<string, string> = {};
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < labelText.length) {
      const at = LABEL.lastIndex;
      const l = LABEL.exec(labelText) ?? fail(n, `bad labels at ${at}: ${labelText}`);
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    // Go's ParseFloat (Prometheus's) takes NaN and Inf in any case; prom-client writes `Nan`.
    const value = /^[+-]?inf$/i.test(raw) ? (raw.startsWith('-') ? -Infinity : Infinity) : Number(raw);
    if (Number.isNaN(value) && !/^nan$/i.test(raw)) fail(n, `bad value ${raw}`);
    const family = [...families.values()].find((f) => SUFFIXES[f.type].some((s) => f.name + s === name));
    if (!family) fail(n, `sample ${name} has no # TYPE before it`);
    family!.samples.push({ name, labels, value });
  });
  return families;
}

/** A parsed `/metrics` page. */
export interface Scrape {
  families: Map<string, MetricFamily>;
  /** The sum of the samples of `name` whose labels include `labels` (0 when there is none). */
  value(name: string, labels?: Record<string, string>): number;
  /** A histogram's count and sum over its series whose labels include `labels`. */
  histogram(name: string, labels?: Record<string, string>): { count: number; sum: number };
}

/** GETs `url` (a `/metrics` endpoint), checks it is Prometheus text, and parses it. */
export async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
  const type = response.headers.get('content-type') ?? '';
  if (!type.startsWith('text/plain') || !type.includes('version=0.0.4'))
    throw new Error(`${url} is not Prometheus text: ${type}`);
  const families = parsePrometheusText(await response.text());
  const value = (name: string, labels: Record<string, string> = {}) =>
    [...families.values()]
      .flatMap((f) => f.samples)
      .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((total, s) => total + s.value, 0);
  return {
    families,
    value,
    histogram: (name, labels = {}) => ({ count: value(`${name}_count`, labels), sum: value(`${name}_sum`, labels) }),
  };
}

/** The `/metrics` URL beside a server's `/graphql` URL. */
export const metricsUrl = (graphqlUrl: string) => graphqlUrl.replace(/\/graphql$/, '/metrics');
