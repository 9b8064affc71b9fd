import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Listening } from '../lib/graphql-http';
import { startMetricsServer } from '../lib/metrics/metrics-route';
import { observeOperations } from '../lib/metrics/operations-gauges';
import { SqliteLedger } from '../subgraphs/orchestration/engine/sqlite-ledger';
import { scrape } from './support/metrics';

const ALERTS = join(__dirname, '..', 'ops', 'prometheus', 'alerts.yml');
const DASHBOARD = join(__dirname, '..', 'ops', 'grafana', 'meridian.json');

/** Metric names an expression reads: ours and Node's process metrics (functions, labels and keywords are not). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b((?:meridian|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
}

interface Rule {
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

describe('ops/', () => {
  let server: Listening;
  let exported: Set<string>;
  let ledger: SqliteLedger;
  let unobserve: () => void;
  beforeAll(async () => {
    // As an orchestration process serves them: with the ledger's figures.
    ledger = new SqliteLedger(':memory:');
    unobserve = observeOperations({
      read: (now) => ledger.readOperationsFigures('default', now),
      queueStatuses: ['QUEUED'],
    });
    server = await startMetricsServer(0);
    const page = await scrape(`http://127.0.0.1:${server.port}/metrics`);
    // A histogram is queried by its series: _bucket, _sum, _count.
    exported = new Set(
      [...page.families.values()].flatMap((f) =>
        f.type === 'histogram' ? [`${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`] : [f.name],
      ),
    );
  });
  afterAll(async () => {
    await server.close();
    unobserve();
    ledger.close();
  });

  it('alerts.yml: every rule is named, summarised and reads only metrics that /metrics exports', () => {
    const file = parse(readFileSync(ALERTS, 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
    const rules = file.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert).sort()).toEqual([
      'MeridianErpThrottling',
      'MeridianExceptionRateHigh',
      'MeridianGatewayErrorRateHigh',
      'MeridianGatewayLatencyP99High',
      'MeridianLedgerFiguresFailing',
      'MeridianOpenExceptionsGrowing',
      'MeridianOutboxLagging',
      'MeridianRunsStuck',
      'MeridianRunsWaitingRetryPilingUp',
    ]);
    for (const rule of rules) {
      expect([rule.alert, rule.annotations?.summary, rule.labels?.severity].every(Boolean)).toBe(true);
      expect(rule.for).toMatch(/^\d+[smh]$/);
      const names = metricNames(rule.expr);
      expect(names.length).toBeGreaterThan(0);
      expect({ alert: rule.alert, missing: names.filter((n) => !exported.has(n)) }).toEqual({
        alert: rule.alert,
        missing: [],
      });
    }
  });

  it('alerts.yml passes promtool check rules when promtool is installed', () => {
    const which = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
    if (which.error) return; // not installed here; CI images with Prometheus run it
    const checked = spawnSync('promtool', ['check', 'rules', ALERTS], { encoding: 'utf8' });
    expect({ status: checked.status, output: checked.stdout + checked.stderr }).toMatchObject({ status: 0 });
  });

  it('the Grafana dashboard reads only exported metrics, every panel with a query', () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      uid: string;
      panels: { title: string; targets: { expr: string }[] }[];
    };
    expect(dashboard.uid).toBe('meridian');
    const read = new Set<string>();
    for (const panel of dashboard.panels) {
      expect(panel.targets.length).toBeGreaterThan(0);
      for (const target of panel.targets) {
        const names = metricNames(target.expr);
        expect(names.length).toBeGreaterThan(0);
        expect({ panel: panel.title, missing: names.filter((n) => !exported.has(n)) }).toEqual({
          panel: panel.title,
          missing: [],
        });
        for (const n of names) read.add(n);
      }
    }
    // Every Meridian metric has a panel (a histogram by its buckets).
    const ours = [...exported].filter((n) => n.startsWith('meridian_') && !/_(sum|count)$/.test(n));
    expect(ours.filter((n) => !read.has(n))).toEqual([]);
  });
});
