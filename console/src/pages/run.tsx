import { useEffect, useState } from 'preact/hooks';
import { request } from '../api';
import { useConsole } from '../app';
import { Status, StepsTable } from '../components';
import { prettyJson, when, words } from '../format';
import { subscribe } from '../live';
import { FINAL_STATUSES, RUN_DETAIL_FIELDS, type RunDetail } from '../model';
import { linkTo } from '../router';
import { Timeline } from '../run-updates';

/**
 * One run, step by step, following `syncRunUpdated(id)`: its state now, then every change in sequence order. After a
 * dropped socket graphql-ws re-subscribes and the first state that arrives may skip sequences; those are read back
 * with `syncRunAt(id, sequence)`, so the timeline holds every state.
 */
export function RunPage({ id }: { id: string }) {
  const { session, live } = useConsole();
  const [timeline] = useState(() => new Timeline<RunDetail & { caughtUp?: boolean }>());
  const [, setVersion] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [finished, setFinished] = useState(false);

  useEffect(() => {
    const bump = () => setVersion((v) => v + 1);
    const stop = subscribe<{ syncRunUpdated: RunDetail }>(
      live,
      `subscription ConsoleRun($id: ID!) { syncRunUpdated(id: $id) { ${RUN_DETAIL_FIELDS} } }`,
      { id },
      {
        next: ({ syncRunUpdated: state }) => {
          const missing = timeline.add(state);
          bump();
          for (const sequence of missing) {
            request<{ syncRunAt: RunDetail | null }>(
              session,
              `query ConsoleRunAt($id: ID!, $sequence: Int!) { syncRunAt(id: $id, sequence: $sequence) { ${RUN_DETAIL_FIELDS} } }`,
              { id, sequence },
            ).then(({ data }) => {
              if (data?.syncRunAt) {
                timeline.add({ ...data.syncRunAt, caughtUp: true });
                bump();
              }
            });
          }
        },
        error: (message, code) => setError(code ? `${code}: ${message}` : message),
        complete: () => setFinished(true),
      },
    );
    return stop;
  }, [live, id]);

  const run = timeline.last();
  if (error && !run)
    return (
      <section class="page">
        <h1>Run {id}</h1>
        <p class="error" role="alert">
          {error}
        </p>
      </section>
    );
  if (!run)
    return (
      <section class="page">
        <h1>Run {id}</h1>
        <p>Loading…</p>
      </section>
    );
  return (
    <section class="page" aria-label="run" data-run-id={run.id} data-status={run.status} data-sequence={run.sequence}>
      <div class="page-head">
        <h1>
          {words(run.flow)} <span class="mono small">{run.id}</span>
        </h1>
        <Status value={run.status} />
        <span class="count">
          sequence {run.sequence}
          {finished || FINAL_STATUSES.has(run.status) ? ' · final' : ' · following live'}
        </span>
      </div>
      <p class="meta">
        Correlation ID <span class="mono">{run.correlationId}</span> · triggered by {run.triggeredBy} · created{' '}
        {when(run.createdAt)} · changed {when(run.updatedAt)} ·{' '}
        <a {...linkTo(`/journey?q=${encodeURIComponent(run.correlationId)}`)}>journey of this deal</a>
      </p>
      {run.exception && run.status === 'EXCEPTION' && (
        <p class="exception-box">
          <span class="tag">{run.exception.class}</span> {run.exception.message} —{' '}
          <a {...linkTo('/exceptions')}>act on it in the inbox</a>
        </p>
      )}
      <h2>Steps</h2>
      <StepsTable steps={run.steps} />
      <h2>Every change</h2>
      <ol class="timeline" aria-label="timeline">
        {timeline.states().map((s) => (
          <li key={s.sequence} data-sequence={s.sequence}>
            <span class="num">#{s.sequence}</span> <Status value={s.status} /> {when(s.updatedAt)} —{' '}
            {s.steps.map((step) => `${words(step.name)} ${step.status.toLowerCase()}`).join(' · ')}
            {s.caughtUp && <span class="hint"> (caught up after a reconnect)</span>}
          </li>
        ))}
      </ol>
      <h2>Audit log</h2>
      <table class="audit" aria-label="audit log">
        <thead>
          <tr>
            <th>When</th>
            <th>Who</th>
            <th>Role</th>
            <th>What</th>
            <th>Detail</th>
            <th>Request ID</th>
          </tr>
        </thead>
        <tbody>
          {run.audit.map((a, i) => (
            <tr key={`${a.at}-${i}`}>
              <td>{when(a.at)}</td>
              <td>{a.actor}</td>
              <td>{a.role ?? '—'}</td>
              <td>{a.action}</td>
              <td class="detail">{a.detail ?? ''}</td>
              <td class="mono small">{a.correlationId ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Input</h2>
      <pre class="input">{prettyJson(run.input)}</pre>
    </section>
  );
}
