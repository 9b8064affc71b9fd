import { useEffect, useRef, useState } from 'preact/hooks';
import { type ApiError, gql, request, type Result } from '../api';
import { useConsole } from '../app';
import { RunLink, StepsTable } from '../components';
import { age, prettyJson, when, words } from '../format';
import { subscribe } from '../live';
import {
  BILLING_MODELS,
  ERROR_CLASSES,
  FLOWS,
  INBOX_EXCEPTION_FIELDS,
  PATCH_FIELDS,
  PATCHABLE_FLOWS,
  SYSTEMS,
  UNDO,
  type ErrorClass,
  type InboxException,
  type PatchField,
} from '../model';

interface Filters {
  flow: string;
  class: string;
  system: string;
  accountId: string;
  olderThanMinutes: string;
}

const NO_FILTERS: Filters = { flow: '', class: '', system: '', accountId: '', olderThanMinutes: '' };
const PAGE_SIZE = 500;

const INBOX_QUERY = `query ConsoleInbox($filter: SyncExceptionFilter, $first: Int, $after: String) {
  exceptions(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { endCursor hasNextPage } nodes { ${INBOX_EXCEPTION_FIELDS} }
  }
}`;

interface InboxPage {
  exceptions: {
    totalCount: number;
    pageInfo: { endCursor: string | null; hasNextPage: boolean };
    nodes: InboxException[];
  };
}

type Notice = { kind: 'ok' | 'error'; text: string };

/**
 * The exceptions inbox: open exceptions newest first, filtered by flow, system, account and age on the API and by
 * class here (so the counts per class stay visible), refreshed live when an exception is raised or one of its runs
 * moves on. Operations staff retry, edit and retry, resolve and abandon; BI readers see the same without actions.
 */
export function ExceptionsPage() {
  const { session, access, live } = useConsole();
  const canAct = access === 'act';
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [items, setItems] = useState<InboxException[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [notices, setNotices] = useState<Record<string, Notice>>({});
  const [bulkNotice, setBulkNotice] = useState<Notice | null>(null);
  const [activity, setActivity] = useState<string[]>([]);
  const [open, setOpen] = useState<{ id: string; panel: 'edit' | 'resolve' | 'abandon' } | null>(null);

  // One refresh at a time; a request during one runs once more after it, with the filters of that moment.
  const refresher = useRef({ running: false, again: false, filters });
  refresher.current.filters = filters;
  const refresh = async () => {
    const state = refresher.current;
    if (state.running) {
      state.again = true;
      return;
    }
    state.running = true;
    do {
      state.again = false;
      const f = state.filters;
      const filter: Record<string, unknown> = {};
      if (f.flow) filter.flow = f.flow;
      if (f.system) filter.system = f.system;
      if (f.accountId.trim()) filter.accountId = f.accountId.trim();
      if (f.olderThanMinutes) filter.olderThanMinutes = Number(f.olderThanMinutes);
      const all: InboxException[] = [];
      let after: string | null = null;
      let failed: string | null = null;
      for (;;) {
        const { data, errors }: Result<InboxPage> = await request<InboxPage>(session, INBOX_QUERY, {
          filter,
          first: PAGE_SIZE,
          after,
        });
        if (!data) {
          failed = errors[0] ? `${errors[0].extensions?.code ?? 'ERROR'}: ${errors[0].message}` : 'The inbox failed';
          break;
        }
        all.push(...data.exceptions.nodes);
        if (!data.exceptions.pageInfo.hasNextPage) break;
        after = data.exceptions.pageInfo.endCursor;
      }
      if (failed) setLoadError(failed);
      else {
        setLoadError(null);
        all.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
        setItems(all);
        const ids = new Set(all.map((e) => e.id));
        setSelected((s) => new Set([...s].filter((id) => ids.has(id))));
      }
    } while (state.again);
    state.running = false;
  };
  const itemsRef = useRef<InboxException[] | null>(null);
  itemsRef.current = items;

  useEffect(() => {
    void refresh();
  }, [filters.flow, filters.system, filters.accountId, filters.olderThanMinutes]);
  useEffect(() => {
    const stopRaised = subscribe<{ exceptionRaised: { id: string } }>(
      live,
      'subscription ConsoleExceptionRaised { exceptionRaised { id } }',
      {},
      { next: () => void refresh() },
    );
    // A run of a listed exception moving on (retried, abandoned, resolved elsewhere) takes it out of the inbox.
    const stopRuns = subscribe<{ syncRunsUpdated: { id: string; status: string } }>(
      live,
      'subscription ConsoleInboxRuns { syncRunsUpdated { id status } }',
      {},
      {
        next: ({ syncRunsUpdated: run }) => {
          const listed = itemsRef.current?.some((e) => e.run.id === run.id) ?? false;
          if (listed !== (run.status === 'EXCEPTION')) void refresh();
        },
      },
    );
    const stopConnected = live.onConnected((reconnected) => {
      if (reconnected) void refresh();
    });
    return () => {
      stopRaised();
      stopRuns();
      stopConnected();
    };
  }, [live]);

  const act = async (exception: InboxException, label: string, run: () => Promise<string>) => {
    try {
      const text = await run();
      setNotices((n) => ({ ...n, [exception.id]: { kind: 'ok', text: `${label}: ${text}` } }));
      setActivity((a) => [`${label} run ${exception.run.id} (${exception.message}): ${text}`, ...a].slice(0, 5));
      setOpen(null);
      void refresh();
      return null;
    } catch (error) {
      const e = error as ApiError;
      setNotices((n) => ({
        ...n,
        [exception.id]: { kind: 'error', text: `${label} refused — ${e.code}: ${e.message}` },
      }));
      return e;
    }
  };
  const retry = (exception: InboxException) =>
    act(exception, 'Retried', async () => {
      const data = await gql<{ retryRun: { status: string } }>(
        session,
        'mutation ConsoleRetry($id: ID!) { retryRun(id: $id) { id status } }',
        { id: exception.run.id },
      );
      return `the run is ${data.retryRun.status.toLowerCase()}`;
    });
  const bulkRetry = async () => {
    const chosen = (items ?? []).filter((e) => selected.has(e.id));
    const results = await Promise.all(chosen.map((e) => retry(e)));
    const failed = results.filter((r) => r !== null).length;
    setBulkNotice({
      kind: failed ? 'error' : 'ok',
      text: `Retried ${chosen.length - failed} of ${chosen.length}${failed ? `; ${failed} refused (see each)` : ''}`,
    });
    setSelected(new Set());
  };

  const counts = new Map<ErrorClass, number>();
  for (const e of items ?? []) counts.set(e.class, (counts.get(e.class) ?? 0) + 1);
  const visible = (items ?? []).filter((e) => !filters.class || e.class === filters.class);
  const set = (key: keyof Filters) => (event: Event) =>
    setFilters((f) => ({ ...f, [key]: (event.target as HTMLInputElement | HTMLSelectElement).value }));

  return (
    <section class="page" aria-label="exceptions inbox">
      <div class="page-head">
        <h1>Exceptions</h1>
        <span class="count" role="status">
          {items ? `${visible.length} open${filters.class ? ` (${items.length} in all classes)` : ''}` : 'loading…'}
        </span>
        {!canAct && <span class="readonly">Read-only: your BI role can look, not act</span>}
      </div>
      <fieldset class="class-counts" aria-label="counts per class">
        <button
          type="button"
          class={filters.class === '' ? 'chip current' : 'chip'}
          onClick={() => setFilters((f) => ({ ...f, class: '' }))}
        >
          All <b>{items?.length ?? 0}</b>
        </button>
        {ERROR_CLASSES.filter((c) => counts.has(c)).map((c) => (
          <button
            type="button"
            key={c}
            data-class={c}
            class={filters.class === c ? 'chip current' : 'chip'}
            onClick={() => setFilters((f) => ({ ...f, class: f.class === c ? '' : c }))}
          >
            {c.replace(/_/g, ' ').toLowerCase()} <b>{counts.get(c)}</b>
          </button>
        ))}
      </fieldset>
      <form class="filters" aria-label="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Flow
          <select name="flow" value={filters.flow} onChange={set('flow')}>
            <option value="">any</option>
            {FLOWS.map((f) => (
              <option value={f} key={f}>
                {words(f)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Class
          <select name="class" value={filters.class} onChange={set('class')}>
            <option value="">any</option>
            {ERROR_CLASSES.map((c) => (
              <option value={c} key={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        <label>
          System
          <select name="system" value={filters.system} onChange={set('system')}>
            <option value="">any</option>
            {SYSTEMS.map((s) => (
              <option value={s} key={s}>
                {s.toUpperCase()}
              </option>
            ))}
          </select>
        </label>
        <label>
          Account ID
          <input name="accountId" value={filters.accountId} onChange={set('accountId')} placeholder="ACC-…" />
        </label>
        <label>
          Older than
          <select name="olderThanMinutes" value={filters.olderThanMinutes} onChange={set('olderThanMinutes')}>
            <option value="">any age</option>
            <option value="15">15 min</option>
            <option value="60">1 hour</option>
            <option value="1440">1 day</option>
            <option value="10080">1 week</option>
          </select>
        </label>
      </form>
      {canAct && (
        <div class="bulk">
          <label>
            <input
              type="checkbox"
              aria-label="select all"
              checked={visible.length > 0 && visible.every((e) => selected.has(e.id))}
              onChange={(event) =>
                setSelected((event.target as HTMLInputElement).checked ? new Set(visible.map((e) => e.id)) : new Set())
              }
            />{' '}
            Select all
          </label>
          <button type="button" disabled={selected.size === 0} onClick={bulkRetry}>
            Retry selected ({selected.size})
          </button>
          {bulkNotice && <span class={`notice-${bulkNotice.kind}`}>{bulkNotice.text}</span>}
        </div>
      )}
      {activity.length > 0 && (
        <ul class="activity" aria-label="recent actions">
          {activity.map((line, i) => (
            <li key={`${i}-${line}`}>{line}</li>
          ))}
        </ul>
      )}
      {loadError && (
        <p class="error" role="alert">
          {loadError}
        </p>
      )}
      {items && visible.length === 0 && <p class="empty">No open exceptions{filters.class ? ' of this class' : ''}.</p>}
      <ol class="inbox">
        {visible.map((e) => (
          <li key={e.id} class="exception" data-exception-id={e.id} data-run-id={e.run.id}>
            <div class="exception-head">
              {canAct && (
                <input
                  type="checkbox"
                  aria-label={`select ${e.id}`}
                  checked={selected.has(e.id)}
                  onChange={(event) =>
                    setSelected((s) => {
                      const next = new Set(s);
                      if ((event.target as HTMLInputElement).checked) next.add(e.id);
                      else next.delete(e.id);
                      return next;
                    })
                  }
                />
              )}
              <span class="tag">{e.class}</span>
              {e.system && <span class="tag system">{e.system.toUpperCase()}</span>}
              <strong class="message">{e.message}</strong>
            </div>
            <p class="meta">
              {words(e.flow)} · step {words(e.step)} ·{' '}
              {e.account ? `${e.account.name} (${e.account.id})` : 'no account'} · raised{' '}
              <span title={when(e.createdAt)}>{age(e.createdAt)}</span> · run <RunLink id={e.run.id} />
            </p>
            <details>
              <summary>Steps and failing input</summary>
              <StepsTable steps={e.run.steps} />
              <pre class="input" data-failing-input>
                {prettyJson(e.run.input)}
              </pre>
            </details>
            {notices[e.id] && (
              <p class={`notice-${notices[e.id]!.kind}`} role="status">
                {notices[e.id]!.text}
              </p>
            )}
            {canAct && (
              <div class="actions">
                <button type="button" onClick={() => retry(e)}>
                  Retry
                </button>
                {PATCHABLE_FLOWS.has(e.flow) && (
                  <button type="button" onClick={() => setOpen({ id: e.id, panel: 'edit' })}>
                    Edit and retry
                  </button>
                )}
                <button type="button" onClick={() => setOpen({ id: e.id, panel: 'resolve' })}>
                  Resolve
                </button>
                <button type="button" class="danger" onClick={() => setOpen({ id: e.id, panel: 'abandon' })}>
                  Abandon
                </button>
              </div>
            )}
            {canAct && open?.id === e.id && open.panel === 'edit' && (
              <EditAndRetry exception={e} onCancel={() => setOpen(null)} act={act} />
            )}
            {canAct && open?.id === e.id && open.panel === 'resolve' && (
              <Resolve exception={e} onCancel={() => setOpen(null)} act={act} />
            )}
            {canAct && open?.id === e.id && open.panel === 'abandon' && (
              <Abandon exception={e} onCancel={() => setOpen(null)} act={act} />
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}

type Act = (exception: InboxException, label: string, run: () => Promise<string>) => Promise<ApiError | null>;

const CODE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** What the form checks before sending; the API checks the rest (a real calendar date, known codes) and says so by field. */
function checkField(kind: string, value: string): string | null {
  if (value.trim() === '') return 'Required: leave the field as it was, or give a value';
  if (kind === 'code' && !CODE.test(value.trim())) return 'Letters, digits, - and _ only (up to 40)';
  if (kind === 'date' && !DATE.test(value.trim())) return 'Write the date as YYYY-MM-DD';
  if (kind === 'billingModel' && !(BILLING_MODELS as readonly string[]).includes(value))
    return 'Choose a billing model';
  return null;
}

function EditAndRetry({ exception, onCancel, act }: { exception: InboxException; onCancel: () => void; act: Act }) {
  const { session } = useConsole();
  const input = (() => {
    try {
      return JSON.parse(exception.run.input) as Record<string, unknown>;
    } catch {
      return {};
    }
  })();
  const initial = Object.fromEntries(
    PATCH_FIELDS.map((f) => {
      const corrected = input[f.name];
      const fromCrm = exception.run.opportunity?.[f.name as keyof NonNullable<InboxException['run']['opportunity']>];
      return [f.name, typeof corrected === 'string' ? corrected : typeof fromCrm === 'string' ? fromCrm : ''];
    }),
  ) as Record<PatchField, string>;
  const [values, setValues] = useState(initial);
  const [fieldErrors, setFieldErrors] = useState<Partial<Record<PatchField, string>>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [options, setOptions] = useState<{ legalEntities: { code: string }[]; taxJurisdictions: { code: string }[] }>({
    legalEntities: [],
    taxJurisdictions: [],
  });
  useEffect(() => {
    request<typeof options>(session, 'query ConsoleCodes { legalEntities { code } taxJurisdictions { code } }').then(
      ({ data }) => data && setOptions(data),
    );
  }, []);
  const submit = async (event: Event) => {
    event.preventDefault();
    setFormError(null);
    const patch: Partial<Record<PatchField, string>> = {};
    const errors: Partial<Record<PatchField, string>> = {};
    for (const f of PATCH_FIELDS) {
      const value = values[f.name];
      if (value === initial[f.name]) continue;
      const problem = checkField(f.kind, value);
      if (problem) errors[f.name] = problem;
      else patch[f.name] = value.trim();
    }
    setFieldErrors(errors);
    if (Object.keys(errors).length > 0) return;
    if (Object.keys(patch).length === 0) {
      setFormError('Change at least one field before retrying');
      return;
    }
    setBusy(true);
    const refused = await act(exception, 'Retried with corrections', async () => {
      const data = await gql<{ retryRunWithInput: { status: string } }>(
        session,
        'mutation ConsoleRetryWithInput($id: ID!, $patch: RunInputPatch!) { retryRunWithInput(id: $id, patch: $patch) { id status } }',
        { id: exception.run.id, patch },
      );
      return `${Object.entries(patch)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}; the run is ${data.retryRunWithInput.status.toLowerCase()}`;
    });
    setBusy(false);
    if (refused) {
      const field = PATCH_FIELDS.find((f) => f.name === refused.field);
      if (field) setFieldErrors({ [field.name]: `${refused.code}: ${refused.message}` });
      else setFormError(`${refused.code}: ${refused.message}`);
    }
  };
  return (
    <form class="panel" aria-label="edit and retry" onSubmit={submit} noValidate>
      <h3>Correct the input and retry from step {words(exception.step)}</h3>
      <datalist id="legal-entities">
        {options.legalEntities.map((o) => (
          <option value={o.code} key={o.code} />
        ))}
      </datalist>
      <datalist id="tax-jurisdictions">
        {options.taxJurisdictions.map((o) => (
          <option value={o.code} key={o.code} />
        ))}
      </datalist>
      <div class="fields">
        {PATCH_FIELDS.map((f) => (
          <div class={fieldErrors[f.name] ? 'field invalid' : 'field'} key={f.name}>
            <label for={`${exception.id}-${f.name}`}>{f.label}</label>
            {f.kind === 'billingModel' ? (
              <select
                id={`${exception.id}-${f.name}`}
                name={f.name}
                value={values[f.name]}
                onChange={(e) => setValues((v) => ({ ...v, [f.name]: (e.target as HTMLSelectElement).value }))}
              >
                {values[f.name] === '' && <option value="">—</option>}
                {BILLING_MODELS.map((m) => (
                  <option value={m} key={m}>
                    {m}
                  </option>
                ))}
              </select>
            ) : (
              <input
                id={`${exception.id}-${f.name}`}
                name={f.name}
                value={values[f.name]}
                placeholder={f.hint}
                list={
                  f.name === 'legalEntity'
                    ? 'legal-entities'
                    : f.name === 'taxJurisdiction'
                      ? 'tax-jurisdictions'
                      : undefined
                }
                aria-invalid={fieldErrors[f.name] ? 'true' : undefined}
                aria-describedby={fieldErrors[f.name] ? `${exception.id}-${f.name}-error` : undefined}
                onInput={(e) => setValues((v) => ({ ...v, [f.name]: (e.target as HTMLInputElement).value }))}
              />
            )}
            {fieldErrors[f.name] && (
              <span class="field-error" id={`${exception.id}-${f.name}-error`} data-field-error={f.name}>
                {fieldErrors[f.name]}
              </span>
            )}
          </div>
        ))}
      </div>
      {formError && (
        <p class="error" role="alert">
          {formError}
        </p>
      )}
      <div class="actions">
        <button type="submit" disabled={busy}>
          {busy ? 'Retrying…' : 'Retry with these values'}
        </button>
        <button type="button" class="quiet" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function Resolve({ exception, onCancel, act }: { exception: InboxException; onCancel: () => void; act: Act }) {
  const { session } = useConsole();
  const [note, setNote] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    if (note.trim() === '') {
      setError('Say how it was resolved: the note goes into the audit log');
      return;
    }
    const refused = await act(exception, 'Resolved', async () => {
      await gql(
        session,
        'mutation ConsoleResolve($id: ID!, $note: String!) { resolveException(id: $id, note: $note) { id status } }',
        {
          id: exception.id,
          note: note.trim(),
        },
      );
      return 'the run ends as resolved';
    });
    if (refused) setError(`${refused.code}: ${refused.message}`);
  };
  return (
    <form class="panel" aria-label="resolve" onSubmit={submit} noValidate>
      <h3>Resolve without retrying</h3>
      <p class="hint">
        For a problem fixed outside Meridian. The run ends as resolved (nothing is undone); the note is kept in its
        audit log.
      </p>
      <label for={`${exception.id}-note`}>Note</label>
      <textarea
        id={`${exception.id}-note`}
        name="note"
        rows={2}
        value={note}
        onInput={(e) => setNote((e.target as HTMLTextAreaElement).value)}
      />
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="actions">
        <button type="submit">Resolve</button>
        <button type="button" class="quiet" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function Abandon({ exception, onCancel, act }: { exception: InboxException; onCancel: () => void; act: Act }) {
  const { session } = useConsole();
  const done = exception.run.steps.filter((s) => s.status === 'SUCCEEDED').reverse();
  const undone = done.filter((s) => UNDO[s.name]);
  const kept = done.filter((s) => !UNDO[s.name]);
  return (
    <div class="panel confirm" role="alertdialog" aria-label="confirm abandon">
      <h3>Abandon run {exception.run.id}?</h3>
      {undone.length > 0 ? (
        <>
          <p>This undoes the completed steps, newest first:</p>
          <ol>
            {undone.map((s) => (
              <li key={s.name}>
                <strong>{words(s.name)}</strong>: {UNDO[s.name]}
              </li>
            ))}
          </ol>
        </>
      ) : (
        <p>No completed step has anything to undo: the run simply stops.</p>
      )}
      {kept.length > 0 && (
        <p class="hint">Left as they are (nothing to undo): {kept.map((s) => words(s.name)).join(', ')}.</p>
      )}
      <p class="hint">A step that cannot be undone is recorded as its own exception, never skipped.</p>
      <div class="actions">
        <button
          type="button"
          class="danger"
          onClick={() =>
            act(exception, 'Abandoned', async () => {
              const data = await gql<{ abandonRun: { status: string } }>(
                session,
                'mutation ConsoleAbandon($id: ID!) { abandonRun(id: $id) { id status } }',
                { id: exception.run.id },
              );
              return `the run is ${data.abandonRun.status.toLowerCase()}`;
            })
          }
        >
          Abandon and undo
        </button>
        <button type="button" class="quiet" onClick={onCancel}>
          Keep the run
        </button>
      </div>
    </div>
  );
}
