import { useEffect, useRef, useState } from 'preact/hooks';
import { request, type Result } from '../api';
import { useConsole } from '../app';
import { currentStep, RunLink, Status } from '../components';
import { age, when, words } from '../format';
import { subscribe } from '../live';
import { FLOWS, RUN_STATUSES, RUN_SUMMARY_FIELDS, type RunSummary } from '../model';
import { mergeAllNewer, mergeNewer } from '../run-updates';

interface RunsPage {
  syncRuns: { totalCount: number; nodes: RunSummary[] };
}
const SHOWN = 200;

/** The newest runs: the API lists them newest first, so one page holds every run shown. */
const RUNS_QUERY = `query ConsoleRuns($first: Int) {
  syncRuns(first: $first, orderBy: NEWEST_FIRST) { totalCount nodes { ${RUN_SUMMARY_FIELDS} } }
}`;

/**
 * Runs updating in place: the list is read once (and again after a reconnect, to catch up on what the socket missed)
 * while `syncRunsUpdated` streams every change; a state replaces a row only when its sequence is higher.
 */
export function RunsPage() {
  const { session, live } = useConsole();
  const [runs, setRuns] = useState<RunSummary[] | null>(null);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [flow, setFlow] = useState('');
  const [status, setStatus] = useState('');
  const pending = useRef<RunSummary[]>([]);

  const load = async () => {
    const { data, errors }: Result<RunsPage> = await request<RunsPage>(session, RUNS_QUERY, { first: SHOWN });
    if (!data) {
      setError(
        errors[0] ? `${errors[0].extensions?.code ?? 'ERROR'}: ${errors[0].message}` : 'The runs failed to load',
      );
      return;
    }
    setTotal(data.syncRuns.totalCount);
    setError(null);
    setRuns((current) => mergeAllNewer(mergeAllNewer(current ?? [], data.syncRuns.nodes), pending.current));
    pending.current = [];
  };

  useEffect(() => {
    // Subscribe first, then read: a change between the two is merged by sequence, never lost.
    const stop = subscribe<{ syncRunsUpdated: RunSummary }>(
      live,
      `subscription ConsoleRunsUpdated { syncRunsUpdated { ${RUN_SUMMARY_FIELDS} } }`,
      {},
      {
        next: ({ syncRunsUpdated: run }) =>
          setRuns((current) => {
            if (current === null) {
              pending.current.push(run);
              return current;
            }
            return mergeNewer(current, run);
          }),
      },
    );
    void load();
    const stopConnected = live.onConnected((reconnected) => {
      if (reconnected) void load();
    });
    return () => {
      stop();
      stopConnected();
    };
  }, [live]);

  const visible = (runs ?? [])
    .filter((r) => (!flow || r.flow === flow) && (!status || r.status === status))
    .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt) || b.id.localeCompare(a.id))
    .slice(0, SHOWN);
  return (
    <section class="page" aria-label="live runs">
      <div class="page-head">
        <h1>Runs</h1>
        <span class="count">
          {runs
            ? `${runs.length} runs known of ${Math.max(total, runs.length)}; the ${SHOWN} latest changed first`
            : 'loading…'}
        </span>
      </div>
      <form class="filters" aria-label="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Flow
          <select name="flow" value={flow} onChange={(e) => setFlow((e.target as HTMLSelectElement).value)}>
            <option value="">any</option>
            {FLOWS.map((f) => (
              <option value={f} key={f}>
                {words(f)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select name="status" value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
            <option value="">any</option>
            {RUN_STATUSES.map((s) => (
              <option value={s} key={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <table class="runs">
        <thead>
          <tr>
            <th>Run</th>
            <th>Flow</th>
            <th>Status</th>
            <th>Step</th>
            <th>Seq.</th>
            <th>Triggered by</th>
            <th>Changed</th>
          </tr>
        </thead>
        <tbody>
          {visible.map((r) => (
            <tr key={r.id} data-run-id={r.id} data-status={r.status} data-sequence={r.sequence}>
              <td>
                <RunLink id={r.id} />
              </td>
              <td>{words(r.flow)}</td>
              <td>
                <Status value={r.status} />
              </td>
              <td>{currentStep(r.steps)}</td>
              <td class="num">{r.sequence}</td>
              <td>{r.triggeredBy}</td>
              <td title={when(r.updatedAt)}>{age(r.updatedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {runs && visible.length === 0 && <p class="empty">No runs match.</p>}
    </section>
  );
}
